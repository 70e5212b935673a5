"""Site templates: the seeds' numbers land in a site's schema, once, and only there."""

import copy
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from casework.models import (
    Category,
    CategoryKind,
    Department,
    MilestoneRule,
    SiteConfiguration,
    Tier,
)
from casework.site_templates import (
    DEFAULT_TEMPLATE_FOR_KIND,
    TEMPLATE_DIR,
    TEMPLATES,
    apply_template,
    load_template,
)
from tenants.models import Role, SiteKind

MODELS = (SiteConfiguration, Department, Category, Tier, MilestoneRule)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def rule(tier: str, code: str) -> MilestoneRule:
    return MilestoneRule.objects.get(tier__code=tier, code=code)


def duration(tier: str, code: str) -> tuple[int, str]:
    found = rule(tier, code)
    return found.amount, found.unit


def raw(code: str) -> dict:
    return json.loads((TEMPLATE_DIR / f"{code}.json").read_text(encoding="utf-8"))


@pytest.fixture
def hospital(world):
    """Site A (a hospital) with the hospital property template applied."""
    with tenant_context(world.site_a):
        apply_template(code="hospital_property")
        yield world.site_a


# -- the files themselves ---------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_each_template_loads_and_carries_its_label(code):
    template = load_template(code)
    assert (template["name"], template["name_en"]) == TEMPLATES[code]
    assert template["configuration"]["reference_pattern"] == "{date}-{category}-{seq:03d}"
    assert template["configuration"]["default_category_code"] == "SVC"


def test_every_kind_of_site_has_a_default_template():
    assert set(DEFAULT_TEMPLATE_FOR_KIND) == set(SiteKind.values)
    assert set(DEFAULT_TEMPLATE_FOR_KIND.values()) <= set(TEMPLATES)


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_every_name_has_chinese_and_english(code):
    def walk(node):
        if isinstance(node, dict):
            if "name" in node:
                assert node["name"].strip() and node.get("name_en", "").strip(), node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw(code))


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_every_tier_and_milestone_cites_its_source(code):
    for tier in raw(code)["tiers"]:
        assert tier.get("source"), tier["code"]
        for milestone in tier["milestones"]:
            assert milestone.get("source"), (tier["code"], milestone["code"])


# -- the hospital property template (seeds 000 and 001) ------------------------------------


def test_the_hospital_template_keeps_the_seeds_deadlines(hospital):
    # 001 第四篇: dispatched to the department within 10 minutes, whatever the tier.
    for tier in Tier.objects.all():
        assert duration(tier.code, "dispatch") == (10, "minutes")
    # 000 §1.5: real contact within half an hour; a reply within 24 hours.
    assert duration("minor", "contact") == (30, "minutes")
    assert duration("minor", "reply") == (24, "hours")
    # 001 第四篇 4.(4): minor resolved in 2 days, important in 3; important to the
    # supervising manager within 1 hour, major to the GM the same (working) day.
    assert duration("minor", "resolve") == (2, "calendar_days")
    assert duration("important", "report_up") == (1, "hours")
    assert duration("important", "resolve") == (3, "calendar_days")
    assert duration("major", "report_gm") == (0, "working_days")
    # 000 time-limit table and 001: major verified in 2 h, replied in 48 h, resolved in 10 days.
    assert duration("major", "verify") == (2, "hours")
    assert duration("major", "reply") == (48, "hours")
    assert duration("major", "resolve") == (10, "calendar_days")
    # 000 time-limit table: compensation accepted within 12 h, agreement within 3 days.
    assert duration("compensation", "accept") == (12, "hours")
    assert duration("compensation", "agreement") == (3, "calendar_days")


