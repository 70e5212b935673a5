"""Each site is served from its own domain and schema, and nothing of one leaks to another."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from casework.selectors import calendar_gap
from cms.models import HomePage
from tenants.models import Domain, Membership, Role
from tests.conftest import HOST_A, HOST_B, PUBLIC_HOST, login


def test_each_domain_serves_its_own_sites_pages(client, world):
    with tenant_context(world.site_a):
        home = HomePage.objects.get()
        home.intro = "甲医院的服务中心在门诊楼一楼"
        home.save_revision().publish()

    page_a = client.get("/", HTTP_HOST=HOST_A).content.decode()
    page_b = client.get("/", HTTP_HOST=HOST_B).content.decode()

    assert "甲医院" in page_a and "甲医院的服务中心在门诊楼一楼" in page_a
    assert "乙养老院" in page_b
    assert "甲医院" not in page_b


def test_a_site_speaks_english_when_asked(client, world):
    page = client.get("/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Hospital A" in page
    assert 'lang="en"' in page


def test_the_back_office_asks_anonymous_visitors_to_log_in(client, world):
    response = client.get("/office/", HTTP_HOST=HOST_A)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_of_site_a_enter_site_a_back_office(client, world):
    login(client, world.people["reception_a"], HOST_A)
    response = client.get("/office/", HTTP_HOST=HOST_A)
    assert response.status_code == 200
    assert "甲医院" in response.content.decode()


def test_a_session_from_site_a_gets_403_on_site_b(client, world):
    login(client, world.people["reception_a"], HOST_A)
    response = client.get("/office/", HTTP_HOST=HOST_B)
    assert response.status_code == 403
    assert "乙养老院" not in response.content.decode().split("<main")[1]


def test_regional_manager_enters_the_regions_sites_only(client, world):
    login(client, world.people["regional_east"], PUBLIC_HOST)
    assert client.get("/office/", HTTP_HOST=HOST_A).status_code == 200
    assert client.get("/office/", HTTP_HOST=HOST_B).status_code == 403


def test_firm_admin_enters_every_site_of_the_firm(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    assert client.get("/office/", HTTP_HOST=HOST_A).status_code == 200
    assert client.get("/office/", HTTP_HOST=HOST_B).status_code == 200


def test_other_firms_admin_is_kept_out(client, world):
    login(client, world.people["other_firm_admin"], PUBLIC_HOST)
    assert client.get("/office/", HTTP_HOST=HOST_A).status_code == 403
    assert client.get("/firms/testfirm/", HTTP_HOST=PUBLIC_HOST).status_code == 404


def test_platform_admin_sees_no_casework_without_a_role_on_the_site(client, world):
    """Complainants' details are the site's; running the platform is not a reason to read them."""
    login(client, world.people["platform_admin"], PUBLIC_HOST)
    assert client.get("/platform/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    assert client.get("/office/", HTTP_HOST=HOST_A).status_code == 403


def test_only_platform_admins_open_the_platform_console(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    assert client.get("/platform/", HTTP_HOST=PUBLIC_HOST).status_code == 403


def test_workplaces_page_lists_a_persons_sites(client, world):
    login(client, world.people["regional_east"], PUBLIC_HOST)
    page = client.get("/", HTTP_HOST=PUBLIC_HOST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Hospital A" in page
    assert "Care Home B" not in page
    assert "http://site-a.localhost:8000/office/" in page


def test_firm_console_lists_regions_and_sites(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    page = client.get("/firms/testfirm/", HTTP_HOST=PUBLIC_HOST).content.decode()
    assert "甲医院" in page and "乙养老院" in page and "东区" in page


def test_unknown_domain_gets_404(client, world):
    assert client.get("/", HTTP_HOST="nowhere.localhost").status_code == 404
    assert client.get("/office/", HTTP_HOST="nowhere.localhost").status_code == 404


def test_public_domain_never_serves_a_sites_pages(client, world):
    landing = client.get("/", HTTP_HOST=PUBLIC_HOST).content.decode()
    assert "甲医院" not in landing and "乙养老院" not in landing
    assert client.get("/office/", HTTP_HOST=PUBLIC_HOST).status_code == 404
    assert client.get("/cms-admin/", HTTP_HOST=PUBLIC_HOST).status_code == 404
    assert client.get("/home/", HTTP_HOST=PUBLIC_HOST).status_code == 404


def test_wagtail_admin_is_open_to_the_sites_admin_only(client, world):
    login(client, world.people["admin_a"], HOST_A)
    assert client.get("/cms-admin/", HTTP_HOST=HOST_A).status_code == 200
    assert client.get("/cms-admin/", HTTP_HOST=HOST_B).status_code == 302  # to its login

    client.logout()
    login(client, world.people["reception_a"], HOST_A)
    assert client.get("/cms-admin/", HTTP_HOST=HOST_A).status_code == 302


def test_a_site_admin_publishes_their_sites_page_and_nothing_more(client, world):
    admin = world.people["admin_a"]
    with tenant_context(world.site_a):
        home = HomePage.objects.get()
    login(client, admin, HOST_A)
    edit = f"/cms-admin/pages/{home.pk}/edit/"
    assert client.get(edit, HTTP_HOST=HOST_A).status_code == 200
    response = client.post(
        edit,
        {
            "title": "甲医院",
            "slug": "home",
            "title_en": "Hospital A",
            "intro": "服务中心位于门诊楼一楼",
            "intro_en": "",
            "channels-count": "0",
            "privacy_notice": "",
            "privacy_notice_en": "",
            "action-publish": "action-publish",
        },
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "服务中心位于门诊楼一楼" in client.get("/", HTTP_HOST=HOST_A).content.decode()

    # People, groups and host bindings are not a site admin's to change, and the stand-in
    # superuser never reaches the database.
    for screen in ("users/", "groups/", "sites/", "account/"):
        assert client.get(f"/cms-admin/{screen}", HTTP_HOST=HOST_A).status_code == 403
    admin.refresh_from_db()
    assert admin.is_superuser is False
    assert client.get(edit, HTTP_HOST=HOST_B).status_code == 302


def test_a_new_domain_answers_at_once_and_a_removed_one_stops(client, world):
    Domain.objects.create(domain="jia.localhost", tenant=world.site_a, is_primary=False)
    assert "甲医院" in client.get("/", HTTP_HOST="jia.localhost").content.decode()
    Domain.objects.filter(domain="jia.localhost").delete()
    assert client.get("/", HTTP_HOST="jia.localhost").status_code == 404


def test_a_warm_request_costs_no_query_to_find_its_site(client, world, django_assert_num_queries):
    client.get("/healthz", HTTP_HOST=HOST_A)  # warms the host map and the search path
    with django_assert_num_queries(1):  # the health check's own SELECT 1, nothing else
        assert client.get("/healthz", HTTP_HOST=HOST_A).status_code == 200
    assert connection.schema_name == world.site_a.schema_name


def test_a_role_needs_the_scope_it_belongs_to(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            user=world.people["outsider"], role=Role.RECEPTIONIST, firm=world.firm
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            user=world.people["outsider"], role=Role.FIRM_ADMIN, site=world.site_a
        )


def test_pages_speak_chinese_by_default_and_english_when_switched(client, world):
    assert "员工登录" in client.get("/accounts/login/", HTTP_HOST=HOST_A).content.decode()
    response = client.post(
        "/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, HTTP_HOST=HOST_A
    )
    assert response.status_code == 302
    page = client.get("/accounts/login/", HTTP_HOST=HOST_A).content.decode()
    assert "Staff login" in page and "员工登录" not in page


def test_a_regional_overview_is_for_that_regions_manager(client, world):
    login(client, world.people["regional_east"], PUBLIC_HOST)
    east = client.get("/firms/testfirm/regions/east/", HTTP_HOST=PUBLIC_HOST)
    assert east.status_code == 200 and "甲医院" in east.content.decode()
    assert client.get("/firms/testfirm/regions/south/", HTTP_HOST=PUBLIC_HOST).status_code == 404


def test_django_admin_is_for_platform_admins(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    assert client.get("/django-admin/", HTTP_HOST=PUBLIC_HOST).status_code == 302
    client.logout()
    world.people["platform_admin"].is_superuser = True
    world.people["platform_admin"].save()
    login(client, world.people["platform_admin"], PUBLIC_HOST)
    assert client.get("/django-admin/tenants/site/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    assert client.get("/django-admin/", HTTP_HOST=HOST_A).status_code == 404


def test_managers_are_warned_when_next_years_holidays_are_not_known(client, world):
    # The locked holiday data ends with 2026; from October 2026 on, deadlines can fall on
    # days it does not know.
    with tenant_context(world.site_a):
        gap = calendar_gap()
    assert gap is not None and gap >= date(2027, 1, 1)
    login(client, world.people["admin_a"], HOST_A)
    page = client.get("/office/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en")
    assert f"public holidays from {gap:%Y-%m-%d} on are not published" in page.content.decode()
    client.logout()
    login(client, world.people["reception_a"], HOST_A)
    assert f"{gap:%Y-%m-%d}" not in client.get("/office/", HTTP_HOST=HOST_A).content.decode()


def test_a_new_domain_answers_within_a_second_in_a_process_that_missed_it(world, monkeypatch):
    """Another process onboarded the site (no signal reaches this one): the miss it cached
    before the domain existed must not hide the new site for TENANT_CACHE_SECONDS."""
    import time

    from tenants import middleware

    assert middleware.site_for_host("new-wing.localhost") is None
    Domain.objects.bulk_create([Domain(domain="new-wing.localhost", tenant=world.site_a)])
    assert middleware.site_for_host("new-wing.localhost") is None  # still the cached miss

    later = time.monotonic() + 1.5
    monkeypatch.setattr(middleware.time, "monotonic", lambda: later)
    assert middleware.site_for_host("new-wing.localhost") == world.site_a
