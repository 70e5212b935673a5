"""Operations that change firms, regions, sites and roles. Keyword arguments, rules enforced
here, one transaction each (opening a site includes making its schema: PostgreSQL's DDL is
transactional, so a failure leaves nothing behind)."""

import logging
import re
from datetime import timedelta
from functools import lru_cache
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
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
    Role,
    Site,
    SiteEvent,
    SiteKind,
    User,
    site_url,
)

logger = logging.getLogger(__name__)

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
    admin_email: str | None = None,
    created_by: User | None = None,
) -> Site:
    """Open a new hospital or care home (开通站点): its row, its schema, its domain, its
    public pages, its casework configuration from `template` (by default the one for its
    kind), and, with `admin_email`, the invitation of its first site admin.

    All of it is one transaction: the schema is a spare clone of the template renamed, or a
    clone made now (tenants/schemas.py), and PostgreSQL's DDL is transactional, so a failure
    at any step, or a killed process, leaves no schema, no row, no domain; running it again
    works. Input is checked before anything is written.
    """
    # A platform operation: whatever site the connection last served, the rows are public.
    connection.set_schema_to_public()
    languages = languages or ["zh-hans", "en"]
    host = (domain or f"{slug}.{settings.BASE_DOMAIN}").strip().lower()
    template = template or _default_template(kind)
    site = _validated_site(
        firm=firm,
        region=region,
        slug=slug,
        name=name,
        name_en=name_en,
        kind=kind,
        time_zone=time_zone,
        languages=languages,
        host=host,
        template=template if with_template else None,
        admin_email=admin_email,
    )
    from tenants import schemas

    # Outside the transaction: migrating a missing template is slow and happens once.
    schemas.ensure_template_schema()
    try:
        with transaction.atomic():
            site.auto_create_schema = False  # the schema is made below, in this transaction
            site.save()
            made_by = schemas.create_site_schema(site.schema_name)
            Domain.objects.create(domain=host, tenant=site, is_primary=True)
            from cms.services import provision_site_pages

            with tenant_context(site):
                provision_site_pages(site=site, hostname=host)
                if with_template:
                    from casework.site_templates import apply_template

                    apply_template(code=template)
            if admin_email:
                invite_to_site(
                    site=site, email=admin_email, role=Role.SITE_ADMIN, invited_by=created_by
                )
            record_site_event(
                site=site,
                action=SiteEvent.Action.CREATED,
                actor=created_by,
                details={"template": template if with_template else "", "schema": made_by},
            )
            _after_site_count_changed(firm)
            if settings.SITE_SPARE_SCHEMAS:
                transaction.on_commit(_top_up_spares, robust=True)
    except IntegrityError as error:
        # Two onboardings raced for one slug or domain: the loser changes nothing and is told
        # next to the field. Any other integrity error is a bug and goes up as it is.
        connection.set_schema_to_public()
        if Site.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": _("This address is already taken.")}) from error
        if Domain.objects.filter(domain=host).exists():
            raise ValidationError({"domain": _("This domain is already in use.")}) from error
        raise
    finally:
        connection.set_schema_to_public()
    return site


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk on every call (50 ms).
    return frozenset(available_timezones())


def _default_template(kind: str) -> str | None:
    from casework.site_templates import DEFAULT_TEMPLATE_FOR_KIND

    return DEFAULT_TEMPLATE_FOR_KIND.get(kind)


