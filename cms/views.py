from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.text import slugify

from cms.blocks import ChannelKind
from cms.models import ComplaintFormPage, HomePage
from cms.poster import PosterLine, render_poster
from tenants.permissions import site_role_required

POSTER_KINDS = {ChannelKind.HOTLINE, ChannelKind.DUTY, ChannelKind.WINDOW}


@site_role_required()
def poster(request):
    """A printable A4 poster for one ward or building: the hotline numbers and a QR code to
    the complaint form with the place filled in."""
    location = (request.GET.get("location") or "").strip()[:80]
    home, form_page = HomePage.objects.first(), ComplaintFormPage.objects.live().first()
    if not location or home is None or form_page is None:
        return HttpResponseBadRequest("Give the ward or building as ?location=…")
    lines = [
        PosterLine(label_zh=b.value["label"], label_en=b.value["label_en"], value=b.value["value"])
        for b in home.channels
        if b.value["kind"] in POSTER_KINDS
    ]
    form_url = request.build_absolute_uri(form_page.url) + "?" + _query(location)
    site = request.tenant
    try:
        pdf = render_poster(
            site_name_zh=site.name,
            site_name_en=site.name_en,
            location=location,
            form_url=form_url,
            lines=lines,
            languages=site.languages,
        )
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = slugify(location) or "poster"
    response["Content-Disposition"] = f'inline; filename="poster-{filename}.pdf"'
    return response


def _query(location: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"location": location})
