"""The site admin's configuration screens (/office/configuration/…): what the admin sees and
changes, what a refused change looks like, and who may open them at all — every URL for
every role, including another site's admin on this site's domain."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from casework.models import (
    CalendarDay,
    ConfigurationChange,
    Department,
    Milestone,
    SiteConfiguration,
    TimelineEvent,
)
from casework.services import add_calendar_day
from tenants.models import Membership, Role, User
from tenants.services import grant_role
from tests.casework.conftest import FRIDAY_MORNING, client_for, resolve_rule
from tests.conftest import HOST_A, HOST_B

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

BASE = "/office/configuration/"


def rule_post(hospital, **changes) -> dict:
    rule = resolve_rule(hospital)
    data = {
        "name": rule.name,
        "name_en": "Resolve",
        "amount": rule.amount,
        "unit": rule.unit,
        "met_by": rule.met_by,
        "escalation_chain": list(rule.escalation_chain),
        "position": rule.position,
        "at": "2026-11-20T10:00",
    }
    data.update(changes)
    return data


def urls(hospital) -> dict[str, str]:
    """Every configuration URL with the objects of site A it is about."""
    with tenant_context(hospital.site):
        rule = resolve_rule(hospital)
        day = CalendarDay.objects.create(day="2026-12-24", kind="closed", note="A's own closure")
        membership = Membership.objects.get(
            user=hospital.staff["reception"], role=Role.RECEPTIONIST
        )
        category = hospital.categories["attitude"]
    tier = hospital.tiers["minor"]
    department = hospital.departments["clean"]
    return {
        "home": BASE,
        "tier": f"{BASE}tiers/{tier.pk}/",
        "tier-new": f"{BASE}tiers/new/",
        "rule": f"{BASE}rules/{rule.pk}/",
        "rule-new": f"{BASE}tiers/{tier.pk}/rules/new/",
        "rule-preview": f"{BASE}rules/{rule.pk}/preview/?amount=1&unit=working_days",
        "rule-retire": f"{BASE}rules/{rule.pk}/retire/",
        "departments": f"{BASE}departments/",
        "department": f"{BASE}departments/{department.pk}/",
        "categories": f"{BASE}categories/",
        "category": f"{BASE}categories/{category.pk}/",
        "calendar": f"{BASE}calendar/",
        "calendar-remove": f"{BASE}calendar/{day.pk}/remove/",
        "settings": f"{BASE}settings/",
        "reference-preview": (
            f"{BASE}settings/reference-preview/?reference_pattern=X-{{date}}-{{seq}}"
        ),
        "staff": f"{BASE}staff/",
        "staff-revoke": f"{BASE}staff/{membership.pk}/revoke/",
        "history": f"{BASE}history/",
    }


# -- What the site admin does -------------------------------------------------------------------


def test_the_admin_previews_one_working_day_then_saves_it_for_new_cases(hospital):
    admin = client_for(hospital.staff["admin"])
    rule = resolve_rule(hospital)
    url = f"{BASE}rules/{rule.pk}/"
    page = admin.get(url + "?at=2026-11-20T10:00", HTTP_HOST=HOST_A).content.decode()
    assert "2026-11-22 10:00" in page  # 2 calendar days from Friday 10:00

    preview = admin.post(
        url, rule_post(hospital, amount=1, unit="working_days", preview="1"), HTTP_HOST=HOST_A
    ).content.decode()
    assert "2026-11-23 17:30" in preview and "as typed, not saved" in preview
    rule.refresh_from_db()
    assert (rule.amount, rule.unit) == (2, "calendar_days")

    fragment = admin.get(
        f"{url}preview/?amount=1&unit=working_days&at=2026-11-20T10:00", HTTP_HOST=HOST_A
    ).content.decode()
    assert "2026-11-23 17:30" in fragment and "<html" not in fragment

    before = hospital.register()
    response = admin.post(url, rule_post(hospital, amount=1, unit="working_days"), HTTP_HOST=HOST_A)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.amount, rule.unit) == (1, "working_days")
    after = hospital.register(now=FRIDAY_MORNING + timedelta(minutes=30))
    due = {c.pk: Milestone.objects.get(case=c, code="resolve").due_at for c in (before, after)}
    assert due[before.pk] == FRIDAY_MORNING + timedelta(days=2)
    assert due[after.pk].isoformat() == "2026-11-23T09:30:00+00:00"  # Monday 17:30 Shanghai
    change = ConfigurationChange.objects.get(model="milestone_rule")
    assert change.before == {"amount": 2, "unit": "calendar_days", "name_en": ""}
    assert change.actor == hospital.staff["admin"]


def test_the_preview_skips_a_closure_and_shows_site_time(hospital):
    add_calendar_day(by=hospital.staff["admin"], day="2026-11-23", kind="closed")
    admin = client_for(hospital.staff["admin"])
    rule = resolve_rule(hospital)
    fragment = admin.get(
        f"{BASE}rules/{rule.pk}/preview/?amount=1&unit=working_days&at=2026-11-20T10:00",
        HTTP_HOST=HOST_A,
    ).content.decode()
    assert "2026-11-24 17:30" in fragment  # Monday closed: Tuesday's closing time


def test_apply_to_open_cases_moves_a_registered_case_and_its_timeline_says_so(hospital):
    case = hospital.register()
    admin = client_for(hospital.staff["admin"])
    page = admin.get(f"{BASE}rules/{resolve_rule(hospital).pk}/", HTTP_HOST=HOST_A)
    assert "1 open case would be re-based." in page.content.decode()
    response = admin.post(
        f"{BASE}rules/{resolve_rule(hospital).pk}/",
        rule_post(hospital, amount=1, unit="working_days", apply_to_open_cases="on"),
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 302
    milestone = Milestone.objects.get(case=case, code="resolve")
    assert milestone.due_at.isoformat() == "2026-11-23T09:30:00+00:00"
    event = TimelineEvent.objects.get(case=case, action="clocks_rebased")
    assert event.after == {"resolve": "2026-11-23T17:30:00+08:00"}


def test_the_public_channels_page_shows_the_new_time_limit(hospital, client):
    page = client.get("/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "within 2 days" in page and "within 1 working day" not in page
    admin = client_for(hospital.staff["admin"])
    admin.post(
        f"{BASE}rules/{resolve_rule(hospital).pk}/",
        rule_post(hospital, amount=1, unit="working_days"),
        HTTP_HOST=HOST_A,
    )
    page = client.get("/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "within 1 working day" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "-1"}, "A duration must be positive."),
        ({"escalation_chain": ["department_supervisor", "chief_of_police"]}, "Unknown role"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_keeps_what_was_typed_and_changes_nothing(
    hospital, changes, message
):
    admin = client_for(hospital.staff["admin"])
    response = admin.post(
        f"{BASE}rules/{resolve_rule(hospital).pk}/",
        rule_post(hospital, name_en="Typed but refused", **changes),
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and "Typed but refused" in html
    rule = resolve_rule(hospital)
    assert (rule.amount, rule.name_en, rule.escalation_chain) == (
        2,
        "",
        [Role.PROJECT_MANAGER],
    )
    assert not ConfigurationChange.objects.exists()


def test_a_cycle_in_the_department_tree_is_refused_on_the_page(hospital):
    admin = client_for(hospital.staff["admin"])
    svc, clean = hospital.departments["svc"], hospital.departments["clean"]
    admin.post(
        f"{BASE}departments/{clean.pk}/", {"action": "move", "parent": svc.pk}, HTTP_HOST=HOST_A
    )
    response = admin.post(
        f"{BASE}departments/{svc.pk}/", {"action": "move", "parent": clean.pk}, HTTP_HOST=HOST_A
    )
    assert response.status_code == 400
    assert "cannot be moved under itself or its own sub-department" in response.content.decode()
    svc.refresh_from_db()
    assert svc.parent is None
    tree = admin.get(f"{BASE}departments/", HTTP_HOST=HOST_A).content.decode()
    assert tree.index("服务中心") < tree.index("保洁")
    assert 'class="depth-1' in tree


def test_the_admin_retires_and_restores_a_department(hospital):
    admin = client_for(hospital.staff["admin"])
    lift = hospital.departments["lift"]
    admin.post(f"{BASE}departments/{lift.pk}/", {"action": "retire"}, HTTP_HOST=HOST_A)
    assert not Department.objects.get(pk=lift.pk).is_active
    assert "retired" in admin.get(f"{BASE}departments/", HTTP_HOST=HOST_A).content.decode()
    admin.post(f"{BASE}departments/{lift.pk}/", {"action": "restore"}, HTTP_HOST=HOST_A)
    assert Department.objects.get(pk=lift.pk).is_active


def test_a_reference_pattern_without_the_sequence_is_refused(hospital):
    admin = client_for(hospital.staff["admin"])
    SiteConfiguration.objects.update_or_create(id=1, defaults={"default_category_code": "ATT"})
    form = admin.get(f"{BASE}settings/", HTTP_HOST=HOST_A).content.decode()
    assert "Example reference" in form
    data = {
        "workday_start": "08:00",
        "workday_end": "17:30",
        "use_official_holidays": "on",
        "reference_pattern": "{date}-{category}",
        "default_category_code": "ATT",
        "handover_accept_minutes": "30",
    }
    response = admin.post(f"{BASE}settings/", data, HTTP_HOST=HOST_A)
    assert response.status_code == 400
    assert "must contain the date and the sequence" in response.content.decode()
    assert SiteConfiguration.objects.get().reference_pattern == "{date}-{category}-{seq:03d}"
    fragment = admin.get(
        f"{BASE}settings/reference-preview/?reference_pattern=H{{date}}-{{seq:04d}}",
        HTTP_HOST=HOST_A,
    ).content.decode()
    assert "H" in fragment and "-0001" in fragment
    data["reference_pattern"] = "H{date}-{seq:04d}"
    assert admin.post(f"{BASE}settings/", data, HTTP_HOST=HOST_A).status_code == 302
    assert hospital.register().reference == "H20261120-0001"


def test_the_history_lists_changes_and_filters_them(hospital):
    admin = client_for(hospital.staff["admin"])
    admin.post(
        f"{BASE}rules/{resolve_rule(hospital).pk}/",
        rule_post(hospital, amount=3),
        HTTP_HOST=HOST_A,
    )
    add_calendar_day(by=hospital.staff["admin"], day="2026-12-24", kind="closed", note="圣诞")
    everything = admin.get(f"{BASE}history/", HTTP_HOST=HOST_A).content.decode()
    assert "milestone rule" in everything and "calendar exception" in everything
    assert "<del>2</del> → <ins>3</ins>" in everything  # the duration, before and after
    rules_only = admin.get(f"{BASE}history/?model=milestone_rule", HTTP_HOST=HOST_A)
    html = rules_only.content.decode()
    assert "milestone rule" in html and "圣诞" not in html


def test_the_screens_speak_chinese(hospital):
    page = client_for(hospital.staff["admin"], "zh-hans").get(
        f"{BASE}departments/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "部门" in page.content.decode()


# -- Staff and roles ----------------------------------------------------------------------------


def test_the_admin_gives_a_role_on_this_site_only(hospital, world):
    admin = client_for(hospital.staff["admin"])
    User.objects.create_user("porter@test.example", "x")
    response = admin.post(
        f"{BASE}staff/", {"email": "porter@test.example", "role": "receptionist"}, HTTP_HOST=HOST_A
    )
    assert response.status_code == 302
    porter = User.objects.get(email="porter@test.example")
    assert set(Membership.objects.filter(user=porter).values_list("site", "role")) == {
        (world.site_a.pk, "receptionist")
    }
    for role in ("firm_admin", "regional_manager"):
        refused = admin.post(
            f"{BASE}staff/", {"email": "porter@test.example", "role": role}, HTTP_HOST=HOST_A
        )
        assert refused.status_code == 400
    assert Membership.objects.filter(user=porter).count() == 1


def test_the_admin_cannot_take_away_a_role_on_another_site(hospital, world):
    admin = client_for(hospital.staff["admin"])
    b_membership = Membership.objects.get(user=world.people["manager_b"])
    response = admin.post(f"{BASE}staff/{b_membership.pk}/revoke/", HTTP_HOST=HOST_A)
    assert response.status_code == 404
    assert Membership.objects.filter(pk=b_membership.pk).exists()
    firm = Membership.objects.get(user=world.people["firm_admin"])
    assert admin.post(f"{BASE}staff/{firm.pk}/revoke/", HTTP_HOST=HOST_A).status_code == 404
    assert Membership.objects.filter(pk=firm.pk).exists()


# -- Who may open the screens -------------------------------------------------------------------


def persona(hospital, world, key: str) -> User:
    """People with no business in site A's configuration, by what they are."""
    if key in hospital.staff:
        return hospital.staff[key]
    if key == "assistant":
        user = User.objects.create_user("assistant.a@test.example", "x")
        grant_role(user=user, role=Role.MANAGER_ASSISTANT, site=world.site_a)
        return user
    if key == "admin_b":
        user = User.objects.create_user("admin_b@test.example", "x")
        grant_role(user=user, role=Role.SITE_ADMIN, site=world.site_b)
        return user
    return world.people[key]


