"""Small back-office gaps: who sees the configuration link, the timeline's word for a
re-base, and retiring or restoring a clock from its screen."""

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from casework.models import ConfigurationChange, MilestoneRule
from casework.services import update_milestone_rule
from tests.casework.conftest import FRIDAY_MORNING
from tests.conftest import HOST_A, HOST_B

pytestmark = pytest.mark.django_db

LINK = 'href="/office/configuration/"'


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


def client_for(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def resolve_rule(hospital) -> MilestoneRule:
    return hospital.tiers["minor"].milestone_rules.get(code="resolve")


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

