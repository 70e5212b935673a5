"""Every back-office URL for every kind of visitor. The URL list is discovered from
`casework.urls`, so screens added later are covered without editing this file:
anonymous visitors are sent to log in; people with a role only on site B, on site A's
domain, get 403 or 404 and no byte of site A's data; people with no role get 403; and each
site role reaches the queue's screens. Ids repeat across sites' schemas, so a site-B case
id never reaches a site-A case."""

import pytest
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework import urls as office_urls
from casework.models import MilestoneRule, Notification, SavedFilter, Tier
from casework.services import Complainant, register_case
from tenants.models import Membership
from tests.conftest import HOST_A

SECRET_ACCOUNT = "十二楼护工夜里推床撞坏了病房门框"
SECRET_NAME = "欧阳秘"
SECRET_PHONE = "13655556666"


def office_patterns(patterns=None, prefix=""):
    for entry in office_urls.urlpatterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from office_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry


PATTERNS = list(office_patterns())
NAMES = [pattern.name for pattern in PATTERNS]


@pytest.fixture
def site_a_data(hospital):
    """One case on site A with a distinctive account and complainant, and a saved filter
    and a notification of its receptionist: the ids the URLs are filled with."""
    with tenant_context(hospital.site):
        case = hospital.register(
            account=SECRET_ACCOUNT,
            complainant=Complainant(relation="patient", name=SECRET_NAME, phone=SECRET_PHONE),
        )
        saved = SavedFilter.objects.create(
            owner=hospital.staff["reception"], name="夜班", query="tab=mine"
        )
        notice = Notification.objects.create(
            user=hospital.staff["reception"],
            case=case,
            created_at=timezone.now(),
            subject=f"{case.reference} 新投诉",
        )
        ids = {
            "tier_id": hospital.tiers["minor"].pk,
            "rule_id": MilestoneRule.objects.filter(tier=hospital.tiers["minor"]).first().pk,
            "department_id": hospital.departments["lift"].pk,
            "category_id": hospital.categories["attitude"].pk,
            "membership_id": Membership.objects.filter(site=hospital.site).first().pk,
        }
    return {"case": case, "filter": saved, "notification": notice, "ids": ids}


def url_for(pattern, data) -> str:
    values = {
        "case_id": data["case"].pk,
        "filter_id": data["filter"].pk,
        "notification_id": data["notification"].pk,
        **data["ids"],
    }
    kwargs = {name: values.get(name, 1) for name in pattern.pattern.converters}
    return reverse(pattern.name, kwargs=kwargs)


def assert_no_site_a_data(response, data) -> None:
    body = response.content.decode(errors="replace")
    for secret in (SECRET_ACCOUNT, SECRET_NAME, SECRET_PHONE, data["case"].reference, "电梯运行"):
        assert secret not in body
    assert "甲医院" not in body.split("<main", 1)[-1]


def test_the_matrix_covers_the_queues_screens():
    for name in ("office-home", "queue", "case-new", "notifications", "queue-filter"):
        assert name in NAMES
    assert all(NAMES), "every back-office URL has a name"


@pytest.mark.parametrize("pattern", PATTERNS, ids=NAMES)
def test_nobody_without_a_role_here_gets_anything(client, world, site_a_data, pattern):
    """Anonymous: sent to log in. A role only on site B, no role at all, another firm's admin,
    the platform's admin: 403 or 404. Never a byte of site A's data, on GET or POST."""
    url = url_for(pattern, site_a_data)
    for method in ("get", "post"):
        response = getattr(client, method)(url, HTTP_HOST=HOST_A)
        if method == "get" and response.status_code == 405:
            continue  # a POST-only action; its POST must still ask for a login
        assert response.status_code == 302, (url, method, response.status_code)
        assert response["Location"].startswith("/accounts/login/")
        assert_no_site_a_data(response, site_a_data)
    for person in ("manager_b", "outsider", "other_firm_admin", "platform_admin"):
        client.force_login(world.people[person])
        for method in ("get", "post"):
            response = getattr(client, method)(url, HTTP_HOST=HOST_A)
            # A GET of a POST-only action may be refused for its method first: it names no
            # site and carries no data; the POST below meets the role check.
            refused = (403, 404, 405) if method == "get" else (403, 404)
            assert response.status_code in refused, (person, method, url, response.status_code)
            assert_no_site_a_data(response, site_a_data)
        client.logout()


@pytest.mark.parametrize("pattern", PATTERNS, ids=NAMES)
def test_staff_of_this_site_get_an_answer_as_designed(client, hospital, site_a_data, pattern):
    """Allowed, refused (403), not found (404), redirected or method not allowed: never an
    error page, whichever of the site's roles asks."""
    url = url_for(pattern, site_a_data)
    for person in ("reception", "admin"):
        client.force_login(hospital.staff[person])
        response = client.get(url, HTTP_HOST=HOST_A)
        assert response.status_code in (200, 302, 403, 404, 405), (person, url)


SITE_A_PEOPLE = ["reception", "supervisor", "manager", "project", "admin"]


@pytest.mark.parametrize("person", [*SITE_A_PEOPLE, "regional_east", "firm_admin"])
def test_every_role_on_the_site_reaches_the_queues_screens(
    client, world, hospital, site_a_data, person
):
    client.force_login(hospital.staff.get(person) or world.people[person])
    for name in ("office-home", "queue", "case-new", "notifications"):
        response = client.get(reverse(name), HTTP_HOST=HOST_A)
        assert response.status_code == 200, name
        assert "甲医院" in response.content.decode()


@pytest.mark.parametrize("person", ["supervisor", "admin"])
def test_a_colleague_cannot_use_someone_elses_filter_or_notice(
    client, hospital, site_a_data, person
):
    client.force_login(hospital.staff[person])
    saved, notice = site_a_data["filter"], site_a_data["notification"]
    assert client.get(f"/office/queue/filters/{saved.pk}/", HTTP_HOST=HOST_A).status_code == 404
    delete = f"/office/queue/filters/{saved.pk}/delete/"
    assert client.post(delete, HTTP_HOST=HOST_A).status_code == 404
    opened = client.post(f"/office/notifications/{notice.pk}/open/", HTTP_HOST=HOST_A)
    assert opened.status_code == 404
    inbox = client.get("/office/notifications/", HTTP_HOST=HOST_A).content.decode()
    assert notice.subject not in inbox
    with tenant_context(hospital.site):
        assert SavedFilter.objects.filter(pk=saved.pk).exists()
        notice.refresh_from_db()
        assert notice.read_at is None


def test_the_queue_of_site_a_never_lists_site_b_cases(client, world, hospital, site_a_data):
    with tenant_context(world.site_b):
        Tier.objects.create(
            code="minor",
            name="轻微",
            handler_role="receptionist",
            extension_approver_role="project_manager",
        )
        other = register_case(
            channel="phone",
            account="乙养老院的投诉：食堂饭菜太咸",
            complainant=Complainant(relation="family", name="乙家属"),
            received_by=world.people["manager_b"],
        )
    client.force_login(world.people["firm_admin"])  # a role on both sites
    html = client.get("/office/queue/?status=any", HTTP_HOST=HOST_A).content.decode()
    assert site_a_data["case"].reference in html
    assert "食堂饭菜太咸" not in html
    search = client.get("/office/queue/?q=食堂&status=any", HTTP_HOST=HOST_A).content.decode()
    # References can be equal on two sites (each counts its own day); the text cannot.
    assert "食堂饭菜太咸" not in search and 'class="case-link"' not in search
    assert other.pk  # site B's case exists, in site B's schema only
