"""Operations that change cases. Each is a function of keyword arguments, one transaction, the
domain's rules enforced here (not in views or forms), and a timeline event; notifications go
to the outbox in the same transaction. All run in the current site's schema."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casework.calendar import SiteCalendar
from casework.models import (
    Approval,
    Callback,
    Case,
    CaseLink,
    CaseOutcome,
    CaseStatus,
    Category,
    CategoryKind,
    Channel,
    Compensation,
    ComplainantEscalation,
    ContactLog,
    Department,
    EscalationLevel,
    Extension,
    Handover,
    MetBy,
    Milestone,
    MilestoneState,
    PerformanceDeduction,
    Relation,
    Reply,
    Tier,
    TimelineEvent,
)
from casework.selectors import intake_reads, site_calendar, site_configuration
from tenants.models import SITE_ROLES, Deadline, Membership, Role, Site, User
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
    consent_contact: bool = True
    consent_share: bool = False

    def as_case_fields(self) -> dict:
        from casework.blind_index import complainant_index_fields

        keep = not self.anonymous
        given = (self.name, self.phone, self.email)
        name, phone, email = (value.strip() if keep else "" for value in given)
        return {
            "consent_contact": self.consent_contact and keep,
            "consent_share": self.consent_share and keep,
            "anonymous": self.anonymous,
            "relation": self.relation,
            "complainant_name": name,
            "complainant_phone": phone,
            "complainant_email": email,
            **complainant_index_fields(name=name, phone=phone, email=email),
        }


def _current_site() -> Site:
    site = connection.tenant
    if not isinstance(site, Site):
        raise CaseworkError(_("Cases exist only inside a site."))
    return site


def _next_reference(*, now: datetime, category_code: str, configuration) -> str:
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
    pattern = configuration.reference_pattern
    return pattern.format(date=local_day.strftime("%Y%m%d"), category=category_code, seq=sequence)


def _intake_owner(*, received_by: User | None, now: datetime, configuration, calendar) -> int:
    """首问责任制: whoever receives a complaint owns it. A complaint that arrives without a
    person (web form, letter, box) belongs to the configured intake owner, or outside office
    hours to the general duty officer (总值班), or failing both to a site admin.

    Returns the owner's id: the case needs no more of them, and reading the configured
    people's rows would cost a query per intake."""
    site = _current_site()
    if received_by is not None:
        if not site_roles(user=received_by, site=site):
            raise CaseworkError(
                {"received_by": _("Only staff of this site can receive a complaint.")}
            )
        return received_by.pk
    in_hours = calendar.is_working_hours(now)
    owner_id = (
        (configuration.intake_owner_id if in_hours else configuration.after_hours_receiver_id)
        or configuration.intake_owner_id
        or configuration.after_hours_receiver_id
    )
    if owner_id is None:
        owner_id = (
            Membership.objects.filter(site=site, role=Role.SITE_ADMIN, user__is_active=True)
            .order_by("created_at")
            .values_list("user_id", flat=True)
            .first()
        )
    if owner_id is None:
        raise CaseworkError(_("This site has nobody to receive complaints yet."))
    return owner_id


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


def _record(
    case: Case,
    *,
    actor: User | None,
    action: str,
    at: datetime,
    before=None,
    after=None,
    note: str = "",
    public: bool = False,
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        case=case,
        actor=actor,
        action=action,
        at=at,
        before=before or {},
        after=after or {},
        note=note,
        public=public,
    )


def _content_code(content: Category | None, configuration) -> str:
    return content.code if content else configuration.default_category_code


# --- Clocks -----------------------------------------------------------------------------------


def _index(kind: str, object_id: int, due_at: datetime) -> None:
    """Mirror an open clock in the cross-site index, in the same transaction."""
    Deadline.objects.update_or_create(
        site=_current_site(), kind=kind, object_id=object_id, defaults={"due_at": due_at}
    )


def _unindex(kind: str, object_ids) -> None:
    Deadline.objects.filter(
        site=_current_site(), kind=kind, object_id__in=list(object_ids)
    ).delete()


def _index_many(kind: str, due: dict[int, datetime]) -> None:
    """`_index` for many clocks of the current site: one INSERT … ON CONFLICT statement."""
    if not due:
        return
    site = _current_site()
    Deadline.objects.bulk_create(
        [Deadline(site=site, kind=kind, object_id=pk, due_at=at) for pk, at in due.items()],
        update_conflicts=True,
        unique_fields=["site", "kind", "object_id"],
        update_fields=["due_at"],
    )


def _start_clocks(
    case: Case,
    *,
    since: datetime,
    now: datetime,
    actor: User | None,
    calendar: SiteCalendar | None = None,
    new: bool = False,
) -> None:
    """(Re)start the case's clocks for its tier, counted from `since` in the site's calendar.

    A milestone already met stays met; one the new tier does not have is cancelled; the
    others get the new tier's rule and due time. Report milestones are met at once: the
    system tells the managers when the case enters the tier.
    """
    calendar = calendar or site_calendar()
    wanted = _wanted_rules(case.tier)
    if new:
        _start_new_clocks(case, wanted.values(), since=since, now=now, calendar=calendar)
        return
    existing = {m.code: m for m in case.milestones.all()}
    for code, milestone in existing.items():
        if code not in wanted and milestone.met_at is None:
            milestone.state = MilestoneState.CANCELLED
            milestone.save(update_fields=["state"])
    _unindex(Deadline.Kind.MILESTONE, [m.pk for m in existing.values()])
    for code, rule in wanted.items():
        milestone = existing.get(code) or Milestone(case=case, code=code)
        if milestone.met_at is not None:
            continue
        _restart(milestone, rule, since=since, now=now, calendar=calendar)
        milestone.save()
        if milestone.state == MilestoneState.OPEN and case.paused_at is None:
            _index(Deadline.Kind.MILESTONE, milestone.pk, milestone.due_at)
        if rule.met_by == MetBy.REPORT:
            _report(case, rule, now=now)
    _schedule_upgrade(case, calendar=calendar)


def _wanted_rules(tier: Tier) -> dict:
    """The tier's clocks that start on cases, by code. A retired one starts on none; filtered
    here rather than in SQL so that a prefetch of the tier's rules serves it."""
    return {rule.code: rule for rule in tier.milestone_rules.all() if rule.active}


def _restart(milestone: Milestone, rule, *, since: datetime, now: datetime, calendar) -> None:
    """Give an unmet milestone `rule` and its due time counted from `since` (not saved).
    Registration and report clocks are met at once."""
    milestone.rule = rule
    milestone.due_at = calendar.add(since, rule.amount, rule.unit)
    milestone.state = MilestoneState.OPEN
    milestone.escalation_level = 0
    milestone.escalated_at = None
    if rule.met_by == MetBy.REGISTRATION or rule.met_by == MetBy.REPORT:
        milestone.state, milestone.met_at = MilestoneState.MET, now


def _start_new_clocks(case: Case, rules, *, since, now, calendar) -> None:
    """The first clocks of a new case: two inserts, whatever the number of milestones."""
    milestones = []
    for rule in rules:
        met = rule.met_by in (MetBy.REGISTRATION, MetBy.REPORT)
        milestones.append(
            Milestone(
                case=case,
                code=rule.code,
                rule=rule,
                due_at=calendar.add(since, rule.amount, rule.unit),
                state=MilestoneState.MET if met else MilestoneState.OPEN,
                met_at=now if met else None,
            )
        )
    Milestone.objects.bulk_create(milestones)
    _as_prefetched(case, "milestones", milestones)  # what the receipt reads (cms.services)
    site = _current_site()
    Deadline.objects.bulk_create(
        Deadline(site=site, kind=Deadline.Kind.MILESTONE, object_id=m.pk, due_at=m.due_at)
        for m in milestones
        if m.state == MilestoneState.OPEN
    )
    for milestone in milestones:
        if milestone.rule.met_by == MetBy.REPORT:
            _report(case, milestone.rule, now=now)
    _schedule_upgrade(case, calendar=calendar, new=True)


def _report(case: Case, rule, *, now: datetime) -> None:
    """Report milestones are met by the system telling the managers at once."""
    from casework.notifications import notify_roles

    notify_roles(
        roles=rule.escalation_chain[:1] or [case.tier.handler_role],
        case=case,
        subject=_("%(tier)s case %(reference)s")
        % {"tier": case.tier.name, "reference": case.reference},
        now=now,
        department=case.lead_department,
    )


def _schedule_upgrade(
    case: Case, *, calendar: SiteCalendar | None = None, new: bool = False
) -> None:
    """A valid complaint unresolved for the tier's period is upgraded automatically."""
    due = _upgrade_due(case, calendar=calendar)
    if case.upgrade_due_at != due:
        case.upgrade_due_at = due
        case.save(update_fields=["upgrade_due_at"])
    if due is None:
        if not new:  # a new case has nothing to take back
            _unindex(Deadline.Kind.UPGRADE, [case.pk])
    else:
        _index(Deadline.Kind.UPGRADE, case.pk, due)


def _upgrade_due(case: Case, *, calendar: SiteCalendar | None = None) -> datetime | None:
    tier = case.tier
    wants = (
        case.status != CaseStatus.CLOSED
        and case.nature is not None
        and case.nature.is_valid_complaint
        and tier.upgrade_after_days
        and tier.upgrade_to_id
    )
    if not wants:
        return None
    return (calendar or site_calendar()).add(
        case.registered_at, tier.upgrade_after_days, "calendar_days"
    )


def _meet(case: Case, met_by: str, *, now: datetime) -> list[str]:
    """Stop the clocks this action satisfies; returns their codes."""
    milestones = list(
        case.milestones.filter(rule__met_by=met_by, met_at=None).exclude(
            state=MilestoneState.CANCELLED
        )
    )
    for milestone in milestones:
        milestone.met_at = now
        if milestone.state == MilestoneState.OPEN:
            milestone.state = MilestoneState.MET
        milestone.save(update_fields=["met_at", "state"])
    _unindex(Deadline.Kind.MILESTONE, [m.pk for m in milestones])
    return [m.code for m in milestones]


# --- Guards -----------------------------------------------------------------------------------


