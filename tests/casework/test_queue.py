"""The back office's queue as staff use it: tabs and their counts, the next clock and its
colour, search (Chinese substrings, a complainant's whole phone number), saved filters,
paging, and the notifications inbox in the header."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework.models import Case, Notification, SavedFilter
from casework.services import Complainant
from tests.casework.conftest import FRIDAY_MORNING
from tests.conftest import HOST_A

LIFT = "病房电梯坏了三天没人修，老人只能走楼梯"
MOP = "保洁员在走廊拖地后没有放警示牌，我父亲滑倒了"


def tab_counts(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-tab="(\w+)">[^<]*<span class="count">([^<]+)</span>', html))


def references(html: str) -> list[str]:
    return re.findall(r'class="case-link">([^<]+)</a>', html)


def page(client, query: str = "", **headers) -> str:
    response = client.get(f"/office/queue/{query}", HTTP_HOST=HOST_A, **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def cases(hospital):
    """Four open cases and a closed one, of which one is overdue (registered a week ago)."""
    now = timezone.now()
    with tenant_context(hospital.site):
        made = {
            "overdue": hospital.register(now=FRIDAY_MORNING),
            "mine_fresh": hospital.register(account=LIFT, now=now - timedelta(minutes=1)),
            "clean": hospital.register(
                received_by=hospital.staff["supervisor"],
                lead_department=hospital.departments["clean"],
                now=now - timedelta(minutes=2),
            ),
            "other": hospital.register(
                received_by=hospital.staff["manager"],
                complainant=Complainant(relation="visitor", name="王强", phone="13900001111"),
                now=now - timedelta(minutes=3),
            ),
            "closed": hospital.register(account="电梯门夹到人", now=now - timedelta(minutes=4)),
        }
        Case.objects.filter(pk=made["closed"].pk).update(status="closed", closed_at=now)
    return made


def test_it_shows_each_tab_with_its_count(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    counts = tab_counts(page(client))
    # Open: overdue, mine_fresh, clean, other (the closed one is not being handled).
    assert counts == {
        "all": "4",
        "mine": "2",
        "department": "0",
        "unassigned": "3",
        "overdue": "1",
        "due_today": counts["due_today"],  # depends on the hour the suite runs at
    }
    client.logout()
    client.force_login(hospital.staff["supervisor"])
    html = page(client, "?tab=department")
    assert tab_counts(html)["department"] == "1"
    assert references(html) == [cases["clean"].reference]


def test_it_lists_my_cases_newest_first_with_their_next_milestone(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    html = page(client, "?tab=mine")
    assert references(html) == [cases["mine_fresh"].reference, cases["overdue"].reference]
    assert "dispatch" in html  # the name of the next running clock


def test_an_overdue_case_shows_red_and_a_fresh_one_does_not(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    html = page(client, "?tab=overdue", HTTP_ACCEPT_LANGUAGE="en")
    assert references(html) == [cases["overdue"].reference]
    row = html.split(cases["overdue"].reference, 1)[1].split("</tr>")[0]
    assert "countdown-red" in row and "overdue by" in row
    fresh = page(client, "?tab=mine").split(cases["mine_fresh"].reference, 1)[1].split("</tr>")[0]
    assert "countdown-red" not in fresh and "countdown-" in fresh


def test_a_clock_near_its_end_turns_amber(client, hospital):
    # The dispatch clock runs 10 minutes; with 2 left (under a quarter) it is amber.
    with tenant_context(hospital.site):
        case = hospital.register(now=timezone.now() - timedelta(minutes=8))
        due = case.milestones.get(code="dispatch").due_at
    client.force_login(hospital.staff["reception"])
    row = page(client).split(case.reference, 1)[1].split("</tr>")[0]
    expected = "countdown-amber" if due > timezone.now() else "countdown-red"
    assert expected in row


@pytest.fixture(params=["trigram", "no_trigram"])
def search_index(request, hospital):
    """Search with the trigram GIN indexes (where pg_trgm exists) and without them, as on the
    embedded pgserver build: the same results either way."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        has_trgm = cursor.fetchone() is not None
    if request.param == "trigram":
        if not has_trgm:
            pytest.skip("this PostgreSQL has no pg_trgm")
        with tenant_context(hospital.site), connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname LIKE 'case_%_trgm'"
            )
            assert len(cursor.fetchall()) == 4
    else:
        with tenant_context(hospital.site), connection.cursor() as cursor:
            for column in ("reference", "subject", "location", "account"):
                cursor.execute(f"DROP INDEX IF EXISTS case_{column}_trgm")
    return request.param


