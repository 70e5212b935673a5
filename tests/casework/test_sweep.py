"""The deadline sweep escalates a site's due clocks together (docs/decisions/0005): what it
does is what escalating them one by one would do, a failing clock never holds back the
others, and its cost per site does not grow with the number of clocks due."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_tenants.utils import tenant_context

import casework.services
from casework.models import (
    CalendarDay,
    Milestone,
    MilestoneRule,
    MilestoneState,
    Notification,
    OutboxMessage,
    Tier,
    TimelineEvent,
)
from casework.services import Complainant, escalate_milestones, register_case
from casework.sweep import RETRY_AFTER, sweep_deadlines
from tenants.models import Deadline, Role
from tests.casework.conftest import FRIDAY_MORNING

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


class _Rollback(Exception):
    pass


def index_row(site, milestone):
    return Deadline.objects.get(site=site, kind=Deadline.Kind.MILESTONE, object_id=milestone.pk)


def history(cases) -> tuple:
    """What a person would see afterwards: each case's timeline, its clocks, who was told."""
    return (
        [list(case.timeline.values_list("action", "at", "after")) for case in cases],
        [
            sorted(case.milestones.values_list("code", "state", "escalation_level"))
            for case in cases
        ],
        sorted(Notification.objects.values_list("user_id", "case__reference", "subject")),
        sorted(OutboxMessage.objects.values_list("case__reference", "subject")),
    )


def _swept(hospital, *, cases: int, minutes) -> tuple:
    """Register `cases` cases (a minute apart), sweep at the given minutes, return the history
    and the statements of the last sweep; then undo it all."""
    outcome = None
    try:
        with transaction.atomic():
            registered = [
                hospital.register(now=FRIDAY_MORNING + number * MINUTE) for number in range(cases)
            ]
            for minute in minutes:
                with CaptureQueriesContext(connection) as statements:
                    sweep_deadlines(now=FRIDAY_MORNING + minute * MINUTE)
            outcome = history(registered), len(statements)
            raise _Rollback
    except _Rollback:
        return outcome


def test_catching_up_on_many_clocks_at_once_gives_the_history_of_every_minute(hospital):
    # Three cases, their dispatch (2 levels), contact and reply clocks running out at
    # different minutes over three hours.
    every_minute, _ = _swept(hospital, cases=3, minutes=range(0, 181))
    after_downtime, _ = _swept(hospital, cases=3, minutes=[180])
    twice, _ = _swept(hospital, cases=3, minutes=[180, 180])
    assert every_minute == after_downtime == twice
    timelines, _clocks, notices, _emails = every_minute
    for timeline in timelines:
        actions = [action for action, _at, _after in timeline]
        assert actions.count("milestone_missed") == 2  # dispatch, contact
        assert actions.count("escalated") == 1  # dispatch, level 2
    staff = hospital.staff
    # Per case: the owner and both cleaning supervisors about dispatch and contact, the
    # service-centre manager about dispatch's second level.
    told = Counter(user_id for user_id, _reference, _subject in notices)
    assert told == {
        staff["reception"].pk: 6,
        staff["supervisor"].pk: 6,
        staff["cleaner"].pk: 6,
        staff["manager"].pk: 3,
    }


def test_the_lead_departments_supervisor_alone_is_told_for_the_supervisor_level(hospital):
    staff = hospital.staff
    led = hospital.register(lead_department=hospital.departments["clean"])
    unled = hospital.register()
    sweep_deadlines(now=FRIDAY_MORNING + 11 * MINUTE)  # both dispatch clocks, level 1

    def told(case):
        notices = Notification.objects.filter(case=case, subject__contains="dispatch overdue")
        return sorted(notices.values_list("user", flat=True))

    def people(*keys):
        return sorted(staff[key].pk for key in keys)

    # Not the site's other department supervisor (the cleaner) when the case has a lead.
    assert told(led) == people("reception", "supervisor")
    assert told(unled) == people("reception", "supervisor", "cleaner")


def test_a_sites_statements_do_not_grow_with_the_number_of_clocks_due(hospital):
    _, one = _swept(hospital, cases=1, minutes=[11])
    _, six = _swept(hospital, cases=6, minutes=[16])
    assert one == six
    assert one <= 20


def test_a_replayed_index_escalates_nothing_and_is_put_right(hospital):
    case = hospital.register()
    assert sweep_deadlines(now=FRIDAY_MORNING + 11 * MINUTE)["escalations"] == 1
    dispatch = case.milestones.get(code="dispatch")
    seen = history([case])
    # The index out of step with the clock (a restore, a replayed migration): due again.
    Deadline.objects.filter(pk=index_row(hospital.site, dispatch).pk).update(due_at=FRIDAY_MORNING)
    counts = sweep_deadlines(now=FRIDAY_MORNING + 12 * MINUTE)
    assert counts == {"due": 1, "escalations": 0, "failed": 0}
    assert history([case]) == seen
    assert index_row(hospital.site, dispatch).due_at == FRIDAY_MORNING + 20 * MINUTE


