from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from tenants.models import Domain, Firm, Heartbeat, Membership, Region, Site, SiteEvent, User


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["firm", "region", "site"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "last_name", "first_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("last_name", "first_name", "phone", "preferred_language")}),
        (_("Platform"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [MembershipInline]


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "slug", "created_at"]
    search_fields = ["name", "name_en", "slug"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "firm", "slug"]
    list_filter = ["firm"]
    search_fields = ["name", "name_en", "slug"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "firm", "region", "schema_name", "time_zone"]
    list_filter = ["kind", "firm"]
    search_fields = ["name", "name_en", "slug"]
    readonly_fields = ["schema_name"]
    inlines = [DomainInline]

    def has_add_permission(self, request):
        # Sites are opened through tenants.services.create_site, which also builds the schema.
        return False


@admin.register(SiteEvent)
class SiteEventAdmin(admin.ModelAdmin):
    """The platform's audit line of sites opened, exported, imported and deleted: read only."""

    list_display = ["at", "site_slug", "action", "actor", "firm"]
    list_filter = ["action", "firm"]
    search_fields = ["site_slug", "actor__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at"]