def test_chinese_substring_search_finds_the_account(client, hospital, cases, search_index):
    client.force_login(hospital.staff["reception"])
    assert references(page(client, "?q=电梯")) == [cases["mine_fresh"].reference]
    assert references(page(client, "?q=电梯&status=any")) == [
        cases["mine_fresh"].reference,
        cases["closed"].reference,
    ]
    assert references(page(client, "?q=走楼梯")) == [cases["mine_fresh"].reference]
    assert references(page(client, "?q=自动扶梯")) == []


def test_the_trigram_index_serves_a_three_character_search(hospital, search_index):
    """The index expression is exactly what Django's icontains emits, or it would never be
    used: with sequential and plain index scans off, the planner still finds it."""
    if search_index != "trigram":
        pytest.skip("only with pg_trgm")
    with tenant_context(hospital.site), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = (
            Case.objects.filter(account__icontains="走楼梯").values("pk").query.sql_with_params()
        )
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "case_account_trgm" in plan


def test_search_finds_a_reference_and_a_whole_phone_number(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    other = cases["other"]
    assert references(page(client, f"?q={other.reference}")) == [other.reference]
    assert references(page(client, "?q=svc-003")) == [other.reference]  # part, any case
    assert references(page(client, "?q=139 0000 1111")) == [other.reference]
    assert references(page(client, "?q=+86 139-0000-1111")) == [other.reference]
    assert references(page(client, "?q=王强")) == [other.reference]
    # Part of a number finds nothing: only the whole number is indexed (blind index).
    assert references(page(client, "?q=0000111")) == []


def test_the_phone_number_is_stored_only_encrypted_and_hashed(hospital, cases):
    with tenant_context(hospital.site), connection.cursor() as cursor:
        cursor.execute(
            "SELECT complainant_phone, complainant_phone_index FROM casework_case WHERE id = %s",
            [cases["other"].pk],
        )
        stored, index = cursor.fetchone()
    assert "13900001111" not in stored and "13900001111" not in index and len(index) == 64


def test_people_complained_about_cannot_find_a_case_by_the_complainants_phone(
    client, hospital, cases
):
    with tenant_context(hospital.site):
        cases["other"].persons_complained_about.add(hospital.staff["cleaner"])
    client.force_login(hospital.staff["cleaner"])
    assert references(page(client, "?q=13900001111")) == []
    assert references(page(client, f"?q={cases['other'].reference}")) == [cases["other"].reference]


def test_filters_narrow_the_queue(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    department = hospital.departments["clean"].pk
    assert references(page(client, f"?department={department}")) == [cases["clean"].reference]
    assert references(page(client, "?channel=letter")) == []
    assert len(references(page(client, f"?tier={hospital.tiers['minor'].pk}"))) == 4
    assert references(page(client, "?status=closed")) == [cases["closed"].reference]
    # A filter that no longer parses (a retired tier) shows the queue, not an error.
    assert len(references(page(client, "?tier=99999"))) == 4


def test_a_saved_filter_comes_back_and_is_its_owners_only(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    response = client.post(
        "/office/queue/filters/new/",
        {"name": "电梯 overdue", "query": "tab=overdue&q=电梯&after=123.4"},
        HTTP_HOST=HOST_A,
    )
    assert response.status_code == 302
    with tenant_context(hospital.site):
        saved = SavedFilter.objects.get(owner=hospital.staff["reception"])
    assert saved.query == "tab=overdue&q=%E7%94%B5%E6%A2%AF"  # the page cursor is not kept
    assert "电梯 overdue" in page(client)
    opened = client.get(f"/office/queue/filters/{saved.pk}/", HTTP_HOST=HOST_A)
    assert opened["Location"] == "/office/queue/?tab=overdue&q=%E7%94%B5%E6%A2%AF"
    client.logout()
    client.force_login(hospital.staff["supervisor"])
    assert client.get(f"/office/queue/filters/{saved.pk}/", HTTP_HOST=HOST_A).status_code == 404
    delete = f"/office/queue/filters/{saved.pk}/delete/"
    assert client.post(delete, HTTP_HOST=HOST_A).status_code == 404
    client.logout()
    client.force_login(hospital.staff["reception"])
    assert client.post(delete, HTTP_HOST=HOST_A).status_code == 302
    with tenant_context(hospital.site):
        assert not SavedFilter.objects.exists()


def test_a_saved_filter_needs_a_name(client, hospital):
    client.force_login(hospital.staff["reception"])
    client.post("/office/queue/filters/new/", {"name": "  ", "query": "tab=mine"}, HTTP_HOST=HOST_A)
    with tenant_context(hospital.site):
        assert not SavedFilter.objects.exists()


def test_paging_walks_every_case_once_in_a_fixed_number_of_queries(client, hospital):
    now = timezone.now()
    with tenant_context(hospital.site):
        made = [hospital.register(now=now - timedelta(minutes=i)) for i in range(7)]
    client.force_login(hospital.staff["reception"])
    page(client)  # the process's first request fills its host → site map
    seen, query, queries = [], "?size=3", []
    while query is not None:
        with CaptureQueriesContext(connection) as captured:
            html = page(client, query)
        queries.append(len(captured))
        seen += references(html)
        following = re.search(r'href="\?([^"]+)" rel="next"', html)
        query = "?" + following.group(1).replace("&amp;", "&") if following else None
    assert seen == [case.reference for case in made]
    with CaptureQueriesContext(connection) as small:
        page(client, "?size=2")
    with CaptureQueriesContext(connection) as large:
        page(client, "?size=50")
    assert len(small) == len(large)
    assert max(queries) == len(large)


def test_the_header_shows_unread_notifications_and_opening_one_reads_it(client, hospital, cases):
    with tenant_context(hospital.site):
        mine = Notification.objects.create(
            user=hospital.staff["reception"],
            case=cases["other"],
            created_at=timezone.now(),
            subject="重大投诉 待处理",
        )
        others = Notification.objects.create(
            user=hospital.staff["manager"], created_at=timezone.now(), subject="经理的通知"
        )
    client.force_login(hospital.staff["reception"])
    assert re.search(r'class="badge"[^>]*>1<', page(client))
    inbox = client.get("/office/notifications/", HTTP_HOST=HOST_A).content.decode()
    assert "重大投诉 待处理" in inbox and "经理的通知" not in inbox
    opened = client.post(f"/office/notifications/{mine.pk}/open/", HTTP_HOST=HOST_A)
    assert opened.status_code == 302
    assert not re.search(r'class="badge"[^>]*>\d', page(client))
    forbidden = client.post(f"/office/notifications/{others.pk}/open/", HTTP_HOST=HOST_A)
    assert forbidden.status_code == 404
    with tenant_context(hospital.site):
        mine.refresh_from_db()
        others.refresh_from_db()
    assert mine.read_at is not None and others.read_at is None


def test_the_landing_page_is_the_queue(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    html = client.get("/office/", HTTP_HOST=HOST_A).content.decode()
    assert cases["mine_fresh"].reference in html and 'id="queue-search"' in html


def test_htmx_gets_the_tabs_and_rows_only(client, hospital, cases):
    client.force_login(hospital.staff["reception"])
    html = page(client, "?q=电梯", HTTP_HX_REQUEST="true")
    assert references(html) == [cases["mine_fresh"].reference]
    assert "<html" not in html and "data-tab=" in html
