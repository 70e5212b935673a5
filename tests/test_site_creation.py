"""Opening a site refuses bad input before anything is written."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tenants.models import Site
from tenants.services import create_firm, create_site, grant_role


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "site-a"}, "slug"),  # taken
        ({"slug": "public"}, "slug"),  # reserved
        ({"slug": "Bad Slug!"}, "slug"),
        ({"kind": "prison"}, "kind"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"languages": ["fr"]}, "languages"),
    ],
)
def test_bad_site_input_is_refused_and_leaves_nothing(world, overrides, field):
    before_sites, before_schemas = Site.objects.count(), _schemas()
    arguments = {"firm": world.firm, "slug": "new-site", "name": "新医院", "kind": "hospital"}
    with pytest.raises(ValidationError) as error:
        create_site(**{**arguments, **overrides})
    assert field in error.value.message_dict
    assert Site.objects.count() == before_sites
    assert _schemas() == before_schemas


def test_a_region_of_another_firm_is_refused(world):
    other = create_firm(name="另一家", slug="another")
    with pytest.raises(ValidationError) as error:
        create_site(
            firm=other, region=world.site_a.region, slug="x-site", name="X", kind="hospital"
        )
    assert "region" in error.value.message_dict


def test_granting_a_site_role_without_a_site_is_refused(world):
    with pytest.raises(ValidationError):
        grant_role(user=world.people["outsider"], role="receptionist", firm=world.firm)
    assert not world.people["outsider"].memberships.exists()
