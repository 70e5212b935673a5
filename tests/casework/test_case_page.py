"""The case page (/office/cases/<id>/): what each person sees on it, in the site's time, and
who may open it at all (another site's staff, oversight roles, outsiders)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework.models import ReplyTemplate
from casework.services import classify_case, dispatch_case, reply_to_complainant
from tests.casework.conftest import client_for
from tests.conftest import HOST_A, HOST_B

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]
QUERY_BUDGET = 23  # 36 before the page shared its reads (roles, departments, staff)


def page(client, case, host=HOST_A):
    return client.get(f"/office/cases/{case.pk}/", HTTP_HOST=host)


def test_staff_see_the_complaint_its_complainant_clocks_and_timeline_in_site_time(hospital):
    case = hospital.register()
    dispatch_case(
        case=case, by=hospital.staff["reception"], department=hospital.departments["clean"]
    )
    response = page(client_for(hospital.staff["supervisor"]), case)
    assert response.status_code == 200
    html = response.content.decode()
    assert case.reference in html
    assert "保洁员在走廊拖地后没有放警示牌" in html
    assert "李娜" in html and "13812345678" in html and "li.na@example.com" in html
    # Registered Friday 10:00 in Shanghai (02:00 UTC): shown as 10:00, and the 10-minute
    # dispatch clock as due at 10:10.
    assert "2026-11-20 10:00" in html and "2026-11-20 10:10" in html
    assert "2026-11-20 02:00" not in html
    assert "Registered" in html and "Dispatched" in html and "保洁" in html
    assert html.count("reception") >= 1  # who registered it


def test_the_people_complained_about_see_the_case_but_not_who_complained(hospital):
    case = hospital.register()
    cleaner = hospital.staff["cleaner"]
    classify_case(case=case, by=hospital.staff["manager"], persons_complained_about=[cleaner])
    reply_to_complainant(
        case=case, by=hospital.staff["manager"], method="phone", decision="已向李娜女士致歉",
        delay_reason="等待监控",
    )  # fmt: skip
    html = page(client_for(cleaner), case).content.decode()
    assert 'id="record"' not in html  # the replies' wording stays with those who may see it
    assert case.reference in html
    assert "李娜" not in html and "13812345678" not in html and "li.na@" not in html
    assert "***" in html and "hidden from you" in html
    manager_view = page(client_for(hospital.staff["manager"]), case).content.decode()
    assert "13812345678" in manager_view


def test_the_page_offers_only_the_actions_the_roles_allow(hospital, world):
    case = hospital.register(tier=hospital.tiers["major"])
    reception = page(client_for(hospital.staff["reception"]), case).content.decode()
    manager = page(client_for(hospital.staff["manager"]), case).content.decode()
    assert 'id="action-dispatch"' in reception and 'id="action-reply"' in reception
    assert 'id="action-approve-closure"' not in reception  # major: the manager approves
    assert 'id="action-approve-closure"' in manager
    assert 'id="action-callback"' not in manager  # not replied yet
    with tenant_context(hospital.site):
        regional = page(client_for(world.people["regional_east"]), case).content.decode()
    assert case.reference in regional and 'id="action-' not in regional
    assert "you take no actions" in regional


def test_a_reply_template_fills_the_written_reply_without_javascript(hospital):
    case = hospital.register()
    template = ReplyTemplate.objects.create(
        name="地面湿滑致歉",
        investigation="调取了走廊监控",
        facts="拖地后未放置警示牌",
        responsibility="保洁部",
        decision="向您致歉并加强培训",
    )
    client = client_for(hospital.staff["supervisor"])
    response = client.get(
        f"/office/cases/{case.pk}/?reply_template={template.pk}", HTTP_HOST=HOST_A
    )
    html = response.content.decode()
    assert "调取了走廊监控</textarea>" in html and "向您致歉并加强培训</textarea>" in html
    assert '<details class="case-action" id="action-reply" open>' in html


def test_another_sites_staff_get_403_and_never_this_sites_case(hospital, world):
    case = hospital.register()
    stranger = client_for(world.people["manager_b"])
    response = page(stranger, case)
    assert response.status_code == 403
    assert case.reference not in response.content.decode()
    assert "李娜" not in response.content.decode()
    # On their own site the same id is not this case.
    response = page(stranger, case, host=HOST_B)
    assert response.status_code == 404
    assert case.reference not in response.content.decode()


@pytest.mark.parametrize("who", ["outsider", "platform_admin", "other_firm_admin"])
def test_people_without_a_role_here_get_403(hospital, world, who):
    case = hospital.register()
    response = page(client_for(world.people[who]), case)
    assert response.status_code == 403 and case.reference not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(hospital):
    case = hospital.register()
    response = Client().get(f"/office/cases/{case.pk}/", HTTP_HOST=HOST_A)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_case_that_does_not_exist_here_is_404(hospital):
    response = client_for(hospital.staff["reception"]).get(
        "/office/cases/999999/", HTTP_HOST=HOST_A
    )
    assert response.status_code == 404


def test_the_page_reads_in_chinese(hospital):
    case = hospital.register()
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(hospital.staff["reception"])
    html = client.get(f"/office/cases/{case.pk}/", HTTP_HOST=HOST_A).content.decode()
    assert "投诉人" in html and "时间线" in html and "派单" in html


SITE_ROLES = [
    "receptionist",
    "department_supervisor",
    "manager_assistant",
    "project_manager",
    "service_centre_manager",
    "site_admin",
]


@pytest.mark.parametrize("role", SITE_ROLES)
def test_every_site_role_opens_the_page_and_the_sheet(hospital, role):
    from tenants.models import User
    from tenants.services import grant_role

    person = User.objects.create_user(f"{role}.matrix@test.example", "x")
    grant_role(user=person, role=role, site=hospital.site)
    case = hospital.register()
    client = client_for(person)
    assert page(client, case).status_code == 200
    sheet = client.get(f"/office/cases/{case.pk}/sheet.pdf", HTTP_HOST=HOST_A)
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")


@pytest.mark.parametrize("who,status", [("regional_east", 200), ("firm_admin", 200)])
def test_oversight_roles_read_the_page(hospital, world, who, status):
    case = hospital.register()
    assert page(client_for(world.people[who]), case).status_code == status


def test_a_site_role_held_on_site_b_only_opens_nothing_on_site_a(hospital, world):
    """Roles of another site, every kind: 403 on this site's domain, page and sheet alike."""
    from tenants.models import User
    from tenants.services import grant_role

    case = hospital.register()
    for role in SITE_ROLES:
        person = User.objects.create_user(f"{role}.b@test.example", "x")
        grant_role(user=person, role=role, site=world.site_b)
        client = client_for(person)
        for url in (f"/office/cases/{case.pk}/", f"/office/cases/{case.pk}/sheet.pdf"):
            response = client.get(url, HTTP_HOST=HOST_A)
            assert response.status_code == 403, (role, url)
            assert case.reference.encode() not in response.content


def test_the_page_reads_the_database_a_fixed_number_of_times(
    hospital, django_assert_max_num_queries
):
    """However long the history, the page's queries stay the same (no query per event)."""
    from casework.services import log_contact

    case = hospital.register(now=timezone.now())
    client = client_for(hospital.staff["manager"])
    page(client, case)  # sessions and caches warm
    with CaptureQueriesContext(connection) as short:
        page(client, case)
    for n in range(20):
        log_contact(case=case, by=hospital.staff["reception"], method="phone", summary=f"call {n}")
    with CaptureQueriesContext(connection) as long:
        page(client, case)
    assert len(long) == len(short), [q["sql"][:120] for q in long.captured_queries]
    with django_assert_max_num_queries(QUERY_BUDGET):
        page(client, case)