def test_a_clock_another_sweeper_raised_meanwhile_is_left_to_it(hospital, monkeypatch):
    case = hospital.register()
    dispatch = case.milestones.get(code="dispatch")
    plan = casework.services._plan_escalations

    def raced(*args, **kwargs):
        # Between reading the clock and swapping its level, another sweeper raises it.
        Milestone.objects.filter(pk=dispatch.pk).update(
            escalation_level=1, state=MilestoneState.MISSED
        )
        return plan(*args, **kwargs)

    monkeypatch.setattr(casework.services, "_plan_escalations", raced)
    raised = escalate_milestones(milestone_ids=[dispatch.pk], now=FRIDAY_MORNING + 11 * MINUTE)
    assert raised == 0
    assert not TimelineEvent.objects.filter(case=case, action="milestone_missed").exists()
    assert not Notification.objects.filter(subject__contains="overdue").exists()
    # Its index row is the other sweeper's to move.
    assert index_row(hospital.site, dispatch).due_at == FRIDAY_MORNING + 10 * MINUTE


def test_a_clock_counted_in_working_days_escalates_on_the_sites_own_calendar(hospital):
    tier = Tier.objects.create(
        code="wd",
        name="工作日",
        rank=2,
        handler_role=Role.RECEPTIONIST,
        extension_approver_role=Role.PROJECT_MANAGER,
    )
    MilestoneRule.objects.create(
        tier=tier,
        code="resolve",
        name="resolve",
        amount=1,
        unit="working_days",
        met_by="close",
        escalation_chain=[Role.DEPARTMENT_SUPERVISOR, Role.SERVICE_CENTRE_MANAGER],
    )
    case = hospital.register(tier=tier)  # Friday 20 November, 10:00 in Shanghai
    resolve = case.milestones.get(code="resolve")
    monday_closing = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
    assert resolve.due_at == monday_closing
    # The site closes on Tuesday, after the case was registered.
    CalendarDay.objects.create(day=date(2026, 11, 24), kind=CalendarDay.Kind.CLOSED)

    assert sweep_deadlines(now=monday_closing + MINUTE)["escalations"] == 1
    # The next level falls one working day later: Wednesday, not the closed Tuesday.
    assert index_row(hospital.site, resolve).due_at == monday_closing + timedelta(days=2)


def _site_b_case(world):
    tier = Tier.objects.create(
        code="b-minor",
        name="轻微",
        rank=0,
        handler_role=Role.SERVICE_CENTRE_MANAGER,
        extension_approver_role=Role.SERVICE_CENTRE_MANAGER,
    )
    MilestoneRule.objects.create(
        tier=tier,
        code="dispatch",
        name="dispatch",
        amount=10,
        unit="minutes",
        met_by="dispatch",
        escalation_chain=[Role.SERVICE_CENTRE_MANAGER],
    )
    return register_case(
        channel="phone",
        account="护工态度差",
        tier=tier,
        complainant=Complainant(relation="family", name="王芳", phone="13900000000"),
        received_by=world.people["manager_b"],
        # Due first: the sweep's first attempt escalates it before site A fails.
        now=FRIDAY_MORNING - 2 * MINUTE,
    )


def test_a_failing_clock_is_pushed_back_and_holds_back_no_other_clock_or_site(
    hospital, world, caplog
):
    good = hospital.register()
    broken_tier = Tier.objects.create(
        code="broken",
        name="坏",
        rank=2,
        handler_role=Role.RECEPTIONIST,
        extension_approver_role=Role.PROJECT_MANAGER,
    )
    rule = MilestoneRule.objects.create(
        tier=broken_tier,
        code="dispatch",
        name="dispatch",
        amount=10,
        unit="minutes",
        met_by="dispatch",
        escalation_chain=[Role.DEPARTMENT_SUPERVISOR, Role.SERVICE_CENTRE_MANAGER],
    )
    broken = hospital.register(tier=broken_tier, now=FRIDAY_MORNING - MINUTE)
    # Bad data written around the application: escalating this clock raises.
    MilestoneRule.objects.filter(pk=rule.pk).update(unit="fortnights")
    broken_clock = broken.milestones.get(code="dispatch")
    with tenant_context(world.site_b):
        other_site = _site_b_case(world)

    now = FRIDAY_MORNING + 11 * MINUTE
    counts = sweep_deadlines(now=now)

    assert counts == {"due": 3, "escalations": 2, "failed": 1}
    assert good.milestones.get(code="dispatch").escalation_level == 1
    assert broken.milestones.get(code="dispatch").escalation_level == 0
    assert not broken.timeline.filter(action="milestone_missed").exists()
    assert index_row(hospital.site, broken_clock).due_at == now + RETRY_AFTER
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1  # reported once, with the clock
    assert errors[0].startswith(f"Deadline {hospital.site.pk}/milestone/{broken_clock.pk} due")
    with tenant_context(world.site_b):
        assert other_site.milestones.get(code="dispatch").escalation_level == 1
        # Told once as owner and once as the chain's role: the first attempt was undone.
        told = Notification.objects.filter(subject__contains="overdue")
        assert list(told.values_list("user", flat=True)) == [world.people["manager_b"].pk] * 2
        assert other_site.timeline.filter(action="milestone_missed").count() == 1
