"""The rules of a case, start to end (DESIGN.md "A case, start to end", "Tiers and deadlines"),
one scenario each, named after the rule."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import translation

from casework.models import (
    Approval,
    CaseLink,
    CaseStatus,
    Milestone,
    MilestoneState,
    Notification,
    PerformanceDeduction,
    TimelineEvent,
)
from casework.selectors import MASK, complainant_details
from casework.services import (
    CaseworkError,
    accept_handover,
    approve_closure,
    approve_compensation,
    classify_case,
    close_case,
    decide_extension,
    dispatch_case,
    hand_over_case,
    link_cases,
    log_contact,
    pause_clock,
    record_callback,
    record_compensation,
    record_escalation_by_complainant,
    reply_to_complainant,
    request_extension,
    resume_clock,
)
from casework.sweep import sweep_deadlines
from tests.casework.conftest import FRIDAY_MORNING

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _in_english():
    """Notices are written in the active language; these tests read them in English."""
    with translation.override("en"):
        yield


HOUR = timedelta(hours=1)


def notified(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("subject", flat=True))


def due(case, code):
    return case.milestones.get(code=code).due_at


def handle_to_reply(hospital, case, at=FRIDAY_MORNING + HOUR):
    staff = hospital.staff
    dispatch_case(
        case=case, by=staff["reception"], department=hospital.departments["clean"], now=at
    )
    log_contact(case=case, by=staff["supervisor"], method="phone", summary="已致电道歉", now=at)
    return reply_to_complainant(
        case=case, by=staff["supervisor"], method="phone", decision="已培训保洁员放置警示牌", now=at
    )


# --- Intake and ownership -------------------------------------------------------------------


def test_whoever_receives_a_complaint_owns_it_until_a_handover_is_accepted(hospital):
    staff = hospital.staff
    case = hospital.register()
    handover = hand_over_case(
        case=case,
        by=staff["reception"],
        to_department=hospital.departments["clean"],
        note="保洁问题",
        now=FRIDAY_MORNING,
    )
    case.refresh_from_db()
    assert case.owner == staff["reception"]  # still accountable
    assert "handed over" in notified(staff["supervisor"])[0]

    accept_handover(handover=handover, by=staff["cleaner"], now=FRIDAY_MORNING + 5 * MINUTE)
    case.refresh_from_db()
    assert case.owner == staff["cleaner"]
    assert case.lead_department == hospital.departments["clean"]


def test_an_unaccepted_handover_escalates_once(hospital):
    staff = hospital.staff
    case = hospital.register()
    hand_over_case(
        case=case,
        by=staff["reception"],
        to_department=hospital.departments["clean"],
        now=FRIDAY_MORNING,
    )

    def overdue_lines():
        return case.timeline.filter(action="handover_overdue").count()

    sweep_deadlines(now=FRIDAY_MORNING + 29 * MINUTE)
    assert overdue_lines() == 0
    sweep_deadlines(now=FRIDAY_MORNING + 31 * MINUTE)
    sweep_deadlines(now=FRIDAY_MORNING + 40 * MINUTE)
    assert overdue_lines() == 1
    assert any("not accepted in time" in s for s in notified(staff["manager"]))
    assert any("not accepted in time" in s for s in notified(staff["reception"]))


def test_only_the_receiving_department_accepts_a_handover(hospital):
    staff = hospital.staff
    case = hospital.register()
    handover = hand_over_case(
        case=case,
        by=staff["reception"],
        to_department=hospital.departments["lift"],
        now=FRIDAY_MORNING,
    )
    with pytest.raises(CaseworkError):
        accept_handover(handover=handover, by=staff["cleaner"], now=FRIDAY_MORNING)
    case.refresh_from_db()
    assert case.owner == staff["reception"]


def test_several_departments_one_leads_the_others_cooperate(hospital):
    staff = hospital.staff
    case = hospital.register()
    classify_case(
        case=case,
        by=staff["reception"],
        cooperating_departments=[hospital.departments["lift"]],
        now=FRIDAY_MORNING,
    )
    dispatch_case(
        case=case,
        by=staff["reception"],
        department=hospital.departments["clean"],
        now=FRIDAY_MORNING + MINUTE,
    )
    case.refresh_from_db()
    assert case.lead_department == hospital.departments["clean"]
    assert list(case.cooperating_departments.all()) == [hospital.departments["lift"]]


# --- Clocks -----------------------------------------------------------------------------------


def test_dispatch_within_10_minutes_stops_the_dispatch_clock_and_tells_the_supervisor(hospital):
    staff = hospital.staff
    case = hospital.register()
    assert due(case, "dispatch") == FRIDAY_MORNING + 10 * MINUTE
    dispatch_case(
        case=case,
        by=staff["reception"],
        department=hospital.departments["clean"],
        now=FRIDAY_MORNING + 4 * MINUTE,
    )
    dispatch = case.milestones.get(code="dispatch")
    assert dispatch.state == MilestoneState.MET
    assert dispatch.met_at == FRIDAY_MORNING + 4 * MINUTE
    assert any("dispatched to you" in s for s in notified(staff["supervisor"]))
    assert sweep_deadlines(now=FRIDAY_MORNING + HOUR)["escalations"] > 0  # contact is late
    assert case.milestones.get(code="dispatch").escalation_level == 0


def test_a_missed_clock_escalates_along_its_chain_once_per_level(hospital):
    staff = hospital.staff
    case = hospital.register()
    sweep_deadlines(now=FRIDAY_MORNING + 11 * MINUTE)
    sweep_deadlines(now=FRIDAY_MORNING + 11 * MINUTE)  # a second sweep changes nothing
    dispatch = case.milestones.get(code="dispatch")
    assert (dispatch.state, dispatch.escalation_level) == (MilestoneState.MISSED, 1)
    assert len([s for s in notified(staff["supervisor"]) if "dispatch" in s]) == 1
    assert any("dispatch" in s for s in notified(staff["reception"]))  # the owner
    assert not any("dispatch" in s for s in notified(staff["manager"]))

    sweep_deadlines(now=FRIDAY_MORNING + 21 * MINUTE)  # one more period: the manager
    assert case.milestones.get(code="dispatch").escalation_level == 2
    assert len([s for s in notified(staff["manager"]) if "dispatch" in s]) == 1
    sweep_deadlines(now=FRIDAY_MORNING + 5 * HOUR)  # chain exhausted: nothing more
    assert case.milestones.get(code="dispatch").escalation_level == 2


class _Rollback(Exception):
    pass


def _history_after(hospital, sweep_minutes) -> tuple:
    """Register a case, sweep at the given minutes, return what happened; then undo it all."""
    outcome = None
    try:
        with transaction.atomic():
            case = hospital.register()
            for minute in sweep_minutes:
                sweep_deadlines(now=FRIDAY_MORNING + minute * MINUTE)
            outcome = (
                list(case.timeline.values_list("action", "at", "after")),
                sorted(case.milestones.values_list("code", "state", "escalation_level")),
                sorted(Notification.objects.values_list("user_id", "subject")),
            )
            raise _Rollback
    except _Rollback:
        return outcome


def test_a_sweep_after_an_hour_of_downtime_catches_up_exactly(hospital):
    every_minute = _history_after(hospital, range(61))
    after_downtime = _history_after(hospital, [60])
    twice_at_once = _history_after(hospital, [60, 60])
    assert every_minute == after_downtime == twice_at_once
    assert "milestone_missed" in [action for action, _at, _after in every_minute[0]]


def test_reclassification_rebases_the_open_clocks_with_an_audit_entry(hospital):
    staff = hospital.staff
    case = hospital.register()
    dispatch_case(
        case=case,
        by=staff["reception"],
        department=hospital.departments["clean"],
        now=FRIDAY_MORNING + 5 * MINUTE,
    )
    classify_case(
        case=case,
        by=staff["manager"],
        tier=hospital.tiers["major"],
        now=FRIDAY_MORNING + 20 * MINUTE,
    )
    case.refresh_from_db()
    assert due(case, "contact") == FRIDAY_MORNING + 2 * HOUR
    assert due(case, "reply") == FRIDAY_MORNING + 48 * HOUR
    assert due(case, "resolve") == FRIDAY_MORNING + timedelta(days=10)
    # Met before the new tier: history, not re-opened.
    assert case.milestones.get(code="dispatch").state == MilestoneState.MET
    event = case.timeline.get(action="classified")
    assert event.before["tier"] == "minor" and event.after["tier"] == "major"
    assert event.actor == staff["manager"]


def test_a_major_case_goes_to_the_manager_at_once(hospital):
    staff = hospital.staff
    case = hospital.register(tier=hospital.tiers["major"])
    assert case.milestones.get(code="report").state == MilestoneState.MET
    assert any(case.reference in s for s in notified(staff["manager"]))


def test_a_pause_only_for_a_reason_the_tier_allows_and_resume_moves_the_clocks_on(hospital):
    staff = hospital.staff
    case = hospital.register()
    with pytest.raises(CaseworkError):
        pause_clock(case=case, by=staff["reception"], reason="busy", now=FRIDAY_MORNING)
    pause_clock(
        case=case,
        by=staff["reception"],
        reason="awaiting_complainant",
        now=FRIDAY_MORNING + 5 * MINUTE,
    )
    assert sweep_deadlines(now=FRIDAY_MORNING + 3 * HOUR)["escalations"] == 0  # paused
    resume_clock(case=case, by=staff["reception"], now=FRIDAY_MORNING + 3 * HOUR + 5 * MINUTE)
    assert due(case, "dispatch") == FRIDAY_MORNING + 3 * HOUR + 10 * MINUTE
    assert due(case, "reply") == FRIDAY_MORNING + 27 * HOUR
    assert case.timeline.filter(action__in=["clock_paused", "clock_resumed"]).count() == 2


def test_an_extension_needs_the_approval_the_tier_names_and_its_reason(hospital):
    staff = hospital.staff
    case = hospital.register()
    reply = case.milestones.get(code="reply")
    later = reply.due_at + timedelta(days=2)
    with pytest.raises(CaseworkError):
        request_extension(
            milestone=reply, by=staff["reception"], new_due_at=later, reason=" ", now=FRIDAY_MORNING
        )
    extension = request_extension(
        milestone=reply,
        by=staff["reception"],
        new_due_at=later,
        reason="需厂家检测电梯",
        now=FRIDAY_MORNING,
    )
    with pytest.raises(CaseworkError):
        decide_extension(extension=extension, by=staff["manager"], approve=True)
    assert due(case, "reply") == FRIDAY_MORNING + 24 * HOUR
    decide_extension(
        extension=extension, by=staff["project"], approve=True, now=FRIDAY_MORNING + HOUR
    )
    assert due(case, "reply") == later
    assert case.timeline.get(action="extension_approved").actor == staff["project"]


def test_a_valid_complaint_unresolved_for_a_month_becomes_major(hospital):
    staff = hospital.staff
    case = hospital.register()
    classify_case(
        case=case, by=staff["reception"], nature=hospital.categories["valid"], now=FRIDAY_MORNING
    )
    sweep_deadlines(now=FRIDAY_MORNING + timedelta(days=29))
    case.refresh_from_db()
    assert case.tier.code == "minor"
    sweep_deadlines(now=FRIDAY_MORNING + timedelta(days=30, minutes=1))
    case.refresh_from_db()
    assert case.tier.code == "major"
    assert case.timeline.filter(action="upgraded").count() == 1


def test_a_communication_is_never_upgraded(hospital):
    case = hospital.register()
    classify_case(
        case=case,
        by=hospital.staff["reception"],
        nature=hospital.categories["inquiry"],
        now=FRIDAY_MORNING,
    )
    sweep_deadlines(now=FRIDAY_MORNING + timedelta(days=40))
    case.refresh_from_db()
    assert case.tier.code == "minor"


# --- Contact, reply, call-back ----------------------------------------------------------------


def test_face_to_face_fact_finding_needs_two_staff_present(hospital):
    staff = hospital.staff
    case = hospital.register()
    with pytest.raises(CaseworkError) as error:
        log_contact(
            case=case,
            by=staff["supervisor"],
            method="face_to_face",
            summary="面谈",
            now=FRIDAY_MORNING,
        )
    assert "second_staff" in error.value.message_dict
    log_contact(
        case=case,
        by=staff["supervisor"],
        method="face_to_face",
        summary="面谈",
        second_staff=staff["cleaner"],
        now=FRIDAY_MORNING + 20 * MINUTE,
    )
    assert case.milestones.get(code="contact").state == MilestoneState.MET


def test_a_written_reply_states_investigation_facts_responsibility_and_decision(hospital):
    case = hospital.register()
    with pytest.raises(CaseworkError) as error:
        reply_to_complainant(
            case=case,
            by=hospital.staff["supervisor"],
            method="written",
            decision="道歉并赔偿",
            now=FRIDAY_MORNING,
        )
    assert {"investigation", "facts", "responsibility"} <= set(error.value.message_dict)
    reply_to_complainant(
        case=case,
        by=hospital.staff["supervisor"],
        method="written",
        investigation="调取监控",
        facts="未放警示牌",
        responsibility="保洁员",
        decision="道歉并赔偿",
        now=FRIDAY_MORNING,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.REPLIED


def test_a_late_reply_gives_the_reason_for_the_delay(hospital):
    case = hospital.register()
    late = FRIDAY_MORNING + 30 * HOUR
    with pytest.raises(CaseworkError) as error:
        reply_to_complainant(
            case=case, by=hospital.staff["supervisor"], method="phone", decision="已处理", now=late
        )
    assert "delay_reason" in error.value.message_dict
    reply_to_complainant(
        case=case,
        by=hospital.staff["supervisor"],
        method="phone",
        decision="已处理",
        delay_reason="等待监控调取",
        now=late,
    )
    assert case.milestones.get(code="reply").met_at == late


def test_a_dissatisfied_callback_reopens_the_case_and_alerts_the_supervisor(hospital):
    staff = hospital.staff
    case = hospital.register()
    handle_to_reply(hospital, case)
    callback_at = FRIDAY_MORNING + 5 * HOUR
    record_callback(
        case=case,
        by=staff["reception"],
        method="phone",
        satisfied=False,
        note="仍不满意",
        now=callback_at,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.reopened_count == 1
    assert any("re-opened" in s for s in notified(staff["supervisor"]))
    assert due(case, "reply") == callback_at + 24 * HOUR


# --- Closing (销项) ----------------------------------------------------------------------------


def test_nobody_closes_an_unhandled_case(hospital):
    case = hospital.register()
    events = case.timeline.count()
    with pytest.raises(CaseworkError):
        close_case(case=case, by=hospital.staff["manager"], now=FRIDAY_MORNING)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.timeline.count() == events


def test_a_valid_complaint_closes_only_after_a_satisfied_callback(hospital):
    staff = hospital.staff
    case = hospital.register(nature=hospital.categories["valid"])
    handle_to_reply(hospital, case)
    with pytest.raises(CaseworkError):
        close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 2 * HOUR)
    record_callback(
        case=case,
        by=staff["reception"],
        method="phone",
        satisfied=True,
        rating=5,
        now=FRIDAY_MORNING + 3 * HOUR,
    )
    close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 4 * HOUR)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert case.milestones.get(code="resolve").state == MilestoneState.MET


def test_a_repair_is_closed_when_the_complainant_has_signed_it_off(hospital):
    case = hospital.register(content=hospital.categories["equipment"])
    handle_to_reply(hospital, case)
    with pytest.raises(CaseworkError) as error:
        close_case(case=case, by=hospital.staff["reception"], now=FRIDAY_MORNING + 2 * HOUR)
    assert "complainant_signed_off" in error.value.message_dict
    close_case(
        case=case,
        by=hospital.staff["reception"],
        complainant_signed_off=True,
        now=FRIDAY_MORNING + 2 * HOUR,
    )


def test_a_major_case_needs_the_managers_approval_to_close(hospital):
    staff = hospital.staff
    case = hospital.register(tier=hospital.tiers["major"])
    handle_to_reply(hospital, case)
    with pytest.raises(CaseworkError):
        close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 2 * HOUR)
    with pytest.raises(CaseworkError):
        approve_closure(
            case=case,
            by=staff["supervisor"],
            kind=Approval.Kind.CLOSE,
            note="可以",
            now=FRIDAY_MORNING + 2 * HOUR,
        )
    approve_closure(
        case=case,
        by=staff["manager"],
        kind=Approval.Kind.CLOSE,
        note="已核实整改",
        now=FRIDAY_MORNING + 2 * HOUR,
    )
    close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 3 * HOUR)


def test_an_unresolvable_case_closes_only_by_a_managers_recorded_approval(hospital):
    staff = hospital.staff
    case = hospital.register()
    with pytest.raises(CaseworkError):
        close_case(case=case, by=staff["manager"], outcome="unresolvable", now=FRIDAY_MORNING)
    approve_closure(
        case=case,
        by=staff["project"],
        kind=Approval.Kind.UNRESOLVABLE,
        note="季度评审：院方改造计划外，无法解决",
        now=FRIDAY_MORNING,
    )
    close_case(case=case, by=staff["manager"], outcome="unresolvable", now=FRIDAY_MORNING)
    case.refresh_from_db()
    assert case.outcome == "unresolvable"


def test_failed_mediation_ends_with_the_complainant_told_of_the_legal_route(hospital):
    staff = hospital.staff
    case = hospital.register()
    handle_to_reply(hospital, case)
    with pytest.raises(CaseworkError):
        close_case(
            case=case, by=staff["manager"], outcome="legal_route", now=FRIDAY_MORNING + 2 * HOUR
        )
    reply_to_complainant(
        case=case,
        by=staff["manager"],
        method="written",
        investigation="调解",
        facts="双方未达成一致",
        responsibility="待定",
        decision="建议通过法律途径解决",
        legal_route_advised=True,
        now=FRIDAY_MORNING + 2 * HOUR,
    )
    close_case(case=case, by=staff["manager"], outcome="legal_route", now=FRIDAY_MORNING + 3 * HOUR)


def test_a_new_issue_found_on_the_way_is_opened_as_its_own_linked_case(hospital):
    staff = hospital.staff
    case = hospital.register()
    new_issue = hospital.register(account="走廊灯坏了", content=hospital.categories["equipment"])
    link_cases(case=case, other=new_issue, kind=CaseLink.Kind.NEW_ISSUE, by=staff["reception"])
    assert new_issue.reference != case.reference
    assert case.links_out.get().to_case == new_issue
    assert new_issue.timeline.filter(action="linked").exists()


# --- Money, escalation over the firm's head, privacy --------------------------------------------


def test_compensation_above_the_recorders_limit_needs_a_higher_approval(hospital):
    staff = hospital.staff
    case = hospital.register()
    small = record_compensation(
        case=case, by=staff["supervisor"], amount=300, description="洗衣费", now=FRIDAY_MORNING
    )
    assert small.approved_by == staff["supervisor"]
    large = record_compensation(
        case=case,
        by=staff["supervisor"],
        amount=Decimal("3000"),
        description="医药费",
        now=FRIDAY_MORNING,
    )
    assert large.approved_at is None
    with pytest.raises(CaseworkError):
        approve_compensation(compensation=large, by=staff["reception"])
    approve_compensation(compensation=large, by=staff["project"], now=FRIDAY_MORNING)
    large.refresh_from_db()
    assert large.approved_by == staff["project"]


@pytest.mark.parametrize(("level", "points"), [("firm", 20), ("county", 30), ("city", 50)])
def test_escalation_over_the_firms_head_deducts_points_20_30_50(hospital, level, points):
    staff = hospital.staff
    case = hospital.register()
    dispatch_case(
        case=case,
        by=staff["reception"],
        department=hospital.departments["clean"],
        now=FRIDAY_MORNING,
    )
    record_escalation_by_complainant(
        case=case, by=staff["manager"], level=level, note="投诉人致电12345", now=FRIDAY_MORNING
    )
    ledger = {(d.person, d.capacity): d.points for d in PerformanceDeduction.objects.all()}
    assert ledger == {
        (staff["reception"], "responsible"): points,
        (staff["supervisor"], "supervisor"): points,
    }


def test_the_people_complained_about_never_see_who_complained(hospital):
    staff = hospital.staff
    case = hospital.register()
    classify_case(
        case=case,
        by=staff["reception"],
        persons_complained_about=[staff["cleaner"]],
        now=FRIDAY_MORNING,
    )
    assert complainant_details(user=staff["supervisor"], case=case)["phone"] == "13812345678"
    hidden = complainant_details(user=staff["cleaner"], case=case)
    assert hidden == {"name": MASK, "phone": MASK, "email": MASK}


def test_every_action_leaves_a_timeline_line_of_who_and_when(hospital):
    staff = hospital.staff
    case = hospital.register(nature=hospital.categories["valid"])
    handle_to_reply(hospital, case)
    record_callback(
        case=case,
        by=staff["reception"],
        method="phone",
        satisfied=True,
        now=FRIDAY_MORNING + 3 * HOUR,
    )
    close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 4 * HOUR)
    lines = list(case.timeline.values_list("action", "actor"))
    assert lines == [
        ("registered", staff["reception"].pk),
        ("dispatched", staff["reception"].pk),
        ("contacted", staff["supervisor"].pk),
        ("replied", staff["supervisor"].pk),
        ("called_back", staff["reception"].pk),
        ("closed", staff["reception"].pk),
    ]
    assert all(e.at for e in TimelineEvent.objects.filter(case=case))
    assert Milestone.objects.filter(case=case, state=MilestoneState.OPEN).count() == 0
