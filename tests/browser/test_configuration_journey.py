"""The site admin of `browser-site` reconsiders the minor tier's "resolve" clock on a phone, in
a real browser: the preview of the deadlines follows what is typed (htmx), and without
JavaScript the "Preview the deadlines" button shows the same; nothing is saved by either."""

import re
from urllib.parse import quote

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from casework.models import MilestoneRule
from tenants.models import User
from tests.browser.conftest import t
from tests.browser.test_public_journeys import fits_the_phone

pytestmark = pytest.mark.browser

ZH = "zh-hans"
PASSWORD = "a-long-browser-password"
FRIDAY = "2026-11-20T10:00"  # 10:00 on a Friday, in the site's time zone


@pytest.fixture
def resolve_rule_path(browser_site, django_db_blocker) -> str:
    """The rule page of the minor tier's resolve clock (2 calendar days in the template), with
    the preview set to a case registered on Friday morning; the site admin can log in."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        admin = User.objects.get(email="site-admin@browser.example")
        admin.set_password(PASSWORD)
        admin.save(update_fields=["password"])
        with tenant_context(browser_site):
            rule = MilestoneRule.objects.get(tier__code="minor", code="resolve")
        connection.set_schema_to_public()
    return f"/office/configuration/rules/{rule.pk}/?at={FRIDAY}"


def log_in(page, path: str) -> None:
    page.goto(f"/accounts/login/?next={quote(path)}")
    page.fill("#id_username", "site-admin@browser.example")
    page.fill("#id_password", PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(re.compile(r"/office/configuration/rules/"))


def test_the_preview_follows_what_the_admin_types_and_saves_nothing(
    resolve_rule_path, phone, screenshot
):
    page = phone()
    log_in(page, resolve_rule_path)
    preview = page.locator("#deadline-preview")
    assert "2026-11-22 10:00" in preview.inner_text()  # Friday + 2 calendar days

    page.locator("#id_unit").select_option("working_days")
    page.locator("#id_amount").fill("1")
    page.locator("#id_amount").dispatch_event("change")
    page.wait_for_function(
        "document.querySelector('#deadline-preview').innerText.includes('2026-11-23 17:30')"
    )
    assert t(ZH, "as typed, not saved") in page.locator("#deadline-preview").inner_text()
    fits_the_phone(page)
    screenshot(page, "configuration-rule-preview-zh")

    page.goto(resolve_rule_path)
    assert page.locator("#id_amount").input_value() == "2"  # nothing was saved


def test_without_javascript_the_preview_button_shows_the_same(resolve_rule_path, phone):
    page = phone(java_script_enabled=False)
    log_in(page, resolve_rule_path)
    page.locator("#id_unit").select_option("working_days")
    page.locator("#id_amount").fill("1")
    page.get_by_role("button", name=t(ZH, "Preview the deadlines")).click()
    page.wait_for_load_state()
    assert "2026-11-23 17:30" in page.locator("#deadline-preview").inner_text()
    assert page.locator("#id_amount").input_value() == "1"  # what was typed stays
    page.goto(resolve_rule_path)
    assert page.locator("#id_amount").input_value() == "2"


def test_every_configuration_screen_fits_a_phone(resolve_rule_path, phone, screenshot):
    page = phone()
    log_in(page, resolve_rule_path)
    for path in (
        "/office/configuration/",
        "/office/configuration/departments/",
        "/office/configuration/categories/",
        "/office/configuration/calendar/",
        "/office/configuration/settings/",
        "/office/configuration/staff/",
        "/office/configuration/history/",
    ):
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        fits_the_phone(page)
    page.goto("/office/configuration/departments/")
    screenshot(page, "configuration-departments-zh")
