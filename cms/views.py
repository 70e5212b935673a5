"""Views of the public pages that are not Wagtail pages, and the poster for staff."""

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils.text import slugify

from cms.blocks import ChannelKind
from cms.models import ComplaintFormPage, HomePage
from cms.poster import PosterLine, render_poster
from tenants.permissions import site_role_required

POSTER_KINDS = {ChannelKind.HOTLINE, ChannelKind.DUTY, ChannelKind.WINDOW}

# The receipt travels to the page after the redirect in a signed cookie of the form's path,
# read once and deleted: no session row is written for a visitor who has none.
RECEIPT_COOKIE = "complaint_receipt"
RECEIPT_SALT = "carefront.complaint-receipt"
RECEIPT_MAX_AGE = 600


def complaint_form(request):
    """/complain/: the web form, served without Wagtail's page routing, which costs a fifth
    of a submission's CPU (site and page look-ups, alias and view-restriction checks); the
    page's words are still the site's ComplaintFormPage, edited in Wagtail."""
    return serve_complaint_form(request)


def serve_complaint_form(request, page=None):
    """The form, a submission, and the receipt after the redirect (shown once).

    A valid submission does not need the page at all: it is stored even if an editor has
    just unpublished the form (whoever sent it had it open), and the page is read only to
    render the form again."""
    from casework.services import CaseworkError
    from cms.forms import ComplaintForm
    from cms.services import submit_web_complaint
    from cms.throttle import allow_submission

    if request.GET.get("receipt"):
        return _receipt(request)
    throttled = False
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES)
        if form.is_bot:
            # Bots get a page that looks done; nothing is stored.
            return render(request, "cms/complaint_received_generic.html", {"page": page})
        throttled = not allow_submission(request)
        if not throttled and form.is_valid():
            links = _tracking_links(request) if form.cleaned_data.get("email_copy") else {}
            try:
                receipt = submit_web_complaint(data=form.cleaned_data, **links)
            except CaseworkError as error:
                if hasattr(error, "error_dict"):
                    for field, messages in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                else:
                    form.add_error(None, error.messages)
            else:
                response = HttpResponseRedirect(f"{request.path}?receipt=1")
                response.set_cookie(
                    RECEIPT_COOKIE,
                    signing.dumps(receipt, salt=_receipt_salt(), compress=True),
                    max_age=RECEIPT_MAX_AGE,
                    path=request.path,
                    secure=settings.SESSION_COOKIE_SECURE,
                    httponly=True,
                    samesite="Lax",
                )
                return response
    else:
        form = ComplaintForm(initial={"location": request.GET.get("location", "")[:200]})
    return _render_form(request, page, form, throttled=throttled)


def _render_form(request, page, form, *, throttled: bool):
    from cms.pow import DIFFICULTY, new_challenge

    page = page or ComplaintFormPage.objects.live().first()
    if page is None and not form.is_bound:
        raise Http404("This site has no complaint form.")
    # Every rendering carries a fresh challenge: a stamp pays for one submission only.
    if form.is_bound:
        form.data = form.data.copy()
        form.data["pow_challenge"], form.data["pow_nonce"] = new_challenge(), ""
    else:
        form.initial["pow_challenge"] = new_challenge()
    if page is not None:
        context = page.get_context(request)
    else:  # unpublished while someone was typing: what they typed comes back all the same
        from django.utils.translation import gettext as _

        context = {"display_title": _("File a complaint online"), "display_intro": ""}
    context["form"] = form
    context["pow_difficulty"] = DIFFICULTY
    context["throttled"] = throttled
    if throttled:
        home = HomePage.objects.first()
        context["channels"] = home.channels if home else []
    return render(
        request, "cms/complaint_form_page.html", context, status=429 if throttled else 200
    )


def _receipt_salt() -> str:
    # Signed for this site only: another site's domain never shows it.
    from django.db import connection

    return f"{RECEIPT_SALT}:{connection.schema_name}"


def _tracking_base(request) -> str:
    from cms.models import TrackingPage

    tracking = TrackingPage.objects.live().first()
    return request.build_absolute_uri(tracking.url) if tracking else ""


def _tracking_links(request) -> dict:
    """Absolute links for the e-mail copy of the receipt, when one is asked for."""
    base = _tracking_base(request)
    if not base:
        return {}
    return {
        "tracking_url": lambda token: f"{base}{token}/",
        "confirm_url": lambda token: f"{base}confirm/{token}/",
    }


def _receipt(request):
    from casework.public import public_step_name

    try:
        receipt = signing.loads(
            request.COOKIES.get(RECEIPT_COOKIE, ""), salt=_receipt_salt(), max_age=RECEIPT_MAX_AGE
        )
    except signing.BadSignature:  # none, forged, or older than RECEIPT_MAX_AGE
        return HttpResponseRedirect(request.path)
    base = _tracking_base(request)
    context = {
        "receipt": receipt,
        "next_step": public_step_name(receipt["next_step"]) if receipt["next_step"] else "",
        "next_due": datetime.fromisoformat(receipt["next_due"]) if receipt["next_due"] else None,
        "tracking_url": f"{base}{receipt['token']}/" if base else "",
    }
    response = render(request, "cms/complaint_receipt.html", context)
    response["Cache-Control"] = "no-store"
    response.delete_cookie(RECEIPT_COOKIE, path=request.path, samesite="Lax")
    return response


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
