"""Opening a site: a clone of the template schema indistinguishable from a migrated one, all
in one transaction (a failure, or a killed process, leaves nothing), reachable at once."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from casework.models import Category, Department, MilestoneRule, SiteConfiguration, Tier
from casework.notifications import relay_outbox
from cms.models import ComplaintFormPage, HomePage, TrackingPage
from tenants import schemas
from tenants.models import Domain, Membership, Role, Site, SiteEvent, User
from tenants.services import create_site
from tests.test_celery import _database_url

ROOT = Path(__file__).resolve().parents[1]


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def _open(world, slug="north-hospital", **extra) -> Site:
    arguments = {
        "firm": world.firm,
        "region": world.site_a.region,
        "slug": slug,
        "name": "北院区",
        "name_en": "North Campus",
        "kind": "hospital",
        "admin_email": "first.admin@north.example",
        "created_by": world.people["firm_admin"],
    }
    return create_site(**{**arguments, **extra})


@pytest.fixture(scope="module")
def migrated_schema(django_db_setup, django_db_blocker):
    """A schema made the slow way, every tenant migration run on it: outside any test's
    transaction (migrations cannot run inside one), dropped afterwards."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA migrated_for_test")
        call_command(
            "migrate_schemas",
            schema_name="migrated_for_test",
            tenant=True,
            interactive=False,
            verbosity=0,
            executor="standard",
        )
        connection.set_schema_to_public()
    yield "migrated_for_test"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA migrated_for_test CASCADE")


def test_a_cloned_schema_is_indistinguishable_from_a_migrated_one(db, migrated_schema):
    """The catalog (tables, columns, constraint and index names and definitions, sequences
    and their positions, triggers, row counts) of a clone equals that of a schema migrated
    from nothing, so a later migration that names a constraint works on every site."""
    schemas.clone_template("cloned_for_test")

    assert schemas.catalog_differences("migrated_for_test", "cloned_for_test") == []
    assert schemas.catalog_differences(schemas.template_schema(), "cloned_for_test") == []
    constraints = dict(
        (name, kind) for _t, name, kind, *_rest in schemas.catalog("cloned_for_test")["constraints"]
    )
    # The name django-tenants' own clone loses (it becomes wagtailcore_page_translation_key_…_key).
    assert constraints["wagtailcore_page_translation_key_locale_id_9b041bad_uniq"] == "u"


def test_the_comparison_fails_on_a_renamed_constraint(db):
    schemas.clone_template("cloned_for_test")
    schemas.clone_template("cloned_and_changed")
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE cloned_and_changed.wagtailcore_page RENAME CONSTRAINT "
            "wagtailcore_page_translation_key_locale_id_9b041bad_uniq TO renamed_uniq"
        )
        cursor.execute("SELECT setval('cloned_and_changed.django_content_type_id_seq', 500)")
    differences = schemas.catalog_differences("cloned_for_test", "cloned_and_changed")
    assert any("renamed_uniq" in line for line in differences)
    assert any("sequence_positions" in line for line in differences)


