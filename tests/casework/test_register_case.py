"""Registering a complaint (立项): reference, owner, clocks, privacy, and nothing half-made."""

from datetime import UTC, datetime, time

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from casework.models import (
    Case,
    CaseStatus,
    Category,
    Milestone,
    MilestoneRule,
    SiteConfiguration,
    Tier,
)
from casework.services import (
    CaseworkError,
    Complainant,
    record_resolved_at_contact,
    register_case,
)
from tenants.models import Role, User
from tenants.services import grant_role

# Friday 2026-11-20, 10:00 in Shanghai.
FRIDAY_MORNING = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DAUGHTER = Complainant(
    relation="family", name="李娜", phone="13812345678", email="li.na@example.com"
)


@pytest.fixture
def site_a(world):
    """Site A with a minimal tier of its own: dispatch in 10 minutes, resolve in 2 working
    days, open from 08:00 to 17:30."""
    with tenant_context(world.site_a):
        SiteConfiguration.objects.update_or_create(
            id=1, defaults={"workday_start": time(8), "workday_end": time(17, 30)}
        )
        minor = Tier.objects.create(
            code="minor",
            name="轻微",
            rank=1,
            handler_role=Role.RECEPTIONIST,
            extension_approver_role=Role.PROJECT_MANAGER,
        )
        MilestoneRule.objects.create(
            tier=minor, code="dispatch", name="派单", amount=10, met_by="dispatch", unit="minutes"
        )
        MilestoneRule.objects.create(
            tier=minor, code="resolve", name="解决", amount=2, met_by="close", unit="working_days"
        )
        Category.objects.create(kind="content", code="EQP", name="设施设备")
        yield world.site_a


def test_a_case_gets_the_next_reference_of_the_sites_own_day(site_a, world):
    # 23:30 UTC on the 22nd is already the 23rd in Shanghai.
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    receptionist = world.people["reception_a"]
    first = register_case(
        channel="phone",
        account="电梯停运",
        complainant=DAUGHTER,
        received_by=receptionist,
        now=late,
    )
    second = register_case(
        channel="walk_in",
        account="保洁不到位",
        complainant=DAUGHTER,
        received_by=receptionist,
        now=late,
        content=Category.objects.get(code="EQP"),
    )
    assert first.reference == "20261123-SVC-001"
    assert second.reference == "20261123-EQP-002"


def test_each_clock_is_due_in_the_sites_calendar(site_a, world):
    case = register_case(
        channel="phone",
        account="陪检迟到",
        complainant=DAUGHTER,
        received_by=world.people["reception_a"],
        now=FRIDAY_MORNING,
    )
    due = {m.code: m.due_at for m in case.milestones.all()}
    assert due["dispatch"] == datetime(2026, 11, 20, 2, 10, tzinfo=UTC)
    # Two working days after Friday: Monday and Tuesday; due Tuesday 17:30 Shanghai.
    assert due["resolve"] == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_the_first_responder_owns_the_case(site_a, world):
    receptionist = world.people["reception_a"]
    case = register_case(
        channel="walk_in",
        account="挂号处态度差",
        complainant=DAUGHTER,
        received_by=receptionist,
        now=FRIDAY_MORNING,
    )
    assert case.first_responder == receptionist and case.owner == receptionist
    event = case.timeline.get()
    assert event.action == "registered" and event.actor == receptionist


def test_a_web_complaint_at_night_belongs_to_the_duty_officer(site_a, world):
    duty = User.objects.create_user("duty@test.example", "x")
    day_desk = User.objects.create_user("desk@test.example", "x")
    grant_role(user=duty, role=Role.SERVICE_CENTRE_MANAGER, site=world.site_a)
    grant_role(user=day_desk, role=Role.RECEPTIONIST, site=world.site_a)
    SiteConfiguration.objects.filter(id=1).update(after_hours_receiver=duty, intake_owner=day_desk)
    night = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert (
        register_case(channel="web", account="病房太吵", complainant=DAUGHTER, now=night).owner
        == duty
    )
    assert (
        register_case(
            channel="web", account="病房太吵", complainant=DAUGHTER, now=FRIDAY_MORNING
        ).owner
        == day_desk
    )


def test_with_nobody_configured_a_web_complaint_goes_to_the_site_admin(site_a, world):
    case = register_case(
        channel="web", account="食堂饭菜凉", complainant=DAUGHTER, now=FRIDAY_MORNING
    )
    assert case.owner == world.people["admin_a"]


def test_staff_of_another_site_cannot_receive_a_complaint_here(site_a, world):
    with pytest.raises(CaseworkError):
        register_case(
            channel="phone",
            account="x",
            complainant=DAUGHTER,
            received_by=world.people["manager_b"],
            now=FRIDAY_MORNING,
        )
    assert not Case.objects.exists()


def test_bad_input_stores_nothing_and_consumes_no_reference(site_a, world):
    receptionist = world.people["reception_a"]
    for bad in (
        {"account": "   "},
        {"channel": "pigeon"},
        {"complainant": Complainant(relation="alien")},
    ):
        arguments = {
            "channel": "phone",
            "account": "电梯停运",
            "complainant": DAUGHTER,
            "received_by": receptionist,
            "now": FRIDAY_MORNING,
            **bad,
        }
        with pytest.raises(CaseworkError):
            register_case(**arguments)
    assert not Case.objects.exists() and not Milestone.objects.exists()
    case = register_case(
        channel="phone",
        account="电梯停运",
        complainant=DAUGHTER,
        received_by=receptionist,
        now=FRIDAY_MORNING,
    )
    assert case.reference == "20261120-SVC-001"


def test_contact_details_are_encrypted_at_rest(site_a, world):
    case = register_case(
        channel="phone",
        account="x",
        complainant=DAUGHTER,
        received_by=world.people["reception_a"],
        now=FRIDAY_MORNING,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT complainant_phone, complainant_name FROM casework_case WHERE id = %s", [case.pk]
        )
        stored_phone, stored_name = cursor.fetchone()
    assert "13812345678" not in stored_phone and "李娜" not in stored_name
    reloaded = Case.objects.get(pk=case.pk)
    assert (reloaded.complainant_phone, reloaded.complainant_name) == ("13812345678", "李娜")


def test_an_anonymous_complaint_keeps_no_identity(site_a, world):
    anonymous = Complainant(relation="visitor", name="王", phone="13900000000", anonymous=True)
    case = register_case(
        channel="suggestion_box", account="厕所没有纸", complainant=anonymous, now=FRIDAY_MORNING
    )
    case.refresh_from_db()
    assert (case.complainant_name, case.complainant_phone) == ("", "")


def test_settled_on_the_spot_is_counted_but_not_opened(site_a, world):
    case = record_resolved_at_contact(
        channel="walk_in",
        account="不知道在哪里缴费",
        complainant=DAUGHTER,
        received_by=world.people["reception_a"],
        resolution="已带至收费处",
        now=FRIDAY_MORNING,
    )
    assert case.status == CaseStatus.RESOLVED_AT_CONTACT
    assert not case.milestones.exists()
    assert case.reference == "20261120-SVC-001"


def test_site_b_sees_none_of_site_as_cases(site_a, world):
    register_case(
        channel="phone",
        account="x",
        complainant=DAUGHTER,
        received_by=world.people["reception_a"],
        now=FRIDAY_MORNING,
    )
    with tenant_context(world.site_b):
        assert not Case.objects.exists()