@pytest.mark.parametrize(
    "key",
    [
        "reception",  # receptionist of site A
        "supervisor",  # department supervisor of site A
        "assistant",  # manager assistant of site A
        "manager_b",  # service-centre manager of site B
        "admin_b",  # site admin of site B
        "other_firm_admin",  # another firm's admin
        "platform_admin",  # the platform's staff hold no role on a site
        "outsider",  # a login and no role at all
    ],
)
def test_everyone_else_gets_403_on_every_configuration_url_and_sees_nothing(hospital, world, key):
    client = client_for(persona(hospital, world, key))
    for name, url in urls(hospital).items():
        for response in (
            client.get(url, HTTP_HOST=HOST_A),
            client.post(url, {"amount": "1", "email": "x@test.example"}, HTTP_HOST=HOST_A),
        ):
            assert response.status_code == 403, (key, name, response.status_code)
            html = response.content.decode()
            assert "A's own closure" not in html and "服务态度" not in html, (key, name)
    with tenant_context(hospital.site):
        assert resolve_rule(hospital).amount == 2
        assert not ConfigurationChange.objects.exists()


def test_the_site_admin_opens_every_configuration_url(hospital):
    admin = client_for(hospital.staff["admin"])
    for name, url in urls(hospital).items():
        assert admin.get(url, HTTP_HOST=HOST_A).status_code in (200, 302), name


