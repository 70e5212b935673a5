"""Small back-office gaps: who sees the configuration link, the timeline's word for a
re-base, and retiring or restoring a clock from its screen."""

import pytest
from django_tenants.utils import tenant_context

from casework.models import ConfigurationChange
from casework.services import update_milestone_rule
from tests.casework.conftest import FRIDAY_MORNING, client_for, resolve_rule
from tests.conftest import HOST_A, HOST_B

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

LINK = 'href="/office/configuration/"'


@pytest.mark.parametrize("who", ["admin", "manager", "project", "regional_east", "firm_admin"])
def test_everyone_who_may_view_the_configuration_sees_its_link(hospital, world, who):
    person = hospital.staff.get(who) or world.people[who]
    html = client_for(person).get("/office/", HTTP_HOST=HOST_A, follow=True).content.decode()
    assert LINK in html


@pytest.mark.parametrize("who", ["reception", "supervisor"])
def test_handling_staff_without_configuration_rights_see_no_link(hospital, who):
    response = client_for(hospital.staff[who]).get("/office/", HTTP_HOST=HOST_A, follow=True)
    assert response.status_code == 200 and LINK not in response.content.decode()


def test_a_rebase_reads_as_words_on_the_case_page_in_both_languages(hospital):
    case = hospital.register()
    update_milestone_rule(
        rule=resolve_rule(hospital),
        by=hospital.staff["admin"],
        amount=3,
        apply_to_open_cases=True,
        now=FRIDAY_MORNING,
    )
    url = f"/office/cases/{case.pk}/"
    english = client_for(hospital.staff["reception"]).get(url, HTTP_HOST=HOST_A)
    assert "Clocks re-based on changed time limits" in english.content.decode()
    chinese = client_for(hospital.staff["reception"], "zh-hans").get(url, HTTP_HOST=HOST_A)
    assert "计时已按新规则重新计算" in chinese.content.decode()


def test_the_admin_retires_a_used_clock_and_restores_it_from_its_screen(hospital):
    hospital.register()
    rule = resolve_rule(hospital)
    admin = client_for(hospital.staff["admin"])
    url = f"/office/configuration/rules/{rule.pk}/retire/"
    assert admin.post(url, HTTP_HOST=HOST_A).status_code == 302
    rule.refresh_from_db()
    assert not rule.active
    tier_page = admin.get(
        f"/office/configuration/tiers/{rule.tier_id}/", HTTP_HOST=HOST_A
    ).content.decode()
    assert "Retired clocks" in tier_page
    rule_page = admin.get(f"/office/configuration/rules/{rule.pk}/", HTTP_HOST=HOST_A)
    assert "Restore this clock" in rule_page.content.decode()
    assert admin.post(url, HTTP_HOST=HOST_A).status_code == 302
    rule.refresh_from_db()
    assert rule.active
    actions = ConfigurationChange.objects.filter(object_id=rule.pk).values_list("action", flat=True)
    assert sorted(actions) == ["restored", "retired"]


def test_another_sites_admin_cannot_retire_a_clock_here(hospital, world):
    rule = resolve_rule(hospital)
    other = client_for(world.people["manager_b"])
    url = f"/office/configuration/rules/{rule.pk}/retire/"
    assert other.post(url, HTTP_HOST=HOST_A).status_code in (403, 404)
    assert other.post(url, HTTP_HOST=HOST_B).status_code in (403, 404)
    with tenant_context(hospital.site):  # the request to B's domain left B's schema set
        rule.refresh_from_db()
    assert rule.active


# --- Reply templates: the site admin keeps them -------------------------------------------

TEMPLATES = "/office/configuration/reply-templates/"
WORDING = {
    "name": "地面湿滑致跌倒",
    "name_en": "Slip on a wet floor",
    "investigation": "经调查，保洁员拖地后未放置警示牌。",
    "decision": "已对保洁员进行培训。",
    "active": "on",
}


def test_the_site_admin_writes_a_reply_template_staff_then_start_from(hospital):
    from casework.models import ReplyTemplate

    admin = client_for(hospital.staff["admin"])
    assert admin.post(TEMPLATES, WORDING, HTTP_HOST=HOST_A).status_code == 302
    template = ReplyTemplate.objects.get(name="地面湿滑致跌倒")
    change = ConfigurationChange.objects.get(model="reply_template", action="created")
    assert change.object_id == template.pk and change.actor == hospital.staff["admin"]
    listing = admin.get(TEMPLATES, HTTP_HOST=HOST_A).content.decode()
    assert "Slip on a wet floor" in listing
    page = f"{TEMPLATES}{template.pk}/"
    changed = {**WORDING, "decision": "已培训并复查。"}
    del changed["active"]  # no longer in use
    assert admin.post(page, changed, HTTP_HOST=HOST_A).status_code == 302
    template.refresh_from_db()
    assert template.decision == "已培训并复查。" and not template.active
    update = ConfigurationChange.objects.get(model="reply_template", action="updated")
    assert update.before["active"] is True and update.after["active"] is False
    case = hospital.register()
    case_page = client_for(hospital.staff["reception"]).get(
        f"/office/cases/{case.pk}/?reply_template={template.pk}", HTTP_HOST=HOST_A
    )
    assert "已培训并复查" not in case_page.content.decode()


def test_a_reply_template_without_a_name_or_wording_is_refused_next_to_the_field(hospital):
    from casework.models import ReplyTemplate

    admin = client_for(hospital.staff["admin"], "zh-hans")
    response = admin.post(TEMPLATES, {"name": " ", "decision": ""}, HTTP_HOST=HOST_A)
    assert response.status_code == 400
    html = response.content.decode()
    assert "请填写名称" in html
    assert "请至少填写回复的一部分" in html
    assert not ReplyTemplate.objects.exists() and not ConfigurationChange.objects.exists()


@pytest.mark.parametrize("who", ["manager", "project", "reception"])
def test_only_the_site_admin_opens_the_reply_templates(hospital, who):
    client = client_for(hospital.staff[who])
    assert client.get(TEMPLATES, HTTP_HOST=HOST_A).status_code == 403
    assert client.post(TEMPLATES, WORDING, HTTP_HOST=HOST_A).status_code == 403
    assert not ConfigurationChange.objects.exists()


def test_another_sites_staff_see_none_of_this_sites_reply_templates(hospital, world):
    from casework.models import ReplyTemplate

    ReplyTemplate.objects.create(name="A 站的模板", decision="A 的措辞")
    for person in (world.people["manager_b"], world.people["regional_east"]):
        response = client_for(person).get(TEMPLATES, HTTP_HOST=HOST_A)
        assert response.status_code == 403 and "A 站的模板" not in response.content.decode()
