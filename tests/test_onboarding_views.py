"""The firm console's onboarding and offboarding screens: who may use them, what they do."""

import zipfile
from datetime import timedelta
from io import BytesIO

import pytest
from django.db import connection
from django.utils import timezone

from tenants.models import Domain, Site, SiteEvent
from tenants.services import create_firm, create_site, delete_due_sites
from tests.conftest import HOST_A, PUBLIC_HOST, login

NEW_SITE = {
    "name": "东院区",
    "name_en": "East Campus",
    "kind": "hospital",
    "template": "patient_relations",
    "slug": "east-campus",
    "domain": "",
    "time_zone": "Asia/Shanghai",
    "languages": ["zh-hans", "en"],
    "admin_email": "east.admin@example.com",
}


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def files(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_a_firm_admin_opens_a_site_that_answers_at_once(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    form = client.get("/firms/testfirm/sites/new/", HTTP_HOST=PUBLIC_HOST)
    assert form.status_code == 200 and 'name="admin_email"' in form.content.decode()
    response = client.post(
        "/firms/testfirm/sites/new/",
        {**NEW_SITE, "region": world.site_a.region_id},
        HTTP_HOST=PUBLIC_HOST,
    )
    assert response.status_code == 302
    site = Site.objects.get(slug="east-campus")
    assert site.region == world.site_a.region
    page = client.get("/", HTTP_HOST="east-campus.localhost")
    assert page.status_code == 200 and "东院区" in page.content.decode()
    from django_tenants.utils import tenant_context

    from casework.models import SiteConfiguration

    with tenant_context(site):
        assert SiteConfiguration.objects.get().template == "patient_relations"


def test_a_taken_address_is_shown_next_to_the_field_and_nothing_is_made(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    before = (Site.objects.count(), _schemas())
    response = client.post(
        "/firms/testfirm/sites/new/", {**NEW_SITE, "slug": "site-a"}, HTTP_HOST=PUBLIC_HOST
    )
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    assert 'value="东院区"' in response.content.decode()  # what was typed stays
    assert (Site.objects.count(), _schemas()) == before


@pytest.mark.parametrize("person", ["other_firm_admin", "reception_a", "admin_a", "outsider"])
def test_people_who_do_not_administer_the_firm_get_404(client, world, person):
    login(client, world.people[person], PUBLIC_HOST)
    assert client.get("/firms/testfirm/sites/new/", HTTP_HOST=PUBLIC_HOST).status_code == 404
    assert (
        client.post("/firms/testfirm/sites/new/", NEW_SITE, HTTP_HOST=PUBLIC_HOST).status_code
        == 404
    )
    offboarding = "/firms/testfirm/sites/site-a/"
    assert client.get(offboarding, HTTP_HOST=PUBLIC_HOST).status_code == 404
    response = client.post(offboarding, {"action": "export"}, HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 404
    assert not Site.objects.filter(slug="east-campus").exists()


def test_the_firm_pages_are_not_served_on_a_sites_domain(client, world):
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    assert client.get("/firms/testfirm/sites/new/", HTTP_HOST=HOST_A).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    response = client.get("/firms/testfirm/sites/site-a/", HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_site_of_another_firm_is_404_even_under_ones_own_firm(client, world):
    other = create_firm(name="第三家", slug="thirdfirm")
    create_site(firm=other, slug="third-site", name="丙医院", kind="hospital")
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    assert client.get("/firms/testfirm/sites/third-site/", HTTP_HOST=PUBLIC_HOST).status_code == 404


def test_a_platform_admin_may_export_any_site(client, world, files):
    login(client, world.people["platform_admin"], PUBLIC_HOST)
    assert client.get("/firms/testfirm/sites/site-a/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    response = client.post(
        "/firms/testfirm/sites/site-a/", {"action": "export"}, HTTP_HOST=PUBLIC_HOST
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(BytesIO(b"".join(response.streaming_content)))
    assert "manifest.json" in archive.namelist()
    assert SiteEvent.objects.filter(site=world.site_a, action="exported").exists()


def test_deletion_needs_the_typed_address_and_waits_for_the_grace_period(
    client, world, files, settings, django_capture_on_commit_callbacks
):
    settings.SITE_DELETION_GRACE_DAYS = 30
    site = create_site(firm=world.firm, slug="closing-home", name="关闭院", kind="care_home")
    folder = files / "private" / site.schema_name
    folder.mkdir(parents=True)
    (folder / "x.pdf").write_bytes(b"%PDF")
    login(client, world.people["firm_admin"], PUBLIC_HOST)
    page = "/firms/testfirm/sites/closing-home/"

    wrong = client.post(page, {"action": "delete", "slug": "closing"}, HTTP_HOST=PUBLIC_HOST)
    assert wrong.status_code == 200 and wrong.context["form"].errors["slug"]
    site.refresh_from_db()
    assert site.delete_after is None

    client.post(page, {"action": "delete", "slug": "closing-home"}, HTTP_HOST=PUBLIC_HOST)
    site.refresh_from_db()
    assert site.delete_after > timezone.now() + timedelta(days=29)
    assert delete_due_sites() == []  # not yet: the grace period runs
    client.post(page, {"action": "cancel"}, HTTP_HOST=PUBLIC_HOST)
    site.refresh_from_db()
    assert site.delete_after is None
    client.post(page, {"action": "delete", "slug": "closing-home"}, HTTP_HOST=PUBLIC_HOST)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = delete_due_sites(now=timezone.now() + timedelta(days=31))
    assert deleted == ["closing-home"]
    assert not Site.objects.filter(slug="closing-home").exists()
    assert "closing_home" not in _schemas()
    assert not Domain.objects.filter(domain="closing-home.localhost").exists()
    assert not folder.exists()
    actions = set(
        SiteEvent.objects.filter(site_slug="closing-home").values_list("action", flat=True)
    )
    assert {"deletion_requested", "deletion_cancelled", "deleted"} <= actions
    assert client.get("/", HTTP_HOST="closing-home.localhost").status_code == 404
