"""Test set-up: the sites and people every test can use, built once per session.

Creating the test database migrates the template schema that sites are cloned from
(tenants/schemas.py); the two sites (and their pages) are made from it once, committed, in
`django_db_setup`, by the product's own `create_site`; each test then runs in a transaction
that is rolled back, leaving them as they were. No spare schemas are kept (SITE_SPARE_SCHEMAS
= 0): tests that need them make their own.

Personas (Zulip/healthchecks habit): `reception_a` and `admin_a` work at site A (a hospital in
the east region), `manager_b` at site B (in the south region), `regional_east` oversees the
east region, `firm_admin` the firm, `platform_admin` the platform, `outsider` holds no role.
"""

import os
from dataclasses import dataclass

import pytest
from django.db import connection

from tenants.middleware import forget_cached_sites
from tenants.models import Firm, Role, Site, User
from tenants.services import create_firm, create_region, create_site, grant_role

PASSWORD = "a-long-test-password"
HOST_A = "site-a.localhost"
HOST_B = "site-b.localhost"
PUBLIC_HOST = "localhost"


@dataclass(frozen=True)
class World:
    firm: Firm
    site_a: Site
    site_b: Site
    people: dict[str, User]


def _build_world() -> None:
    firm = create_firm(name="测试物业", name_en="Test Property", slug="testfirm")
    east = create_region(firm=firm, name="东区", name_en="East", slug="east")
    south = create_region(firm=firm, name="南区", name_en="South", slug="south")
    site_a = create_site(
        firm=firm,
        region=east,
        slug="site-a",
        name="甲医院",
        name_en="Hospital A",
        kind="hospital",
        with_template=False,
    )
    site_b = create_site(
        firm=firm,
        region=south,
        slug="site-b",
        name="乙养老院",
        name_en="Care Home B",
        kind="care_home",
        with_template=False,
    )
    other_firm = create_firm(name="别家物业", name_en="Other Property", slug="otherfirm")

    def person(key: str, **extra) -> User:
        return User.objects.create_user(f"{key}@test.example", PASSWORD, **extra)

    grant_role(user=person("reception_a"), role=Role.RECEPTIONIST, site=site_a)
    grant_role(user=person("admin_a"), role=Role.SITE_ADMIN, site=site_a)
    grant_role(user=person("manager_b"), role=Role.SERVICE_CENTRE_MANAGER, site=site_b)
    grant_role(user=person("regional_east"), role=Role.REGIONAL_MANAGER, region=east)
    grant_role(user=person("firm_admin"), role=Role.FIRM_ADMIN, firm=firm)
    grant_role(user=person("other_firm_admin"), role=Role.FIRM_ADMIN, firm=other_firm)
    person("platform_admin", is_staff=True)
    person("outsider")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A test database of this run's own, so that two runs on one server never collide."""
    from django.conf import settings

    test = settings.DATABASES["default"].setdefault("TEST", {})
    test["NAME"] = f"test_carefront_{os.getpid()}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.conf import settings

    settings.SITE_SPARE_SCHEMAS = 0
    with django_db_blocker.unblock():
        _build_world()


@pytest.fixture
def world(db) -> World:
    return World(
        firm=Firm.objects.get(slug="testfirm"),
        site_a=Site.objects.get(slug="site-a"),
        site_b=Site.objects.get(slug="site-b"),
        people={
            u.email.split("@")[0]: u for u in User.objects.filter(email__endswith="@test.example")
        },
    )


@pytest.fixture(autouse=True)
def _fresh_tenant_state():
    """Each test starts on the public schema with an empty host -> site map, as a new
    process would; a rolled-back test must not leave a cached site behind."""
    forget_cached_sites()
    connection.set_schema_to_public()
    yield
    forget_cached_sites()
    connection.set_schema_to_public()


def login(client, user: User, host: str) -> None:
    """Log in through the real login form on `host`."""
    response = client.post(
        "/accounts/login/", {"username": user.email, "password": PASSWORD}, HTTP_HOST=host
    )
    assert response.status_code == 302, response.content[:500]