def test_managers_look_read_only_and_may_not_change_anything(hospital, world):
    addresses = urls(hospital)
    viewers = [hospital.staff["manager"], hospital.staff["project"], world.people["firm_admin"]]
    viewers.append(world.people["regional_east"])
    for person in viewers:
        client = client_for(person)
        for name, url in addresses.items():
            response = client.get(url, HTTP_HOST=HOST_A)
            assert response.status_code in (200, 302), (person, name)
        html = client.get(addresses["rule"], HTTP_HOST=HOST_A).content.decode()
        assert "only the site admin changes it" in html and "<fieldset disabled" in html
        for name, url in addresses.items():
            assert client.post(url, {"amount": "1"}, HTTP_HOST=HOST_A).status_code == 403, name
    assert resolve_rule(hospital).amount == 2
    assert CalendarDay.objects.filter(note="A's own closure").exists()
    assert not ConfigurationChange.objects.exists()


def test_another_sites_admin_gets_403_on_this_sites_domain_and_sees_none_of_its_data(
    hospital, world
):
    admin_b = User.objects.create_user("admin_b@test.example", "x")
    grant_role(user=admin_b, role=Role.SITE_ADMIN, site=world.site_b)
    addresses = urls(hospital)
    client = client_for(admin_b)
    for name, url in addresses.items():
        for response in (
            client.get(url, HTTP_HOST=HOST_A),
            client.post(url, {"amount": "1", "email": "x@test.example"}, HTTP_HOST=HOST_A),
        ):
            assert response.status_code in (403, 404), name
            html = response.content.decode()
            assert "A's own closure" not in html and "保洁" not in html, name
    # On their own domain, site A's ids find nothing of site A's.
    own = client.get(addresses["calendar"], HTTP_HOST=HOST_B)
    assert own.status_code == 200 and "A's own closure" not in own.content.decode()
    assert client.get(addresses["staff-revoke"], HTTP_HOST=HOST_B).status_code == 404
    assert "reception_a" not in client.get(addresses["staff"], HTTP_HOST=HOST_B).content.decode()
    with tenant_context(hospital.site):
        assert resolve_rule(hospital).amount == 2
        assert not ConfigurationChange.objects.exists()


