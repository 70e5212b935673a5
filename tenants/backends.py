"""Permissions that depend on the site being served, for Wagtail's admin.

Django's permissions are global (auth lives in the public schema), but a site admin of one
hospital must not edit another's pages. This backend grants the Wagtail admin permissions
only on a site where the user holds the site-admin role.
"""

from django.contrib.auth.backends import ModelBackend
from django.db import connection

from tenants.models import Role, Site
from tenants.selectors import site_roles

WAGTAIL_APP_LABELS = {
    "wagtailadmin",
    "wagtailcore",
    "wagtailimages",
    "wagtaildocs",
    "wagtailsnippets",
    "cms",
}


class SiteRoleBackend(ModelBackend):
    def has_perm(self, user_obj, perm, obj=None):
        site = getattr(connection, "tenant", None)
        if not isinstance(site, Site) or not user_obj.is_active:
            return False
        if perm.split(".", 1)[0] not in WAGTAIL_APP_LABELS:
            return False
        return Role.SITE_ADMIN in site_roles(user=user_obj, site=site)

    def has_module_perms(self, user_obj, app_label):
        return False
