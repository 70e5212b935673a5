"""The site admin changes the site's configuration (DESIGN.md "Tiers and deadlines"): new
cases follow the change, cases already registered keep their deadlines unless the admin asks
for them to move, every change is in the audit log, and bad input changes nothing."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import translation

from casework.models import (
    CalendarDay,
    Case,
    CaseStatus,
    ConfigurationChange,
    Department,
    Milestone,
    MilestoneRule,
    MilestoneState,
    SiteConfiguration,
    TimelineEvent,
)
from casework.selectors import department_tree, preview_deadlines, site_configuration
from casework.services import (
    CaseworkError,
    add_calendar_day,
    add_milestone_rule,
    create_department,
    grant_site_role,
    move_department,
    reference_example,
    remove_calendar_day,
    restore_department,
    retire_department,
    retire_milestone_rule,
    revoke_site_role,
    save_category,
    set_department_people,
    update_escalation_chain,
    update_milestone_rule,
    update_site_configuration,
    update_tier,
)
from casework.sweep import sweep_deadlines
from tenants.models import Membership, Role, User
from tests.casework.conftest import FRIDAY_MORNING

SHANGHAI = "Asia/Shanghai"
# Monday 2026-11-23 and Tuesday 2026-11-24, 17:30 in Shanghai (closing time).
MONDAY_CLOSE = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TUESDAY_CLOSE = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SUNDAY_MORNING = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # Friday 10:00 + 2 calendar days


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


def resolve_rule(hospital) -> MilestoneRule:
    return hospital.tiers["minor"].milestone_rules.get(code="resolve")


def resolve_due(case) -> datetime:
    return Milestone.objects.get(case=case, code="resolve").due_at


def one_working_day(hospital, **extra):
    return update_milestone_rule(
        rule=resolve_rule(hospital),
        by=hospital.staff["admin"],
        amount=1,
        unit="working_days",
        now=FRIDAY_MORNING + timedelta(minutes=5),
        **extra,
    )


def test_the_preview_shows_the_new_due_time_skipping_the_weekend_and_a_closure(hospital):
    rule = resolve_rule(hospital)
    minor = hospital.tiers["minor"]
    typed = {rule.pk: (1, "working_days")}
    rows = {r["rule"].code: r for r in preview_deadlines(tier=minor, at=FRIDAY_MORNING)}
    assert rows["resolve"]["due_at"] == SUNDAY_MORNING and not rows["resolve"]["changed"]
    rows = {
        r["rule"].code: r for r in preview_deadlines(tier=minor, at=FRIDAY_MORNING, overrides=typed)
    }
    assert rows["resolve"]["due_at"] == MONDAY_CLOSE and rows["resolve"]["changed"]
    assert str(rows["resolve"]["due_at"].tzinfo) == SHANGHAI
    assert rows["resolve"]["limit"] == "within 1 working day"
    assert rows["contact"]["due_at"] == FRIDAY_MORNING + timedelta(minutes=30)

    add_calendar_day(by=hospital.staff["admin"], day=date(2026, 11, 23), kind="closed")
    rows = {
        r["rule"].code: r for r in preview_deadlines(tier=minor, at=FRIDAY_MORNING, overrides=typed)
    }
    assert rows["resolve"]["due_at"] == TUESDAY_CLOSE
    assert not MilestoneRule.objects.filter(pk=rule.pk, unit="working_days").exists()


def test_a_changed_duration_applies_to_cases_registered_afterwards_only(hospital):
    before = hospital.register()
    assert resolve_due(before) == SUNDAY_MORNING
    one_working_day(hospital)

    after = hospital.register(now=FRIDAY_MORNING + timedelta(minutes=10))
    assert resolve_due(after) == MONDAY_CLOSE
    assert resolve_due(before) == SUNDAY_MORNING
    assert not TimelineEvent.objects.filter(case=before, action="clocks_rebased").exists()


def test_apply_to_open_cases_moves_their_open_clocks_and_their_timeline_says_so(hospital):
    open_case = hospital.register()
    closed = hospital.register(now=FRIDAY_MORNING + timedelta(minutes=1))
    Case.objects.filter(pk=closed.pk).update(status=CaseStatus.CLOSED)
    contact_due = Milestone.objects.get(case=open_case, code="contact").due_at

    one_working_day(hospital, apply_to_open_cases=True)

    assert resolve_due(open_case) == MONDAY_CLOSE
    assert Milestone.objects.get(case=open_case, code="contact").due_at == contact_due
    assert resolve_due(closed) == SUNDAY_MORNING + timedelta(minutes=1)
    event = TimelineEvent.objects.get(case=open_case, action="clocks_rebased")
    assert event.actor == hospital.staff["admin"]
    assert set(event.after) == {"resolve"}  # only the clock that moved
    assert event.before["resolve"].startswith("2026-11-22T10:00")
    assert event.after["resolve"].startswith("2026-11-23T17:30")
    assert not TimelineEvent.objects.filter(case=closed, action="clocks_rebased").exists()
    change = ConfigurationChange.objects.get(model="milestone_rule", action="updated")
    assert "1 re-based" in change.note


def test_a_missed_clock_the_change_did_not_move_is_not_announced_twice(hospital):
    case = hospital.register()
    sweep_deadlines(now=FRIDAY_MORNING + timedelta(minutes=11))  # dispatch (10 min) missed
    dispatch = Milestone.objects.get(case=case, code="dispatch")
    assert dispatch.escalation_level == 1 and dispatch.state == MilestoneState.MISSED
    missed_events = TimelineEvent.objects.filter(case=case, action="milestone_missed").count()

    one_working_day(hospital, apply_to_open_cases=True)
    sweep_deadlines(now=FRIDAY_MORNING + timedelta(minutes=12))

    dispatch.refresh_from_db()
    assert dispatch.escalation_level == 1 and dispatch.state == MilestoneState.MISSED
    assert (
        TimelineEvent.objects.filter(case=case, action="milestone_missed").count() == missed_events
    )


def test_every_change_writes_an_audit_row_with_before_and_after(hospital):
    admin = hospital.staff["admin"]
    one_working_day(hospital)
    change = ConfigurationChange.objects.get(model="milestone_rule")
    assert change.actor == admin and change.object_id == resolve_rule(hospital).pk
    assert change.before == {"amount": 2, "unit": "calendar_days"}
    assert change.after == {"amount": 1, "unit": "working_days"}

    update_tier(tier=hospital.tiers["minor"], by=admin, upgrade_after_days=20)
    tier_change = ConfigurationChange.objects.get(model="tier")
    assert (tier_change.before, tier_change.after) == (
        {"upgrade_after_days": 30},
        {"upgrade_after_days": 20},
    )
    update_site_configuration(by=admin, workday_end=time(18, 0))
    settings_change = ConfigurationChange.objects.get(model="site_configuration")
    assert settings_change.before == {"workday_end": "17:30:00"}
    assert settings_change.after == {"workday_end": "18:00:00"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"amount": 0, "unit": "hours"}, "amount"),
        ({"unit": "fortnights"}, "unit"),
        ({"escalation_chain": ["department_supervisor", "chief_of_police"]}, "escalation_chain"),
        ({"escalation_chain": ["project_manager", "project_manager"]}, "escalation_chain"),
        ({"name": "  "}, "name"),
    ],
)
def test_a_bad_rule_is_refused_next_to_its_field_and_changes_nothing(hospital, changes, field):
    rule = resolve_rule(hospital)
    case = hospital.register()
    with pytest.raises(CaseworkError) as refused:
        update_milestone_rule(
            rule=rule, by=hospital.staff["admin"], apply_to_open_cases=True, **changes
        )
    assert field in refused.value.message_dict
    rule.refresh_from_db()
    assert (rule.amount, rule.unit) == (2, "calendar_days")
    assert resolve_due(case) == SUNDAY_MORNING
    assert not ConfigurationChange.objects.exists()


def test_an_escalation_chain_takes_known_roles_in_order(hospital):
    rule = resolve_rule(hospital)
    chain = [Role.DEPARTMENT_SUPERVISOR, Role.PROJECT_MANAGER, Role.REGIONAL_MANAGER]
    update_escalation_chain(rule=rule, by=hospital.staff["admin"], chain=chain)
    rule.refresh_from_db()
    assert rule.escalation_chain == chain
    with pytest.raises(CaseworkError) as refused:
        update_escalation_chain(rule=rule, by=hospital.staff["admin"], chain=["janitor"])
    assert "Unknown role" in str(refused.value.message_dict["escalation_chain"])


def test_only_the_site_admin_changes_the_configuration(hospital):
    for key in ("reception", "manager", "project", "supervisor"):
        with pytest.raises(CaseworkError):
            update_milestone_rule(rule=resolve_rule(hospital), by=hospital.staff[key], amount=1)
    assert resolve_rule(hospital).amount == 2
    assert not ConfigurationChange.objects.exists()


def test_a_new_clock_reaches_open_cases_only_when_asked(hospital):
    admin = hospital.staff["admin"]
    case = hospital.register()
    add_milestone_rule(
        tier=hospital.tiers["minor"],
        by=admin,
        code="callback",
        name="回访",
        amount=3,
        unit="working_days",
        met_by="manual",
        now=FRIDAY_MORNING,
    )
    assert not case.milestones.filter(code="callback").exists()
    add_milestone_rule(
        tier=hospital.tiers["minor"],
        by=admin,
        code="survey",
        name="满意度",
        amount=5,
        unit="working_days",
        met_by="manual",
        apply_to_open_cases=True,
        now=FRIDAY_MORNING,
    )
    assert case.milestones.filter(code="callback").exists()  # re-based on the whole tier
    assert case.milestones.get(code="survey").due_at > FRIDAY_MORNING
    with pytest.raises(CaseworkError) as refused:
        add_milestone_rule(
            tier=hospital.tiers["minor"],
            by=admin,
            code="survey",
            name="x",
            amount=1,
            unit="hours",
            met_by="manual",
        )
    assert "code" in refused.value.message_dict


def test_a_clock_cases_have_used_is_retired_and_stays_in_their_history(hospital):
    admin = hospital.staff["admin"]
    hospital.register()
    used = resolve_rule(hospital)
    retire_milestone_rule(rule=used, by=admin)
    assert not resolve_rule(hospital).active
    retired = ConfigurationChange.objects.get(action="retired", object_id=used.pk)
    assert retired.after == {"active": False}
    unused = hospital.tiers["major"].milestone_rules.get(code="resolve")
    retire_milestone_rule(rule=unused, by=admin)
    assert not MilestoneRule.objects.filter(pk=unused.pk).exists()
    assert (
        ConfigurationChange.objects.get(object_id=unused.pk, action="retired").before["amount"]
        == 10
    )


def test_a_department_cannot_move_under_its_own_branch(hospital):
    admin = hospital.staff["admin"]
    svc, clean = hospital.departments["svc"], hospital.departments["clean"]
    move_department(department=clean, by=admin, parent=svc)
    ward = create_department(by=admin, code="ward-cleaning", name="病房保洁", parent=clean)
    for target in (clean, ward):
        with pytest.raises(CaseworkError) as refused:
            move_department(department=clean, by=admin, parent=target)
        assert "parent" in refused.value.message_dict
    clean.refresh_from_db()
    assert clean.parent == svc
    tree = [(d.code, depth) for d, depth in department_tree()]
    assert tree.index(("svc", 0)) < tree.index(("clean", 1)) < tree.index(("ward-cleaning", 2))


def test_a_retired_department_keeps_its_cases_and_can_be_restored(hospital):
    admin = hospital.staff["admin"]
    lift = hospital.departments["lift"]
    case = hospital.register(lead_department=lift)
    retire_department(department=lift, by=admin)
    lift.refresh_from_db()
    assert not lift.is_active and Department.objects.filter(pk=lift.pk).exists()
    assert Case.objects.get(pk=case.pk).lead_department == lift
    with pytest.raises(CaseworkError):
        create_department(by=admin, code="lift-night", name="夜班", parent=lift)
    restore_department(department=lift, by=admin)
    lift.refresh_from_db()
    assert lift.is_active
    assert [c.action for c in ConfigurationChange.objects.order_by("at", "id")] == [
        "retired",
        "restored",
    ]


def test_a_department_with_active_sub_departments_is_not_retired(hospital):
    admin = hospital.staff["admin"]
    create_department(by=admin, code="lift-night", name="夜班", parent=hospital.departments["lift"])
    with pytest.raises(CaseworkError):
        retire_department(department=hospital.departments["lift"], by=admin)


def test_department_people_work_on_this_site(hospital, world):
    admin = hospital.staff["admin"]
    clean = hospital.departments["clean"]
    with pytest.raises(CaseworkError) as refused:
        set_department_people(
            department=clean, by=admin, supervisor=world.people["manager_b"], members=[]
        )
    assert "supervisor" in refused.value.message_dict
    set_department_people(
        department=clean,
        by=admin,
        supervisor=hospital.staff["project"],
        members=[hospital.staff["cleaner"], hospital.staff["reception"]],
    )
    clean.refresh_from_db()
    assert clean.supervisor == hospital.staff["project"]
    assert set(clean.members.all()) == {hospital.staff["cleaner"], hospital.staff["reception"]}
    change = ConfigurationChange.objects.get(model="department")
    assert change.before["supervisor"] == hospital.staff["supervisor"].pk


def test_a_category_code_goes_into_new_references(hospital):
    admin = hospital.staff["admin"]
    attitude = hospital.categories["attitude"]
    attitude = save_category(
        by=admin, category=attitude, code="svc2", name=attitude.name, name_en="Attitude"
    )
    case = hospital.register(content=attitude)
    assert "-SVC2-" in case.reference
    with pytest.raises(CaseworkError) as refused:
        save_category(by=admin, kind="content", code="EQP", name="重复")
    assert "code" in refused.value.message_dict
    with pytest.raises(CaseworkError) as refused:
        save_category(by=admin, category=attitude, parent=hospital.categories["valid"])
    assert "parent" in refused.value.message_dict


@pytest.mark.parametrize(
    "pattern",
    ["{date}-{category}", "{category}-{seq:03d}", "{date}-{name}-{seq}", "{date} {seq}", "{date"],
)
def test_a_reference_pattern_must_keep_references_unique(hospital, pattern):
    with pytest.raises(CaseworkError) as refused:
        update_site_configuration(by=hospital.staff["admin"], reference_pattern=pattern)
    assert "reference_pattern" in refused.value.message_dict
    assert site_configuration().reference_pattern == "{date}-{category}-{seq:03d}"
    assert not ConfigurationChange.objects.exists()


def test_a_new_reference_pattern_is_previewed_and_used(hospital):
    example = reference_example("A-{date}-{seq:04d}", day=date(2026, 11, 20))
    assert example == "A-20261120-0001"
    update_site_configuration(
        by=hospital.staff["admin"], reference_pattern="A-{date}-{category}{seq:04d}"
    )
    assert hospital.register().reference.startswith("A-20261120-SVC")


def test_office_hours_move_working_day_clocks_only_when_asked(hospital):
    admin = hospital.staff["admin"]
    one_working_day(hospital)
    case = hospital.register()
    assert resolve_due(case) == MONDAY_CLOSE
    update_site_configuration(by=admin, workday_end=time(18, 0))
    assert resolve_due(case) == MONDAY_CLOSE
    update_site_configuration(by=admin, workday_end=time(16, 0), apply_to_open_cases=True)
    assert resolve_due(case) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with pytest.raises(CaseworkError) as refused:
        update_site_configuration(by=admin, workday_start=time(19, 0))
    assert "workday_end" in refused.value.message_dict
    assert SiteConfiguration.objects.get().workday_start == time(8, 0)


def test_a_closure_moves_open_clocks_only_when_asked(hospital):
    admin = hospital.staff["admin"]
    one_working_day(hospital)
    case = hospital.register()
    add_calendar_day(by=admin, day=date(2026, 11, 23), kind="closed", note="停水")
    assert resolve_due(case) == MONDAY_CLOSE
    day = add_calendar_day(
        by=admin, day=date(2026, 11, 23), kind="closed", apply_to_open_cases=True
    )
    assert resolve_due(case) == TUESDAY_CLOSE
    remove_calendar_day(calendar_day=day, by=admin, apply_to_open_cases=True)
    assert resolve_due(case) == MONDAY_CLOSE
    assert not CalendarDay.objects.exists()
    assert TimelineEvent.objects.filter(case=case, action="clocks_rebased").count() == 2


def test_settings_refuse_people_from_elsewhere_and_bad_numbers(hospital, world):
    admin = hospital.staff["admin"]
    bad = [
        ({"intake_owner": world.people["manager_b"]}, "intake_owner"),
        ({"handover_accept_minutes": 0}, "handover_accept_minutes"),
        ({"default_category_code": "NOPE"}, "default_category_code"),
        ({"compensation_limits": {"firm_admin": 10}}, "compensation_limits"),
        ({"escalation_points": {"firm": -5}}, "escalation_points"),
    ]
    for changes, field in bad:
        with pytest.raises(CaseworkError) as refused:
            update_site_configuration(by=admin, **changes)
        assert field in refused.value.message_dict, changes
    assert not ConfigurationChange.objects.exists()


def test_a_site_admin_grants_roles_on_their_own_site_only(hospital, world):
    admin = hospital.staff["admin"]
    newcomer = User.objects.create_user("newcomer@test.example", "x")
    membership = grant_site_role(by=admin, user=newcomer, role=Role.RECEPTIONIST)
    assert membership.site == world.site_a
    for role in (Role.FIRM_ADMIN, Role.REGIONAL_MANAGER, "emperor"):
        with pytest.raises(CaseworkError):
            grant_site_role(by=admin, user=newcomer, role=role)
    assert set(Membership.objects.filter(user=newcomer).values_list("site", "role")) == {
        (world.site_a.pk, Role.RECEPTIONIST)
    }
    b_membership = Membership.objects.get(user=world.people["manager_b"])
    with pytest.raises(CaseworkError):
        revoke_site_role(by=admin, membership=b_membership)
    assert Membership.objects.filter(pk=b_membership.pk).exists()
    revoke_site_role(by=admin, membership=membership)
    assert not Membership.objects.filter(user=newcomer).exists()
    assert [c.action for c in ConfigurationChange.objects.order_by("id")] == ["granted", "revoked"]


def test_the_last_site_admin_keeps_the_role(hospital):
    admin = hospital.staff["admin"]
    own = Membership.objects.get(user=admin, role=Role.SITE_ADMIN)
    with pytest.raises(CaseworkError):
        revoke_site_role(by=admin, membership=own)
    assert Membership.objects.filter(pk=own.pk).exists()
