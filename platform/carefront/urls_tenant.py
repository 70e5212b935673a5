"""URLs of a site's domain: the back office, Wagtail's admin, and the public pages."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail import views as wagtail_views
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from tenants.views import LoginView, healthz

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("office/", include("casework.urls")),
    path("office/poster/", cms_views.poster, name="poster"),
    # The complaint form before the page tree: served without Wagtail's routing (cms/views.py).
    path("complain/", cms_views.complaint_form, name="complaint_form"),
    path("cms-admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # Wagtail's page tree answers everything else, starting with the site's home page.
    path("", wagtail_views.serve, {"path": ""}, name="home"),
    path("", include(wagtail_urls)),
]
