"""The receptionist's new-case screen: a phone complaint registered in one screen with the
receptionist as its owner, "resolved at contact" in one click, and bad input that shows its
errors next to the fields and creates nothing."""

import pytest
from django_tenants.utils import tenant_context

from casework.models import Case, CaseStatus, Milestone
from tests.conftest import HOST_A, login

PHONE_CALL = {
    "channel": "phone",
    "relation": "family",
    "name": "张伟",
    "phone": "13700002222",
    "email": "",
    "consent_contact": "on",
    "account": "门诊楼电梯停在三楼不动，按钮没有反应",
    "location": "门诊楼",
    "action": "register",
}


def post(client, data, **headers):
    return client.post("/office/cases/new/", data, HTTP_HOST=HOST_A, **headers)


def test_the_screen_offers_the_staff_channels(client, hospital):
    client.force_login(hospital.staff["reception"])
    html = client.get("/office/cases/new/", HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en")
    html = html.content.decode()
    for channel in ("phone", "walk_in", "letter", "email", "opinion_book", "referral"):
        assert f'value="{channel}"' in html
    assert 'value="web"' not in html
    assert "Resolved at contact" in html


def test_a_receptionist_registers_a_phone_complaint_and_owns_it(client, hospital):
    receptionist = hospital.staff["reception"]
    client.force_login(receptionist)
    response = post(client, PHONE_CALL)
    assert response.status_code == 302
    with tenant_context(hospital.site):
        case = Case.objects.get()
        assert (case.owner, case.first_responder) == (receptionist, receptionist)
        assert case.channel == "phone" and case.status == CaseStatus.OPEN
        assert case.complainant_phone == "13700002222" and case.location == "门诊楼"
        assert case.milestones.filter(state="open").exists()
    # The new case is on the receptionist's own tab, found by its text.
    html = client.get("/office/queue/?tab=mine&q=电梯", HTTP_HOST=HOST_A).content.decode()
    assert case.reference in html


def test_a_walk_in_can_be_dispatched_and_classified_at_once(client, hospital):
    client.force_login(hospital.staff["reception"])
    data = {
        **PHONE_CALL,
        "channel": "walk_in",
        "tier": hospital.tiers["major"].pk,
        "content": hospital.categories["equipment"].pk,
        "lead_department": hospital.departments["lift"].pk,
    }
    assert post(client, data).status_code == 302
    with tenant_context(hospital.site):
        case = Case.objects.get()
    assert case.tier == hospital.tiers["major"] and case.lead_department.code == "lift"
    assert "-EQP-" in case.reference


def test_resolved_at_contact_is_one_click_and_opens_no_clocks(client, hospital):
    client.force_login(hospital.staff["reception"])
    data = {**PHONE_CALL, "action": "resolved", "resolution": "已告知电梯维修时间，家属表示理解"}
    response = post(client, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/office/cases/new/"
    with tenant_context(hospital.site):
        case = Case.objects.get()
        assert case.status == CaseStatus.RESOLVED_AT_CONTACT
        assert case.owner == hospital.staff["reception"]
        assert not Milestone.objects.filter(case=case).exists()
    followed = client.get(response["Location"], HTTP_HOST=HOST_A, HTTP_ACCEPT_LANGUAGE="en")
    assert f"{case.reference} recorded as resolved at contact" in followed.content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"account": "   "}, "account", "This field is required."),
        ({"channel": "carrier_pigeon"}, "channel", "Select a valid choice."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"name": "", "phone": "", "email": ""}, "phone", "mark the complaint anonymous"),
        ({"action": "resolved", "resolution": ""}, "resolution", "Say how it was settled."),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
    ],
)
def test_bad_input_shows_the_error_by_its_field_and_creates_nothing(
    client, hospital, change, field, message
):
    client.force_login(hospital.staff["reception"])
    response = post(client, {**PHONE_CALL, **change}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}-error"' in html
    assert message in html.split(f'id="id_{field}-error"', 1)[1].split("</p>")[0]
    assert 'value="门诊楼"' in html  # what was typed is kept
    with tenant_context(hospital.site):
        assert not Case.objects.exists()


def test_an_anonymous_complaint_keeps_no_contact_details(client, hospital):
    client.force_login(hospital.staff["reception"])
    data = {**PHONE_CALL, "anonymous": "on", "name": "", "phone": "", "channel": "opinion_book"}
    assert post(client, data).status_code == 302
    with tenant_context(hospital.site):
        case = Case.objects.get()
    assert case.anonymous and case.complainant_phone == "" and case.complainant_phone_index == ""


def test_staff_of_another_site_cannot_register_here(client, hospital, world):
    login(client, world.people["manager_b"], HOST_A)
    assert post(client, PHONE_CALL).status_code == 403
    with tenant_context(hospital.site):
        assert not Case.objects.exists()
