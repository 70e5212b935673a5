"""Operations that change cases. Each is a function of keyword arguments, one transaction, the
domain's rules enforced here (not in views or forms), and a timeline event; notifications go
to the outbox in the same transaction. All run in the current site's schema."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casework.models import (
    Case,
    CaseStatus,
    Category,
    CategoryKind,
    Channel,
    Department,
    Milestone,
    Relation,
    Tier,
    TimelineEvent,
)
from casework.selectors import site_calendar, site_configuration
from tenants.models import Membership, Role, Site, User
from tenants.selectors import site_roles


class CaseworkError(ValidationError):
    """A request the rules of the domain refuse; nothing was changed."""


@dataclass(frozen=True)
class Complainant:
    """Who complains. Anonymous complaints keep no name or contact details."""

    relation: str = Relation.OTHER
    name: str = ""
    phone: str = ""
    email: str = ""
    anonymous: bool = False


def _current_site() -> Site:
    site = connection.tenant
    if not isinstance(site, Site):
        raise CaseworkError(_("Cases exist only inside a site."))
    return site


def _next_reference(*, now: datetime, category_code: str) -> str:
    """The next reference of the site's local day (e.g. 20261122-SVC-007).

    The day's counter row is incremented in the registering transaction and stays locked until
    it commits: concurrent intakes queue on it, and a rolled-back intake gives its number back,
    so references are unique and gap-free per day.
    """
    local_day = timezone.localtime(now, ZoneInfo(_current_site().time_zone)).date()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO casework_referencecounter (day, last) VALUES (%s, 1) "
            "ON CONFLICT (day) DO UPDATE SET last = casework_referencecounter.last + 1 "
            "RETURNING last",
            [local_day],
        )
        sequence = cursor.fetchone()[0]
    pattern = site_configuration().reference_pattern
    return pattern.format(date=local_day.strftime("%Y%m%d"), category=category_code,
                          seq=sequence)


def _intake_owner(*, received_by: User | None, now: datetime) -> User:
    """首问责任制: whoever receives a complaint owns it. A complaint that arrives without a
    person (web form, letter, box) belongs to the configured intake owner, or outside office
    hours to the general duty officer (总值班), or failing both to a site admin."""
    site = _current_site()
    if received_by is not None:
        if not site_roles(user=received_by, site=site):
            raise CaseworkError(
                {"received_by": _("Only staff of this site can receive a complaint.")}
            )
        return received_by
    configuration = site_configuration()
    in_hours = site_calendar(configuration=configuration).is_working_hours(now)
    owner = (
        configuration.intake_owner if in_hours else configuration.after_hours_receiver
    ) or configuration.intake_owner or configuration.after_hours_receiver
    if owner is None:
        membership = (
            Membership.objects.filter(site=site, role=Role.SITE_ADMIN, user__is_active=True)
            .select_related("user")
            .order_by("created_at")
            .first()
        )
        owner = membership.user if membership else None
    if owner is None:
        raise CaseworkError(_("This site has nobody to receive complaints yet."))
    return owner


def _validate_intake(*, channel: str, account: str, complainant: Complainant) -> None:
    errors = {}
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel.")
    if not account or not account.strip():
        errors["account"] = _("Say what happened.")
    if complainant.relation not in Relation.values:
        errors["relation"] = _("Unknown relation to the institution.")
    if errors:
        raise CaseworkError(errors)


def _record(case: Case, *, actor: User | None, action: str, at: datetime, before=None,
            after=None, note: str = "", public: bool = False) -> TimelineEvent:
    return TimelineEvent.objects.create(
        case=case, actor=actor, action=action, at=at, before=before or {}, after=after or {},
        note=note, public=public,
    )


def _content_code(content: Category | None) -> str:
    return content.code if content else site_configuration().default_category_code


@transaction.atomic
def register_case(
    *,
    channel: str,
    account: str,
    complainant: Complainant,
    received_by: User | None = None,
    tier: Tier | None = None,
    nature: Category | None = None,
    content: Category | None = None,
    lead_department: Department | None = None,
    occurred_at: datetime | None = None,
    location: str = "",
    subject: str = "",
    desired_outcome: str = "",
    now: datetime | None = None,
) -> Case:
    """Register a complaint as a case (立项) on any channel, with its clocks started.

    The first responder (`received_by`, or the intake owner for unattended channels) owns it
    until a hand-over is accepted. Every milestone of the tier gets its due time now, in the
    site's calendar. Without a tier the least severe one applies until it is classified.
    """
    now = now or timezone.now()
    _validate_intake(channel=channel, account=account, complainant=complainant)
    owner = _intake_owner(received_by=received_by, now=now)
    tier = tier or Tier.objects.order_by("rank").first()
    if tier is None:
        raise CaseworkError(_("This site has no complaint tiers configured."))
    if nature is not None and nature.kind != CategoryKind.NATURE:
        raise CaseworkError({"nature": _("Choose a nature, not a content category.")})
    if content is not None and content.kind != CategoryKind.CONTENT:
        raise CaseworkError({"content": _("Choose a content category.")})

    case = Case.objects.create(
        reference=_next_reference(now=now, category_code=_content_code(content)),
        channel=channel,
        status=CaseStatus.OPEN,
        tier=tier,
        nature=nature,
        content=content,
        lead_department=lead_department,
        first_responder=owner,
        owner=owner,
        anonymous=complainant.anonymous,
        relation=complainant.relation,
        complainant_name="" if complainant.anonymous else complainant.name.strip(),
        complainant_phone="" if complainant.anonymous else complainant.phone.strip(),
        complainant_email="" if complainant.anonymous else complainant.email.strip(),
        occurred_at=occurred_at,
        location=location.strip(),
        subject=subject.strip(),
        account=account.strip(),
        desired_outcome=desired_outcome.strip(),
        registered_at=now,
    )
    calendar = site_calendar()
    Milestone.objects.bulk_create(
        Milestone(
            case=case,
            rule=rule,
            code=rule.code,
            due_at=calendar.add(now, rule.amount, rule.unit),
        )
        for rule in tier.milestone_rules.all()
    )
    _record(
        case, actor=received_by, action="registered", at=now, public=True,
        after={"reference": case.reference, "channel": channel, "tier": tier.code,
               "owner": owner.pk},
    )
    return case


@transaction.atomic
def record_resolved_at_contact(
    *,
    channel: str,
    account: str,
    complainant: Complainant,
    received_by: User,
    resolution: str,
    content: Category | None = None,
    now: datetime | None = None,
) -> Case:
    """A complaint explained and settled on the spot: recorded and counted, but no case is
    opened (no clocks, nothing to close)."""
    now = now or timezone.now()
    _validate_intake(channel=channel, account=account, complainant=complainant)
    if not resolution or not resolution.strip():
        raise CaseworkError({"resolution": _("Say how it was settled.")})
    owner = _intake_owner(received_by=received_by, now=now)
    tier = Tier.objects.order_by("rank").first()
    if tier is None:
        raise CaseworkError(_("This site has no complaint tiers configured."))
    case = Case.objects.create(
        reference=_next_reference(now=now, category_code=_content_code(content)),
        channel=channel,
        status=CaseStatus.RESOLVED_AT_CONTACT,
        tier=tier,
        content=content,
        first_responder=owner,
        owner=owner,
        anonymous=complainant.anonymous,
        relation=complainant.relation,
        complainant_name="" if complainant.anonymous else complainant.name.strip(),
        complainant_phone="" if complainant.anonymous else complainant.phone.strip(),
        complainant_email="" if complainant.anonymous else complainant.email.strip(),
        account=account.strip(),
        registered_at=now,
        closed_at=now,
    )
    _record(case, actor=received_by, action="resolved_at_contact", at=now,
            note=resolution.strip(), public=True)
    return case
