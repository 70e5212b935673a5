"""Read queries about firms, regions, sites and roles, shared by views, reports and the API."""

from django.db.models import Q, QuerySet

from tenants.models import Firm, Membership, Region, Role, Site, User


def site_roles(*, user: User, site: Site) -> frozenset[str]:
    """The roles `user` holds on `site`, counting the region's manager and the firm's admins.

    A regional manager oversees every site of the region, a firm admin every site of the firm;
    a platform admin holds no role on a site unless given one (complainants' privacy).
    """
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    scope = Q(site_id=site.pk) | Q(firm_id=site.firm_id)
    if site.region_id:
        scope |= Q(region_id=site.region_id)
    return frozenset(Membership.objects.filter(scope, user=user).values_list("role", flat=True))


def sites_for_user(*, user: User) -> QuerySet[Site]:
    """Every site the user may enter, by any of their roles."""
    mine = Membership.objects.filter(user=user)
    return (
        Site.objects.filter(
            Q(pk__in=mine.values("site_id"))
            | Q(region_id__in=mine.values("region_id"))
            | Q(firm_id__in=mine.values("firm_id"))
        )
        .select_related("firm", "region")
        .prefetch_related("domains")
        .order_by("firm__name", "name")
    )


def firms_administered_by(*, user: User) -> QuerySet[Firm]:
    if user.is_platform_admin:
        return Firm.objects.all()
    return Firm.objects.filter(memberships__user=user, memberships__role=Role.FIRM_ADMIN)


def regions_managed_by(*, user: User) -> QuerySet[Region]:
    firm_ids = firms_administered_by(user=user).values("pk")
    return (
        Region.objects.filter(
            Q(memberships__user=user, memberships__role=Role.REGIONAL_MANAGER)
            | Q(firm_id__in=firm_ids)
        )
        .select_related("firm")
        .distinct()
    )


def region_sites(*, region: Region) -> QuerySet[Site]:
    return region.sites.prefetch_related("domains").order_by("name")


def site_staff(*, site: Site) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(site=site)
        .select_related("user")
        .order_by("role", "user__last_name", "user__email")
    )