def _lock(case: Case) -> Case:
    """The case, re-read and locked: two people acting at once are serialised."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("tier", "nature", "content")
        .get(pk=case.pk)
    )


def _require_staff(user: User, *, handling: bool = True) -> frozenset[str]:
    """The user's roles on this site. The oversight roles (the region's manager, the firm's
    admins) count for reading only (`handling=False`): handling takes a role of the site
    itself, and only those are returned, so an oversight role never lends its limits."""
    roles = site_roles(user=user, site=_current_site())
    if not roles:
        raise CaseworkError(_("Only staff of this site can do this."))
    if not handling:
        return roles
    if not roles & SITE_ROLES:
        raise CaseworkError(_("Oversight roles see this site's cases but do not handle them."))
    return roles & SITE_ROLES


def _require_role(user: User, allowed, what: str) -> None:
    if not _require_staff(user).intersection(allowed):
        raise CaseworkError(_("You may not %(what)s.") % {"what": what})


def _require_open(case: Case) -> None:
    if case.status in (CaseStatus.CLOSED, CaseStatus.RESOLVED_AT_CONTACT):
        raise CaseworkError(_("Case %(reference)s is closed.") % {"reference": case.reference})


def _snapshot(case: Case) -> dict:
    return {
        "tier": case.tier.code,
        "nature": case.nature.code if case.nature else None,
        "content": case.content.code if case.content else None,
        "lead_department": case.lead_department_id,
        "owner": case.owner_id,
        "status": case.status,
    }


# --- Intake -----------------------------------------------------------------------------------


def _intake_fields(
    *, complainant, received_by, tier, nature, content, now, configuration, calendar
) -> dict:
    """What every intake writes on the new case: its owner (首问责任制), its tier (the least
    severe until classified), its categories, its reference and the complainant."""
    owner_id = _intake_owner(
        received_by=received_by, now=now, configuration=configuration, calendar=calendar
    )
    if tier is None:
        raise CaseworkError(_("This site has no complaint tiers configured."))
    _validate_categories(nature=nature, content=content)
    return {
        "reference": _next_reference(
            now=now,
            category_code=_content_code(content, configuration),
            configuration=configuration,
        ),
        "tier": tier,
        "nature": nature,
        "content": content,
        "first_responder_id": owner_id,
        "owner_id": owner_id,
        **complainant.as_case_fields(),
    }


def _as_prefetched(instance, related_name: str, objects: list) -> None:
    """Hand `instance.<related_name>.all()` the rows just read or written, as
    prefetch_related would: no query for what this transaction already holds."""
    queryset = getattr(instance, related_name).all()
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[related_name] = queryset


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
    # Without a tier the least severe one applies (its rules come with it).
    configuration, calendar, least_severe = intake_reads()
    case = Case.objects.create(
        **_intake_fields(
            complainant=complainant,
            received_by=received_by,
            tier=tier or least_severe,
            nature=nature,
            content=content,
            now=now,
            configuration=configuration,
            calendar=calendar,
        ),
        channel=channel,
        status=CaseStatus.OPEN,
        lead_department=lead_department,
        occurred_at=occurred_at,
        location=location.strip(),
        subject=subject.strip(),
        account=account.strip(),
        desired_outcome=desired_outcome.strip(),
        registered_at=now,
    )
    _start_clocks(case, since=now, now=now, actor=received_by, calendar=calendar, new=True)
    _record(
        case,
        actor=received_by,
        action="registered",
        at=now,
        public=True,
        after={
            "reference": case.reference,
            "channel": channel,
            "tier": case.tier.code,
            "owner": case.owner_id,
        },
    )
    return case


def _validate_categories(*, nature: Category | None, content: Category | None) -> None:
    if nature is not None and nature.kind != CategoryKind.NATURE:
        raise CaseworkError({"nature": _("Choose a nature, not a content category.")})
    if content is not None and content.kind != CategoryKind.CONTENT:
        raise CaseworkError({"content": _("Choose a content category.")})


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
    configuration, calendar, least_severe = intake_reads()
    case = Case.objects.create(
        **_intake_fields(
            complainant=complainant,
            received_by=received_by,
            tier=least_severe,
            nature=None,
            content=content,
            now=now,
            configuration=configuration,
            calendar=calendar,
        ),
        channel=channel,
        status=CaseStatus.RESOLVED_AT_CONTACT,
        account=account.strip(),
        registered_at=now,
        closed_at=now,
        outcome=CaseOutcome.RESOLVED,
    )
    _record(
        case,
        actor=received_by,
        action="resolved_at_contact",
        at=now,
        note=resolution.strip(),
        public=True,
    )
    return case


# --- The back office's own records (casework/views/queue.py) -----------------------------------


@transaction.atomic
def save_queue_filter(*, owner: User, name: str, query: str):
    """Keep a queue filter (its query string) under a name; the same name replaces it."""
    from casework.models import SavedFilter

    name = " ".join(name.split())
    if not name:
        raise CaseworkError({"name": _("Give the filter a name.")})
    if len(name) > 80 or len(query) > 500:
        raise CaseworkError({"name": _("The name or the filter is too long.")})
    _require_staff(owner, handling=False)  # a saved search is the reader's own record
    saved, _created = SavedFilter.objects.update_or_create(
        owner=owner, name=name, defaults={"query": query}
    )
    return saved


@transaction.atomic
def delete_queue_filter(*, owner: User, filter_id: int) -> bool:
    from casework.models import SavedFilter

    deleted, _rows = SavedFilter.objects.filter(owner=owner, pk=filter_id).delete()
    return bool(deleted)


@transaction.atomic
def mark_notifications_read(*, user: User, ids=None, now: datetime | None = None) -> int:
    """Mark the user's own notices read (all unread ones when `ids` is None)."""
    from casework.models import Notification

    notices = Notification.objects.filter(user=user, read_at=None)
    if ids is not None:
        notices = notices.filter(pk__in=list(ids))
    return notices.update(read_at=now or timezone.now())


# --- Handling ---------------------------------------------------------------------------------


@transaction.atomic
def classify_case(
    *,
    case: Case,
    by: User,
    tier: Tier | None = None,
    nature: Category | None = None,
    content: Category | None = None,
    cooperating_departments: list[Department] | None = None,
    persons_complained_about: list[User] | None = None,
    now: datetime | None = None,
) -> Case:
    """Set tier, nature, content, the departments that must cooperate and the persons
    complained about. A new tier re-bases the open clocks from the registration time."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    _validate_categories(nature=nature, content=content)
    before = _snapshot(case)
    tier_changed = tier is not None and tier.pk != case.tier_id
    if tier is not None:
        case.tier = tier
    if nature is not None:
        case.nature = nature
    if content is not None:
        case.content = content
    case.save(update_fields=["tier", "nature", "content"])
    if cooperating_departments is not None:
        case.cooperating_departments.set(cooperating_departments)
    if persons_complained_about is not None:
        case.persons_complained_about.set(persons_complained_about)
    if tier_changed:
        _start_clocks(case, since=case.registered_at, now=now, actor=by)
    else:
        _schedule_upgrade(case)
    _record(
        case,
        actor=by,
        action="classified",
        at=now,
        before=before,
        after=_snapshot(case),
        note=_("Open clocks re-based on the new tier.") if tier_changed else "",
    )
    return case


@transaction.atomic
def dispatch_case(
    *, case: Case, by: User, department: Department, now: datetime | None = None
) -> Case:
    """Send the case to the department responsible (派单); its supervisor is told."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    if not department.is_active:
        raise CaseworkError({"department": _("This department is retired.")})
    before = _snapshot(case)
    case.lead_department = department
    case.save(update_fields=["lead_department"])
    met = _meet(case, MetBy.DISPATCH, now=now)
    from casework.notifications import notify_roles

    notify_roles(
        roles=[Role.DEPARTMENT_SUPERVISOR],
        department=department,
        case=case,
        subject=_("Case %(reference)s dispatched to you") % {"reference": case.reference},
        now=now,
    )
    _record(
        case,
        actor=by,
        action="dispatched",
        at=now,
        before=before,
        after={**_snapshot(case), "met": met},
    )
    return case


@transaction.atomic
def hand_over_case(
    *, case: Case, by: User, to_department: Department, note: str = "", now: datetime | None = None
) -> Handover:
    """Hand the case to another department. The current owner stays accountable until the
    receiving department accepts (首问责任制); unaccepted, it escalates when the site's
    acceptance window runs out."""
    now = now or timezone.now()
    roles = _require_staff(by)
    case = _lock(case)
    _require_open(case)
    managers = {Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER, Role.SITE_ADMIN}
    if by.pk != case.owner_id and not roles.intersection(managers):
        raise CaseworkError(_("Only the case's owner or a manager can hand it over."))
    if case.handovers.filter(accepted_at=None).exists():
        raise CaseworkError(_("A hand-over of this case is already waiting for acceptance."))
    if not to_department.is_active:
        raise CaseworkError({"to_department": _("This department is retired.")})
    minutes = site_configuration().handover_accept_minutes
    handover = Handover.objects.create(
        case=case,
        from_user=by,
        to_department=to_department,
        note=note.strip(),
        requested_at=now,
        due_at=site_calendar().add(now, minutes, "minutes"),
    )
    _index(Deadline.Kind.HANDOVER, handover.pk, handover.due_at)
    from casework.notifications import notify_users

    receivers = [u for u in [to_department.supervisor, *to_department.members.all()] if u]
    notify_users(
        users=receivers,
        case=case,
        now=now,
        subject=_("Case %(reference)s handed over to your department")
        % {"reference": case.reference},
        body=note,
    )
    _record(
        case,
        actor=by,
        action="handed_over",
        at=now,
        after={"to_department": to_department.pk, "due_at": handover.due_at.isoformat()},
        note=note,
    )
    return handover


@transaction.atomic
def accept_handover(*, handover: Handover, by: User, now: datetime | None = None) -> Case:
    """The receiving department takes the case: the accepter becomes its owner."""
    now = now or timezone.now()
    roles = _require_staff(by)
    handover = Handover.objects.select_for_update().get(pk=handover.pk)
    if handover.accepted_at is not None:
        raise CaseworkError(_("This hand-over was already accepted."))
    department = handover.to_department
    in_department = (
        by.pk == department.supervisor_id or department.members.filter(pk=by.pk).exists()
    )
    if not in_department and not roles.intersection(
        {Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER}
    ):
        raise CaseworkError(_("Only the receiving department can accept this hand-over."))
    case = _lock(handover.case)
    _require_open(case)
    before = _snapshot(case)
    handover.accepted_at, handover.accepted_by = now, by
    handover.save(update_fields=["accepted_at", "accepted_by"])
    _unindex(Deadline.Kind.HANDOVER, [handover.pk])
    case.owner, case.lead_department = by, department
    case.save(update_fields=["owner", "lead_department"])
    _record(
        case, actor=by, action="handover_accepted", at=now, before=before, after=_snapshot(case)
    )
    return case


@transaction.atomic
def log_contact(
    *,
    case: Case,
    by: User,
    method: str,
    summary: str,
    second_staff: User | None = None,
    acceptance_decision: str = "",
    now: datetime | None = None,
) -> ContactLog:
    """A real contact with the complainant. Face-to-face fact-finding needs two staff
    present; an acceptance decision told to the complainant stops the acceptance clock."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    if method not in ContactLog.Method.values:
        raise CaseworkError({"method": _("Unknown way of contact.")})
    if not summary.strip():
        raise CaseworkError({"summary": _("Note what was said.")})
    if method == ContactLog.Method.FACE_TO_FACE:
        if second_staff is None or second_staff.pk == by.pk:
            raise CaseworkError(
                {"second_staff": _("Face-to-face fact-finding needs a second member of staff.")}
            )
        _require_staff(second_staff)
    if acceptance_decision not in ("", "accepted", "not_accepted"):
        raise CaseworkError({"acceptance_decision": _("Unknown decision.")})
    contact = ContactLog.objects.create(
        case=case,
        at=now,
        by=by,
        second_staff=second_staff,
        method=method,
        summary=summary.strip(),
        acceptance_decision=acceptance_decision,
    )
    met = _meet(case, MetBy.CONTACT, now=now)
    if acceptance_decision:
        met += _meet(case, MetBy.ACCEPTANCE, now=now)
    _record(
        case,
        actor=by,
        action="contacted",
        at=now,
        public=True,
        after={"method": method, "met": met, "acceptance": acceptance_decision},
    )
    return contact


@transaction.atomic
def pause_clock(*, case: Case, by: User, reason: str, now: datetime | None = None) -> Case:
    """Stop the case's clocks, only for a reason its tier allows (e.g. waiting for the
    complainant)."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    if case.paused_at is not None:
        raise CaseworkError(_("The clocks are already paused."))
    if reason not in case.tier.pause_reasons:
        raise CaseworkError({"reason": _("This tier's clocks cannot be paused for that.")})
    case.paused_at, case.pause_reason = now, reason
    case.save(update_fields=["paused_at", "pause_reason"])
    _unindex(Deadline.Kind.MILESTONE, case.milestones.values_list("pk", flat=True))
    _record(case, actor=by, action="clock_paused", at=now, after={"reason": reason})
    return case


