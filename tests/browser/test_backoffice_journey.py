"""A phone complaint through the back office in a real browser, from the call to closing.

A receptionist at the service-centre desk registers a phone complaint as a major case (the
new-case screen); a cleaning supervisor on a ward round, on a tablet, dispatches it and
replies in writing; the call-back finds the complainant dissatisfied and the case opens
again; after a second reply and a satisfied call-back the receptionist cannot close it (a
major case needs the manager's approval); the service-centre manager approves and closes it.
Each step is checked as the person sees it and screenshotted into docs/screenshots/office-*.

The staff are made once for this module on `browser-site` (the hospital template's tiers and
departments) and removed with that site (tests/browser/conftest.py).
"""

import re

import pytest
from django.db import connection
from playwright.sync_api import expect

from tenants.models import Role, User
from tenants.services import grant_role
from tests.browser.conftest import t

pytestmark = pytest.mark.browser

EN = "en"
PASSWORD = "office-journey-password"
DESK = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}  # a tablet held upright on a ward round
REFERENCE = re.compile(r"\d{8}-[A-Z]+-\d{3}")


@pytest.fixture(scope="module")
def staff(browser_site, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        people = {}
        for key, role, first, last in (
            ("reception", Role.RECEPTIONIST, "Fang", "Wang"),
            ("supervisor", Role.DEPARTMENT_SUPERVISOR, "Wei", "Zhang"),
            ("manager", Role.SERVICE_CENTRE_MANAGER, "Min", "Chen"),
        ):
            people[key] = User.objects.create_user(
                f"{key}@office.browser.example",
                PASSWORD,
                first_name=first,
                last_name=last,
                preferred_language="en",
            )
            grant_role(user=people[key], role=role, site=browser_site)
    return people


def sign_in(browser, live_server_url, user, viewport, locale="en-GB", **options):
    context = browser.new_context(
        base_url=live_server_url, viewport=viewport, locale=locale, **options
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    language = "zh-hans" if locale.startswith("zh") else EN
    page.get_by_role("button", name=t(language, "Log in")).click()
    page.wait_for_load_state()
    return context, page


def shoot(screenshot, page, name: str) -> None:
    """A screenshot from the top: HTMX keeps the scroll position where the form was."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def action(page, name: str):
    """The action's panel on the case page, opened."""
    panel = page.locator(f"#action-{name}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    return panel


def submit(panel, name: str) -> None:
    panel.get_by_role("button", name=name).click()


def status_of(page) -> str:
    return page.locator("#case-status").inner_text().strip()


def says(page, text: str) -> None:
    """The page shows `text` as the outcome of the last action: in the page's messages after
    a plain post and redirect, or in #case-flash once HTMX has swapped the case in place."""
    expect(page.locator("ul.messages").filter(has_text=text)).to_have_count(1)


def reply_in_writing(page, decision: str) -> None:
    panel = action(page, "reply")
    panel.get_by_label(t(EN, "Reply by")).select_option("written")
    panel.get_by_label(t(EN, "Investigation"), exact=True).fill(
        "Spoke with the cleaner on duty and checked the corridor camera."
    )
    panel.get_by_label(t(EN, "Facts and evidence")).fill(
        "The floor was mopped at 09:40 and no wet-floor sign was put out."
    )
    panel.get_by_label(t(EN, "Responsibility"), exact=True).fill("Cleaning department, day shift.")
    panel.get_by_label(t(EN, "Decision"), exact=True).fill(decision)
    submit(panel, t(EN, "Reply to the complainant"))
    says(page, t(EN, "Reply recorded."))


def call_back(page, satisfied: bool) -> None:
    panel = action(page, "callback")
    panel.get_by_label(t(EN, "How")).select_option("phone")
    answer = "satisfied" if satisfied else "dissatisfied: re-open the case"
    panel.get_by_label(t(EN, answer), exact=True).check()
    submit(panel, t(EN, "Call back"))


def test_a_phone_complaint_from_the_call_to_the_managers_approval(
    browser, live_server_url, staff, screenshot
):
    # 1. The receptionist takes the call and registers it as a major case.
    # Her desk browser runs no JavaScript: every step works as plain forms (the others' do,
    # so their actions go through HTMX).
    desk, page = sign_in(
        browser, live_server_url, staff["reception"], DESK, java_script_enabled=False
    )
    page.goto("/office/cases/new/")
    page.get_by_label(t(EN, "hotline phone")).check()
    page.get_by_label(t(EN, "Complainant is")).select_option("family")
    page.get_by_label(t(EN, "Name"), exact=True).fill("Li Na")
    page.get_by_label(t(EN, "Phone"), exact=True).fill("13812345678")
    page.get_by_label(t(EN, "What happened")).fill(
        "My father slipped in the corridor of building 3: the floor had just been mopped "
        "and there was no warning sign."
    )
    page.get_by_label(t(EN, "Where it happened")).fill("Building 3, floor 5")
    page.locator("summary", has_text=t(EN, "Classify and dispatch now (optional)")).click()
    page.get_by_label(t(EN, "Tier")).select_option(label="Major complaint")
    shoot(screenshot, page, "office-1-new-phone-case")
    page.get_by_role("button", name=t(EN, "Register case")).click()
    page.wait_for_url(re.compile(r"/office/cases/\d+/$"))
    case_path = page.url.split(live_server_url, 1)[1]
    reference = page.locator("#case-reference").inner_text().strip()
    assert REFERENCE.fullmatch(reference), reference
    assert status_of(page) == t(EN, "open")
    assert page.locator("#complainant-phone").inner_text() == "13812345678"
    assert page.locator("#case-owner").inner_text() == "Fang Wang"  # first responder owns it
    timeline = page.locator("#timeline").inner_text()
    assert t(EN, "Registered") in timeline and "Fang Wang" in timeline
    shoot(screenshot, page, "office-2-case-registered")

    # 2. On the ward round, the cleaning supervisor dispatches it to cleaning and replies.
    tablet, ward = sign_in(browser, live_server_url, staff["supervisor"], TABLET)
    ward.goto(case_path)
    panel = action(ward, "dispatch")
    panel.get_by_label(t(EN, "Department")).select_option(label="Cleaning")
    submit(panel, t(EN, "Dispatch"))
    says(ward, "Cleaning")
    expect(ward.locator("#case-flash")).to_contain_text("Cleaning")  # swapped in place by HTMX
    assert ward.locator("#case-department").inner_text() == "Cleaning"
    # A written reply without its facts is refused, with what was typed kept.
    panel = action(ward, "reply")
    panel.get_by_label(t(EN, "Reply by")).select_option("written")
    panel.get_by_label(t(EN, "Decision"), exact=True).fill("We apologise.")
    submit(panel, t(EN, "Reply to the complainant"))
    assert (
        t(EN, "Nothing was changed: see the form below.")
        in ward.locator("#action-failed").inner_text()
    )
    assert t(EN, "A written reply states this.") in ward.locator("#action-reply").inner_text()
    assert (
        ward.locator("#action-reply").get_by_label(t(EN, "Decision"), exact=True).input_value()
        == "We apologise."
    )
    shoot(screenshot, ward, "office-3-reply-refused")
    reply_in_writing(ward, "We apologise; the day shift is retrained and signs are checked hourly.")
    assert status_of(ward) == t(EN, "replied")
    width = ward.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"], f"the case page is {width}px wide on the tablet"
    shoot(screenshot, ward, "office-4-dispatched-and-replied")

    # 3. The call-back: the daughter is not satisfied, the case opens again.
    page.goto(case_path)
    call_back(page, satisfied=False)
    says(
        page, t(EN, "Call-back recorded: the complainant is dissatisfied, the case is open again.")
    )
    assert status_of(page) == t(EN, "open")
    assert page.locator("#case-flash").count() == 0  # no JavaScript: a plain post and redirect
    assert page.locator(".case-status").inner_text().count(t(EN, "re-opened once")) == 1
    shoot(screenshot, page, "office-5-callback-reopened")

    # 4. A second reply; this time the call-back is satisfied.
    ward.goto(case_path)
    reply_in_writing(ward, "The cleaning manager will visit your father today to apologise.")
    page.goto(case_path)
    call_back(page, satisfied=True)
    # The receptionist may not close a major case without the manager's approval.
    panel = action(page, "close")
    panel.get_by_label(t(EN, "Outcome")).select_option("resolved")
    submit(panel, t(EN, "Close the case"))
    refusal = page.locator("#action-close").inner_text()
    assert "approval of the Service-centre manager" in refusal
    assert status_of(page) == t(EN, "replied")
    assert page.locator("#action-approve-closure").count() == 0  # not offered to her

    # 5. The service-centre manager approves closing and closes it.
    office, manager = sign_in(browser, live_server_url, staff["manager"], DESK)
    manager.goto(case_path)
    panel = action(manager, "approve-closure")
    panel.get_by_label(t(EN, "Approval of")).select_option("close")
    panel.get_by_label(t(EN, "Reason"), exact=True).fill("Verified with the family by phone.")
    submit(panel, t(EN, "Approve closing"))
    says(manager, t(EN, "Approval recorded."))
    panel = action(manager, "close")
    panel.get_by_label(t(EN, "Outcome")).select_option("resolved")
    submit(panel, t(EN, "Close the case"))
    says(manager, t(EN, "Case closed."))
    assert status_of(manager) == t(EN, "closed")
    timeline = manager.locator("#timeline").inner_text()
    for step in ("Registered", "Dispatched", "Reply to the complainant", "Call-back",
                 "Closing approved", "Closed"):  # fmt: skip
        assert t(EN, step) in timeline, step
    assert "Min Chen" in timeline
    shoot(screenshot, manager, "office-6-approved-and-closed")
    record = manager.locator("#record").inner_text()
    assert "Spoke with the cleaner on duty" in record and "Verified with the family" in record

    # The same page in Chinese, as most of the site's staff read it.
    zh, chinese = sign_in(browser, live_server_url, staff["manager"], TABLET, locale="zh-CN")
    chinese.goto(case_path)
    chinese.locator("#language-switch").select_option("zh-hans")
    chinese.locator("#language-switch + button").click()
    expect(chinese.locator("#timeline-title")).to_have_text(t("zh-hans", "Timeline"))
    assert t("zh-hans", "Closed") in chinese.locator("#timeline").inner_text()
    shoot(screenshot, chinese, "office-7-closed-case-zh")
    zh.close()

    # The printable sheet of the closed case, fetched by the browser from the page's link
    # (Playwright's own request client does not resolve *.localhost as chromium does).
    link = manager.get_by_role("link", name=t(EN, "Printable case sheet (PDF)"))
    assert link.get_attribute("href") == f"{case_path}sheet.pdf"
    kind, start = manager.evaluate(
        """async (url) => {
            const response = await fetch(url);
            const bytes = new Uint8Array(await response.arrayBuffer());
            const start = String.fromCharCode(...bytes.slice(0, 5));
            return [response.headers.get("content-type"), start];
        }""",
        f"{case_path}sheet.pdf",
    )
    assert kind == "application/pdf" and start == "%PDF-"
    for context in (desk, tablet, office):
        context.close()
