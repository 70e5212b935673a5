"""The seeds' numbers at work: cases on sites configured from the real templates."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from casework.models import MilestoneState, Notification, Tier
from casework.services import CaseworkError, Complainant, complete_milestone, register_case
from casework.site_templates import apply_template
from casework.sweep import sweep_deadlines
from tenants.models import Role, User
from tenants.services import grant_role

SHANGHAI = ZoneInfo("Asia/Shanghai")
FAMILY = Complainant(relation="family", name="周敏", phone="13900001111")


def staff(site, key: str, role: str) -> User:
    user = User.objects.create_user(f"{key}.{site.schema_name}@test.example", "x")
    grant_role(user=user, role=role, site=site)
    return user


@pytest.fixture
def configured(world, request):
    """Site A, inside its schema, configured from the template named by the test."""
    with tenant_context(world.site_a):
        apply_template(code=request.param)
        yield world.site_a


@pytest.mark.parametrize("configured", ["hospital_property"], indirect=True)
def test_an_important_complaint_goes_to_the_supervising_manager_at_once(configured, world):
    receptionist = world.people["reception_a"]
    project_manager = staff(world.site_a, "pm", Role.PROJECT_MANAGER)
    case = register_case(
        channel="phone",
        account="陪检人员态度恶劣",
        complainant=FAMILY,
        received_by=receptionist,
        tier=Tier.objects.get(code="important"),
    )
    assert case.milestones.get(code="report_up").state == MilestoneState.MET
    assert Notification.objects.filter(user=project_manager, case=case).exists()


@pytest.mark.parametrize("configured", ["care_home"], indirect=True)
def test_a_care_homes_preliminary_solution_is_due_in_5_working_days_across_national_day(
    configured, world
):
    eve_of_national_day = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    case = register_case(
        channel="walk_in",
        account="护工夜间不按时翻身",
        complainant=FAMILY,
        received_by=world.people["reception_a"],
        now=eve_of_national_day,
    )
    # Oct 1–7 are holidays; Oct 8, 9, the make-up Saturday the 10th, 12 and 13 are the five.
    assert case.milestones.get(code="solution").due_at == datetime(
        2026, 10, 13, 17, 30, tzinfo=SHANGHAI
    )
    assert case.milestones.get(code="reply").due_at == eve_of_national_day + timedelta(hours=72)


@pytest.mark.parametrize("configured", ["patient_relations"], indirect=True)
def test_a_serious_medical_incident_is_reported_to_the_health_bureau_within_6_hours(
    configured, world
):
    manager = staff(world.site_a, "scm", Role.SERVICE_CENTRE_MANAGER)
    registered = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    case = register_case(
        channel="referral",
        account="术后患者坠床致骨折",
        complainant=FAMILY,
        received_by=world.people["reception_a"],
        tier=Tier.objects.get(code="serious_incident"),
        now=registered,
    )
    report = case.milestones.get(code="report_bureau")
    assert report.due_at == registered + timedelta(hours=6)

    sweep_deadlines(now=registered + timedelta(hours=6, minutes=1))
    assert Notification.objects.filter(user=manager, case=case).exists()

    with pytest.raises(CaseworkError):
        complete_milestone(milestone=case.milestones.get(code="reply"), by=manager, note="x")
    complete_milestone(
        milestone=report,
        by=manager,
        note="已电话报告区卫健局医政科",
        now=registered + timedelta(hours=6, minutes=30),
    )
    report.refresh_from_db()
    assert report.met_at is not None and report.state == MilestoneState.MISSED  # late, recorded
