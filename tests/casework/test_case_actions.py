"""Every action of the case page through its own POST URL: it calls the service, comes back to
the page with a message (post/redirect/get); refused, it shows why next to the field, keeps
what was typed and changes nothing. Forged POSTs by roles that may not act meet a 403 or the
service's refusal."""

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import tenant_context
from PIL import Image

from casework.models import (
    Approval,
    Attachment,
    Callback,
    CaseLink,
    CaseStatus,
    Compensation,
    Extension,
    MilestoneRule,
    PerformanceDeduction,
    Reply,
    TimelineEvent,
)
from casework.services import dispatch_case, record_callback, reply_to_complainant
from tests.conftest import HOST_A, HOST_B

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def post(user, case, action, data=None, host=HOST_A, **extra):
    return client_for(user).post(
        f"/office/cases/{case.pk}/{action}/", data or {}, HTTP_HOST=host, follow=False, **extra
    )


def followed(user, case, action, data=None):
    """POST, then follow the redirect back to the case page; returns that page's HTML."""
    client = client_for(user)
    response = client.post(f"/office/cases/{case.pk}/{action}/", data or {}, HTTP_HOST=HOST_A)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert response["Location"] == f"/office/cases/{case.pk}/"
    return client.get(response["Location"], HTTP_HOST=HOST_A).content.decode()


def refresh(hospital, case):
    with tenant_context(hospital.site):
        case.refresh_from_db()
    return case


@pytest.fixture
def case(hospital):
    """A phone complaint registered just now (so no clock has run out yet)."""
    return hospital.register(now=timezone.now())


def test_a_minor_case_goes_from_phone_call_to_closed_through_the_page(hospital, case):
    s, d, c = hospital.staff, hospital.departments, hospital.categories
    html = followed(
        s["reception"],
        case,
        "classify",
        {"tier": hospital.tiers["minor"].pk, "nature": c["valid"].pk, "content": c["attitude"].pk},
    )
    assert "Classified." in html
    html = followed(s["reception"], case, "dispatch", {"department": d["clean"].pk})
    assert "Dispatched to 保洁." in html and refresh(hospital, case).lead_department == d["clean"]
    followed(s["supervisor"], case, "contact", {"method": "phone", "summary": "已致电家属致歉"})
    html = followed(
        s["supervisor"],
        case,
        "reply",
        {
            "method": "written",
            "investigation": "调取监控",
            "facts": "拖地后未放警示牌",
            "responsibility": "保洁部",
            "decision": "致歉并培训",
        },
    )
    assert "Reply recorded." in html and refresh(hospital, case).status == CaseStatus.REPLIED
    followed(s["reception"], case, "callback", {"method": "phone", "satisfied": "yes", "rating": 5})
    html = followed(s["reception"], case, "close", {"outcome": "resolved"})
    assert "Case closed." in html and refresh(hospital, case).status == CaseStatus.CLOSED
    with tenant_context(hospital.site):
        actions = list(case.timeline.values_list("action", flat=True))
    assert actions == [
        "registered",
        "classified",
        "dispatched",
        "contacted",
        "replied",
        "called_back",
        "closed",
    ]


