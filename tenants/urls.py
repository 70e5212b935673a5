from django.urls import path

from tenants import views

urlpatterns = [
    path("", views.home, name="home"),
    path("platform/", views.platform_console, name="platform-console"),
    path(
        "invitation/<uidb64>/<token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("invitation/done/", views.invitation_done, name="invitation-done"),
    path("firms/<slug:firm_slug>/", views.firm_console, name="firm-console"),
    path("firms/<slug:firm_slug>/sites/new/", views.onboard_site, name="onboard-site"),
    path(
        "firms/<slug:firm_slug>/sites/<slug:site_slug>/",
        views.site_offboarding,
        name="site-offboarding",
    ),
    path(
        "firms/<slug:firm_slug>/regions/<slug:region_slug>/",
        views.region_overview,
        name="region-overview",
    ),
]