@transaction.atomic
def resume_clock(*, case: Case, by: User, now: datetime | None = None) -> Case:
    """Restart the clocks; each open one moves on by the time paused (office time for
    working-day clocks)."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    if case.paused_at is None:
        raise CaseworkError(_("The clocks are not paused."))
    calendar = site_calendar()
    before, after = {}, {}
    for milestone in (
        case.milestones.filter(met_at=None)
        .exclude(state=MilestoneState.CANCELLED)
        .select_related("rule")
    ):
        before[milestone.code] = milestone.due_at.isoformat()
        milestone.due_at = calendar.shift_for_pause(
            milestone.due_at, case.paused_at, now, milestone.rule.unit
        )
        milestone.save(update_fields=["due_at"])
        after[milestone.code] = milestone.due_at.isoformat()
        _index(Deadline.Kind.MILESTONE, milestone.pk, _next_alarm(milestone))
    case.paused_at, case.pause_reason = None, ""
    case.save(update_fields=["paused_at", "pause_reason"])
    _record(case, actor=by, action="clock_resumed", at=now, before=before, after=after)
    return case


def _next_alarm(milestone: Milestone, *, calendar: SiteCalendar | None = None) -> datetime:
    """When the sweep should next look at a milestone: its due time, then one more period
    of the rule for each escalation level already reached."""
    rule = milestone.rule
    due = milestone.due_at
    calendar = calendar or site_calendar()
    for _level in range(milestone.escalation_level):
        due = calendar.add(due, rule.amount, rule.unit)
    return due


@transaction.atomic
def request_extension(
    *,
    milestone: Milestone,
    by: User,
    new_due_at: datetime,
    reason: str,
    now: datetime | None = None,
) -> Extension:
    """Ask to move a clock; the role the tier names must approve it."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(milestone.case)
    _require_open(case)
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    if milestone.met_at is not None or milestone.state == MilestoneState.CANCELLED:
        raise CaseworkError(_("This clock has stopped already."))
    if new_due_at <= milestone.due_at:
        raise CaseworkError({"new_due_at": _("An extension must move the deadline later.")})
    if not reason.strip():
        raise CaseworkError({"reason": _("Give the reason for the extension.")})
    if milestone.extensions.filter(approved=None).exists():
        raise CaseworkError(_("An extension of this clock is already waiting for a decision."))
    extension = Extension.objects.create(
        milestone=milestone,
        requested_by=by,
        requested_at=now,
        new_due_at=new_due_at,
        reason=reason.strip(),
    )
    from casework.notifications import notify_roles

    notify_roles(
        roles=[case.tier.extension_approver_role],
        case=case,
        now=now,
        subject=_("Extension requested for %(reference)s") % {"reference": case.reference},
        body=reason,
    )
    _record(
        case,
        actor=by,
        action="extension_requested",
        at=now,
        before={"due_at": milestone.due_at.isoformat(), "milestone": milestone.code},
        after={"due_at": new_due_at.isoformat()},
        note=reason.strip(),
    )
    return extension


@transaction.atomic
def decide_extension(
    *, extension: Extension, by: User, approve: bool, note: str = "", now: datetime | None = None
) -> Extension:
    now = now or timezone.now()
    extension = (
        Extension.objects.select_for_update().select_related("milestone").get(pk=extension.pk)
    )
    case = _lock(extension.milestone.case)
    _require_role(by, {case.tier.extension_approver_role}, _("decide this extension"))
    _require_open(case)
    if extension.approved is not None:
        raise CaseworkError(_("This extension was already decided."))
    extension.approved, extension.decided_by, extension.decided_at = approve, by, now
    extension.save(update_fields=["approved", "decided_by", "decided_at"])
    milestone = extension.milestone
    before = {"due_at": milestone.due_at.isoformat(), "milestone": milestone.code}
    if approve:
        milestone.due_at = extension.new_due_at
        milestone.escalation_level = 0
        milestone.state = MilestoneState.OPEN
        milestone.save(update_fields=["due_at", "escalation_level", "state"])
        if case.paused_at is None and milestone.met_at is None:
            _index(Deadline.Kind.MILESTONE, milestone.pk, milestone.due_at)
    _record(
        case,
        actor=by,
        action="extension_approved" if approve else "extension_refused",
        at=now,
        before=before,
        after={"due_at": milestone.due_at.isoformat()},
        note=note,
    )
    return extension


def _compensation_limit(roles, limits: dict) -> int:
    return max([int(limits.get(role, 0)) for role in roles] or [0])


@transaction.atomic
def record_compensation(
    *, case: Case, by: User, amount, description: str, now: datetime | None = None
) -> Compensation:
    """Record compensation offered; within the recorder's limit it is approved at once,
    above it a role whose limit covers the amount must approve."""
    now = now or timezone.now()
    roles = _require_staff(by)
    case = _lock(case)
    _require_open(case)
    amount = Decimal(str(amount))
    if amount <= 0:
        raise CaseworkError({"amount": _("The amount must be positive.")})
    if not description.strip():
        raise CaseworkError({"description": _("Describe what is compensated.")})
    limits = site_configuration().compensation_limits
    within = amount <= _compensation_limit(roles, limits)
    compensation = Compensation.objects.create(
        case=case,
        amount=amount,
        description=description.strip(),
        recorded_by=by,
        recorded_at=now,
        approved_by=by if within else None,
        approved_at=now if within else None,
    )
    if not within:
        from casework.notifications import notify_roles

        approvers = [role for role, limit in limits.items() if int(limit) >= amount]
        notify_roles(
            roles=approvers,
            case=case,
            now=now,
            subject=_("Compensation of ¥%(amount)s awaits approval (%(reference)s)")
            % {"amount": amount, "reference": case.reference},
        )
    _record(
        case,
        actor=by,
        action="compensation_recorded",
        at=now,
        after={"amount": str(amount), "approved": within},
    )
    return compensation


@transaction.atomic
def approve_compensation(
    *, compensation: Compensation, by: User, now: datetime | None = None
) -> Compensation:
    now = now or timezone.now()
    roles = _require_staff(by)
    compensation = Compensation.objects.select_for_update().get(pk=compensation.pk)
    case = _lock(compensation.case)
    _require_open(case)
    if compensation.approved_at is not None:
        raise CaseworkError(_("This compensation is already approved."))
    if compensation.amount > _compensation_limit(roles, site_configuration().compensation_limits):
        raise CaseworkError(_("This amount is above what you may approve."))
    compensation.approved_by, compensation.approved_at = by, now
    compensation.save(update_fields=["approved_by", "approved_at"])
    _record(
        case,
        actor=by,
        action="compensation_approved",
        at=now,
        after={"amount": str(compensation.amount)},
    )
    return compensation


@transaction.atomic
def reply_to_complainant(
    *,
    case: Case,
    by: User,
    method: str,
    decision: str,
    investigation: str = "",
    facts: str = "",
    responsibility: str = "",
    delay_reason: str = "",
    legal_route_advised: bool = False,
    now: datetime | None = None,
) -> Reply:
    """Answer the complainant. A written reply states the investigation, the facts and
    evidence, the responsibility and the decision; a late reply states why it is late."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    errors = {}
    if method not in [*ContactLog.Method.values, "written"]:
        errors["method"] = _("Unknown way of replying.")
    if not decision.strip():
        errors["decision"] = _("State the decision.")
    if method == "written":
        for field, value in (
            ("investigation", investigation),
            ("facts", facts),
            ("responsibility", responsibility),
        ):
            if not value.strip():
                errors[field] = _("A written reply states this.")
    overdue = case.milestones.filter(rule__met_by=MetBy.REPLY, met_at=None, due_at__lt=now).exists()
    if overdue and not delay_reason.strip():
        errors["delay_reason"] = _("The reply is late: give the reason for the delay.")
    if errors:
        raise CaseworkError(errors)
    reply = Reply.objects.create(
        case=case,
        at=now,
        by=by,
        method=method,
        decision=decision.strip(),
        investigation=investigation.strip(),
        facts=facts.strip(),
        responsibility=responsibility.strip(),
        delay_reason=delay_reason.strip(),
        legal_route_advised=legal_route_advised,
    )
    before = _snapshot(case)
    case.status, case.replied_at = CaseStatus.REPLIED, now
    case.save(update_fields=["status", "replied_at"])
    met = _meet(case, MetBy.REPLY, now=now)
    _record(
        case,
        actor=by,
        action="replied",
        at=now,
        public=True,
        before=before,
        after={"status": case.status, "met": met},
        note=decision.strip(),
    )
    return reply


@transaction.atomic
def record_callback(
    *,
    case: Case,
    by: User,
    method: str,
    satisfied: bool,
    rating: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Callback:
    """回访 after the reply. A dissatisfied call-back re-opens the case, restarts its reply and
    close clocks from now, and alerts the department's supervisor."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    if case.status != CaseStatus.REPLIED:
        raise CaseworkError(_("A call-back follows the reply to the complainant."))
    if method not in ContactLog.Method.values:
        raise CaseworkError({"method": _("Unknown way of contact.")})
    if rating is not None and not 1 <= rating <= 5:
        raise CaseworkError({"rating": _("Rate from 1 to 5.")})
    callback = Callback.objects.create(
        case=case,
        at=now,
        by=by,
        method=method,
        satisfied=satisfied,
        rating=rating,
        note=note.strip(),
    )
    if not satisfied:
        case.status, case.reopened_count = CaseStatus.OPEN, case.reopened_count + 1
        case.save(update_fields=["status", "reopened_count"])
        calendar = site_calendar()
        for milestone in case.milestones.filter(
            rule__met_by__in=[MetBy.REPLY, MetBy.CLOSE]
        ).select_related("rule"):
            milestone.due_at = calendar.add(now, milestone.rule.amount, milestone.rule.unit)
            milestone.state, milestone.met_at, milestone.escalation_level = (
                MilestoneState.OPEN,
                None,
                0,
            )
            milestone.save(update_fields=["due_at", "state", "met_at", "escalation_level"])
            if case.paused_at is None:
                _index(Deadline.Kind.MILESTONE, milestone.pk, milestone.due_at)
        from casework.notifications import notify_roles

        notify_roles(
            roles=[Role.DEPARTMENT_SUPERVISOR, case.tier.handler_role],
            department=case.lead_department,
            case=case,
            now=now,
            subject=_("Dissatisfied call-back: %(reference)s re-opened")
            % {"reference": case.reference},
            body=note,
        )
    _record(
        case,
        actor=by,
        action="called_back",
        at=now,
        public=True,
        after={"satisfied": satisfied, "rating": rating, "status": case.status},
    )
    return callback