def test_a_refused_reply_keeps_what_was_typed_and_says_what_is_missing(hospital, case):
    response = post(
        hospital.staff["supervisor"],
        case,
        "reply",
        {"method": "written", "investigation": "调取监控", "decision": "向您致歉并加强培训"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was changed" in html
    assert "A written reply states this." in html  # facts and responsibility are missing
    assert "向您致歉并加强培训</textarea>" in html and "调取监控</textarea>" in html
    assert '<details class="case-action" id="action-reply" open>' in html
    with tenant_context(hospital.site):
        assert not Reply.objects.exists()
        assert refresh(hospital, case).status == CaseStatus.OPEN


def test_a_late_reply_needs_the_reason_for_the_delay(hospital):
    late = hospital.register()  # registered 2026-11-20: its 24-hour reply clock ran out
    response = post(
        hospital.staff["supervisor"], late, "reply", {"method": "phone", "decision": "致歉"}
    )
    assert response.status_code == 400
    assert "The reply is late: give the reason for the delay." in response.content.decode()
    with tenant_context(hospital.site):
        assert not Reply.objects.exists()


def test_a_dissatisfied_call_back_reopens_the_case(hospital, case):
    s = hospital.staff
    with tenant_context(hospital.site):
        reply_to_complainant(case=case, by=s["supervisor"], method="phone", decision="已处理")
    html = followed(s["reception"], case, "callback", {"method": "phone", "satisfied": "no"})
    assert "the case is open again" in html
    case = refresh(hospital, case)
    assert case.status == CaseStatus.OPEN and case.reopened_count == 1
    assert 'id="action-reply"' in html and 'id="action-callback"' not in html


def test_a_major_case_closes_only_after_the_managers_approval(hospital):
    s, c = hospital.staff, hospital.categories
    case = hospital.register(tier=hospital.tiers["major"], nature=c["valid"], now=timezone.now())
    with tenant_context(hospital.site):
        reply_to_complainant(case=case, by=s["supervisor"], method="phone", decision="赔礼道歉")
        record_callback(case=case, by=s["reception"], method="phone", satisfied=True)
    refused = post(s["reception"], case, "close", {"outcome": "resolved"})
    assert refused.status_code == 400
    assert "closed only with the approval of the Service-centre manager" in refused.content.decode()
    forged = post(s["reception"], case, "approve-closure", {"kind": "close", "note": "同意"})
    assert forged.status_code == 400 and "You may not approve this." in forged.content.decode()
    with tenant_context(hospital.site):
        assert not Approval.objects.exists()
    followed(s["manager"], case, "approve-closure", {"kind": "close", "note": "已核实，同意销项"})
    followed(s["reception"], case, "close", {"outcome": "resolved"})
    assert refresh(hospital, case).status == CaseStatus.CLOSED


def test_a_hand_over_is_accepted_by_the_receiving_department(hospital, case):
    s, d = hospital.staff, hospital.departments
    refused = post(s["supervisor"], case, "handover", {"to_department": d["lift"].pk})
    assert refused.status_code == 400
    assert "Only the case&#x27;s owner or a manager can hand it over." in refused.content.decode()
    html = followed(
        s["reception"], case, "handover", {"to_department": d["clean"].pk, "note": "请保洁部处理"}
    )
    assert 'id="pending-handover"' in html
    assert refresh(hospital, case).owner == s["reception"]  # still accountable
    followed(s["cleaner"], case, "accept-handover")
    case = refresh(hospital, case)
    assert case.owner == s["cleaner"] and case.lead_department == d["clean"]


def test_an_extension_is_asked_in_site_time_and_decided_by_the_tiers_approver(hospital, case):
    s = hospital.staff
    with tenant_context(hospital.site):
        reply = case.milestones.get(code="reply")
    followed(
        s["reception"],
        case,
        "extension",
        {"milestone": reply.pk, "new_due_at": "2030-01-15T10:00", "reason": "等待监控调取"},
    )
    with tenant_context(hospital.site):
        extension = Extension.objects.get()
    # 10:00 in Shanghai is 02:00 UTC.
    assert extension.new_due_at == datetime(2030, 1, 15, 2, 0, tzinfo=UTC)
    refused = post(
        s["manager"], case, "extension-decide", {"extension": extension.pk, "approve": "yes"}
    )
    assert (
        refused.status_code == 400
        and "You may not decide this extension." in refused.content.decode()
    )
    followed(s["project"], case, "extension-decide", {"extension": extension.pk, "approve": "yes"})
    with tenant_context(hospital.site):
        reply.refresh_from_db()
    assert reply.due_at == datetime(2030, 1, 15, 2, 0, tzinfo=UTC)


def test_an_extension_of_another_cases_clock_is_refused(hospital, case):
    other = hospital.register(now=timezone.now())
    with tenant_context(hospital.site):
        foreign = other.milestones.get(code="reply")
    response = post(
        hospital.staff["reception"],
        case,
        "extension",
        {"milestone": foreign.pk, "new_due_at": "2030-01-15T10:00", "reason": "x"},
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    with tenant_context(hospital.site):
        assert not Extension.objects.exists()


def test_compensation_above_the_recorders_limit_waits_for_a_higher_approver(hospital, case):
    s = hospital.staff
    html = followed(
        s["supervisor"], case, "compensation", {"amount": "800", "description": "眼镜损坏"}
    )
    assert "awaits approval" in html
    with tenant_context(hospital.site):
        compensation = Compensation.objects.get()
    refused = post(s["supervisor"], case, "compensation-approve", {"compensation": compensation.pk})
    assert refused.status_code == 400
    assert "above what you may approve" in refused.content.decode()
    followed(s["project"], case, "compensation-approve", {"compensation": compensation.pk})
    with tenant_context(hospital.site):
        compensation.refresh_from_db()
    assert compensation.approved_by == s["project"]


def test_clocks_pause_for_a_reason_the_tier_allows_and_restart(hospital, case):
    s = hospital.staff
    html = followed(s["reception"], case, "pause", {"reason": "awaiting_complainant"})
    assert "waiting for the complainant" in html and refresh(hospital, case).paused_at
    refused = post(s["reception"], case, "pause", {"reason": "awaiting_complainant"})
    assert refused.status_code == 400
    followed(s["reception"], case, "resume")
    assert refresh(hospital, case).paused_at is None


def test_cases_are_linked_by_reference(hospital, case):
    other = hospital.register(now=timezone.now())
    unknown = post(
        hospital.staff["reception"],
        case,
        "link",
        {"reference": "19990101-X-001", "kind": "related"},
    )
    assert unknown.status_code == 400
    assert "This site has no case with this reference." in unknown.content.decode()
    html = followed(
        hospital.staff["reception"],
        case,
        "link",
        {"reference": other.reference, "kind": "new_issue"},
    )
    assert f">{other.reference}</a>" in html
    with tenant_context(hospital.site):
        assert CaseLink.objects.filter(from_case=case, to_case=other).exists()


def png() -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_staff_attach_photos_through_the_checked_upload_path(hospital, case):
    s = hospital.staff
    bad = post(
        s["reception"],
        case,
        "attach",
        {"attachments": SimpleUploadedFile("notes.txt", b"plain text", content_type="image/png")},
    )
    assert bad.status_code == 400 and "is not a photo" in bad.content.decode()
    with tenant_context(hospital.site):
        assert not Attachment.objects.exists()
    html = followed(
        s["reception"],
        case,
        "attach",
        {
            "attachments": [
                SimpleUploadedFile("floor.png", png()),
                SimpleUploadedFile("b.png", png()),
            ]
        },
    )
    assert "2 file(s) attached." in html and "floor.png" in html
    with tenant_context(hospital.site):
        assert Attachment.objects.filter(case=case, uploaded_by=s["reception"]).count() == 2
        assert case.timeline.filter(action="files_attached").exists()


def test_an_escalation_by_the_complainant_deducts_points(hospital, case):
    with tenant_context(hospital.site):
        dispatch_case(
            case=case, by=hospital.staff["reception"], department=hospital.departments["clean"]
        )
    followed(
        hospital.staff["manager"], case, "escalation", {"level": "city", "note": "市卫健委来电"}
    )
    with tenant_context(hospital.site):
        points = sorted(PerformanceDeduction.objects.values_list("person_id", "points"))
    assert points == sorted(
        [(hospital.staff["reception"].pk, 50), (hospital.staff["supervisor"].pk, 50)]
    )


def test_a_clock_only_a_person_can_stop_is_marked_done_with_what_was_done(hospital):
    with tenant_context(hospital.site):
        MilestoneRule.objects.create(
            tier=hospital.tiers["minor"],
            code="report-bureau",
            name="上报区卫健局",
            amount=6,
            unit="hours",
            met_by="manual",
            position=9,
        )
    case = hospital.register(now=timezone.now())
    with tenant_context(hospital.site):
        clock = case.milestones.get(code="report-bureau")
    refused = post(hospital.staff["manager"], case, "complete-milestone", {"milestone": clock.pk})
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    followed(
        hospital.staff["manager"],
        case,
        "complete-milestone",
        {"milestone": clock.pk, "note": "已电话上报"},
    )
    with tenant_context(hospital.site):
        clock.refresh_from_db()
    assert clock.met_at is not None


# --- who may post at all ---------------------------------------------------------------------

EVERY_ACTION = [
    "classify", "dispatch", "handover", "accept-handover", "contact", "pause", "resume", "reply",
    "extension", "extension-decide", "compensation", "compensation-approve", "callback", "link",
    "attach", "approve-closure", "close", "escalation", "complete-milestone",
]  # fmt: skip


def _untouched(hospital, case) -> None:
    with tenant_context(hospital.site):
        assert list(TimelineEvent.objects.filter(case=case).values_list("action", flat=True)) == [
            "registered"
        ]
        assert refresh(hospital, case).status == CaseStatus.OPEN


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_oversight_roles_may_read_but_not_act(hospital, world, case, action):
    """The east region's manager oversees site A: the page opens, every action is 403."""
    response = post(
        world.people["regional_east"],
        case,
        action,
        {"department": hospital.departments["clean"].pk},
    )
    assert response.status_code == 403
    _untouched(hospital, case)


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_another_sites_staff_cannot_act_here(hospital, world, case, action):
    response = post(
        world.people["manager_b"], case, action, {"department": hospital.departments["clean"].pk}
    )
    assert response.status_code == 403 and case.reference not in response.content.decode()
    _untouched(hospital, case)


@pytest.mark.parametrize("who", ["outsider", "platform_admin", "firm_admin"])
def test_people_without_a_handling_role_cannot_dispatch(hospital, world, case, who):
    response = post(
        world.people[who], case, "dispatch", {"department": hospital.departments["clean"].pk}
    )
    assert response.status_code == 403
    _untouched(hospital, case)


def test_a_post_on_another_sites_domain_never_reaches_this_sites_case(hospital, world, case):
    """Site B's manager on site B with site A's case id: site B has no such case."""
    response = post(world.people["manager_b"], case, "dispatch", {"department": 1}, host=HOST_B)
    assert response.status_code == 404
    _untouched(hospital, case)


def test_anonymous_posts_are_sent_to_log_in_and_change_nothing(hospital, case):
    response = Client().post(f"/office/cases/{case.pk}/dispatch/", {}, HTTP_HOST=HOST_A)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    _untouched(hospital, case)


def test_actions_answer_only_post(hospital, case):
    response = client_for(hospital.staff["reception"]).get(
        f"/office/cases/{case.pk}/dispatch/", HTTP_HOST=HOST_A
    )
    assert response.status_code == 405


def test_a_post_without_the_csrf_token_is_refused(hospital, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hospital.staff["reception"])
    response = client.post(
        f"/office/cases/{case.pk}/dispatch/",
        {"department": hospital.departments["clean"].pk},
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 403
    _untouched(hospital, case)


def test_callback_before_the_reply_is_refused_with_the_rule(hospital, case):
    response = post(
        hospital.staff["reception"], case, "callback", {"method": "phone", "satisfied": "yes"}
    )
    assert response.status_code == 400
    assert "A call-back follows the reply to the complainant." in response.content.decode()
    with tenant_context(hospital.site):
        assert not Callback.objects.exists()


def test_htmx_gets_a_refusal_as_a_page_to_swap_in_and_nothing_changes(hospital, case):
    """HTMX swaps only successful responses, so it gets the refused form with a 200."""
    response = post(
        hospital.staff["supervisor"],
        case,
        "reply",
        {"method": "written", "decision": "致歉"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "A written reply states this." in html and 'id="case-page"' in html
    with tenant_context(hospital.site):
        assert not Reply.objects.exists()


def test_after_an_htmx_action_the_message_shows_inside_the_swapped_page(hospital, case):
    client = client_for(hospital.staff["reception"])
    response = client.post(
        f"/office/cases/{case.pk}/dispatch/",
        {"department": hospital.departments["clean"].pk},
        HTTP_HOST=HOST_A,
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    html = response.content.decode()
    assert 'id="case-flash"' in html and "Dispatched to 保洁." in html
