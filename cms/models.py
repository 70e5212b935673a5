"""Page types of a site's public page tree (bakerydemo style: fields, panels, template).

The tree of every site: the channels page at the top (the site's home), with the complaint
form and the tracking page under it. All three are created when the site is provisioned.
"""

from django.db import models
from django.http import HttpResponseRedirect
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, re_path
from wagtail.fields import StreamField
from wagtail.models import Page

from cms.blocks import ChannelBlock


def _english() -> bool:
    return (get_language() or "").startswith("en")


class BilingualPage(Page):
    """A page with an English title and introduction beside the Chinese ones."""

    title_en = models.CharField(_("English title"), max_length=255, blank=True)
    intro = models.TextField(_("introduction"), blank=True)
    intro_en = models.TextField(_("English introduction"), blank=True)

    content_panels = [
        *Page.content_panels,
        FieldPanel("title_en"),
        FieldPanel("intro"),
        FieldPanel("intro_en"),
    ]

    class Meta:
        abstract = True

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["display_title"] = self.title_en if _english() and self.title_en else self.title
        context["display_intro"] = self.intro_en if _english() and self.intro_en else self.intro
        return context


class HomePage(BilingualPage):
    """The site's home, the complaint channels page: how to reach the service centre, what
    it promises (read live from the site's tiers), and how complainants' details are kept."""

    channels = StreamField(
        [("channel", ChannelBlock())], blank=True, verbose_name=_("complaint channels")
    )
    privacy_notice = models.TextField(_("privacy notice"), blank=True)
    privacy_notice_en = models.TextField(_("English privacy notice"), blank=True)

    content_panels = [
        *BilingualPage.content_panels,
        FieldPanel("channels"),
        FieldPanel("privacy_notice"),
        FieldPanel("privacy_notice_en"),
    ]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    class Meta:
        verbose_name = _("complaint channels page")

    def get_context(self, request, *args, **kwargs):
        from casework.selectors import published_time_limits

        context = super().get_context(request, *args, **kwargs)
        english = _english()
        context["time_limits"] = published_time_limits()
        context["privacy"] = (
            self.privacy_notice_en if english and self.privacy_notice_en else self.privacy_notice
        )
        context["form_page"] = ComplaintFormPage.objects.live().first()
        context["tracking_page"] = TrackingPage.objects.live().first()
        return context


class ComplaintFormPage(BilingualPage):
    """The web form. A submission becomes a case through the casework engine (channel: web),
    never through Wagtail's form-submission store; the receipt is shown once."""

    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count = 1

    class Meta:
        verbose_name = _("complaint form page")

    def serve(self, request, *args, **kwargs):
        # The form lives in cms.views so that /complain/ can be served without Wagtail's
        # page routing (docs/decisions/0010-public-form-fast-path.md); a copy of the page
        # reached through the tree (a changed slug, a preview) behaves the same.
        from cms.views import serve_complaint_form

        return serve_complaint_form(request, page=self)


class TrackingPage(RoutablePageMixin, BilingualPage):
    """Where a complainant follows their case through the private link and access code."""

    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count = 1

    class Meta:
        verbose_name = _("tracking page")

    @re_path(r"^$")
    def index(self, request):
        return self.render(
            request, context_overrides={"needs_link": True}, template="cms/tracking_page.html"
        )

    @re_path(r"^confirm/(?P<token>[A-Za-z0-9_-]{16,64})/$")
    def confirm_copy(self, request, token):
        """The complainant confirms their address; the receipt copy goes out."""
        from casework.public import confirm_receipt_copy
        from casework.services import CaseworkError

        try:
            confirm_receipt_copy(token=token)
            confirmed = True
        except CaseworkError:
            confirmed = False
        return self.render(
            request,
            template="cms/tracking_page.html",
            context_overrides={
                "copy_confirmed": confirmed,
                "needs_link": False,
                "confirmation": True,
            },
        )

    @re_path(r"^(?P<token>[A-Za-z0-9_-]{16,64})/$")
    def case_view(self, request, token):
        from casework.public import case_for_token, open_case
        from casework.services import CaseworkError
        from cms.forms import AccessCodeForm

        session_key = f"track:{token[:8]}"
        case = None
        code_form = AccessCodeForm()
        if request.method == "POST" and "code" in request.POST:
            code_form = AccessCodeForm(request.POST)
            if code_form.is_valid():
                try:
                    case = open_case(token=token, code=code_form.cleaned_data["code"])
                except CaseworkError as error:
                    code_form.add_error("code", error.messages)
                else:
                    request.session[session_key] = case.pk
                    return HttpResponseRedirect(request.path)
        elif request.session.get(session_key):
            unlocked = case_for_token(token)
            if unlocked is not None and unlocked.pk == request.session[session_key]:
                case = unlocked
        if case is None:
            response = self.render(
                request,
                template="cms/tracking_page.html",
                context_overrides={"code_form": code_form},
            )
            response["Cache-Control"] = "no-store"
            return response
        return self._serve_case(request, case)

    @re_path(r"^(?P<token>[A-Za-z0-9_-]{16,64})/files/(?P<attachment_id>\d+)/$")
    def case_file(self, request, token, attachment_id):
        """A file of the complainant's own case, once their link has been unlocked."""
        from django.http import Http404

        from casework.models import Attachment
        from casework.public import case_for_token
        from casework.views.home import serve_attachment

        case = case_for_token(token)
        if case is None or request.session.get(f"track:{token[:8]}") != case.pk:
            raise Http404
        item = Attachment.objects.filter(pk=attachment_id, case=case).first()
        if item is None:
            raise Http404
        return serve_attachment(item)

    def _serve_case(self, request, case):
        from casework.public import add_information, public_status, public_timeline, rate_handling
        from casework.services import CaseworkError
        from cms.forms import AddInformationForm, RatingForm

        add_form, rating_form = AddInformationForm(), RatingForm()
        if request.method == "POST":
            action = request.POST.get("action")
            form = (
                AddInformationForm(request.POST, request.FILES)
                if action == "add"
                else RatingForm(request.POST)
            )
            if form.is_valid():
                try:
                    if action == "add":
                        add_information(
                            case=case,
                            text=form.cleaned_data["text"],
                            uploads=form.cleaned_data["attachments"],
                        )
                    else:
                        rate_handling(
                            case=case,
                            rating=form.cleaned_data["rating"],
                            comment=form.cleaned_data["comment"],
                        )
                except CaseworkError as error:
                    form.add_error(None, error.messages)
                else:
                    return HttpResponseRedirect(request.path)
            if action == "add":
                add_form = form
            else:
                rating_form = form
        reply = case.replies.order_by("-at").first()
        response = self.render(
            request,
            template="cms/tracking_case.html",
            context_overrides={
                "case": case,
                "status": public_status(case),
                "timeline": public_timeline(case=case),
                "reply": reply,
                "files": case.attachments.filter(from_complainant=True).order_by("uploaded_at"),
                "add_form": add_form,
                "rating_form": rating_form if case.replied_at and not case.satisfaction else None,
            },
        )
        response["Cache-Control"] = "no-store"
        return response
