"""Rules the services enforce whoever calls them (the case page is only one caller)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from casework.models import CaseStatus, Compensation, Extension
from casework.services import (
    CaseworkError,
    approve_compensation,
    close_case,
    decide_extension,
    dispatch_case,
    log_contact,
    record_compensation,
    reply_to_complainant,
    request_extension,
)
from tests.casework.conftest import FRIDAY_MORNING

HOUR = timedelta(hours=1)


pytestmark = pytest.mark.usefixtures("in_english")


def _closed_with_pending_decisions(hospital):
    """A case closed while an extension and a large compensation still await a decision."""
    staff = hospital.staff
    case = hospital.register()
    reply = case.milestones.get(code="reply")
    extension = request_extension(
        milestone=reply,
        by=staff["reception"],
        new_due_at=reply.due_at + timedelta(days=2),
        reason="需厂家检测电梯",
        now=FRIDAY_MORNING,
    )
    compensation = record_compensation(
        case=case,
        by=staff["supervisor"],
        amount=Decimal("3000"),
        description="医药费",
        now=FRIDAY_MORNING,
    )
    at = FRIDAY_MORNING + HOUR
    dispatch_case(
        case=case, by=staff["reception"], department=hospital.departments["clean"], now=at
    )
    log_contact(case=case, by=staff["supervisor"], method="phone", summary="已致电道歉", now=at)
    reply_to_complainant(
        case=case, by=staff["supervisor"], method="phone", decision="已培训保洁员", now=at
    )
    close_case(case=case, by=staff["reception"], now=FRIDAY_MORNING + 2 * HOUR)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    return case, extension, compensation


def test_an_extension_of_a_closed_case_cannot_be_decided(hospital):
    case, extension, _ = _closed_with_pending_decisions(hospital)
    due_at = case.milestones.get(code="reply").due_at
    events = case.timeline.count()
    with pytest.raises(CaseworkError, match="is closed"):
        decide_extension(
            extension=extension,
            by=hospital.staff["project"],
            approve=True,
            now=FRIDAY_MORNING + 3 * HOUR,
        )
    extension = Extension.objects.get(pk=extension.pk)
    assert extension.approved is None and extension.decided_by is None
    assert case.milestones.get(code="reply").due_at == due_at
    assert case.timeline.count() == events


def test_compensation_of_a_closed_case_cannot_be_approved(hospital):
    case, _, compensation = _closed_with_pending_decisions(hospital)
    events = case.timeline.count()
    with pytest.raises(CaseworkError, match="is closed"):
        approve_compensation(
            compensation=compensation, by=hospital.staff["project"], now=FRIDAY_MORNING
        )
    compensation = Compensation.objects.get(pk=compensation.pk)
    assert compensation.approved_at is None and compensation.approved_by is None
    assert case.timeline.count() == events


# --- Oversight roles read, they do not handle ----------------------------------------------


@pytest.mark.parametrize("who", ["regional_east", "firm_admin"])
def test_an_oversight_role_cannot_handle_a_case_through_the_services(hospital, world, who):
    case = hospital.register()
    events, lead = case.timeline.count(), case.lead_department_id
    with pytest.raises(CaseworkError, match="do not handle"):
        dispatch_case(
            case=case,
            by=world.people[who],
            department=hospital.departments["clean"],
            now=FRIDAY_MORNING,
        )
    case.refresh_from_db()
    assert case.lead_department_id == lead and case.timeline.count() == events


def test_an_oversight_role_lends_no_approval_limit_to_a_site_role(hospital, world):
    """A regional manager who also works the site's reception approves only what the
    receptionist may: the region's compensation limit does not count here."""
    from casework.models import SiteConfiguration
    from tenants.models import Role
    from tenants.services import grant_role

    manager = world.people["regional_east"]
    grant_role(user=manager, role=Role.RECEPTIONIST, site=hospital.site)
    SiteConfiguration.objects.filter(id=1).update(
        compensation_limits={Role.RECEPTIONIST: 100, Role.REGIONAL_MANAGER: 10000}
    )
    case = hospital.register()
    compensation = record_compensation(
        case=case,
        by=hospital.staff["supervisor"],
        amount=Decimal("3000"),
        description="医药费",
        now=FRIDAY_MORNING,
    )
    with pytest.raises(CaseworkError, match="above what you may approve"):
        approve_compensation(compensation=compensation, by=manager, now=FRIDAY_MORNING)
    assert Compensation.objects.get(pk=compensation.pk).approved_at is None


# --- A clock cases have used is retired, and can be restored -------------------------------


def test_a_retired_clock_starts_on_no_new_case_and_is_promised_no_more(hospital):
    from casework.models import ConfigurationChange, MilestoneState
    from casework.selectors import published_time_limits
    from casework.services import restore_milestone_rule, retire_milestone_rule

    admin = hospital.staff["admin"]
    rule = hospital.tiers["minor"].milestone_rules.get(code="resolve")
    old = hospital.register()
    retire_milestone_rule(rule=rule, by=admin, now=FRIDAY_MORNING)
    rule.refresh_from_db()
    assert not rule.active and old.milestones.get(code="resolve").state == MilestoneState.OPEN
    new = hospital.register()
    assert not new.milestones.filter(code="resolve").exists()
    promised = {
        row["tier"]: [m["name"] for m in row["milestones"]] for row in published_time_limits()
    }
    assert "resolve" not in promised["轻微"] and "resolve" in promised["重大"]
    with pytest.raises(CaseworkError):
        retire_milestone_rule(rule=rule, by=admin)

    restore_milestone_rule(rule=rule, by=admin, apply_to_open_cases=True, now=FRIDAY_MORNING)
    assert ConfigurationChange.objects.filter(action="restored", object_id=rule.pk).exists()
    assert new.milestones.get(code="resolve").state == MilestoneState.OPEN
    assert hospital.register().milestones.filter(code="resolve").exists()


def test_retiring_a_used_clock_for_the_open_cases_cancels_their_clock(hospital):
    from casework.models import MilestoneState
    from casework.services import retire_milestone_rule

    rule = hospital.tiers["minor"].milestone_rules.get(code="resolve")
    case = hospital.register()
    retire_milestone_rule(
        rule=rule, by=hospital.staff["admin"], apply_to_open_cases=True, now=FRIDAY_MORNING
    )
    assert case.milestones.get(code="resolve").state == MilestoneState.CANCELLED
    assert case.timeline.filter(action="clocks_rebased").exists()


def test_only_the_site_admin_retires_or_restores_a_clock(hospital):
    from casework.services import restore_milestone_rule, retire_milestone_rule

    rule = hospital.tiers["minor"].milestone_rules.get(code="resolve")
    hospital.register()
    with pytest.raises(CaseworkError):
        retire_milestone_rule(rule=rule, by=hospital.staff["manager"])
    retire_milestone_rule(rule=rule, by=hospital.staff["admin"])
    with pytest.raises(CaseworkError):
        restore_milestone_rule(rule=rule, by=hospital.staff["manager"])
    rule.refresh_from_db()
    assert not rule.active