def _validated_site(
    *,
    firm: Firm,
    region: Region | None,
    slug: str,
    name: str,
    name_en: str,
    kind: str,
    time_zone: str,
    languages: list[str],
    host: str,
    template: str | None,
    admin_email: str | None,
) -> Site:
    """The unsaved Site, or ValidationError with every problem next to its field."""
    from casework.site_templates import TEMPLATES

    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if slug in RESERVED_SLUGS:
        error("slug", _("This address is reserved."))
    if region is not None and region.firm_id != firm.pk:
        error("region", _("The region belongs to another firm."))
    if kind not in SiteKind.values:
        error("kind", _("Unknown kind of site."))
    if time_zone not in _time_zones():
        error("time_zone", _("Unknown time zone."))
    known_languages = {code for code, _label in settings.LANGUAGES}
    if not languages or not set(languages) <= known_languages:
        error("languages", _("Choose among the supported languages."))
    if template is not None and template not in TEMPLATES:
        error("template", _("Unknown configuration template."))
    if not _HOST.fullmatch(host):
        error("domain", _("Enter a host name such as hospital.example.com."))
    elif Domain.objects.filter(domain=host).exists():
        error("domain", _("This domain is already in use."))
    if admin_email:
        try:
            validate_email(admin_email.strip())
        except ValidationError:
            error("admin_email", _("Enter a valid e-mail address."))
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
    try:
        site.full_clean()
    except ValidationError as invalid:
        for field, messages in invalid.message_dict.items():
            for message in messages:
                if message not in errors.get(field, []):
                    error(field, message)
    if errors:
        raise ValidationError(errors)
    return site


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def _after_site_count_changed(firm: Firm) -> None:
    """Billing hook: the firm's subscription quantity follows its number of sites. Billing
    does not exist yet; when it does, queue the quantity update here (an outbox row in this
    transaction, like notifications), so that a rolled-back onboarding bills nothing."""


def _top_up_spares() -> None:
    from tenants.tasks import replenish_spare_schemas

    try:
        replenish_spare_schemas.delay()
    except Exception:  # the broker being down only delays the top-up (beat does it too)
        logger.warning("Could not queue the spare-schema top-up; beat will do it.")


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


def record_site_event(
    *, site: Site, action: str, actor: User | None = None, details: dict | None = None
) -> SiteEvent:
    return SiteEvent.objects.create(
        site=site,
        site_slug=site.slug,
        firm_id=site.firm_id,
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        at=timezone.now(),
        details=details or {},
    )


