"""The printable case sheet (/office/cases/<id>/sheet.pdf): the paper 投诉处理表's boxes with
this case's facts, read back from the PDF with pdftotext, masked as on the page."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework.services import (
    classify_case,
    dispatch_case,
    record_callback,
    reply_to_complainant,
)
from tests.conftest import HOST_A, HOST_B

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def cjk_extractable() -> bool:
    # pdftotext maps STSong-Light's codes back to Unicode with poppler-data's CMaps.
    return Path("/usr/share/poppler/cMap/Adobe-GB1").is_dir()


def text_of(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", path, "-"], check=True, capture_output=True, text=True
    ).stdout


def sheet(user, case, host=HOST_A):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the steps are named in the reader's language
    client.force_login(user)
    return client.get(f"/office/cases/{case.pk}/sheet.pdf", HTTP_HOST=host)


@pytest.fixture
def handled(hospital):
    """A complaint dispatched, replied to in writing and called back."""
    s = hospital.staff
    case = hospital.register(now=timezone.now(), location="住院部3号楼5楼")
    dispatch_case(case=case, by=s["reception"], department=hospital.departments["clean"])
    reply_to_complainant(
        case=case,
        by=s["supervisor"],
        method="written",
        investigation="Checked the CCTV",
        facts="No warning sign after mopping",
        responsibility="Cleaning department",
        decision="Apology and staff training",
    )
    record_callback(case=case, by=s["reception"], method="phone", satisfied=True, rating=4)
    return case


def test_the_sheet_is_a_pdf_with_the_forms_boxes_and_this_cases_facts(hospital, handled, tmp_path):
    response = sheet(hospital.staff["manager"], handled)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    text = " ".join(text_of(response.content, tmp_path).split())
    assert handled.reference in text
    for label in (
        "Complaint handling form",
        "Reference",
        "Complainant",
        "Received by",
        "Received at",
        "Channel",
        "Account",
        "Tier",
        "Department",
        "Handling steps",
        "Investigation",
        "Facts and evidence",
        "Responsibility",
        "Decision",
        "Call-back",
        "Satisfaction",
        "Closure",
        "Sign-off",
        "Complainant's confirmation",
    ):
        assert label in text, label
    assert "Checked the CCTV" in text and "Apology and staff training" in text
    assert "13812345678" in text and "li.na@example.com" in text
    assert "Rating 4/5" in text
    # Received in Shanghai time, as the page shows it.
    local = timezone.localtime(handled.registered_at, timezone.get_fixed_timezone(8 * 60))
    assert local.strftime("%Y-%m-%d %H:%M") in text
    if cjk_extractable():
        assert "投诉处理表" in text and "李娜" in text and "保洁" in text
        assert "受理人签字" in text and "投诉人确认" in text


def test_the_sheet_masks_the_complainant_for_the_people_complained_about(
    hospital, handled, tmp_path
):
    cleaner = hospital.staff["cleaner"]
    with tenant_context(hospital.site):
        classify_case(
            case=handled, by=hospital.staff["manager"], persons_complained_about=[cleaner]
        )
    text = text_of(sheet(cleaner, handled).content, tmp_path)
    assert handled.reference in text
    assert "13812345678" not in text and "li.na@example.com" not in text and "***" in text
    if cjk_extractable():
        assert "李娜" not in text


def test_the_sheet_is_refused_to_other_sites_and_outsiders(hospital, world, handled):
    for who in ("manager_b", "outsider"):
        response = sheet(world.people[who], handled)
        assert response.status_code == 403
        assert handled.reference.encode() not in response.content
    assert sheet(world.people["manager_b"], handled, host=HOST_B).status_code == 404


def test_a_long_history_runs_onto_more_pages(hospital, tmp_path):
    from casework.services import log_contact

    case = hospital.register(now=timezone.now())
    for n in range(60):
        log_contact(case=case, by=hospital.staff["reception"], method="phone", summary=f"call {n}")
    path = tmp_path / "long.pdf"
    path.write_bytes(sheet(hospital.staff["reception"], case).content)
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo not installed (apt-get install poppler-utils)")
    info = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True).stdout
    assert int(info.split("Pages:")[1].split()[0]) >= 2
    assert text_of(path.read_bytes(), tmp_path).count("Contact with the complainant") == 60