def test_the_hospital_tiers_have_their_handlers_and_approvers(hospital):
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    assert [t.code for t in Tier.objects.order_by("rank")] == [
        "minor",
        "important",
        "major",
        "compensation",
    ]
    assert tiers["minor"].handler_role == Role.RECEPTIONIST
    assert tiers["minor"].extension_approver_role == Role.PROJECT_MANAGER
    assert tiers["important"].handler_role == Role.DEPARTMENT_SUPERVISOR
    assert tiers["compensation"].handler_role == Role.PROJECT_MANAGER
    # A major case is closed only with the service-centre manager's approval.
    assert tiers["major"].close_approver_role == Role.SERVICE_CENTRE_MANAGER
    assert tiers["minor"].close_approver_role == ""
    assert "awaiting_complainant" in tiers["major"].pause_reasons


def test_a_valid_complaint_unresolved_for_thirty_days_becomes_major(hospital):
    major = Tier.objects.get(code="major")
    for code in ("minor", "important"):
        tier = Tier.objects.get(code=code)
        assert (tier.upgrade_after_days, tier.upgrade_to) == (30, major)
    assert major.upgrade_to is None


def test_a_missed_clock_climbs_the_chain_one_role_at_a_time(hospital):
    assert rule("major", "resolve").escalation_chain == [
        Role.SERVICE_CENTRE_MANAGER,
        Role.REGIONAL_MANAGER,
    ]
    assert rule("minor", "resolve").escalation_chain == [
        Role.DEPARTMENT_SUPERVISOR,
        Role.PROJECT_MANAGER,
    ]
    assert [r.code for r in MilestoneRule.objects.filter(tier__code="major")] == [
        "dispatch",
        "report_gm",
        "contact",
        "verify",
        "reply",
        "resolve",
    ]


def test_the_hospital_categories_and_departments(hospital):
    natures = Category.objects.filter(kind=CategoryKind.NATURE)
    assert list(natures.filter(is_valid_complaint=True).values_list("code", flat=True)) == ["VALID"]
    communication = natures.get(code="COMM")
    assert {c.code for c in communication.children.all()} == {"HELP", "INQ", "VENT"}
    contents = Category.objects.filter(kind=CategoryKind.CONTENT)
    assert {"SVC", "EQP", "ATT", "QLT", "INC"} <= set(contents.values_list("code", flat=True))
    assert contents.get(code="POWER").parent.code == "INC"

    top = Department.objects.get(code="service-centre")
    assert top.parent is None
    assert Department.objects.filter(parent=None).count() == 1
    for code in (
        "visiting",
        "lift",
        "escort",
        "transport",
        "cleaning",
        "security",
        "engineering",
        "catering",
    ):
        assert Department.objects.get(code=code).parent == top
    assert Department.objects.get(code="hvac").parent.code == "engineering"
    assert Department.objects.get(code="escort").name_en == "Escort to examinations"

    configuration = SiteConfiguration.objects.get(id=1)
    assert configuration.template == "hospital_property"
    assert (configuration.workday_start, configuration.workday_end) == (time(8), time(17, 30))
    assert configuration.reference_pattern == "{date}-{category}-{seq:03d}"
    assert configuration.default_category_code == "SVC"
    assert configuration.reference_pattern.format(date="20261122", category="SVC", seq=7) == (
        "20261122-SVC-007"
    )


def test_a_case_on_the_hospital_template_gets_the_seeds_due_times(hospital, world):
    from casework.services import Complainant, register_case

    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    case = register_case(
        channel="phone",
        account="电梯困人",
        received_by=world.people["reception_a"],
        complainant=Complainant(relation="family", name="李娜", phone="13812345678"),
        tier=Tier.objects.get(code="major"),
        now=friday,
        content=Category.objects.get(kind=CategoryKind.CONTENT, code="EQP"),
    )
    due = {m.code: m.due_at for m in case.milestones.all()}
    assert case.reference == "20261120-EQP-001"
    assert due["dispatch"] == friday + timedelta(minutes=10)
    assert due["report_gm"] == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # 17:30 that day
    assert due["reply"] == friday + timedelta(hours=48)
    assert due["resolve"] == friday + timedelta(days=10)


# -- the care-home and patient-relations templates (seeds 002 and 004) ---------------------