@transaction.atomic
def link_cases(
    *, case: Case, other: Case, kind: str, by: User, now: datetime | None = None
) -> CaseLink:
    """Tie two cases together, e.g. a new issue found on the way, opened as its own case."""
    now = now or timezone.now()
    _require_staff(by)
    if case.pk == other.pk:
        raise CaseworkError(_("A case cannot be linked to itself."))
    if kind not in CaseLink.Kind.values:
        raise CaseworkError({"kind": _("Unknown kind of link.")})
    if CaseLink.objects.filter(from_case=case, to_case=other).exists():
        raise CaseworkError(_("These cases are already linked."))
    link = CaseLink.objects.create(from_case=case, to_case=other, kind=kind)
    for one, two in ((case, other), (other, case)):
        _record(one, actor=by, action="linked", at=now, after={"case": two.reference, "kind": kind})
    return link


@transaction.atomic
def attach_file(
    *, case: Case, by: User, upload, note: str = "", now: datetime | None = None
) -> list:
    """Staff attach a photo or document (or the few chosen together, `upload` a list) to a
    case, through the complainant's checked upload path (`casework.public.attach_files`: type
    read from the content, images re-encoded without their metadata). A bad file stores
    nothing; one timeline event names the files."""
    from casework.public import attach_files

    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)  # a closed case still takes files: evidence may come after closing
    uploads = [upload] if hasattr(upload, "read") else list(upload or [])
    if not uploads:
        raise CaseworkError({"attachments": _("Choose at least one file.")})
    files = attach_files(case=case, uploads=uploads, by=by, now=now)
    _record(
        case,
        actor=by,
        action="files_attached",
        at=now,
        note=note.strip(),
        after={"files": [f.original_name for f in files]},
    )
    return files


@transaction.atomic
def approve_closure(
    *, case: Case, by: User, kind: str, note: str, now: datetime | None = None
) -> Approval:
    """A manager's recorded approval to close: required by tiers that name an approver, and
    for closing a case as unresolvable (at the quarterly review)."""
    now = now or timezone.now()
    case = _lock(case)
    _require_open(case)
    if kind == Approval.Kind.CLOSE:
        needed = {case.tier.close_approver_role} if case.tier.close_approver_role else set()
    elif kind == Approval.Kind.UNRESOLVABLE:
        needed = {Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER}
    else:
        raise CaseworkError({"kind": _("Unknown kind of approval.")})
    roles = _require_staff(by)
    held = roles.intersection(needed)
    if not held:
        raise CaseworkError(_("You may not approve this."))
    if not note.strip():
        raise CaseworkError({"note": _("Record the reason for the approval.")})
    approval = Approval.objects.create(
        case=case, kind=kind, by=by, role=sorted(held)[0], at=now, note=note.strip()
    )
    _record(case, actor=by, action=f"approved_{kind}", at=now, note=note.strip())
    return approval


@transaction.atomic
def close_case(
    *,
    case: Case,
    by: User,
    outcome: str = CaseOutcome.RESOLVED,
    complainant_signed_off: bool = False,
    note: str = "",
    now: datetime | None = None,
) -> Case:
    """销项: close only what was handled and verified. Nobody closes an unhandled case; a
    valid complaint needs a satisfied call-back; a repair needs the complainant's sign-off;
    a tier may require a manager's approval; an unresolvable case closes only by a manager's
    recorded approval; a failed mediation only once the complainant was told of the legal
    route."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    _require_open(case)
    if case.handovers.filter(accepted_at=None).exists():
        raise CaseworkError(_("A hand-over of this case is still waiting for acceptance."))
    if outcome == CaseOutcome.UNRESOLVABLE:
        if not case.approvals.filter(kind=Approval.Kind.UNRESOLVABLE).exists():
            raise CaseworkError(
                _("An unresolvable case is closed only with a manager's recorded approval.")
            )
    elif outcome in (CaseOutcome.RESOLVED, CaseOutcome.LEGAL_ROUTE):
        if case.status != CaseStatus.REPLIED:
            raise CaseworkError(
                _("Nobody closes an unhandled case: reply to the complainant first.")
            )
        if (
            outcome == CaseOutcome.LEGAL_ROUTE
            and not case.replies.filter(legal_route_advised=True).exists()
        ):
            raise CaseworkError(_("Tell the complainant of the legal route first."))
        if outcome == CaseOutcome.RESOLVED:
            if case.nature and case.nature.is_valid_complaint:
                last = case.callbacks.order_by("-at", "-id").first()
                if last is None or not last.satisfied:
                    raise CaseworkError(
                        _("A valid complaint is closed after a satisfied call-back.")
                    )
            if case.content and case.content.requires_signoff and not complainant_signed_off:
                raise CaseworkError(
                    {
                        "complainant_signed_off": _(
                            "A repair is closed when the complainant has signed it off."
                        )
                    }
                )
        if (
            case.tier.close_approver_role
            and not case.approvals.filter(kind=Approval.Kind.CLOSE).exists()
        ):
            raise CaseworkError(
                _("This tier is closed only with the approval of the %(role)s.")
                % {"role": Role(case.tier.close_approver_role).label}
            )
    else:
        raise CaseworkError({"outcome": _("Unknown outcome.")})
    before = _snapshot(case)
    case.status, case.closed_at, case.outcome = CaseStatus.CLOSED, now, outcome
    case.save(update_fields=["status", "closed_at", "outcome"])
    _meet(case, MetBy.CLOSE, now=now)
    leftover = list(case.milestones.filter(met_at=None).exclude(state=MilestoneState.CANCELLED))
    for milestone in leftover:
        if milestone.state == MilestoneState.OPEN:
            milestone.state = MilestoneState.CANCELLED
            milestone.save(update_fields=["state"])
    _unindex(Deadline.Kind.MILESTONE, [m.pk for m in leftover])
    _schedule_upgrade(case)
    _record(
        case,
        actor=by,
        action="closed",
        at=now,
        public=True,
        before=before,
        after={"status": case.status, "outcome": outcome, "signed_off": complainant_signed_off},
        note=note,
    )
    return case


@transaction.atomic
def record_escalation_by_complainant(
    *, case: Case, by: User, level: str, note: str = "", now: datetime | None = None
) -> ComplainantEscalation:
    """越级投诉: the complainant went over the firm's head. Seed 001 第十条 deducts points from
    the department supervisor and from the person responsible, more the higher it went."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    if level not in EscalationLevel.values:
        raise CaseworkError({"level": _("Unknown escalation level.")})
    escalation = ComplainantEscalation.objects.create(
        case=case, level=level, recorded_by=by, at=now, note=note.strip()
    )
    points = int(site_configuration().escalation_points.get(level, 0))
    people = [("responsible", case.owner)]
    supervisor = case.lead_department.supervisor if case.lead_department else None
    if supervisor is not None:
        people.append(("supervisor", supervisor))
    PerformanceDeduction.objects.bulk_create(
        PerformanceDeduction(
            person=person,
            case=case,
            escalation=escalation,
            capacity=capacity,
            points=points,
            at=now,
        )
        for capacity, person in people
    )
    from casework.notifications import notify_roles

    notify_roles(
        roles=[Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER],
        case=case,
        now=now,
        subject=_("%(reference)s: complainant escalated to %(level)s")
        % {"reference": case.reference, "level": EscalationLevel(level).label},
    )
    _record(
        case,
        actor=by,
        action="escalated_by_complainant",
        at=now,
        after={"level": level, "points": points},
        note=note,
    )
    return escalation


# --- Escalation (called by the sweep, inside the site's schema) --------------------------------


def escalate_milestone(*, milestone_id: int, now: datetime) -> int:
    """`escalate_milestones` for one clock."""
    return escalate_milestones(milestone_ids=[milestone_id], now=now)


# savepoint=False: the sweep runs all sites in one transaction and adds a savepoint per site
# only when a first attempt failed (each savepoint is two more round trips per site).
@transaction.atomic(savepoint=False)
def escalate_milestones(*, milestone_ids: list[int], now: datetime) -> int:
    """Escalate missed clocks of the current site one level per period elapsed since each was
    due, each level once; returns the number of levels raised. Moves or deletes their index
    rows.

    Compare-and-swap on `escalation_level` makes a second sweeper (or a re-run) a no-op, and
    catching up after downtime gives the same levels, events and notices as sweeping every
    minute would have: level 1 at the due time tells the owner and the chain's first role,
    each further level, one rule period later, the next role. Clocks are handled in the order
    given (a case's events then follow in the same order as clock by clock).

    The sweep passes all of a site's due clocks at once: a fixed number of statements for
    the site (the clocks, the calendar, the role holders, one compare-and-swap UPDATE, one
    insert each of notices, e-mails and events, one each to move and delete index rows),
    however many clocks are due.
    """
    from casework.notifications import Notice, RoleHolders, notify_all

    ids = list(dict.fromkeys(milestone_ids))
    running = _running_milestones(ids)
    plans, moves, done = _plan_escalations([running[pk] for pk in ids if pk in running], now=now)
    done += [pk for pk in ids if pk not in running]  # gone, met, cancelled or paused
    swapped = _raise_levels(plans)
    # A clock another sweeper moved on meanwhile keeps its index row: that sweeper moves it.
    plans = [plan for plan in plans if plan.milestone.pk in swapped]
    chain_roles = {
        role
        for plan in plans
        for level, _at in plan.steps
        for role in plan.milestone.rule.escalation_chain[level : level + 1]
    }
    holders = RoleHolders(site=_current_site(), roles=chain_roles) if chain_roles else None
    notices, events = [], []
    for plan in plans:
        rule, case = plan.milestone.rule, plan.milestone.case
        chain = list(rule.escalation_chain)
        for level, alarm in plan.steps:
            subject = _("%(reference)s: %(milestone)s overdue (level %(level)s)") % {
                "reference": case.reference,
                "milestone": rule.name,
                "level": level + 1,
            }
            if level == 0:
                notices.append(Notice(users=(case.owner,), case=case, subject=subject))
            if chain:
                users = holders.holders([chain[level]], department=case.lead_department)
                notices.append(Notice(users=tuple(users), case=case, subject=subject))
            events.append(
                TimelineEvent(
                    case=case,
                    actor=None,
                    action="milestone_missed" if level == 0 else "escalated",
                    at=alarm,
                    after={
                        "milestone": rule.code,
                        "level": level + 1,
                        "to": chain[level : level + 1],
                    },
                )
            )
        if plan.next_alarm is None:
            done.append(plan.milestone.pk)
        else:
            moves[plan.milestone.pk] = plan.next_alarm
    notify_all(notices=notices, now=now)
    if events:
        TimelineEvent.objects.bulk_create(events)
    _index_many(Deadline.Kind.MILESTONE, moves)
    if done:
        _unindex(Deadline.Kind.MILESTONE, done)
    return len(events)


@dataclass
class _EscalationPlan:
    milestone: Milestone
    steps: list[tuple[int, datetime]]  # (level before, the time it is raised), in order
    next_alarm: datetime | None  # None: the chain is exhausted


