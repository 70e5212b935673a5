import pytest
from django_tenants.utils import tenant_context

from casework.site_templates import apply_template


@pytest.fixture
def public_site(world):
    """Site A configured from the hospital template, as a newly opened hospital would be."""
    with tenant_context(world.site_a):
        apply_template(code="hospital_property")
    return world.site_a


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test starts with no submissions counted against its address."""
    from django.core.cache import cache

    cache.clear()
