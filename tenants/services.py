"""Operations that change firms, regions, sites and roles. Keyword arguments, rules enforced
here, one transaction each (site creation adds a schema, which is cleaned up on failure)."""

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from tenants.models import (
    FIRM_ROLES,
    REGION_ROLES,
    SITE_ROLES,
    Domain,
    Firm,
    Membership,
    Region,
    Site,
    SiteKind,
    User,
)

RESERVED_SLUGS = frozenset({"public", "www", "admin", "platform", "api", "static", "media"})


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")


@transaction.atomic
def create_firm(*, name: str, slug: str, name_en: str = "") -> Firm:
    firm = Firm(name=name, name_en=name_en, slug=slug)
    firm.full_clean()
    firm.save()
    return firm


@transaction.atomic
def create_region(*, firm: Firm, name: str, slug: str, name_en: str = "") -> Region:
    region = Region(firm=firm, name=name, name_en=name_en, slug=slug)
    region.full_clean()
    region.save()
    return region


def create_site(
    *,
    firm: Firm,
    slug: str,
    name: str,
    kind: str,
    region: Region | None = None,
    name_en: str = "",
    time_zone: str = "Asia/Shanghai",
    languages: list[str] | None = None,
    domain: str | None = None,
    template: str | None = None,
    with_template: bool = True,
) -> Site:
    """Open a new hospital or care home: its row, its schema, its domain, its pages, and its
    casework configuration from `template` (by default the one for its kind).

    Validation happens before anything is written; if a later step fails, the schema and the
    rows are removed again, so a failed attempt can simply be repeated.
    """
    languages = languages or ["zh-hans", "en"]
    errors: dict[str, str] = {}
    if slug in RESERVED_SLUGS:
        errors["slug"] = _("This address is reserved.")
    if region is not None and region.firm_id != firm.pk:
        errors["region"] = _("The region belongs to another firm.")
    if kind not in SiteKind.values:
        errors["kind"] = _("Unknown kind of site.")
    if time_zone not in available_timezones():
        errors["time_zone"] = _("Unknown time zone.")
    known_languages = {code for code, _label in settings.LANGUAGES}
    if not languages or not set(languages) <= known_languages:
        errors["languages"] = _("Choose among the supported languages.")
    from casework.site_templates import DEFAULT_TEMPLATE_FOR_KIND, TEMPLATES

    template = template or DEFAULT_TEMPLATE_FOR_KIND.get(kind)
    if with_template and template not in TEMPLATES:
        errors["template"] = _("Unknown configuration template.")
    if errors:
        raise ValidationError(errors)

    host = domain or f"{slug}.{settings.BASE_DOMAIN}"
    site = Site(
        schema_name=schema_name_for(slug),
        firm=firm,
        region=region,
        slug=slug,
        name=name,
        name_en=name_en,
        kind=kind,
        time_zone=time_zone,
        languages=languages,
    )
    site.full_clean()
    if Domain.objects.filter(domain=host).exists():
        raise ValidationError({"domain": _("This domain is already in use.")})

    try:
        site.save(verbosity=0)  # creates and migrates the schema
        Domain.objects.create(domain=host, tenant=site, is_primary=True)
        from cms.services import provision_site_pages

        with tenant_context(site):
            provision_site_pages(site=site, hostname=host)
            if with_template:
                from casework.site_templates import apply_template

                apply_template(code=template)
    except BaseException:
        if site.pk:
            Domain.objects.filter(tenant_id=site.pk).delete()
            site.delete(force_drop=True)
        raise
    return site


@transaction.atomic
def grant_role(
    *,
    user: User,
    role: str,
    firm: Firm | None = None,
    region: Region | None = None,
    site: Site | None = None,
    granted_by: User | None = None,
) -> Membership:
    """Give `user` a role on exactly one firm, region or site (idempotent)."""
    if role in FIRM_ROLES:
        scope = {"firm": firm}
    elif role in REGION_ROLES:
        scope = {"region": region}
    elif role in SITE_ROLES:
        scope = {"site": site}
    else:
        raise ValidationError({"role": _("Unknown role.")})
    if None in scope.values() or sum(x is not None for x in (firm, region, site)) != 1:
        needs = {
            "firm": _("This role can only be granted on a firm."),
            "region": _("This role can only be granted on a region."),
            "site": _("This role can only be granted on a site."),
        }
        raise ValidationError({"role": needs[next(iter(scope))]})
    membership, _created = Membership.objects.get_or_create(
        user=user, role=role, **scope, defaults={"granted_by": granted_by}
    )
    return membership


@transaction.atomic
def revoke_role(*, membership: Membership) -> None:
    membership.delete()