def _running_milestones(ids: list[int]) -> dict[int, Milestone]:
    """The clocks among `ids` that still run, with what escalating them needs, in one query.

    Only those columns: a case row carries encrypted contact details and the account, which
    would be decrypted and parsed for nothing.
    """
    found = (
        Milestone.objects.filter(pk__in=ids)
        .select_related("rule", "case__owner", "case__lead_department__supervisor")
        .only(
            "due_at",
            "state",
            "met_at",
            "escalation_level",
            "rule__code",
            "rule__name",
            "rule__amount",
            "rule__unit",
            "rule__escalation_chain",
            "case__reference",
            "case__paused_at",
            "case__owner__email",
            "case__owner__is_active",
            "case__lead_department__supervisor__email",
            "case__lead_department__supervisor__is_active",
        )
    )
    return {
        m.pk: m
        for m in found
        if m.met_at is None and m.state != MilestoneState.CANCELLED and m.case.paused_at is None
    }


def _plan_escalations(
    milestones: list[Milestone], *, now: datetime
) -> tuple[list[_EscalationPlan], dict[int, datetime], list[int]]:
    """The levels each clock reaches by `now`; also the index rows to move without raising a
    level (e.g. a replay: the index was behind the clock) and those to delete."""
    plans, moves, done = [], {}, []
    calendar = _escalation_calendar(milestones)
    for milestone in milestones:
        rule = milestone.rule
        levels = max(len(rule.escalation_chain), 1)
        level, alarm = milestone.escalation_level, _next_alarm(milestone, calendar=calendar)
        steps = []
        while alarm <= now and level < levels:
            steps.append((level, alarm))
            level += 1
            alarm = calendar.add(alarm, rule.amount, rule.unit)
        if steps:
            plans.append(_EscalationPlan(milestone, steps, alarm if level < levels else None))
        elif level < levels:
            moves[milestone.pk] = alarm
        else:
            done.append(milestone.pk)
    return plans, moves, done


def _escalation_calendar(milestones: list[Milestone]) -> SiteCalendar | None:
    """The calendar to count these clocks' periods in. The site's own (office hours, days
    off: two reads) only when one of them counts working days: minutes, hours and calendar
    days depend on the site's time zone alone (`SiteCalendar.add`)."""
    from casework.models import DurationUnit

    if not milestones:
        return None
    if any(m.rule.unit == DurationUnit.WORKING_DAYS for m in milestones):
        return site_calendar()
    return SiteCalendar(time_zone=_current_site().time_zone)


_RAISE_LEVELS = """
    UPDATE {milestone} AS m
    SET escalation_level = v.level, state = %s, escalated_at = v.at
    FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::timestamptz[]) AS v(id, seen, level, at)
    WHERE m.id = v.id AND m.escalation_level = v.seen
      AND m.met_at IS NULL AND m.state <> %s
    RETURNING m.id
"""


