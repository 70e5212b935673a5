"""The public domain's pages: a person's workplaces, the platform, firm and regional consoles."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from tenants import selectors, services
from tenants.forms import ConfirmDeletionForm, OnboardSiteForm
from tenants.models import Firm, Heartbeat, Site
from tenants.permissions import platform_admin_required


def home(request):
    """Where a person lands after logging in on the platform domain: their workplaces."""
    context = {}
    if request.user.is_authenticated:
        context = {
            "sites": selectors.sites_for_user(user=request.user),
            "firms": selectors.firms_administered_by(user=request.user),
            "regions": selectors.regions_managed_by(user=request.user),
        }
    return render(request, "tenants/home.html", context)


@platform_admin_required
def platform_console(request):
    return render(
        request,
        "tenants/platform_console.html",
        {
            "firms": Firm.objects.prefetch_related("regions", "sites__domains"),
            "heartbeats": Heartbeat.objects.order_by("name"),
        },
    )


@login_required
def firm_console(request, firm_slug: str):
    firm = _administered_firm(request, firm_slug)
    return render(
        request,
        "tenants/firm_console.html",
        {
            "firm": firm,
            "regions": firm.regions.prefetch_related("sites__domains"),
            "unassigned_sites": firm.sites.filter(region=None).prefetch_related("domains"),
        },
    )


def _administered_firm(request, firm_slug: str) -> Firm:
    # 404, not 403, for a firm one does not administer: its existence is nobody else's business.
    return get_object_or_404(selectors.firms_administered_by(user=request.user), slug=firm_slug)


@login_required
def onboard_site(request, firm_slug: str):
    """Open a hospital or care home from the firm console (开通新站点)."""
    firm = _administered_firm(request, firm_slug)
    form = OnboardSiteForm(request.POST or None, firm=firm)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = services.create_site(
                firm=firm,
                region=data["region"],
                slug=data["slug"],
                name=data["name"],
                name_en=data["name_en"],
                kind=data["kind"],
                template=data["template"],
                domain=data["domain"] or None,
                time_zone=data["time_zone"],
                languages=data["languages"],
                admin_email=data["admin_email"],
                created_by=request.user,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("%(site)s is open at %(url)s; %(email)s has been invited.")
                % {"site": site.display_name, "url": site.url, "email": data["admin_email"]},
            )
            return redirect("firm-console", firm_slug=firm.slug)
    return render(request, "tenants/onboard_site.html", {"firm": firm, "form": form})


def _errors_to_form(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


@login_required
def site_offboarding(request, firm_slug: str, site_slug: str):
    """Export a site's whole record, or ask for it to be deleted after the grace period."""
    firm = _administered_firm(request, firm_slug)
    site = get_object_or_404(firm.sites.prefetch_related("domains"), slug=site_slug)
    form = ConfirmDeletionForm(site=site)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "export":
            from tenants.export import export_site

            archive = export_site(site=site, exported_by=request.user)
            return FileResponse(open(archive, "rb"), as_attachment=True, filename=archive.name)
        if action == "cancel":
            services.cancel_site_deletion(site=site, cancelled_by=request.user)
            messages.success(request, _("The deletion of this site is cancelled."))
            return redirect("site-offboarding", firm_slug=firm.slug, site_slug=site.slug)
        if action == "delete":
            form = ConfirmDeletionForm(request.POST, site=site)
            if form.is_valid():
                try:
                    site = services.request_site_deletion(
                        site=site, typed_slug=form.cleaned_data["slug"], requested_by=request.user
                    )
                except ValidationError as error:
                    _errors_to_form(form, error)
                else:
                    messages.success(request, _("The site will be deleted after the grace period."))
                    return redirect("site-offboarding", firm_slug=firm.slug, site_slug=site.slug)
    return render(
        request,
        "tenants/site_offboarding.html",
        {
            "firm": firm,
            "site": site,
            "form": form,
            "grace_days": settings.SITE_DELETION_GRACE_DAYS,
            "events": site.events.select_related("actor")[:20],
        },
    )


@login_required
def region_overview(request, firm_slug: str, region_slug: str):
    region = get_object_or_404(
        selectors.regions_managed_by(user=request.user), firm__slug=firm_slug, slug=region_slug
    )
    return render(
        request,
        "tenants/region_overview.html",
        {"region": region, "sites": selectors.region_sites(region=region)},
    )


@never_cache
def healthz(request):
    """For load balancers: the process answers and its database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """An invited person chooses their password through the link of their invitation
    (tenants.services.invite_to_site); the link works once."""

    template_name = "tenants/invitation_accept.html"
    post_reset_login = False

    def get_success_url(self):
        return reverse("invitation-done")


def invitation_done(request):
    return render(request, "tenants/invitation_done.html")


class LoginView(auth_views.LoginView):
    """One login for the platform; on a site's domain it leads to that site's back office."""

    def get_default_redirect_url(self):
        if isinstance(getattr(self.request, "tenant", None), Site):
            return reverse("office-home")
        return reverse("home")
