"""Who may enter a site's back office, checked on every request to it.

A session is only proof of who someone is; what they may do on this site comes from their
roles here (tenants.selectors.site_roles), so a session from another site gets 403 here.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from tenants.models import Site
from tenants.selectors import site_roles


def current_site_roles(request) -> frozenset[str]:
    if not hasattr(request, "_site_roles"):
        site = getattr(request, "tenant", None)
        request._site_roles = (
            site_roles(user=request.user, site=site) if isinstance(site, Site) else frozenset()
        )
    return request._site_roles


def site_role_required(*roles: str):
    """Log in first; then 403 unless the user holds one of `roles` (any role if none given)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            held = current_site_roles(request)
            if not held or (roles and not held.intersection(roles)):
                raise PermissionDenied("You hold no role on this site that allows this.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def platform_admin_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_platform_admin:
            raise PermissionDenied("Only platform admins may open the platform console.")
        return view(request, *args, **kwargs)

    return wrapped
