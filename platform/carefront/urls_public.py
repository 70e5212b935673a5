"""URLs of the platform domain (BASE_DOMAIN): login, a person's workplaces, the consoles."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants.views import LoginView, healthz

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("django-admin/", admin.site.urls),
    path("", include("tenants.urls")),
]