def invitation_url(user: User) -> str:
    """The one-time link that lets `user` choose a password, on the platform domain. Django's
    password-reset token: it signs the password hash and last login, so it stops working once
    used (or after PASSWORD_RESET_TIMEOUT)."""
    path = reverse(
        "invitation-accept",
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return site_url(settings.BASE_DOMAIN, path)


@transaction.atomic
def invite_to_site(
    *, site: Site, email: str, role: str, invited_by: User | None = None
) -> Membership:
    """Give the person at `email` a role on `site`, creating their login if they have none
    (with an unusable password), and e-mail them: a one-time link to choose a password if
    they have none yet, otherwise word that the site is open to them.

    The e-mail is queued in the site's outbox in this transaction and sent by the relay after
    commit (docs/decisions/0006-outbox.md): a rolled-back invitation sends nothing, a mail
    outage delays it. 邀请: the first site admin is invited this way when a site is opened.
    """
    address = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    if role not in SITE_ROLES:
        raise ValidationError({"role": _("This role can only be granted on a site.")})
    user = User.objects.filter(email__iexact=address).first()
    if user is None:
        user = User.objects.create_user(address, None, preferred_language=site.languages[0])
    membership = grant_role(user=user, role=role, site=site, granted_by=invited_by)

    with translation.override(user.preferred_language or site.languages[0]):
        role_label = str(Role(role).label)
        context = {"site": site.display_name, "role": role_label}
        if user.has_usable_password():
            subject = _("You now work on %(site)s in Carefront") % context
            body = _(
                "You have been given the role %(role)s on %(site)s.\n\n"
                "Log in with your usual password: %(url)s"
            ) % {**context, "url": site_url(site.primary_domain or "", "/accounts/login/")}
        else:
            subject = _("Your invitation to %(site)s in Carefront") % context
            body = _(
                "You have been invited to %(site)s as %(role)s.\n\n"
                "Choose your password with this link (it works once, for %(days)s days):\n"
                "%(url)s\n\nYour login is this e-mail address."
            ) % {
                **context,
                "url": invitation_url(user),
                "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
            }
    from casework.notifications import send_email

    with tenant_context(site):
        send_email(case=None, address=address, subject=subject, body=body)
    record_site_event(
        site=site,
        action=SiteEvent.Action.INVITED,
        actor=invited_by,
        details={"email": address, "role": role},
    )
    return membership


# --- Offboarding ------------------------------------------------------------------------------


@transaction.atomic
def request_site_deletion(*, site: Site, typed_slug: str, requested_by: User) -> Site:
    """Ask for `site` to be deleted (注销站点): the person types the site's address back, and
    the site is deleted by the `delete_due_sites` sweep once SITE_DELETION_GRACE_DAYS have
    passed, unless the request is cancelled. The site keeps working meanwhile (public intake
    never stops); export it first (tenants.export.export_site)."""
    if typed_slug.strip() != site.slug:
        raise ValidationError({"slug": _("This is not the site's address.")})
    site = Site.objects.select_for_update().get(pk=site.pk)
    if site.deletion_requested_at is not None:
        raise ValidationError({"slug": _("Deletion of this site has already been requested.")})
    now = timezone.now()
    site.deletion_requested_at = now
    site.deletion_requested_by = requested_by
    site.delete_after = now + timedelta(days=settings.SITE_DELETION_GRACE_DAYS)
    site.save(update_fields=["deletion_requested_at", "deletion_requested_by", "delete_after"])
    record_site_event(
        site=site,
        action=SiteEvent.Action.DELETION_REQUESTED,
        actor=requested_by,
        details={"delete_after": site.delete_after.isoformat()},
    )
    return site


@transaction.atomic
def cancel_site_deletion(*, site: Site, cancelled_by: User) -> Site:
    site = Site.objects.select_for_update().get(pk=site.pk)
    if site.deletion_requested_at is None:
        return site
    site.deletion_requested_at = site.deletion_requested_by = site.delete_after = None
    site.save(update_fields=["deletion_requested_at", "deletion_requested_by", "delete_after"])
    record_site_event(site=site, action=SiteEvent.Action.DELETION_CANCELLED, actor=cancelled_by)
    return site


def delete_site(*, site: Site, now=None) -> bool:
    """Delete a site whose grace period is over: its schema, its domains, its roles and
    clock index rows, then (after commit) its files under PRIVATE_MEDIA_ROOT/<schema> and
    MEDIA_ROOT/<schema>. The row is claimed with SKIP LOCKED, so two sweeps never delete one
    site twice; a site whose request was cancelled meanwhile is left alone."""
    import shutil
    from pathlib import Path

    now = now or timezone.now()
    connection.set_schema_to_public()
    with transaction.atomic():
        claimed = (
            Site.objects.select_for_update(skip_locked=True)
            .filter(pk=site.pk, delete_after__lte=now)
            .first()
        )
        if claimed is None:
            return False
        schema, firm = claimed.schema_name, claimed.firm
        record_site_event(
            site=claimed,
            action=SiteEvent.Action.DELETED,
            details={
                "schema": schema,
                "requested_by": claimed.deletion_requested_by_id,
                "requested_at": claimed.deletion_requested_at.isoformat(),
                "domains": [d.domain for d in claimed.domains.all()],
            },
        )
        Domain.objects.filter(tenant=claimed).delete()
        with connection.cursor() as cursor:
            # Deferred checks of rows written earlier in this transaction run now: PostgreSQL
            # refuses to drop a table with checks still pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        claimed.delete(force_drop=True)  # DROP SCHEMA … CASCADE, then the row
        _after_site_count_changed(firm)
        folders = [Path(settings.PRIVATE_MEDIA_ROOT) / schema, Path(settings.MEDIA_ROOT) / schema]
        transaction.on_commit(
            lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in folders]
        )
    return True


def delete_due_sites(*, now=None) -> list[str]:
    """The sweep (beat, hourly): delete every site past its grace period. One failing site is
    logged and never blocks the others."""
    now = now or timezone.now()
    deleted = []
    for site in Site.objects.filter(delete_after__lte=now).order_by("delete_after"):
        try:
            if delete_site(site=site, now=now):
                deleted.append(site.slug)
        except Exception:
            logger.exception("Deleting site %s failed", site.slug)
    return deleted
