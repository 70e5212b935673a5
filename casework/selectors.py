"""Read queries of the case domain, shared by views, reports, the sweep and the API.
All of them run in the current site's schema."""

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from casework.calendar import SiteCalendar
from casework.models import CalendarDay, SiteConfiguration


def site_configuration() -> SiteConfiguration:
    configuration, _created = SiteConfiguration.objects.get_or_create(id=1)
    return configuration


def site_calendar(*, configuration: SiteConfiguration | None = None) -> SiteCalendar:
    """The current site's calendar: its time zone, office hours and its own exceptions."""
    configuration = configuration or site_configuration()
    days = CalendarDay.objects.values_list("day", "kind")
    return SiteCalendar(
        time_zone=getattr(connection.tenant, "time_zone", "Asia/Shanghai"),
        workday_start=configuration.workday_start,
        workday_end=configuration.workday_end,
        closures=frozenset(d for d, kind in days if kind == CalendarDay.Kind.CLOSED),
        extra_workdays=frozenset(d for d, kind in days if kind == CalendarDay.Kind.WORKING),
        use_official_holidays=configuration.use_official_holidays,
    )


# What every intake reads and staff rarely change: the configuration, the calendar, and the
# least severe tier with its clocks' rules. Kept per process and schema, and trusted only
# while one cheap statement says the rows are the very ones it was read from: every insert or
# update writes a new row version, with the writing transaction's id (xmin) and at a new place
# (ctid; a transaction updating the same row twice keeps its xmin, never its ctid), a delete
# removes one, and a rolled-back write leaves the old versions. So a change is seen at once, in
# every process, however it was made (ORM, .update(), SQL), and never through a cache of some
# other transaction's state.
_INTAKE_FINGERPRINT = (
    "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
    " SELECT 'c' || xmin::text || ctid::text AS x FROM casework_siteconfiguration"
    " UNION ALL SELECT 'd' || xmin::text || ctid::text FROM casework_calendarday"
    " UNION ALL SELECT 't' || xmin::text || ctid::text FROM casework_tier"
    " UNION ALL SELECT 'r' || xmin::text || ctid::text FROM casework_milestonerule) AS rows_now"
)
_intake_reads: dict[tuple[str, str], tuple[str, tuple]] = {}


