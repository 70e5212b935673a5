"""Pick the site from the request's host, cheaply.

django-tenants' stock middleware costs two queries on every request (the domain lookup and a
`SET search_path`). Here a warm request costs none: each process keeps a small map of host ->
site for TENANT_CACHE_SECONDS (cleared at once in the process that changes a domain or site,
see tenants/signals.py), and the connection is switched only when the site changes, so with
TENANT_LIMIT_SET_CALLS the search path is set once per connection and site.
See docs/decisions/0004-tenant-resolution.md.
"""

import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import Http404, HttpResponseNotFound
from django.urls import set_urlconf
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name

from tenants.models import Domain

_MAX_ENTRIES = 10_000
_sites_by_host: dict[str, tuple[float, object]] = {}
_NOT_FOUND = object()
# An unknown host is remembered only briefly: a site onboarded in another process must answer
# on its new domain at once, while a flood of made-up hosts still costs one query a second.
_MISS_SECONDS = 1.0


def forget_cached_sites() -> None:
    _sites_by_host.clear()


def public_tenant() -> FakeTenant:
    return FakeTenant(schema_name=get_public_schema_name())


def site_for_host(hostname: str):
    """The Site served on `hostname`, or None. Cached per process."""
    now = time.monotonic()
    hit = _sites_by_host.get(hostname)
    if hit is not None and hit[0] > now:
        return None if hit[1] is _NOT_FOUND else hit[1]
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    site = domain.tenant if domain else None
    if site is not None:
        site.domain_url = hostname
    if len(_sites_by_host) >= _MAX_ENTRIES:
        _sites_by_host.clear()
    if site is None:
        _sites_by_host[hostname] = (now + _MISS_SECONDS, _NOT_FOUND)
    else:
        _sites_by_host[hostname] = (now + settings.TENANT_CACHE_SECONDS, site)
    return site


class SiteMiddleware(TenantMainMiddleware):
    """Serves the platform on PUBLIC_HOSTS, a site on its domains, and 404 elsewhere."""

    def process_request(self, request):
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()

        if hostname in settings.PUBLIC_HOSTS:
            tenant = public_tenant()
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        else:
            tenant = site_for_host(hostname)
            if tenant is None:
                raise Http404(f"No site is served on {hostname}")
            request.urlconf = settings.ROOT_URLCONF
        request.tenant = tenant
        set_urlconf(request.urlconf)

        if connection.schema_name != tenant.schema_name:
            connection.set_tenant(tenant)
        else:
            # Same schema: keep the search path already set on this connection.
            connection.tenant = tenant


# Wagtail screens that reach beyond one site's pages: people, groups, host bindings, the
# account form (which would save the stand-in user).
BLOCKED_FOR_SITE_EDITORS = ("users/", "groups/", "sites/", "account/")


class SiteEditorMiddleware:
    """On a site's /cms-admin/, its site admins edit pages as Wagtail's superuser would,
    through a stand-in that cannot be saved (tenants.models.SiteEditor)."""

    prefix = "/cms-admin/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.prefix):
            self._enter_as_editor(request)
        return self.get_response(request)

    def _enter_as_editor(self, request) -> None:
        import copy

        from django.core.exceptions import PermissionDenied

        from tenants.models import Role, Site, SiteEditor
        from tenants.permissions import current_site_roles

        user = request.user
        if not isinstance(getattr(request, "tenant", None), Site) or not user.is_authenticated:
            return
        if user.is_superuser or Role.SITE_ADMIN not in current_site_roles(request):
            return
        if request.path[len(self.prefix) :].startswith(BLOCKED_FOR_SITE_EDITORS):
            raise PermissionDenied("Site admins edit pages here; people are managed elsewhere.")
        editor = copy.copy(user)
        editor.__class__ = SiteEditor
        editor.is_superuser = True
        request.user = editor