def test_someone_logged_out_is_sent_to_the_login(hospital):
    response = Client().get(BASE, HTTP_HOST=HOST_A)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_admin_invites_a_newcomer_by_email(hospital, world):
    from casework.models import OutboxMessage
    from tenants import services as tenant_services

    if not hasattr(tenant_services, "invite_to_site"):
        pytest.skip("tenants.services.invite_to_site is not there yet")
    admin = client_for(hospital.staff["admin"])
    response = admin.post(
        f"{BASE}staff/",
        {"email": "New.Porter@Test.Example", "role": "department_supervisor"},
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 302
    newcomer = User.objects.get(email="new.porter@test.example")
    assert not newcomer.has_usable_password()
    assert Membership.objects.get(user=newcomer).site == world.site_a
    with tenant_context(hospital.site):
        # The address is encrypted at rest: compared once decrypted.
        assert "new.porter@test.example" in [m.recipient for m in OutboxMessage.objects.all()]
        assert ConfigurationChange.objects.get(model="membership").action == "invited"


def test_the_admin_saves_on_every_screen(hospital, world):
    """One round through the screens' forms as the admin would fill them in."""
    admin = client_for(hospital.staff["admin"])
    minor, clean = hospital.tiers["minor"], hospital.departments["clean"]

    def post(path, data):
        response = admin.post(f"{BASE}{path}", data, HTTP_HOST=HOST_A)
        assert response.status_code == 302, (path, response.content.decode()[-2000:])
        return response

    tier = {
        "name": "轻微",
        "name_en": "Minor",
        "rank": "1",
        "handler_role": "receptionist",
        "extension_approver_role": "project_manager",
        "close_approver_role": "",
        "upgrade_after_days": "20",
        "upgrade_to": hospital.tiers["major"].pk,
        "pause_reasons": "awaiting_complainant, awaiting_parts",
    }
    post(f"tiers/{minor.pk}/", tier)
    minor.refresh_from_db()
    assert minor.upgrade_after_days == 20 and minor.pause_reasons[-1] == "awaiting_parts"
    post(
        "tiers/new/",
        {
            **tier,
            "code": "medical",
            "name": "医疗事件",
            "rank": "5",
            "upgrade_after_days": "",
            "upgrade_to": "",
        },
    )
    medical = minor.__class__.objects.get(code="medical")
    post(
        f"tiers/{medical.pk}/rules/new/",
        {
            "code": "report",
            "name": "上报卫健局",
            "amount": "6",
            "unit": "hours",
            "met_by": "manual",
            "escalation_chain": ["service_centre_manager"],
        },
    )
    assert medical.milestone_rules.get().escalation_chain == ["service_centre_manager"]

    post(
        f"departments/{clean.pk}/",
        {"action": "names", "name": "保洁部", "name_en": "Cleaning", "position": "2"},
    )
    post(
        f"departments/{clean.pk}/",
        {
            "action": "people",
            "supervisor": hospital.staff["project"].pk,
            "members": [hospital.staff["cleaner"].pk],
        },
    )
    post("departments/", {"code": "porters", "name": "运送", "parent": clean.pk, "position": "0"})
    clean.refresh_from_db()
    assert clean.name_en == "Cleaning" and clean.supervisor == hospital.staff["project"]
    assert Department.objects.get(code="porters").parent == clean

    post("categories/", {"kind": "content", "code": "NOISE", "name": "噪音"})
    noise = hospital.categories["attitude"].__class__.objects.get(code="NOISE")
    post(f"categories/{noise.pk}/", {"code": "NOISE", "name": "噪音", "name_en": "Noise"})
    noise.refresh_from_db()
    assert noise.name_en == "Noise" and not noise.is_active  # unticked: out of use

    post("calendar/", {"day": "2026-12-31", "kind": "closed", "day_note": "年终盘点"})
    day = CalendarDay.objects.get(day="2026-12-31")
    assert day.note == "年终盘点"
    post(f"calendar/{day.pk}/remove/", {})
    assert not CalendarDay.objects.exists()

    User.objects.create_user("porter@test.example", "x")
    post("staff/", {"email": "porter@test.example", "role": "department_supervisor"})
    membership = Membership.objects.get(user__email="porter@test.example")
    post(f"staff/{membership.pk}/revoke/", {})
    assert not Membership.objects.filter(pk=membership.pk).exists()

    history = admin.get(f"{BASE}history/?model=department", HTTP_HOST=HOST_A).content.decode()
    assert "保洁部" in history and "年终盘点" not in history
    with translation.override("zh-hans"):
        page = client_for(hospital.staff["admin"], "zh-hans").get(
            f"{BASE}history/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    assert "配置变更记录" in page.content.decode()