def intake_reads() -> tuple[SiteConfiguration, SiteCalendar, object]:
    """(configuration, calendar, least severe tier or None, its rules prefetched): one
    statement when nothing changed since this process last read them. Read-only objects,
    shared by the requests of the process."""
    from casework.models import Tier

    key = (connection.schema_name, getattr(connection.tenant, "time_zone", ""))
    with connection.cursor() as cursor:
        cursor.execute(_INTAKE_FINGERPRINT)
        fingerprint = cursor.fetchone()[0] or ""
    hit = _intake_reads.get(key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    configuration = site_configuration()
    reads = (
        configuration,
        site_calendar(configuration=configuration),
        Tier.objects.order_by("rank").prefetch_related("milestone_rules").first(),
    )
    if len(_intake_reads) >= 1_000:
        _intake_reads.clear()
    _intake_reads[key] = (fingerprint, reads)
    return reads


MASK = "***"


def may_see_complainant(*, user, case, roles: frozenset[str] | None = None) -> bool:
    """Staff of the site see who complained and how to reach them, except the people the
    complaint is about (seed 004: never shown to them, never disclosed without consent).
    `roles`: the user's roles here when the caller has them already (no second lookup)."""
    from tenants.selectors import site_roles

    if roles is None:
        roles = site_roles(user=user, site=connection.tenant)
    if not roles:
        return False
    # The case page prefetches the people complained about: no query of its own then.
    prefetched = getattr(case, "_prefetched_objects_cache", {}).get("persons_complained_about")
    if prefetched is not None:
        return all(person.pk != user.pk for person in prefetched)
    return not case.persons_complained_about.filter(pk=user.pk).exists()


def complainant_details(*, user, case, visible: bool | None = None) -> dict[str, str]:
    """The complainant panel as `user` may see it: masked for those who may not. `visible`:
    `may_see_complainant` when the caller has computed it already."""
    if visible is None:
        visible = may_see_complainant(user=user, case=case)
    details = {
        "name": case.complainant_name,
        "phone": case.complainant_phone,
        "email": case.complainant_email,
    }
    if case.anonymous:
        return dict.fromkeys(details, "")
    return details if visible else {k: MASK if v else "" for k, v in details.items()}


# --- The queue (casework/views/queue.py) ------------------------------------------------------

ACTIVE_STATUSES = ("open", "replied")
QUEUE_TABS = ("all", "mine", "department", "unassigned", "overdue", "due_today")
# Tab counts stop counting here ("1000+"): an exact count of a large tab costs a scan of all
# its rows on every page view, and nobody acts on the difference between 4,812 and 4,813.
COUNT_CAP = 1000
SEARCH_LENGTH = 100
TRIGRAM_LENGTH = 3  # pg_trgm makes no trigram of a shorter unanchored LIKE pattern


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: a tab, narrowed by the filters and a search term. `status` empty
    means the cases still being handled (open or replied); "any" includes closed ones."""

    tab: str = "all"
    q: str = ""
    tier: int | None = None
    channel: str = ""
    category: int | None = None
    department: int | None = None
    status: str = ""


def user_department_ids(*, user) -> list[int]:
    """The departments `user` supervises or belongs to."""
    from django.db.models import Q

    from casework.models import Department

    return list(
        Department.objects.filter(Q(supervisor=user) | Q(members=user))
        .values_list("pk", flat=True)
        .distinct()
    )


def _end_of_local_day(now):
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    zone = ZoneInfo(getattr(connection.tenant, "time_zone", "Asia/Shanghai"))
    today = timezone.localtime(now, zone).date()
    return datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)


def _clock_running(**due):
    """An open clock of the case (not paused) whose due time matches `due`."""
    from django.db.models import Exists, OuterRef

    from casework.models import Milestone, MilestoneState

    return Exists(
        Milestone.objects.filter(case=OuterRef("pk"), state=MilestoneState.OPEN, **due)
    ) & Q(paused_at=None)


def _tab_condition(tab: str, *, user, department_ids: list[int], now) -> Q:
    from django.db.models import Exists, OuterRef

    from casework.models import Case

    if tab == "mine":
        return Q(owner=user)
    if tab == "department":
        cooperating = Case.cooperating_departments.through.objects.filter(
            case_id=OuterRef("pk"), department_id__in=department_ids
        )
        return Q(lead_department__in=department_ids) | Q(Exists(cooperating))
    if tab == "unassigned":  # not yet dispatched to a department
        return Q(lead_department=None)
    if tab == "overdue":
        return Q(_clock_running(due_at__lt=now))
    if tab == "due_today":
        return Q(_clock_running(due_at__gte=now, due_at__lt=_end_of_local_day(now)))
    return Q()


def _search_condition(term: str, *, user) -> Q:
    """Reference and the case's texts by substring (Chinese included: UPPER … LIKE, served by
    trigram GIN indexes where pg_trgm exists); the complainant's name, phone or e-mail only as
    a whole, through their blind indexes. The people a case is about never find it by who
    complained."""
    from django.db.models import Exists, F, OuterRef
    from django.db.models.functions import Lower
    from django.db.models.lookups import Contains

    from casework.blind_index import search_indexes
    from casework.models import Case

    term = term.strip()[:SEARCH_LENGTH]
    # A hyphenated code (20261120-SVC-007, SVC-007) is a reference, never a phrase of a text:
    # the other columns are not read for it.
    is_reference = re.fullmatch(r"[0-9A-Za-z]+(-[0-9A-Za-z]+)+", term) is not None
    columns = ("reference",) if is_reference else ("reference", "account", "subject", "location")
    if len(term) >= TRIGRAM_LENGTH:
        condition = Q()
        for column in columns:
            condition |= Q(**{f"{column}__icontains": term})
    else:
        # One or two characters make no trigram: the GIN index would be read whole (seconds
        # at 100,000 cases). A form no index matches leaves the planner the newest-first
        # scan, which stops at the page's last match; Chinese has no case to fold.
        folded = term.lower() != term.upper()
        condition = Q()
        for column in columns:
            expression = Lower(column) if folded else F(column)
            condition |= Q(Contains(expression, term.lower() if folded else term))
    identity = Q()
    for field, value in ({} if is_reference else search_indexes(term)).items():
        identity |= Q(**{field: value})
    if identity:
        about_me = Case.persons_complained_about.through.objects.filter(
            case_id=OuterRef("pk"), user_id=user.pk
        )
        condition |= identity & ~Exists(about_me)
    return condition


def case_queue(*, user, filters: QueueFilters, now=None, department_ids=None):
    """The cases of the queue, newest first, each with its next running clock
    (`next_due_at`, `next_rule_id`): two subqueries evaluated only for the rows of the page."""
    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from casework.models import Milestone, MilestoneState

    now = now or timezone.now()
    if department_ids is None:
        department_ids = user_department_ids(user=user)
    cases = _filtered(user=user, filters=filters, now=now, department_ids=department_ids)
    cases = cases.filter(
        _tab_condition(filters.tab, user=user, department_ids=department_ids, now=now)
    )
    if filters.q.strip():
        cases = cases.filter(_search_condition(filters.q, user=user))
    running = Milestone.objects.filter(case=OuterRef("pk"), state=MilestoneState.OPEN)
    next_clock = running.order_by("due_at", "id")
    return (
        cases.select_related("tier", "owner", "lead_department", "content")
        # The queue never shows who complained: nothing to decrypt for its rows.
        .defer("complainant_name", "complainant_phone", "complainant_email", "desired_outcome")
        .annotate(
            next_due_at=Subquery(next_clock.values("due_at")[:1]),
            next_rule_id=Subquery(next_clock.values("rule_id")[:1]),
        )
        .order_by("-registered_at", "-id")
    )


def _filtered(*, user, filters: QueueFilters, now, department_ids):
    from casework.models import Case

    cases = Case.objects.all()
    if filters.status == "":
        cases = cases.filter(status__in=ACTIVE_STATUSES)
    elif filters.status != "any":
        cases = cases.filter(status=filters.status)
    if filters.tier:
        cases = cases.filter(tier_id=filters.tier)
    if filters.channel:
        cases = cases.filter(channel=filters.channel)
    if filters.category:
        cases = cases.filter(Q(content_id=filters.category) | Q(nature_id=filters.category))
    if filters.department:
        cases = cases.filter(lead_department_id=filters.department)
    return cases


def queue_page(cases, *, after: tuple | None, size: int):
    """One page by keyset on (registered_at, id), newest first: as fast at page 2,000 as at
    page 1, where OFFSET would read and throw away every row before it. Returns the rows and
    the cursor of the next page (None on the last)."""
    if after is not None:
        registered_at, case_id = after
        # The first condition is the index range; the second only settles equal timestamps.
        cases = cases.filter(registered_at__lte=registered_at).filter(
            Q(registered_at__lt=registered_at) | Q(id__lt=case_id)
        )
    rows = list(cases[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, ((rows[-1].registered_at, rows[-1].pk) if more and rows else None)


def queue_counts(*, user, filters: QueueFilters, now=None, department_ids=None) -> dict:
    """The number of cases on each tab under the same filters (not the search term), each
    counted up to COUNT_CAP + 1, all in one statement."""
    from django.utils import timezone

    now = now or timezone.now()
    if department_ids is None:
        department_ids = user_department_ids(user=user)
    base = _filtered(user=user, filters=filters, now=now, department_ids=department_ids)
    parts, params = [], []
    for tab in QUEUE_TABS:
        condition = _tab_condition(tab, user=user, department_ids=department_ids, now=now)
        sql, tab_params = (
            base.filter(condition).order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
        )
        # Django compiled `sql` (its values are in `tab_params`); `tab` is one of QUEUE_TABS.
        parts.append(f"(SELECT count(*) FROM ({sql}) AS tab_{tab})")  # noqa: S608
        params.extend(tab_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        return dict(zip(QUEUE_TABS, cursor.fetchone(), strict=True))


def unread_notification_count(*, user) -> int:
    from casework.models import Notification

    return Notification.objects.filter(user=user, read_at=None).count()


def inbox(*, user, before: tuple | None = None, size: int = 50):
    """The user's notifications, newest first, one page by keyset (see `queue_page`)."""
    from casework.models import Notification

    notices = Notification.objects.filter(user=user).select_related("case")
    if before is not None:
        created_at, notice_id = before
        notices = notices.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(id__lt=notice_id)
        )
    rows = list(notices.order_by("-created_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, ((rows[-1].created_at, rows[-1].pk) if more and rows else None)


def user_notification(*, user, notification_id: int):
    """One of the user's own notices, or None (another person's id is not theirs to read)."""
    from casework.models import Notification

    return Notification.objects.filter(user=user, pk=notification_id).select_related("case").first()


def saved_filters(*, user):
    from casework.models import SavedFilter

    return SavedFilter.objects.filter(owner=user)


def calendar_gap(*, today=None):
    """The first day in the coming 90 days that China's official holiday data does not cover
    yet (each year's holidays are announced late in the year before), or None."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    calendar = site_calendar()
    today = today or timezone.localtime(timezone.now(), ZoneInfo(calendar.time_zone)).date()
    return calendar.first_uncovered_day(today)


def describe_duration(amount: int, unit: str) -> str:
    """'within 30 minutes' / '30 分钟内', for the public page and notices."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if unit == "working_days" and amount == 0:
        return _("the same working day")
    forms = {
        "minutes": ngettext("within %(n)s minute", "within %(n)s minutes", amount),
        "hours": ngettext("within %(n)s hour", "within %(n)s hours", amount),
        "working_days": ngettext("within %(n)s working day", "within %(n)s working days", amount),
        "calendar_days": ngettext("within %(n)s day", "within %(n)s days", amount),
    }
    return forms[unit] % {"n": amount}


def published_time_limits() -> list[dict]:
    """The promises of the public page, read from the live tier configuration so that they
    are never typed twice: each tier with its clocks, in the reader's language."""
    from casework.models import Tier

    tiers = Tier.objects.prefetch_related("milestone_rules").order_by("rank")
    return [
        {
            "tier": tier.display_name,
            "description": tier.description,
            "milestones": [
                {"name": rule.display_name, "limit": describe_duration(rule.amount, rule.unit)}
                for rule in tier.milestone_rules.all()
                if rule.active  # a retired clock is promised no more
            ],
        }
        for tier in tiers
    ]


# --- The case page (casework/views/case.py) ---------------------------------------------------


def case_for_page(*, case_id: int):
    """The case with what its page shows, in a fixed number of queries; None if this site
    has no such case (ids repeat across sites' schemas, so only the current one is searched)."""
    from django.db.models import Prefetch

    from casework.models import Case, Milestone

    return (
        Case.objects.select_related(
            "tier", "nature", "content", "lead_department", "owner", "first_responder"
        )
        .prefetch_related(
            "cooperating_departments",
            "persons_complained_about",
            Prefetch(
                "milestones",
                queryset=Milestone.objects.select_related("rule").prefetch_related(
                    "extensions__requested_by", "extensions__decided_by"
                ),
            ),
            "handovers__to_department",
            "replies__by",
            "callbacks__by",
            "compensations__recorded_by",
            "compensations__approved_by",
            "approvals__by",
            "attachments",
            "links_out__to_case",
            "links_in__from_case",
        )
        .filter(pk=case_id)
        .first()
    )


def case_timeline(*, case, user, visible: bool | None = None) -> list:
    """Every event of the case, oldest first, with who did it. The people complained about
    see the events but not the notes, which may name or quote the complainant. `visible`:
    `may_see_complainant` when the caller has computed it already."""
    from casework.models import TimelineEvent

    events = list(TimelineEvent.objects.filter(case=case).select_related("actor"))
    if visible is None:
        visible = may_see_complainant(user=user, case=case)
    if not visible:
        for event in events:
            event.note = MASK if event.note else ""
    return events


# Who may act on a case, by role. The services are the real gate (they refuse what the domain
# forbids, e.g. an approval by the wrong role); this decides which forms a page offers and
# keeps oversight roles (regional manager, firm admin) read-only.
CASE_HANDLERS = frozenset(
    {
        "receptionist",
        "department_supervisor",
        "manager_assistant",
        "project_manager",
        "service_centre_manager",
        "site_admin",
    }
)
HANDOVER_MANAGERS = frozenset({"service_centre_manager", "project_manager", "site_admin"})
UNRESOLVABLE_APPROVERS = frozenset({"service_centre_manager", "project_manager"})


def available_actions(*, case, user, roles: frozenset[str]) -> frozenset[str]:
    """The actions of the case page `user` (holding `roles` here) is offered on `case` now,
    by the names of their URLs without the `case-` prefix."""
    from casework.models import CaseStatus, MetBy, MilestoneState

    if not roles.intersection(CASE_HANDLERS):
        return frozenset()
    if case.status in (CaseStatus.CLOSED, CaseStatus.RESOLVED_AT_CONTACT):
        return frozenset({"link", "attach", "escalation"})
    actions = {"classify", "dispatch", "contact", "link", "attach", "escalation"}
    pending = [h for h in case.handovers.all() if h.accepted_at is None]
    if pending:
        department = pending[0].to_department
        if (
            user.pk == department.supervisor_id
            or department.members.filter(pk=user.pk).exists()
            or roles.intersection({"service_centre_manager", "project_manager"})
        ):
            actions.add("accept-handover")
    elif user.pk == case.owner_id or roles.intersection(HANDOVER_MANAGERS):
        actions.add("handover")
    if case.paused_at is not None:
        actions.add("resume")
    elif case.tier.pause_reasons:
        actions.add("pause")
    milestones = list(case.milestones.all())
    running = [m for m in milestones if m.met_at is None and m.state != MilestoneState.CANCELLED]
    if running:
        actions.add("extension")
    if any(m.rule.met_by == MetBy.MANUAL for m in running):
        actions.add("complete-milestone")
    waiting = [e for m in milestones for e in m.extensions.all() if e.approved is None]
    if waiting and case.tier.extension_approver_role in roles:
        actions.add("extension-decide")
    actions.add("compensation")
    unapproved = [c for c in case.compensations.all() if c.approved_at is None]
    if unapproved:
        limits = site_configuration().compensation_limits
        limit = max([int(limits.get(role, 0)) for role in roles] or [0])
        if any(c.amount <= limit for c in unapproved):
            actions.add("compensation-approve")
    actions.add("reply")
    if case.status == CaseStatus.REPLIED:
        actions.update({"callback", "close"})
    if case.tier.close_approver_role in roles or roles.intersection(UNRESOLVABLE_APPROVERS):
        actions.add("approve-closure")
    if any(a.kind == "unresolvable" for a in case.approvals.all()):
        actions.add("close")
    return frozenset(actions)


# --- The site admin's configuration screens (casework/views/configuration.py) ---------------


def preview_deadlines(*, tier, at=None, overrides: dict | None = None, calendar=None) -> list:
    """When each clock of `tier` would run out for a case registered at `at` (now by default),
    in the site's time zone: the screen's 'a case registered then would be due at …'.
    `overrides` maps a rule's pk to an (amount, unit) typed but not saved yet."""
    from django.utils import timezone

    calendar = calendar or site_calendar()
    at = timezone.localtime(at or timezone.now(), calendar.tz)
    rows = []
    for rule in tier.milestone_rules.filter(active=True).order_by("position", "pk"):
        amount, unit = (overrides or {}).get(rule.pk, (rule.amount, rule.unit))
        try:
            due = calendar.add(at, amount, unit)
        except (TypeError, ValueError):
            due = None
        rows.append(
            {
                "rule": rule,
                "amount": amount,
                "unit": unit,
                "limit": describe_duration(amount, unit) if due else "",
                "due_at": due,
                "changed": (amount, unit) != (rule.amount, rule.unit),
            }
        )
    return rows


def department_tree(*, include_retired: bool = True) -> list:
    """Every department with its depth, parents before their children, siblings in order:
    the indented tree of the departments screen, in two queries."""
    from casework.models import Department

    departments = list(Department.objects.select_related("supervisor").prefetch_related("members"))
    children: dict = {}
    for department in departments:
        children.setdefault(department.parent_id, []).append(department)
    out, seen = [], set()

    def walk(parent_id, depth):
        for department in sorted(children.get(parent_id, []), key=lambda d: (d.position, d.code)):
            if department.pk in seen or (not include_retired and not department.is_active):
                continue
            seen.add(department.pk)
            out.append((department, depth))
            walk(department.pk, depth + 1)

    walk(None, 0)
    return out


def configuration_history(*, model: str = "", actor_id=None, since=None, until=None):
    """The site's configuration changes, newest first, narrowed as the history screen asks."""
    from casework.models import ConfigurationChange

    changes = ConfigurationChange.objects.select_related("actor")
    if model:
        changes = changes.filter(model=model)
    if actor_id:
        changes = changes.filter(actor_id=actor_id)
    if since:
        changes = changes.filter(at__gte=since)
    if until:
        changes = changes.filter(at__lt=until)
    return changes


def open_case_count(*, tier=None) -> int:
    """How many cases 'apply to open cases' would re-base (of `tier`, or all)."""
    from casework.models import Case, CaseStatus

    cases = Case.objects.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.RESOLVED_AT_CONTACT])
    return (cases.filter(tier=tier) if tier is not None else cases).count()
