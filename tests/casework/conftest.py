"""A hospital configured with the seeds' numbers in site A, and the staff who work it.

Personas at site A: `reception` (receptionist, the first responder), `supervisor` (cleaning
department's supervisor), `cleaner` (a member of cleaning), `manager` (service-centre manager),
`project` (project manager), `admin` (site admin).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django_tenants.utils import tenant_context

from casework.models import Category, Department, MilestoneRule, SiteConfiguration, Tier
from casework.services import Complainant, register_case
from tenants.models import Role, User
from tenants.services import grant_role

# Friday 2026-11-20, 10:00 in Shanghai.
FRIDAY_MORNING = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DAUGHTER = Complainant(
    relation="family", name="李娜", phone="13812345678", email="li.na@example.com"
)


@dataclass
class Hospital:
    site: object
    staff: dict[str, User]
    tiers: dict[str, Tier]
    departments: dict[str, Department]
    categories: dict[str, Category]

    def register(self, **overrides):
        arguments = {
            "channel": "phone",
            "account": "保洁员在走廊拖地后没有放警示牌，我父亲滑倒了",
            "complainant": DAUGHTER,
            "received_by": self.staff["reception"],
            "now": FRIDAY_MORNING,
            **overrides,
        }
        return register_case(**arguments)


def _rule(tier, code, amount, unit, met_by, chain, position):
    return MilestoneRule.objects.create(
        tier=tier,
        code=code,
        name=code,
        amount=amount,
        unit=unit,
        met_by=met_by,
        escalation_chain=chain,
        position=position,
    )


@pytest.fixture
def hospital(world):
    with tenant_context(world.site_a):
        staff = {"reception": world.people["reception_a"], "admin": world.people["admin_a"]}
        for key, role in (
            ("supervisor", Role.DEPARTMENT_SUPERVISOR),
            ("cleaner", Role.DEPARTMENT_SUPERVISOR),
            ("manager", Role.SERVICE_CENTRE_MANAGER),
            ("project", Role.PROJECT_MANAGER),
        ):
            staff[key] = User.objects.create_user(f"{key}.a@test.example", "x", first_name=key)
            grant_role(user=staff[key], role=role, site=world.site_a)
        SiteConfiguration.objects.update_or_create(id=1, defaults={"handover_accept_minutes": 30})
        departments = {
            "svc": Department.objects.create(
                code="svc", name="服务中心", supervisor=staff["manager"]
            ),
            "clean": Department.objects.create(
                code="clean", name="保洁", supervisor=staff["supervisor"]
            ),
            "lift": Department.objects.create(code="lift", name="电梯运行"),
        }
        departments["clean"].members.add(staff["cleaner"])
        major = Tier.objects.create(
            code="major",
            name="重大",
            rank=3,
            handler_role=Role.SERVICE_CENTRE_MANAGER,
            extension_approver_role=Role.SERVICE_CENTRE_MANAGER,
            close_approver_role=Role.SERVICE_CENTRE_MANAGER,
        )
        minor = Tier.objects.create(
            code="minor",
            name="轻微",
            rank=1,
            handler_role=Role.RECEPTIONIST,
            extension_approver_role=Role.PROJECT_MANAGER,
            upgrade_after_days=30,
            upgrade_to=major,
            pause_reasons=["awaiting_complainant"],
        )
        # Seeds 000/001: dispatch within 10 min, real contact within 30 min, reply within 24 h,
        # resolve within 2 days (minor); major: told to the GM at once, contact within 2 h,
        # reply within 48 h, resolve within 10 days.
        _rule(
            minor,
            "dispatch",
            10,
            "minutes",
            "dispatch",
            [Role.DEPARTMENT_SUPERVISOR, Role.SERVICE_CENTRE_MANAGER],
            1,
        )
        _rule(minor, "contact", 30, "minutes", "contact", [Role.DEPARTMENT_SUPERVISOR], 2)
        _rule(minor, "reply", 24, "hours", "reply", [Role.SERVICE_CENTRE_MANAGER], 3)
        _rule(minor, "resolve", 2, "calendar_days", "close", [Role.PROJECT_MANAGER], 4)
        _rule(major, "report", 0, "minutes", "report", [Role.SERVICE_CENTRE_MANAGER], 1)
        _rule(major, "contact", 2, "hours", "contact", [Role.SERVICE_CENTRE_MANAGER], 2)
        _rule(major, "reply", 48, "hours", "reply", [Role.SERVICE_CENTRE_MANAGER], 3)
        _rule(major, "resolve", 10, "calendar_days", "close", [Role.SERVICE_CENTRE_MANAGER], 4)
        categories = {
            "valid": Category.objects.create(
                kind="nature", code="VAL", name="有效投诉", is_valid_complaint=True
            ),
            "inquiry": Category.objects.create(kind="nature", code="INQ", name="咨询型"),
            "equipment": Category.objects.create(
                kind="content", code="EQP", name="设施设备", requires_signoff=True
            ),
            "attitude": Category.objects.create(kind="content", code="ATT", name="服务态度"),
        }
        yield Hospital(
            site=world.site_a,
            staff=staff,
            tiers={"minor": minor, "major": major},
            departments=departments,
            categories=categories,
        )


@pytest.fixture
def in_english():
    """Labels and messages as an English reader gets them (used by the screen tests)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def client_for(user, language: str = "en"):
    """A test client logged in as `user`, reading the office in `language`."""
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def resolve_rule(hospital) -> MilestoneRule:
    """The minor tier's "resolve" clock, the one the configuration tests change."""
    return hospital.tiers["minor"].milestone_rules.get(code="resolve")