def _raise_levels(plans: list[_EscalationPlan]) -> set[int]:
    """Compare-and-swap every planned clock from the level it was read at to the highest one
    it reaches, in one statement; returns the clocks swapped. One another sweeper (or a
    person meeting it) changed meanwhile is left alone."""
    if not plans:
        return set()
    table = connection.ops.quote_name(Milestone._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _RAISE_LEVELS.format(milestone=table),
            [
                MilestoneState.MISSED,
                [plan.milestone.pk for plan in plans],
                [plan.milestone.escalation_level for plan in plans],
                [plan.steps[-1][0] + 1 for plan in plans],
                [plan.steps[-1][1] for plan in plans],
                MilestoneState.CANCELLED,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def escalate_handover(*, handover_id: int, now: datetime) -> int:
    """An unaccepted hand-over: the receiving supervisor, the sender and the service-centre
    manager are told, once."""
    from casework.notifications import notify_roles, notify_users

    _unindex(Deadline.Kind.HANDOVER, [handover_id])
    swapped = Handover.objects.filter(
        pk=handover_id, accepted_at=None, escalated_at=None, due_at__lte=now
    ).update(escalated_at=now)
    if not swapped:
        return 0
    handover = Handover.objects.select_related("case", "to_department", "from_user").get(
        pk=handover_id
    )
    case = handover.case
    subject = _("%(reference)s: hand-over to %(department)s not accepted in time") % {
        "reference": case.reference,
        "department": handover.to_department.name,
    }
    notify_users(
        users=[u for u in (handover.from_user, handover.to_department.supervisor) if u],
        case=case,
        subject=subject,
        now=now,
    )
    notify_roles(roles=[Role.SERVICE_CENTRE_MANAGER], case=case, subject=subject, now=now)
    _record(
        case,
        actor=None,
        action="handover_overdue",
        at=now,
        after={"to_department": handover.to_department_id},
    )
    return 1


def upgrade_case(*, case_id: int, now: datetime) -> int:
    """A valid complaint unresolved for its tier's period becomes the next tier (e.g. major
    after a month); its open clocks re-base on the new tier."""
    from casework.notifications import notify_roles

    _unindex(Deadline.Kind.UPGRADE, [case_id])
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("tier", "nature")
        .filter(pk=case_id)
        .first()
    )
    if (
        case is None
        or case.status == CaseStatus.CLOSED
        or case.upgrade_due_at is None
        or case.upgrade_due_at > now
        or case.tier.upgrade_to_id is None
    ):
        return 0
    before = _snapshot(case)
    case.tier = case.tier.upgrade_to
    case.upgrade_due_at = None
    case.save(update_fields=["tier", "upgrade_due_at"])
    _start_clocks(case, since=case.registered_at, now=now, actor=None)
    notify_roles(
        roles=[case.tier.handler_role],
        case=case,
        now=now,
        subject=_("%(reference)s upgraded to %(tier)s")
        % {
            "reference": case.reference,
            "tier": case.tier.name,
        },
    )
    _record(case, actor=None, action="upgraded", at=now, before=before, after=_snapshot(case))
    return 1


@transaction.atomic
def complete_milestone(
    *, milestone: Milestone, by: User, note: str, now: datetime | None = None
) -> Milestone:
    """Mark done a clock that only a person can stop (e.g. the 6-hour report of a serious
    medical incident to the district health bureau), with what was done."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(milestone.case)
    _require_open(case)
    milestone = Milestone.objects.select_for_update().select_related("rule").get(pk=milestone.pk)
    if milestone.rule.met_by != MetBy.MANUAL:
        raise CaseworkError(_("This clock stops by itself when its action is done."))
    if milestone.met_at is not None:
        raise CaseworkError(_("This clock has stopped already."))
    if not note.strip():
        raise CaseworkError({"note": _("Note what was done.")})
    milestone.met_at = now
    if milestone.state == MilestoneState.OPEN:
        milestone.state = MilestoneState.MET
    milestone.save(update_fields=["met_at", "state"])
    _unindex(Deadline.Kind.MILESTONE, [milestone.pk])
    _record(
        case,
        actor=by,
        action="milestone_done",
        at=now,
        note=note.strip(),
        after={"milestone": milestone.code},
    )
    return milestone


# --- Site configuration (the site admin's screens) ---
# Only the site admin changes a site's configuration; each change is checked here, made in one
# transaction and written to `ConfigurationChange` with before and after. A change of time
# limits or of the calendar never moves the clocks of cases already registered unless the
# admin asks for it (`apply_to_open_cases`): their open clocks are then re-based from their
# registration by `_start_clocks`, the mechanism a new tier uses, and each case's timeline
# says so. docs/decisions/0009-configuration-changes.md explains the choices.

_CATEGORY_CODE_RE = r"^[A-Z][A-Z0-9]{0,11}$"
_CODE_RE = r"^[a-z][a-z0-9_-]{0,39}$"
_REFERENCE_MAX = 40
TIER_FIELDS = (
    "name",
    "name_en",
    "rank",
    "description",
    "handler_role",
    "extension_approver_role",
    "close_approver_role",
    "upgrade_after_days",
    "upgrade_to",
    "pause_reasons",
)
RULE_FIELDS = ("name", "name_en", "amount", "unit", "met_by", "escalation_chain", "position")
DEPARTMENT_FIELDS = ("code", "name", "name_en", "parent", "position", "is_active")
CATEGORY_FIELDS = (
    "kind",
    "code",
    "name",
    "name_en",
    "parent",
    "is_valid_complaint",
    "requires_signoff",
    "is_active",
)
SETTINGS_FIELDS = (
    "workday_start",
    "workday_end",
    "use_official_holidays",
    "intake_owner",
    "after_hours_receiver",
    "reference_pattern",
    "default_category_code",
    "handover_accept_minutes",
    "compensation_limits",
    "escalation_points",
)
# Settings that move due times: the office hours and the holiday calendar.
_CALENDAR_SETTINGS = frozenset({"workday_start", "workday_end", "use_official_holidays"})


def _require_site_admin(user: User) -> None:
    if Role.SITE_ADMIN not in _require_staff(user):
        raise CaseworkError(_("Only the site admin can change the site's configuration."))


def _json_value(value):
    """A field's value as the audit log keeps it (JSON): ids for rows, ISO text for times."""
    from datetime import date, time

    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _state(instance, fields) -> dict:
    return {field: _json_value(getattr(instance, field)) for field in fields}


def _audit(
    *,
    by: User,
    model: str,
    instance=None,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
    now: datetime,
):
    from casework.models import ConfigurationChange

    before, after = before or {}, after or {}
    if action == "updated":
        # Only what changed: the log is read by people looking for who moved a number.
        changed = [key for key in after if before.get(key) != after.get(key)]
        before = {key: before.get(key) for key in changed}
        after = {key: after[key] for key in changed}
    return ConfigurationChange.objects.create(
        at=now,
        actor=by,
        model=model,
        object_id=instance.pk if instance is not None else None,
        action=action,
        before=before,
        after=after,
        note=note,
    )


def _apply(instance, changes: dict, allowed) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"cannot change {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(instance, field, value)


def _check_names(instance, errors: dict) -> None:
    instance.name = (instance.name or "").strip()
    instance.name_en = (instance.name_en or "").strip()
    if not instance.name:
        errors["name"] = _("Give it a name.")


def _check_code(value: str, pattern: str, field: str, errors: dict, message: str) -> None:
    import re

    if not isinstance(value, str) or not re.match(pattern, value):
        errors[field] = message


def _raise(errors: dict) -> None:
    if errors:
        raise CaseworkError(errors)


# -- Tiers and their clocks ---------------------------------------------------------------------


def _tier_roles() -> tuple[frozenset, frozenset]:
    from casework.site_templates import CHAIN_ROLES, TIER_ROLES

    return TIER_ROLES, CHAIN_ROLES


def _check_tier(tier: Tier, errors: dict) -> None:
    tier_roles, _chain = _tier_roles()
    _check_names(tier, errors)
    for field in ("handler_role", "extension_approver_role"):
        if getattr(tier, field) not in tier_roles:
            errors[field] = _("Choose a role held by people of the site.")
    if tier.close_approver_role and tier.close_approver_role not in tier_roles:
        errors["close_approver_role"] = _("Choose a role held by people of the site.")
    if tier.rank is None or tier.rank < 0:
        errors["rank"] = _("The severity rank is a whole number, 0 or more.")
    if tier.upgrade_after_days is not None and tier.upgrade_after_days <= 0:
        errors["upgrade_after_days"] = _("A duration must be positive.")
    if bool(tier.upgrade_after_days) != bool(tier.upgrade_to_id):
        errors["upgrade_to"] = _("An automatic upgrade needs both a period and a tier to go to.")
    elif tier.upgrade_to_id:
        if tier.upgrade_to_id == tier.pk:
            errors["upgrade_to"] = _("A tier cannot be upgraded to itself.")
        elif tier.upgrade_to.rank <= (tier.rank or 0):
            errors["upgrade_to"] = _("Upgrade to a more severe tier (a higher rank).")
    reasons = [str(r).strip() for r in tier.pause_reasons or [] if str(r).strip()]
    for reason in reasons:
        _check_code(
            reason,
            r"^[a-z][a-z0-9_]{0,39}$",
            "pause_reasons",
            errors,
            _("Pause reasons are codes of lower-case letters, digits and _."),
        )
    tier.pause_reasons = list(dict.fromkeys(reasons))


def _tier_snapshot(tier: Tier) -> dict:
    return {
        **_state(tier, TIER_FIELDS),
        "rules": {
            rule.code: _state(rule, RULE_FIELDS)
            for rule in tier.milestone_rules.order_by("position", "pk")
        },
    }


@transaction.atomic
def create_tier(
    *, by: User, code: str, now: datetime | None = None, note: str = "", **fields
) -> Tier:
    """A new tier (e.g. the site's own 'medical incident' tier); its clocks are added after."""
    now = now or timezone.now()
    _require_site_admin(by)
    tier = Tier(code=(code or "").strip())
    _apply(tier, fields, TIER_FIELDS)
    errors: dict = {}
    _check_code(
        tier.code,
        _CODE_RE,
        "code",
        errors,
        _("Use lower-case letters, digits, - and _, starting with a letter."),
    )
    if not errors and Tier.objects.filter(code=tier.code).exists():
        errors["code"] = _("Another tier has this code.")
    _check_tier(tier, errors)
    _raise(errors)
    tier.save()
    _audit(
        by=by,
        model="tier",
        instance=tier,
        action="created",
        after=_tier_snapshot(tier),
        note=note,
        now=now,
    )
    return tier


@transaction.atomic
def update_tier(
    *,
    tier: Tier,
    by: User,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
    **changes,
) -> Tier:
    """Change a tier's meaning, roles, pause reasons or automatic upgrade. Cases already open
    keep their upgrade date unless `apply_to_open_cases`."""
    now = now or timezone.now()
    _require_site_admin(by)
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    before = _state(tier, TIER_FIELDS)
    _apply(tier, changes, TIER_FIELDS)
    errors: dict = {}
    _check_tier(tier, errors)
    _raise(errors)
    tier.save()
    rebased = _rebase_open_cases(tier=tier, by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="tier",
        instance=tier,
        action="updated",
        before=before,
        after=_state(tier, TIER_FIELDS),
        note=_rebase_note(note, apply_to_open_cases, rebased),
        now=now,
    )
    return tier


def _check_rule(rule, errors: dict) -> None:
    from casework.models import DurationUnit

    _check_names(rule, errors)
    if rule.unit not in DurationUnit.values:
        errors["unit"] = _("Choose minutes, hours, working days or calendar days.")
    if not isinstance(rule.amount, int) or isinstance(rule.amount, bool) or rule.amount < 0:
        errors["amount"] = _("A duration must be positive.")
    elif (
        rule.amount == 0
        and rule.unit != DurationUnit.WORKING_DAYS
        and rule.met_by
        not in (
            MetBy.REGISTRATION,
            MetBy.REPORT,
        )
    ):
        # 0 working days is 'the same working day'; 0 of anything else is due on arrival.
        errors["amount"] = _("A duration must be positive.")
    if rule.met_by not in MetBy.values:
        errors["met_by"] = _("Choose the action that stops this clock.")
    _check_chain(list(rule.escalation_chain or []), errors)
    if rule.position is None or rule.position < 0:
        rule.position = 0


def _check_chain(chain: list, errors: dict, field: str = "escalation_chain") -> None:
    _tier, chain_roles = _tier_roles()
    unknown = [role for role in chain if role not in chain_roles]
    if unknown:
        errors[field] = _("Unknown role in the escalation chain: %(roles)s.") % {
            "roles": ", ".join(map(str, unknown))
        }
    elif len(set(chain)) != len(chain):
        errors[field] = _("A role appears twice in the escalation chain.")


@transaction.atomic
def add_milestone_rule(
    *,
    tier: Tier,
    by: User,
    code: str,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
    **fields,
):
    """A new clock on a tier. Cases already open get it only with `apply_to_open_cases`."""
    from casework.models import MilestoneRule

    now = now or timezone.now()
    _require_site_admin(by)
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    rule = MilestoneRule(tier=tier, code=(code or "").strip())
    fields.setdefault("escalation_chain", [])
    fields.setdefault("position", (tier.milestone_rules.count() + 1))
    _apply(rule, fields, RULE_FIELDS)
    errors: dict = {}
    _check_code(
        rule.code,
        _CODE_RE,
        "code",
        errors,
        _("Use lower-case letters, digits, - and _, starting with a letter."),
    )
    if not errors and tier.milestone_rules.filter(code=rule.code).exists():
        errors["code"] = _("This tier already has a clock with this code.")
    _check_rule(rule, errors)
    _raise(errors)
    rule.save()
    rebased = _rebase_open_cases(tier=tier, by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="milestone_rule",
        instance=rule,
        action="created",
        after={"tier": tier.code, "code": rule.code, **_state(rule, RULE_FIELDS)},
        note=_rebase_note(note, apply_to_open_cases, rebased),
        now=now,
    )
    return rule


@transaction.atomic
def update_milestone_rule(
    *,
    rule,
    by: User,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
    **changes,
):
    """Change a clock's duration, the action that stops it, its name or escalation chain.

    Cases registered before keep their due times unless `apply_to_open_cases`; new cases get
    the new rule. The chain is read when a clock runs out, so it applies to every case."""
    from casework.models import MilestoneRule

    now = now or timezone.now()
    _require_site_admin(by)
    rule = MilestoneRule.objects.select_for_update().select_related("tier").get(pk=rule.pk)
    before = _state(rule, RULE_FIELDS)
    _apply(rule, changes, RULE_FIELDS)
    errors: dict = {}
    _check_rule(rule, errors)
    _raise(errors)
    rule.save()
    rebased = _rebase_open_cases(tier=rule.tier, by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="milestone_rule",
        instance=rule,
        action="updated",
        before=before,
        after=_state(rule, RULE_FIELDS),
        note=_rebase_note(note, apply_to_open_cases, rebased),
        now=now,
    )
    return rule


@transaction.atomic
def update_escalation_chain(
    *, rule, by: User, chain: list[str], note: str = "", now: datetime | None = None
):
    """Who is told, level by level, when the clock runs out (known roles, each once)."""
    errors: dict = {}
    chain = [str(role).strip() for role in chain if str(role).strip()]
    _check_chain(chain, errors)
    _raise(errors)
    return update_milestone_rule(rule=rule, by=by, escalation_chain=chain, note=note, now=now)


@transaction.atomic
def retire_milestone_rule(
    *,
    rule,
    by: User,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
) -> None:
    """Take a clock off its tier. A rule no case has used is removed; one that cases have used
    stays in their history (their milestones point at it), so it is retired instead
    (`active=False`): it starts on no new case, and the open cases keep their clock unless
    the change is applied to them. `restore_milestone_rule` brings a retired one back."""
    from casework.models import MilestoneRule

    now = now or timezone.now()
    _require_site_admin(by)
    rule = MilestoneRule.objects.select_for_update().select_related("tier").get(pk=rule.pk)
    if not rule.active:
        raise CaseworkError(_("This clock is retired already."))
    before = {"tier": rule.tier.code, "code": rule.code, **_state(rule, RULE_FIELDS)}
    tier, pk = rule.tier, rule.pk
    kept = Milestone.objects.filter(rule=rule).exists()
    if kept:
        rule.active = False
        rule.save(update_fields=["active"])
    else:
        rule.delete()
        rule.pk = pk
    rebased = _rebase_open_cases(tier=tier, by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="milestone_rule",
        instance=rule,
        action="retired",
        before={**before, "active": True} if kept else before,
        after={"active": False} if kept else None,
        note=_rebase_note(note, apply_to_open_cases, rebased),
        now=now,
    )


@transaction.atomic
def restore_milestone_rule(
    *,
    rule,
    by: User,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
):
    """Bring a retired clock back: it starts on new cases again, and on the open cases of
    its tier when the change is applied to them."""
    from casework.models import MilestoneRule

    now = now or timezone.now()
    _require_site_admin(by)
    rule = MilestoneRule.objects.select_for_update().select_related("tier").get(pk=rule.pk)
    if rule.active:
        raise CaseworkError(_("This clock is in use."))
    rule.active = True
    rule.save(update_fields=["active"])
    rebased = _rebase_open_cases(tier=rule.tier, by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="milestone_rule",
        instance=rule,
        action="restored",
        before={"active": False},
        after={"active": True},
        note=_rebase_note(note, apply_to_open_cases, rebased),
        now=now,
    )
    return rule


def _rebase_note(note: str, applied: bool, count: int) -> str:
    if not applied:
        return note
    told = _("Applied to open cases: %(count)s re-based.") % {"count": count}
    return f"{note}\n{told}".strip()


def _open_cases(tier: Tier | None = None):
    cases = Case.objects.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.RESOLVED_AT_CONTACT])
    return cases.filter(tier=tier) if tier is not None else cases


