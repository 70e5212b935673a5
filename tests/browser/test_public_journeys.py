"""A patient's relative files a complaint on a phone, then follows it, in a real browser.

Each test is one person's journey through the public pages of `browser-site` (a hospital set
up from the hospital template), and checks what that person sees. Labels and buttons are
found by the words the site shows in the person's language (the project's own catalogue), so
the tests also check that every field has a working label.
"""

import re
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import PHONE, t

pytestmark = pytest.mark.browser

ZH, EN = "zh-hans", "en"
REFERENCE = re.compile(r"\d{8}-SVC-\d{3}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def photo(tmp_path: Path) -> Path:
    """A small photo of the wet floor, as a phone would attach it."""
    path = tmp_path / "wet-floor.png"
    Image.new("RGB", (64, 48), (40, 120, 200)).save(path, format="PNG")
    return path


def field(page, language: str, label: str):
    """The input whose label reads `label` in `language` (a required one's ends in " *")."""
    text = t(language, label)
    return page.get_by_label(re.compile(rf"^{re.escape(text)}( \*)?$"))


def fits_the_phone(page) -> None:
    """Nothing sticks out sideways: the page never needs scrolling left and right."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def fill_in_complaint(page, language: str, attachment: Path | None) -> None:
    field(page, language, "You are").select_option(label=t(language, "family member"))
    field(page, language, "Your name").fill("李娜")
    field(page, language, "Phone").fill("138 1234 5678")
    field(page, language, "Where did it happen? (ward, building, floor)").fill("住院部3号楼5楼")
    field(page, language, "What happened?").fill("我父亲在走廊滑倒，地面刚拖过没有放警示牌。")
    if attachment is not None:
        field(
            page, language, "Photos or documents (JPEG, PNG, WebP or PDF, up to 5 files of 10 MB)"
        ).set_input_files(attachment)
    field(page, language, "You may contact me about this complaint").check()


def read_receipt(page) -> tuple[str, str]:
    """The reference, and the 6-digit access code, as the receipt shows them."""
    page.wait_for_url(re.compile(r"/complain/\?receipt=1$"))
    reference = page.locator("#reference").inner_text().strip()
    code = page.locator("#access-code").inner_text().strip()
    assert REFERENCE.fullmatch(reference), reference
    assert re.fullmatch(r"\d{6}", code), code
    link = page.locator("#tracking-link")
    assert re.fullmatch(
        r"http://browser-site\.localhost:\d+/track/[\w-]{16,64}/", link.inner_text()
    )
    return reference, code


def open_tracking(page, language: str, code: str) -> None:
    """Follow the private link from the receipt and unlock it with the access code."""
    page.locator("#tracking-link").click()
    page.wait_for_url(re.compile(r"/track/[\w-]+/$"))
    field(page, language, "Access code").fill(code)
    page.get_by_role("button", name=t(language, "Show my complaint")).click()


def test_a_relative_files_a_complaint_in_chinese_and_follows_it(phone, screenshot, tmp_path):
    page = phone()
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == ZH
    assert page.get_by_role("heading", level=1).inner_text() == "丙医院"

    page.get_by_role("link", name=t(ZH, "File a complaint online")).click()
    assert page.get_by_role("heading", level=1).inner_text() == "我要投诉"
    fill_in_complaint(page, ZH, photo(tmp_path))
    screenshot(page, "public-form-zh")
    fits_the_phone(page)
    page.get_by_role("button", name=t(ZH, "Send my complaint")).click()

    reference, code = read_receipt(page)
    assert page.get_by_role("heading", level=1).inner_text() == t(
        ZH, "We have received your complaint"
    )
    screenshot(page, "receipt-zh")  # does not fit a phone yet: see the test below

    open_tracking(page, ZH, code)
    status = page.locator("#status").inner_text()
    assert status == t(ZH, "Being handled") and CJK.search(status)
    assert reference in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_text(t(ZH, "Your complaint was registered.")).is_visible()
    assert "李娜" not in page.content()  # the link shows the case, never the person
    screenshot(page, "tracking-zh")
    fits_the_phone(page)


def test_a_visitor_switches_to_english_files_and_follows_a_complaint(phone, screenshot, tmp_path):
    page = phone()
    page.goto("/")
    page.locator("#language-switch").select_option("en")
    page.get_by_role("button", name=t(ZH, "Switch")).click()
    page.wait_for_selector("html[lang=en]")
    assert page.url.endswith("/")  # back where the switch was made

    page.get_by_role("link", name="File a complaint online").click()
    assert page.get_by_role("heading", level=1).inner_text() == "File a complaint"
    fill_in_complaint(page, EN, photo(tmp_path))
    screenshot(page, "public-form-en")
    fits_the_phone(page)
    page.get_by_role("button", name="Send my complaint").click()

    reference, code = read_receipt(page)
    assert page.get_by_role("heading", level=1).inner_text() == "We have received your complaint"
    assert page.get_by_text("Keep this link and code").is_visible()
    screenshot(page, "receipt-en")  # does not fit a phone yet: see the test below

    open_tracking(page, EN, code)
    assert page.locator("#status").inner_text() == "Being handled"
    assert page.get_by_role("heading", level=1).inner_text() == f"Your complaint {reference}"
    assert page.get_by_text("Your complaint was registered.").is_visible()
    screenshot(page, "tracking-en")
    fits_the_phone(page)


def test_the_receipt_fits_a_phone(phone):
    """The private link is one long word; it must wrap rather than widen the page."""
    page = phone()
    page.goto("/complain/")
    fill_in_complaint(page, ZH, attachment=None)
    page.get_by_role("button", name=t(ZH, "Send my complaint")).click()
    read_receipt(page)
    fits_the_phone(page)


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user
    would; fails if it can never be reached."""
    for _press in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reaches {selector}")


def choose_with_arrows(page, value: str, limit: int = 10) -> None:
    for _press in range(limit):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never choose {value!r}")


SUBMIT = "main form button[type=submit]"


def test_the_form_works_with_the_keyboard_alone_and_explains_a_missing_field(phone, screenshot):
    page = phone()
    page.goto("/complain/")

    tab_to(page, "[name=relation]")
    choose_with_arrows(page, "family")
    tab_to(page, "[name=name]")
    page.keyboard.type("王芳")
    tab_to(page, "[name=phone]")
    page.keyboard.type("139 8765 4321")
    tab_to(page, "[name=location]")
    page.keyboard.type("门诊楼2楼")
    tab_to(page, SUBMIT)  # "what happened" left empty
    page.keyboard.press("Enter")

    page.wait_for_selector(".error-summary")
    account = page.locator("#id_account")
    error = page.locator("#id_account-error")
    assert error.inner_text() == t(ZH, "This field is required.")
    # Next to its field, and tied to it for screen readers.
    assert page.locator(".field.has-error").filter(has=account).locator(".field-error").count()
    assert account.get_attribute("aria-invalid") == "true"
    assert account.get_attribute("aria-describedby") == "id_account-error"
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() == 1  # only the field that is wrong
    for index in range(invalid.count()):
        wrong = invalid.nth(index)
        assert wrong.is_visible() and wrong.is_enabled()
        assert wrong.get_attribute("tabindex") != "-1"
    assert field(page, ZH, "Your name").input_value() == "王芳"  # kept
    fits_the_phone(page)
    screenshot(page, "form-errors-zh")

    tab_to(page, "[name=account]")
    page.keyboard.type("挂号窗口的工作人员态度很差。")
    tab_to(page, "[name=consent_contact]")
    page.keyboard.press("Space")
    tab_to(page, SUBMIT)
    page.keyboard.press("Enter")
    read_receipt(page)


def test_a_complaint_can_be_filed_without_javascript(phone, tmp_path):
    page = phone(java_script_enabled=False)
    page.goto("/")
    page.get_by_role("link", name=t(ZH, "File a complaint online")).click()
    field(page, ZH, "You are").select_option("visitor")
    field(page, ZH, "Stay anonymous (we cannot contact you or tell you the outcome)").check()
    field(page, ZH, "What happened?").fill("电梯停在三楼半小时没人来修。")
    field(
        page, ZH, "Photos or documents (JPEG, PNG, WebP or PDF, up to 5 files of 10 MB)"
    ).set_input_files(photo(tmp_path))
    page.get_by_role("button", name=t(ZH, "Send my complaint")).click()

    reference, code = read_receipt(page)
    open_tracking(page, ZH, code)
    assert page.locator("#status").inner_text() == t(ZH, "Being handled")
    assert reference in page.get_by_role("heading", level=1).inner_text()


def test_a_chinese_visitor_reads_no_english(phone):
    """Every heading, label, legend and button of the channels page and the form is Chinese."""
    page = phone()
    english = []
    for path in ("/", "/complain/"):
        page.goto(path)
        texts = page.locator(
            "main :is(h1, h2, h3, legend, label, button, a.button), main option"
        ).all_text_contents()
        english += [text.strip() for text in texts if text.strip() and not CJK.search(text)]
    assert not english, f"shown in English to a Chinese visitor: {english}"
