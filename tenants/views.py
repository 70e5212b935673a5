"""The public domain's pages: a person's workplaces, the platform, firm and regional consoles."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from tenants import selectors
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
    # 404, not 403, for a firm one does not administer: its existence is nobody else's business.
    firm = get_object_or_404(selectors.firms_administered_by(user=request.user), slug=firm_slug)
    return render(
        request,
        "tenants/firm_console.html",
        {
            "firm": firm,
            "regions": firm.regions.prefetch_related("sites__domains"),
            "unassigned_sites": firm.sites.filter(region=None).prefetch_related("domains"),
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