def test_the_care_home_template_keeps_seed_002s_deadlines(world):
    with tenant_context(world.site_b):
        apply_template(code="care_home")
        for tier in ("general", "major", "crisis"):
            assert duration(tier, "reply") == (72, "hours")
            assert duration(tier, "solution") == (5, "working_days")
            assert duration(tier, "dispatch") == (10, "minutes")
            assert duration(tier, "contact") == (30, "minutes")
        assert duration("crisis", "report_ceo") == (24, "hours")
        assert not Tier.objects.filter(upgrade_to__isnull=False).exists()
        assert Tier.objects.get(code="crisis").handler_role == Role.SERVICE_CENTRE_MANAGER
        assert {"nursing", "medical", "catering", "cleaning", "activities"} <= set(
            Department.objects.filter(parent__code="operations").values_list("code", flat=True)
        )
        configuration = SiteConfiguration.objects.get(id=1)
        assert configuration.template == "care_home"
        assert configuration.reference_pattern == "{date}-{category}-{seq:03d}"


def test_the_patient_relations_template_answers_simple_complaints_in_5_working_days(world):
    with tenant_context(world.site_a):
        apply_template(code="patient_relations")
        assert duration("simple", "reply") == (5, "working_days")
        assert duration("simple", "handle") == (3, "working_days")
        assert duration("complex", "resolve") == (7, "calendar_days")
        assert duration("serious_incident", "report_bureau") == (6, "hours")
        assert Category.objects.filter(kind=CategoryKind.CONTENT, code="ETH").exists()


# -- applying: idempotent, all or nothing, one schema only ---------------------------------


def test_applying_twice_creates_no_duplicates(world):
    template = load_template("hospital_property")
    with tenant_context(world.site_a):
        before = row_counts()
        apply_template(code="hospital_property")
        once = row_counts()
        apply_template(code="hospital_property")
        assert row_counts() == once
    # Whatever the site already had, the template added at most its own rows.
    rules = sum(len(tier["milestones"]) for tier in template["tiers"])
    assert once["MilestoneRule"] - before["MilestoneRule"] <= rules
    assert once["SiteConfiguration"] == 1


def test_applying_again_restores_the_templates_values(hospital):
    MilestoneRule.objects.filter(tier__code="major", code="reply").update(amount=96)
    Department.objects.filter(code="catering").update(is_active=False, name_en="Food")
    Tier.objects.filter(code="minor").update(upgrade_to=None, upgrade_after_days=None)
    SiteConfiguration.objects.filter(id=1).update(reference_pattern="{seq}", template="")

    apply_template(code="hospital_property")

    assert duration("major", "reply") == (48, "hours")
    catering = Department.objects.get(code="catering")
    assert (catering.is_active, catering.name_en) == (True, "Catering")
    minor = Tier.objects.get(code="minor")
    assert (minor.upgrade_after_days, minor.upgrade_to.code) == (30, "major")
    configuration = SiteConfiguration.objects.get(id=1)
    assert (configuration.template, configuration.reference_pattern) == (
        "hospital_property",
        "{date}-{category}-{seq:03d}",
    )


def test_site_as_configuration_is_invisible_from_site_b(hospital, world):
    assert Tier.objects.filter(code="compensation").exists()
    with tenant_context(world.site_b):
        assert not Tier.objects.filter(code="compensation").exists()
        assert not Department.objects.filter(code="service-centre").exists()
        assert not SiteConfiguration.objects.filter(template="hospital_property").exists()


def test_it_refuses_to_write_into_the_public_schema(db):
    assert connection.schema_name == "public"
    with pytest.raises(RuntimeError, match="tenant_context"):
        apply_template(code="hospital_property")


def test_it_refuses_an_unknown_template():
    with pytest.raises(ValueError, match="Unknown site template 'hotel'"):
        load_template("hotel")
    with pytest.raises(ValueError, match="not a template code"):
        load_template("../hospital_property")


def _tier(data: dict, code: str) -> dict:
    return next(tier for tier in data["tiers"] if tier["code"] == code)


def _unknown_role(data):
    _tier(data, "major")["handler_role"] = "general_manager"


def _role_above_the_site(data):
    _tier(data, "major")["close_approver_role"] = "regional_manager"