def _rebase_open_cases(*, by: User, now: datetime, tier: Tier | None = None) -> int:
    """Re-base the open clocks of the open cases (of `tier`, or all) on today's rules and
    calendar, counted from each case's registration, with a timeline event on each case whose
    clocks moved. A clock the change did not move keeps its escalation level, so nobody is
    told twice of the same miss. Returns the number of cases whose clocks moved.

    Thousands of cases are re-based inside the admin's request: this is `_start_clocks` for
    many cases at once (the same `_wanted_rules` and `_restart`), with a fixed number of
    statements: the cases and their milestones read once, the calendar once, the milestones
    and cases that changed written in bulk, the cross-site index in one upsert and one
    delete per kind, the timeline events in one insert."""
    calendar = site_calendar()
    cases = list(
        _open_cases(tier)
        .select_for_update(of=("self",))
        .select_related("tier", "nature", "content", "lead_department")
        .prefetch_related("tier__milestone_rules")
        .order_by("pk")
    )
    if not cases:
        return 0
    by_case: dict[int, list[Milestone]] = {}
    for milestone in Milestone.objects.filter(case__in=cases).select_related("rule"):
        by_case.setdefault(milestone.case_id, []).append(milestone)
    changed: list[Milestone] = []
    created: list[Milestone] = []
    unindexed: set[int] = set()
    indexed: dict[int, tuple[Milestone, datetime]] = {}  # by id(): new ones have no pk yet
    upgrades: dict[int, datetime | None] = {}
    moved_cases: list[Case] = []
    events: list[TimelineEvent] = []
    note = _("The site's time limits changed: open clocks re-based on the new rules.")
    for case in cases:
        existing = {m.code: m for m in by_case.get(case.pk, [])}
        before = {code: _clock_state(m) for code, m in existing.items()}
        unindexed.update(m.pk for m in existing.values())
        wanted = _wanted_rules(case.tier)
        for code, milestone in existing.items():
            if code not in wanted and milestone.met_at is None:
                milestone.state = MilestoneState.CANCELLED
        for code, rule in wanted.items():
            milestone = existing.get(code)
            if milestone is None:
                milestone = existing[code] = Milestone(case=case, code=code)
                created.append(milestone)
            elif milestone.met_at is not None:
                continue
            _restart(milestone, rule, since=case.registered_at, now=now, calendar=calendar)
            if milestone.state == MilestoneState.OPEN and case.paused_at is None:
                indexed[id(milestone)] = (milestone, milestone.due_at)
            if rule.met_by == MetBy.REPORT:
                _report(case, rule, now=now)
        changes_before, changes_after = {}, {}
        for code, milestone in existing.items():
            old = before.get(code)
            if old is not None and old[1] == milestone.due_at and old[2] == milestone.state:
                continue
            if (
                old is not None
                and old[2] == MilestoneState.MISSED
                and milestone.state == MilestoneState.OPEN
                and old[1] == milestone.due_at
            ):
                # The change did not move this missed clock: it keeps its escalation.
                milestone.state, milestone.escalation_level, milestone.escalated_at = old[2:5]
                levels = max(len(milestone.rule.escalation_chain), 1)
                if case.paused_at is None and milestone.escalation_level < levels:
                    alarm = _next_alarm(milestone, calendar=calendar)
                    indexed[id(milestone)] = (milestone, alarm)
                continue
            changes_before[code] = _local_iso(old[1], calendar) if old is not None else None
            changes_after[code] = (
                _local_iso(milestone.due_at, calendar)
                if milestone.state != MilestoneState.CANCELLED
                else None
            )
        changed.extend(
            m for code, m in existing.items() if m.pk and _clock_state(m) != before[code]
        )
        due = _upgrade_due(case, calendar=calendar)
        upgrades[case.pk] = due
        if case.upgrade_due_at != due:
            case.upgrade_due_at = due
            moved_cases.append(case)
        if changes_after:
            events.append(
                TimelineEvent(
                    case=case,
                    actor=by,
                    action="clocks_rebased",
                    at=now,
                    before=changes_before,
                    after=changes_after,
                    note=note,
                )
            )
    Milestone.objects.bulk_update(changed, _CLOCK_FIELDS, batch_size=500)
    Milestone.objects.bulk_create(created)
    Case.objects.bulk_update(moved_cases, ["upgrade_due_at"], batch_size=500)
    due_by_pk = {m.pk: at for m, at in indexed.values()}
    _unindex(Deadline.Kind.MILESTONE, unindexed - due_by_pk.keys())
    _index_many(Deadline.Kind.MILESTONE, due_by_pk)
    _unindex(Deadline.Kind.UPGRADE, [pk for pk, at in upgrades.items() if at is None])
    _index_many(Deadline.Kind.UPGRADE, {pk: at for pk, at in upgrades.items() if at})
    TimelineEvent.objects.bulk_create(events)
    return len(events)


_CLOCK_FIELDS = ["rule", "due_at", "state", "met_at", "escalation_level", "escalated_at"]


def _clock_state(milestone: Milestone) -> tuple:
    """What a re-base may change on a milestone (`_CLOCK_FIELDS`)."""
    return (
        milestone.rule_id,
        milestone.due_at,
        milestone.state,
        milestone.escalation_level,
        milestone.escalated_at,
        milestone.met_at,
    )


def _local_iso(moment: datetime, calendar: SiteCalendar) -> str:
    return timezone.localtime(moment, calendar.tz).isoformat()


# -- Departments --------------------------------------------------------------------------------


def _require_people_of_site(users, field: str, errors: dict) -> None:
    site = _current_site()
    strangers = [u for u in users if u is not None and not site_roles(user=u, site=site)]
    if strangers:
        errors[field] = _("Only people who work on this site: %(names)s.") % {
            "names": ", ".join(str(u) for u in strangers)
        }


def _department_snapshot(department: Department) -> dict:
    return {
        **_state(department, DEPARTMENT_FIELDS),
        "supervisor": department.supervisor_id,
        "members": sorted(department.members.values_list("pk", flat=True)),
    }


@transaction.atomic
def create_department(
    *,
    by: User,
    code: str,
    name: str,
    name_en: str = "",
    parent: Department | None = None,
    position: int = 0,
    now: datetime | None = None,
) -> Department:
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department(
        code=(code or "").strip(), name=name, name_en=name_en, parent=parent, position=position
    )
    errors: dict = {}
    _check_names(department, errors)
    _check_code(
        department.code,
        r"^[a-z0-9][a-z0-9_-]{0,39}$",
        "code",
        errors,
        _("Use lower-case letters, digits, - and _."),
    )
    if not errors.get("code") and Department.objects.filter(code=department.code).exists():
        errors["code"] = _("Another department has this code.")
    if parent is not None and not parent.is_active:
        errors["parent"] = _("This department is retired.")
    _raise(errors)
    department.save()
    _audit(
        by=by,
        model="department",
        instance=department,
        action="created",
        after=_department_snapshot(department),
        now=now,
    )
    return department


@transaction.atomic
def update_department(
    *, department: Department, by: User, now: datetime | None = None, **changes
) -> Department:
    """Rename a department or change its place among its siblings."""
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department.objects.select_for_update().get(pk=department.pk)
    before = _state(department, DEPARTMENT_FIELDS)
    _apply(department, changes, ("name", "name_en", "position"))
    errors: dict = {}
    _check_names(department, errors)
    _raise(errors)
    department.save()
    _audit(
        by=by,
        model="department",
        instance=department,
        action="updated",
        before=before,
        after=_state(department, DEPARTMENT_FIELDS),
        now=now,
    )
    return department


@transaction.atomic
def move_department(
    *, department: Department, by: User, parent: Department | None, now: datetime | None = None
) -> Department:
    """Put a department under another one (or at the top): never under itself or one of its
    own sub-departments, which would cut the branch off the tree."""
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department.objects.select_for_update().get(pk=department.pk)
    before = _state(department, DEPARTMENT_FIELDS)
    if parent is not None:
        if parent.pk == department.pk or parent.pk in _descendant_ids(department):
            raise CaseworkError(
                {
                    "parent": _(
                        "A department cannot be moved under itself or its own sub-department."
                    )
                }
            )
        if not parent.is_active:
            raise CaseworkError({"parent": _("This department is retired.")})
    department.parent = parent
    department.save(update_fields=["parent"])
    _audit(
        by=by,
        model="department",
        instance=department,
        action="moved",
        before=before,
        after=_state(department, DEPARTMENT_FIELDS),
        now=now,
    )
    return department


def _descendant_ids(department: Department) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Department.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, todo = set(), [department.pk]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@transaction.atomic
def retire_department(
    *, department: Department, by: User, note: str = "", now: datetime | None = None
) -> Department:
    """Retire a department: nothing new is sent to it; its cases and history keep it.
    Its active sub-departments are retired or moved first."""
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department.objects.select_for_update().get(pk=department.pk)
    if not department.is_active:
        raise CaseworkError(_("This department is retired already."))
    if department.children.filter(is_active=True).exists():
        raise CaseworkError(_("Retire or move its active sub-departments first."))
    department.is_active = False
    department.save(update_fields=["is_active"])
    _audit(
        by=by,
        model="department",
        instance=department,
        action="retired",
        before={"is_active": True},
        after={"is_active": False},
        note=note,
        now=now,
    )
    return department


@transaction.atomic
def restore_department(
    *, department: Department, by: User, note: str = "", now: datetime | None = None
) -> Department:
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department.objects.select_for_update().get(pk=department.pk)
    if department.is_active:
        raise CaseworkError(_("This department is active."))
    if department.parent is not None and not department.parent.is_active:
        raise CaseworkError(_("Restore or change the department above it first."))
    department.is_active = True
    department.save(update_fields=["is_active"])
    _audit(
        by=by,
        model="department",
        instance=department,
        action="restored",
        before={"is_active": False},
        after={"is_active": True},
        note=note,
        now=now,
    )
    return department


@transaction.atomic
def set_department_people(
    *,
    department: Department,
    by: User,
    supervisor: User | None,
    members: list[User],
    now: datetime | None = None,
) -> Department:
    """The department's supervisor (主管, told of what is dispatched to it) and its members
    (who may accept hand-overs): people who work on this site."""
    now = now or timezone.now()
    _require_site_admin(by)
    department = Department.objects.select_for_update().get(pk=department.pk)
    errors: dict = {}
    _require_people_of_site([supervisor], "supervisor", errors)
    _require_people_of_site(members, "members", errors)
    _raise(errors)
    before = _department_snapshot(department)
    department.supervisor = supervisor
    department.save(update_fields=["supervisor"])
    department.members.set(members)
    _audit(
        by=by,
        model="department",
        instance=department,
        action="updated",
        before=before,
        after=_department_snapshot(department),
        now=now,
    )
    return department


# -- Categories ---------------------------------------------------------------------------------


@transaction.atomic
def save_category(
    *,
    by: User,
    category: Category | None = None,
    now: datetime | None = None,
    **fields,
) -> Category:
    """Create or change a nature or content category. Its code goes into the references of
    new cases (those already issued keep theirs); a category in use is retired, not deleted."""
    now = now or timezone.now()
    _require_site_admin(by)
    creating = category is None
    category = (
        Category(kind=fields.get("kind", ""))
        if creating
        else Category.objects.select_for_update().get(pk=category.pk)
    )
    before = {} if creating else _state(category, CATEGORY_FIELDS)
    if not creating:
        fields.pop("kind", None)  # a nature never becomes a content: cases point at it as one
    _apply(category, fields, CATEGORY_FIELDS)
    category.code = (category.code or "").strip().upper()
    errors: dict = {}
    _check_names(category, errors)
    if category.kind not in CategoryKind.values:
        errors["kind"] = _("Choose nature or content.")
    _check_code(
        category.code,
        _CATEGORY_CODE_RE,
        "code",
        errors,
        _("Use 1 to 12 upper-case letters and digits, starting with a letter."),
    )
    clash = Category.objects.filter(kind=category.kind, code=category.code).exclude(pk=category.pk)
    if not errors.get("code") and clash.exists():
        errors["code"] = _("Another category of this kind has this code.")
    parent = category.parent
    if parent is not None:
        if parent.kind != category.kind:
            errors["parent"] = _("A sub-category belongs to a category of the same kind.")
        else:
            node, seen = parent, set()
            while node is not None and node.pk not in seen:
                if node.pk == category.pk:
                    errors["parent"] = _("A category cannot be placed under itself.")
                    break
                seen.add(node.pk)
                node = node.parent
    if category.is_valid_complaint and category.kind != CategoryKind.NATURE:
        errors["is_valid_complaint"] = _("Only a nature can be a valid complaint.")
    if (
        not creating
        and not category.is_active
        and category.kind == CategoryKind.CONTENT
        and category.code == site_configuration().default_category_code
    ):
        errors["is_active"] = _("This code is the site's default for references.")
    _raise(errors)
    category.save()
    _audit(
        by=by,
        model="category",
        instance=category,
        action="created" if creating else "updated",
        before=before,
        after=_state(category, CATEGORY_FIELDS),
        now=now,
    )
    return category


# -- Reply templates ----------------------------------------------------------------------------