def test_a_new_site_answers_on_its_domain_with_its_pages_and_configuration(world, client):
    site = _open(world)
    host = "north-hospital.localhost"
    assert site.primary_domain == host
    home = client.get("/", HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert home.status_code == 200 and "北院区" in home.content.decode()
    english = client.get("/", HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "North Campus" in english
    assert client.get("/complain/", HTTP_HOST=host).status_code == 200
    assert client.get("/track/", HTTP_HOST=host).status_code == 200
    with tenant_context(site):
        assert SiteConfiguration.objects.get().template == "hospital_property"
        assert Tier.objects.count() == 4
        assert MilestoneRule.objects.exists() and Department.objects.exists()
        assert HomePage.objects.count() == ComplaintFormPage.objects.count() == 1
        assert TrackingPage.objects.get().url_path == "/home/track/"
        assert HomePage.objects.get().get_children().count() == 2
    admin = User.objects.get(email="first.admin@north.example")
    assert Membership.objects.filter(user=admin, site=site, role=Role.SITE_ADMIN).exists()
    assert not admin.has_usable_password()
    relay_outbox(site=site)
    assert "/invitation/" in mail.outbox[-1].body
    event = SiteEvent.objects.get(site=site, action=SiteEvent.Action.CREATED)
    assert event.actor == world.people["firm_admin"]


def test_a_site_opened_from_a_spare_equals_one_cloned_on_the_spot(world):
    schemas.replenish_spares(count=1)
    (spare,) = schemas.spare_schemas()
    site = _open(world)
    assert spare not in _schemas() and site.schema_name in _schemas()
    assert SiteEvent.objects.get(site=site, action="created").details["schema"] == "spare"
    assert schemas.spare_schemas() == []
    second = _open(world, slug="south-hospital", admin_email="")
    assert SiteEvent.objects.get(site=second, action="created").details["schema"] == "clone"
    # Same tables, constraints and sequences; only the rows written since differ.
    a, b = schemas.catalog(site.schema_name), schemas.catalog(second.schema_name)
    for part in ("relations", "columns", "constraints", "indexes", "sequences", "triggers"):
        assert a[part] == b[part], part


@pytest.mark.parametrize("step", ["provision_site_pages", "apply_template", "invite_to_site"])
def test_a_failure_after_the_schema_exists_leaves_nothing_and_a_retry_works(
    world, monkeypatch, step
):
    import casework.site_templates
    import cms.services
    import tenants.services

    schemas.replenish_spares(count=1)
    spares = schemas.spare_schemas()
    before = (Site.objects.count(), Domain.objects.count(), User.objects.count(), _schemas())
    module = {
        "provision_site_pages": cms.services,
        "apply_template": casework.site_templates,
        "invite_to_site": tenants.services,
    }[step]

    def fail(**kwargs):
        assert "north_hospital" in _schemas()  # the schema exists when this step runs
        raise RuntimeError("injected failure")

    with monkeypatch.context() as patch:
        patch.setattr(module, step, fail)
        with pytest.raises(RuntimeError, match="injected failure"):
            _open(world)
    assert (Site.objects.count(), Domain.objects.count(), User.objects.count(), _schemas()) == (
        before
    )
    assert not SiteEvent.objects.filter(site_slug="north-hospital").exists()
    assert schemas.spare_schemas() == spares  # the spare it took is a spare again
    assert connection.schema_name == "public"

    site = _open(world)
    assert site.schema_name in _schemas()


def test_a_duplicate_slug_or_domain_is_refused_next_to_the_field(world):
    _open(world)
    before = (Site.objects.count(), _schemas())
    with pytest.raises(ValidationError) as error:
        _open(world, admin_email="someone@north.example")
    assert "slug" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        _open(world, slug="other-name", domain="north-hospital.localhost")
    assert "domain" in error.value.message_dict
    assert (Site.objects.count(), _schemas()) == before
    assert not User.objects.filter(email="someone@north.example").exists()


def test_a_killed_onboarding_leaves_nothing_and_can_be_run_again(world):
    """A process killed in the middle of onboarding (after its schema was made): PostgreSQL
    rolls its transaction back, schema included."""
    script = textwrap.dedent(
        """
        import sys, time
        import django
        django.setup()
        import casework.site_templates as templates
        from tenants.models import Firm
        from tenants.services import create_site

        def stall(**kwargs):
            print("schema made", flush=True)
            time.sleep(60)

        templates.apply_template = stall
        create_site(firm=Firm.objects.get(slug="testfirm"), slug="killed-site", name="K",
                    kind="hospital")
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "carefront.settings",
        "DATABASE_URL": _database_url(),
        "SITE_SPARE_SCHEMAS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "schema made"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    # The server rolls the dead client's transaction back; the retry below waits for it if
    # need be (the slug's unique index is still locked until then).
    assert not Site.objects.filter(slug="killed-site").exists()
    assert "killed_site" not in _schemas()
    assert not Domain.objects.filter(domain="killed-site.localhost").exists()
    site = create_site(firm=world.firm, slug="killed-site", name="K", kind="hospital")
    assert site.schema_name in _schemas()


def test_migrate_leaves_up_to_date_schemas_alone(world):
    template = schemas.template_schema()
    assert schemas.schemas_behind(["public", template, world.site_a.schema_name]) == []
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {world.site_b.schema_name}.django_migrations "  # noqa: S608
            "WHERE app = 'casework' AND name = (SELECT max(name) FROM "
            f"{world.site_b.schema_name}.django_migrations WHERE app = 'casework')"
        )
    assert schemas.schemas_behind(
        [world.site_a.schema_name, world.site_b.schema_name, "no_such_schema"]
    ) == [world.site_b.schema_name, "no_such_schema"]


def _configuration_rows() -> dict:
    return {
        "configuration": list(SiteConfiguration.objects.values()),
        "departments": list(
            Department.objects.order_by("code").values("code", "name", "parent__code", "position")
        ),
        "categories": list(
            Category.objects.order_by("kind", "code").values(
                "kind", "code", "name_en", "parent__code", "is_valid_complaint", "is_active"
            )
        ),
        "tiers": list(Tier.objects.order_by("code").values()),
        "rules": list(MilestoneRule.objects.order_by("tier__code", "code").values()),
    }


def test_the_quick_configuration_and_pages_are_what_the_slow_ways_write(world):
    """A new site's configuration is bulk-inserted and its pages written directly; applying
    the template again row by row changes nothing, and the page tree is sound."""
    from wagtail.models import Page
    from wagtail.models import Site as WagtailSite

    from casework.site_templates import apply_template
    from cms.services import provision_site_pages

    site = _open(world, kind="care_home", admin_email="")
    with tenant_context(site):
        quick = _configuration_rows()
        apply_template(code="care_home")
        assert _configuration_rows() == quick
        assert Page.find_problems() == ([], [], [], [], [])
        assert [p.url_path for p in Page.objects.order_by("path")] == [
            "/",
            "/home/",
            "/home/complain/",
            "/home/track/",
        ]
        assert WagtailSite.objects.get().hostname == "north-hospital.localhost"
        home = provision_site_pages(site=site, hostname="north-hospital.localhost")
        assert Page.objects.count() == 4 and home.get_children().count() == 2


def test_a_race_for_the_same_address_is_refused_next_to_the_field(world, monkeypatch):
    """Two onboardings checked the same free address; the one that commits second is told
    the address is taken, and leaves nothing."""
    import tenants.services

    checked = tenants.services._validated_site

    def raced(**kwargs):
        site = checked(**{**kwargs, "slug": "free-slug", "host": "free-slug.localhost"})
        site.slug = "site-a"  # taken by the other onboarding after this one's check
        return site

    monkeypatch.setattr(tenants.services, "_validated_site", raced)
    before = (Site.objects.count(), _schemas())
    with pytest.raises(ValidationError) as error:
        create_site(firm=world.firm, slug="site-a", name="X", kind="hospital")
    assert "slug" in error.value.message_dict
    assert (Site.objects.count(), _schemas()) == before