def _unknown_unit(data):
    _tier(data, "major")["milestones"][0]["unit"] = "days"


def _unknown_chain_role(data):
    _tier(data, "minor")["milestones"][0]["escalation_chain"].append("boss")


def _duplicate_tier(data):
    data["tiers"].append(copy.deepcopy(_tier(data, "minor")) | {"rank": 9})


def _duplicate_milestone(data):
    milestones = _tier(data, "minor")["milestones"]
    milestones.append(copy.deepcopy(milestones[0]))


def _duplicate_department(data):
    data["departments"][0]["children"].append(
        {"code": "lift", "name": "电梯", "name_en": "Lifts again"}
    )


def _duplicate_category(data):
    data["categories"]["content"].append({"code": "EQP", "name": "设备", "name_en": "Kit"})


def _missing_upgrade_target(data):
    _tier(data, "minor")["upgrade_to"] = "catastrophic"


def _missing_english_name(data):
    data["departments"][0]["children"][0]["name_en"] = ""


def _lower_case_category(data):
    data["categories"]["content"][0]["code"] = "svc"


def _bad_reference_pattern(data):
    data["configuration"]["reference_pattern"] = "{date}-{category}"


def _misspelt_key(data):
    _tier(data, "major")["milestones"][0]["escalaton_chain"] = []


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_unknown_role, r"tiers\[2\]\.handler_role: unknown role 'general_manager'"),
        (_role_above_the_site, r"close_approver_role: role 'regional_manager' is not allowed"),
        (_unknown_unit, r"tiers\[2\]\.milestones\[0\]\.unit: unknown unit 'days'"),
        (_unknown_chain_role, r"escalation_chain\[3\]: unknown role 'boss'"),
        (_duplicate_tier, r"tiers\[4\]\.code: duplicate tier code 'minor'"),
        (_duplicate_milestone, r"duplicate milestone code 'dispatch'"),
        (_duplicate_department, r"duplicate department code 'lift'"),
        (_duplicate_category, r"duplicate content category code 'EQP'"),
        (_missing_upgrade_target, r"upgrade_to points to a missing tier 'catastrophic'"),
        (_missing_english_name, r"children\[0\]\.name_en: must be a non-empty string"),
        (_lower_case_category, r"'svc' is not a valid category code"),
        (_bad_reference_pattern, r"reference_pattern: must contain \{seq\}"),
        (_misspelt_key, r"unknown key 'escalaton_chain'"),
    ],
)
def test_a_broken_template_is_refused_and_creates_nothing(world, tmp_path, breakage, message):
    data = raw("hospital_property") | {"code": "broken"}
    breakage(data)
    (tmp_path / "broken.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    with pytest.raises(ValueError, match=message):
        load_template("broken", directory=tmp_path)
    with tenant_context(world.site_a):
        before = row_counts()
        with pytest.raises(ValueError, match=r"Site template broken\.json is invalid"):
            apply_template(code="broken", directory=tmp_path)
        assert row_counts() == before


def test_every_problem_is_reported_at_once(tmp_path):
    data = raw("hospital_property") | {"code": "broken"}
    _unknown_unit(data)
    _missing_upgrade_target(data)
    (tmp_path / "broken.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError, match=r"\(2 problems\)") as refused:
        load_template("broken", directory=tmp_path)
    assert "unknown unit 'days'" in str(refused.value)
    assert "missing tier 'catastrophic'" in str(refused.value)


def test_a_file_whose_code_differs_from_its_name_is_refused(tmp_path):
    (tmp_path / "copy.json").write_text(
        (TEMPLATE_DIR / "care_home.json").read_text(encoding="utf-8"), "utf-8"
    )
    with pytest.raises(ValueError, match=r"does not match the file name copy\.json"):
        load_template("copy", directory=tmp_path)


def test_unreadable_json_is_refused(tmp_path):
    (tmp_path / "broken.json").write_text("{not json", "utf-8")
    with pytest.raises(ValueError, match="cannot be read"):
        load_template("broken", directory=tmp_path)