REPLY_TEMPLATE_FIELDS = (
    "name",
    "name_en",
    "investigation",
    "facts",
    "responsibility",
    "decision",
    "active",
)


@transaction.atomic
def save_reply_template(
    *,
    by: User,
    template=None,
    name: str,
    name_en: str = "",
    investigation: str = "",
    facts: str = "",
    responsibility: str = "",
    decision: str = "",
    active: bool = True,
    now: datetime | None = None,
):
    """Create (`template` None) or change a reply template (回复模板), the wording staff start
    a reply from on the case page. One no longer in use is offered no more; the replies
    written from it keep their own text."""
    from casework.models import ReplyTemplate

    now = now or timezone.now()
    _require_site_admin(by)
    creating = template is None
    if creating:
        template = ReplyTemplate()
    else:
        template = ReplyTemplate.objects.select_for_update().get(pk=template.pk)
    before = {} if creating else _state(template, REPLY_TEMPLATE_FIELDS)
    template.name, template.name_en = name, name_en
    parts = {
        "investigation": investigation,
        "facts": facts,
        "responsibility": responsibility,
        "decision": decision,
    }
    for field, value in parts.items():
        setattr(template, field, (value or "").strip())
    template.active = bool(active)
    errors: dict = {}
    _check_names(template, errors)
    if not any(getattr(template, field) for field in parts):
        errors["decision"] = _("Write at least one part of the reply.")
    clash = ReplyTemplate.objects.filter(name=template.name).exclude(pk=template.pk)
    if not errors.get("name") and clash.exists():
        errors["name"] = _("Another reply template has this name.")
    _raise(errors)
    template.save()
    _audit(
        by=by,
        model="reply_template",
        instance=template,
        action="created" if creating else "updated",
        before=before,
        after=_state(template, REPLY_TEMPLATE_FIELDS),
        now=now,
    )
    return template


# -- The calendar -------------------------------------------------------------------------------


@transaction.atomic
def add_calendar_day(
    *,
    by: User,
    day,
    kind: str,
    note: str = "",
    apply_to_open_cases: bool = False,
    now: datetime | None = None,
):
    """A closure of the office or an extra working day of the site's own (or a holiday the
    official data does not carry yet). Changing an existing day's kind replaces it."""
    from casework.models import CalendarDay

    now = now or timezone.now()
    _require_site_admin(by)
    errors: dict = {}
    if day is None:
        errors["day"] = _("Choose a day.")
    if kind not in CalendarDay.Kind.values:
        errors["kind"] = _("Choose closed or working.")
    _raise(errors)
    existing = CalendarDay.objects.select_for_update().filter(day=day).first()
    before = _state(existing, ("day", "kind", "note")) if existing else {}
    calendar_day, _created = CalendarDay.objects.update_or_create(
        day=day, defaults={"kind": kind, "note": (note or "").strip()}
    )
    rebased = _rebase_open_cases(by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="calendar_day",
        instance=calendar_day,
        action="updated" if existing else "created",
        before=before,
        after=_state(calendar_day, ("day", "kind", "note")),
        note=_rebase_note("", apply_to_open_cases, rebased),
        now=now,
    )
    return calendar_day


@transaction.atomic
def remove_calendar_day(
    *, calendar_day, by: User, apply_to_open_cases: bool = False, now: datetime | None = None
) -> None:
    now = now or timezone.now()
    _require_site_admin(by)
    before = _state(calendar_day, ("day", "kind", "note"))
    pk = calendar_day.pk
    calendar_day.delete()
    calendar_day.pk = pk
    rebased = _rebase_open_cases(by=by, now=now) if apply_to_open_cases else 0
    _audit(
        by=by,
        model="calendar_day",
        instance=calendar_day,
        action="removed",
        before=before,
        note=_rebase_note("", apply_to_open_cases, rebased),
        now=now,
    )


# -- The site's settings ------------------------------------------------------------------------


def reference_example(pattern: str, *, category_code: str = "SVC", day=None, seq: int = 1) -> str:
    """What a reference made by `pattern` looks like, or a CaseworkError saying what is wrong.

    A reference must be unique: the day's sequence restarts every day, so the pattern needs
    both the date and the sequence; only {date}, {category} and {seq} may appear."""
    import string

    error = {"reference_pattern": ""}
    pattern = pattern or ""
    try:
        fields = [
            (name, spec, conversion)
            for _text, name, spec, conversion in string.Formatter().parse(pattern)
            if name is not None
        ]
    except ValueError:
        error["reference_pattern"] = _("Braces must come in pairs: {date}, {category}, {seq}.")
        raise CaseworkError(error) from None
    names = [name for name, _spec, _conversion in fields]
    unknown = sorted(set(names) - {"date", "category", "seq"})
    if unknown:
        error["reference_pattern"] = _("Only {date}, {category} and {seq} may appear.")
    elif "date" not in names or "seq" not in names:
        error["reference_pattern"] = _(
            "The pattern must contain the date and the sequence ({date} and {seq}): together "
            "they keep every reference unique."
        )
    elif any(spec or conversion for name, spec, conversion in fields if name != "seq"):
        error["reference_pattern"] = _("Only {seq} may carry a format, such as {seq:03d}.")
    elif any(ch.isspace() for ch in pattern):
        error["reference_pattern"] = _("A reference has no spaces.")
    if error["reference_pattern"]:
        raise CaseworkError(error)
    day = day or timezone.localdate()
    try:
        pattern.format(date="20261122", category="X" * 12, seq=1)
        longest = pattern.format(date="20261122", category="X" * 12, seq=9999)
        example = pattern.format(date=day.strftime("%Y%m%d"), category=category_code, seq=seq)
    except (ValueError, IndexError, KeyError):
        error["reference_pattern"] = _("{seq} takes a number format, such as {seq:03d}.")
        raise CaseworkError(error) from None
    if len(longest) > _REFERENCE_MAX:
        error["reference_pattern"] = _(
            "References would be longer than %(max)s characters, e.g. %(example)s."
        ) % {"max": _REFERENCE_MAX, "example": longest}
        raise CaseworkError(error)
    return example


@transaction.atomic
def update_site_configuration(
    *,
    by: User,
    apply_to_open_cases: bool = False,
    note: str = "",
    now: datetime | None = None,
    **changes,
):
    """Office hours, holidays, who receives complaints that arrive without a person, the
    reference pattern, the hand-over window, compensation limits and 越级投诉 points."""
    from casework.models import SiteConfiguration
    from tenants.models import SITE_ROLES

    now = now or timezone.now()
    _require_site_admin(by)
    site_configuration()  # the row exists
    configuration = SiteConfiguration.objects.select_for_update().get(id=1)
    before = _state(configuration, SETTINGS_FIELDS)
    _apply(configuration, changes, SETTINGS_FIELDS)
    errors: dict = {}
    if (
        configuration.workday_start is None
        or configuration.workday_end is None
        or not configuration.workday_start < configuration.workday_end
    ):
        errors["workday_end"] = _("The office closes after it opens.")
    _require_people_of_site([configuration.intake_owner], "intake_owner", errors)
    _require_people_of_site([configuration.after_hours_receiver], "after_hours_receiver", errors)
    try:
        reference_example(configuration.reference_pattern)
    except CaseworkError as exc:
        errors.update(exc.message_dict)
    code = (configuration.default_category_code or "").strip().upper()
    configuration.default_category_code = code
    if (
        code != before["default_category_code"]
        and not Category.objects.filter(
            kind=CategoryKind.CONTENT, code=code, is_active=True
        ).exists()
    ):
        errors["default_category_code"] = _("Choose the code of an active content category.")
    minutes = configuration.handover_accept_minutes
    if not isinstance(minutes, int) or minutes <= 0:
        errors["handover_accept_minutes"] = _("A duration must be positive.")
    limits = configuration.compensation_limits
    if not isinstance(limits, dict) or any(
        role not in SITE_ROLES or not isinstance(v, int) or v < 0 for role, v in limits.items()
    ):
        errors["compensation_limits"] = _("Give each role of the site an amount of 0 or more.")
    points = configuration.escalation_points
    if not isinstance(points, dict) or any(
        level not in EscalationLevel.values or not isinstance(v, int) or v < 0
        for level, v in points.items()
    ):
        errors["escalation_points"] = _("Give each escalation level 0 points or more.")
    _raise(errors)
    configuration.save()
    after = _state(configuration, SETTINGS_FIELDS)
    moves_clocks = any(before[f] != after[f] for f in _CALENDAR_SETTINGS)
    applied = apply_to_open_cases and moves_clocks
    rebased = _rebase_open_cases(by=by, now=now) if applied else 0
    _audit(
        by=by,
        model="site_configuration",
        instance=configuration,
        action="updated",
        before=before,
        after=after,
        note=_rebase_note(note, applied, rebased),
        now=now,
    )
    return configuration


# -- Staff and their roles on this site ---------------------------------------------------------


def _check_site_role(role: str) -> None:
    from tenants.models import SITE_ROLES

    if role not in SITE_ROLES:
        raise CaseworkError({"role": _("Only roles on this site can be granted here.")})


@transaction.atomic
def grant_site_role(*, by: User, user: User, role: str, now: datetime | None = None):
    """Give a person a role on this site, and only this one: firm and region roles are granted
    by the firm, never from a site's screens."""
    from tenants.services import grant_role

    now = now or timezone.now()
    _require_site_admin(by)
    _check_site_role(role)
    if not user.is_active:
        raise CaseworkError({"email": _("This account is closed.")})
    site = _current_site()
    membership = grant_role(user=user, role=role, site=site, granted_by=by)
    _audit(
        by=by,
        model="membership",
        instance=membership,
        action="granted",
        after={"user": user.email, "role": role},
        now=now,
    )
    return membership


@transaction.atomic
def invite_staff(*, by: User, email: str, role: str, now: datetime | None = None):
    """Invite a person by e-mail to a role on this site: a login is made for a newcomer and a
    link to choose a password is mailed after commit (tenants.services.invite_to_site)."""
    from tenants.services import invite_to_site

    now = now or timezone.now()
    _require_site_admin(by)
    _check_site_role(role)
    try:
        membership = invite_to_site(site=_current_site(), email=email, role=role, invited_by=by)
    except ValidationError as exc:
        raise CaseworkError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from exc
    _audit(
        by=by,
        model="membership",
        instance=membership,
        action="invited",
        after={"user": membership.user.email, "role": role},
        now=now,
    )
    return membership


@transaction.atomic
def revoke_site_role(*, by: User, membership, now: datetime | None = None) -> None:
    """Take a role on this site away. The site keeps at least one site admin, so that
    somebody can still change its configuration."""
    from tenants.services import revoke_role

    now = now or timezone.now()
    _require_site_admin(by)
    site = _current_site()
    membership = Membership.objects.select_for_update().filter(pk=membership.pk, site=site).first()
    if membership is None:
        raise CaseworkError(_("This role is not held on this site."))
    if membership.role == Role.SITE_ADMIN and not (
        Membership.objects.filter(site=site, role=Role.SITE_ADMIN, user__is_active=True)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise CaseworkError(_("The site needs at least one site admin."))
    before = {"user": membership.user.email, "role": membership.role}
    pk = membership.pk
    revoke_role(membership=membership)
    membership.pk = pk
    _audit(by=by, model="membership", instance=membership, action="revoked", before=before, now=now)
