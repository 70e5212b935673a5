"""The back office at 100,000 cases on one site: the queue's first page, a filtered page, a
search and a case page, timed through Django's test client, with their query counts.

One hospital site (`create_site` + the `hospital_property` template) holds `--cases` cases
(default 100,000) spread over the past 400 days, written in bulk as `register_case` writes
them (reference per day, encrypted complainant with its blind indexes, the tier's milestones,
a `registered` timeline event, the cross-site deadline rows of open clocks): 8 % still being
handled (a third of those overdue, some due today), the rest closed. Six members of staff
own them in turn; the departments lead them in turn. Accounts are drawn from twenty Chinese
complaint texts, so a two-character term such as 电梯 matches one case in ten and 配电房
one in two hundred.

Each measured kind is requested `--requests` times after 3 warm-up requests, as the
receptionist (logged in with `force_login`), and timed end to end in this process
(middleware, view, template, database), with the CPU this process spent on it (Django's part,
less sensitive than wall time to a machine shared with other work); the statements of each
request are counted with a database execute wrapper:

- queue: the landing tab, first page (`/office/queue/`);
- filtered: a rotation of tab + filter pages (overdue, mine + phone, a department, a tier,
  due today, page 2 by keyset);
- search: a rotation of 电梯 (common, 2 characters), 配电房 (rare, 3), a whole phone number
  (blind index), a reference, and a term found nowhere (the worst case: every row read);
- case: `case-detail` of a rotation of cases, when that URL exists (else skipped, noted).

Search is measured twice in the same run: with the trigram GIN indexes (where pg_trgm
exists) and with them dropped inside a transaction that is rolled back afterwards (the
embedded pgserver build has no pg_trgm); the ratio is printed. The query count of the queue
is taken at page sizes 10 and 200 to show it does not grow with the page.

The fixture lives in a database of its own (`<name>_bench_office` beside DATABASE_URL's, or
`carefront_bench_office` on the embedded server), built once (about 3 minutes) and reused;
`--rebuild` builds it again. DEBUG is off.

    .venv/bin/python tests/bench/backoffice.py [--cases 100000] [--requests 40] [--rebuild]

Last line: cases=… queue_p95_ms=… filtered_p95_ms=… search_p95_ms=… case_p95_ms=… max_queries=…
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from benchdb import bench_database_url  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
os.environ.setdefault("DEBUG", "0")

MARKER = "bench.backoffice.fixture"
SUFFIX = "_bench_office"
SLUG = "bench-office"
ACTIVE_SHARE = 0.08

ACCOUNTS = [
    "病房电梯坏了三天没人修，老人只能走楼梯",
    "保洁员在走廊拖地后没有放警示牌，我父亲滑倒了",
    "护工夜里说话声音太大，影响病人休息",
    "食堂的饭菜太咸，送餐也不准时",
    "门诊大厅的空调不制冷，排队的人都在流汗",
    "停车场收费员态度很差，还乱收费",
    "陪检人员迟到了四十分钟，检查被取消",
    "卫生间没有手纸，地面很脏",
    "住院部热水供应时有时无",
    "保安不让家属进病房，也不解释原因",
    "电梯里很脏，按钮上有污渍",
    "转运病人时推床撞到了墙",
    "病房的灯坏了两天还没修",
    "服务台的工作人员玩手机，不理人",
    "开水房排队太长，只有一个水龙头",
    "夜间走廊灯太亮影响睡眠",
    "被服更换不及时，床单有血迹",
    "指示牌不清楚，找不到检验科",
    "外送的药品送错了病房",
    "垃圾桶满了没人清理，有异味",
]
RARE = "配电房的门没有锁，小孩跑进去玩"  # one case in two hundred


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per kind")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the fixture")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from casework.models import (  # noqa: E402
    Case,
    CaseOutcome,
    CaseStatus,
    Channel,
    Department,
    MetBy,
    Milestone,
    MilestoneState,
    ReferenceCounter,
    Relation,
    Tier,
    TimelineEvent,
)
from casework.selectors import site_configuration  # noqa: E402
from casework.services import Complainant  # noqa: E402
from tenants.models import Deadline, Heartbeat, Role, Site, User  # noqa: E402
from tenants.services import create_firm, create_site, grant_role  # noqa: E402

STAFF_ROLES = [
    Role.RECEPTIONIST,
    Role.DEPARTMENT_SUPERVISOR,
    Role.MANAGER_ASSISTANT,
    Role.PROJECT_MANAGER,
    Role.SERVICE_CENTRE_MANAGER,
    Role.SITE_ADMIN,
]
UNIT = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    # Office hours do not matter here: only the clocks' order and who is overdue do.
    "working_days": timedelta(days=1),
    "calendar_days": timedelta(days=1),
}


# --- Fixture ----------------------------------------------------------------------------------


def build() -> None:
    started = time.perf_counter()
    firm = create_firm(name="Bench firm", slug="bench")
    site = create_site(firm=firm, slug=SLUG, name="Bench office", kind="hospital")
    staff = []
    for role in STAFF_ROLES:
        user = User.objects.create_user(email=f"{role}@bench.invalid", first_name=role)
        grant_role(user=user, role=role, site=site)
        staff.append(user)
    print(f"site (create_site + template): {time.perf_counter() - started:.1f} s", flush=True)
    with tenant_context(site):
        Department.objects.filter(supervisor=None).update(supervisor=staff[1])
        fill(site, staff=staff, total=ARGS.cases)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE casework_case")
            cursor.execute("VACUUM ANALYZE casework_milestone")
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.1f} s", flush=True)


def fill(site: Site, *, staff: list[User], total: int) -> None:
    """`total` cases, newest first, as register_case (and close_case) write them."""
    rng = random.Random(20261201)
    now = timezone.now()
    tiers = list(Tier.objects.prefetch_related("milestone_rules").order_by("rank"))
    departments = list(Department.objects.filter(is_active=True))
    pattern = site_configuration().reference_pattern
    span = timedelta(days=400)
    active = int(total * ACTIVE_SHARE)
    moments = sorted((now - span * (i / total) for i in range(total)), reverse=True)
    per_day: Counter = Counter()
    batch = 5000
    for start in range(0, total, batch):
        with transaction.atomic():
            cases = []
            for i in range(start, min(start + batch, total)):
                registered = moments[i] - timedelta(minutes=5)
                day = timezone.localtime(registered).date()
                per_day[day] += 1
                is_active = i < active
                anonymous = i % 7 == 0
                text = RARE if i % 200 == 17 else ACCOUNTS[rng.randrange(len(ACCOUNTS))]
                complainant = Complainant(
                    relation=Relation.values[i % len(Relation.values)],
                    name=f"投诉人{i}",
                    phone=f"139{i:08d}",
                    anonymous=anonymous,
                )
                cases.append(
                    Case(
                        reference=pattern.format(
                            date=day.strftime("%Y%m%d"), category="SVC", seq=per_day[day]
                        ),
                        channel=Channel.values[i % len(Channel.values)],
                        status=(
                            (CaseStatus.OPEN if i % 5 else CaseStatus.REPLIED)
                            if is_active
                            else CaseStatus.CLOSED
                        ),
                        tier=tiers[i % len(tiers)],
                        lead_department=None if i % 9 == 0 else departments[i % len(departments)],
                        first_responder=staff[i % len(staff)],
                        owner=staff[i % len(staff)],
                        account=f"{text}（{i % 40 + 1}病区）",
                        location=f"{i % 12 + 1}号楼",
                        registered_at=registered,
                        closed_at=None if is_active else registered + timedelta(days=3),
                        outcome="" if is_active else CaseOutcome.RESOLVED,
                        **complainant.as_case_fields(),
                    )
                )
            Case.objects.bulk_create(cases, batch_size=1000)
            milestones, events = [], []
            for index, case in enumerate(cases, start=start):
                is_active = case.status != CaseStatus.CLOSED
                # A third of the active cases are overdue, the others' clocks run from now.
                since = case.registered_at if index % 3 == 0 else now - timedelta(minutes=5)
                for rule in case.tier.milestone_rules.all():
                    met_at_once = rule.met_by in (MetBy.REGISTRATION, MetBy.REPORT)
                    due = since + rule.amount * UNIT[rule.unit]
                    if is_active and not met_at_once:
                        state, met_at = MilestoneState.OPEN, None
                    else:
                        state = MilestoneState.MET
                        met_at = case.registered_at if met_at_once else case.closed_at
                    milestones.append(
                        Milestone(
                            case=case,
                            rule=rule,
                            code=rule.code,
                            due_at=due,
                            state=state,
                            met_at=met_at,
                        )
                    )
                events.append(
                    TimelineEvent(
                        case=case,
                        action="registered",
                        at=case.registered_at,
                        public=True,
                        actor=case.owner,
                        after={"reference": case.reference, "channel": case.channel},
                    )
                )
            Milestone.objects.bulk_create(milestones, batch_size=2000)
            Deadline.objects.bulk_create(
                (
                    Deadline(
                        site=site, kind=Deadline.Kind.MILESTONE, object_id=m.pk, due_at=m.due_at
                    )
                    for m in milestones
                    if m.state == MilestoneState.OPEN
                ),
                batch_size=2000,
            )
            TimelineEvent.objects.bulk_create(events, batch_size=2000)
        print(f"  {min(start + batch, total)} cases", flush=True)
    ReferenceCounter.objects.bulk_create(
        ReferenceCounter(day=day, last=count) for day, count in per_day.items()
    )


# --- Measuring --------------------------------------------------------------------------------


class Counted:
    """Counts the statements of each request (execute wrapper on this process's connection)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def measure(client: Client, urls: list[str], counter: Counted) -> dict:
    """Time `ARGS.requests` GETs rotating through `urls` (3 warm-ups first)."""
    for url in urls[:3]:
        assert client.get(url).status_code == 200, url
    times, cpu, queries = [], [], []
    for number in range(ARGS.requests):
        url = urls[number % len(urls)]
        counter.count = 0
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries.append(counter.count)
    return {
        "p50": statistics.median(times),
        "p95": p95(times),
        "cpu_p50": statistics.median(cpu),
        "max_queries": max(queries),
    }


def drop_trigram_indexes() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname LIKE 'case\\_%\\_trgm'"
        )
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f'DROP INDEX "{name}"')
    return len(names)


def main() -> None:
    # Every schema: a fixture built before the latest casework migration must get it (the
    # executor skips schemas that are up to date, tenants/migration.py).
    call_command("migrate_schemas", verbosity=0, interactive=False)
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()
    site = Site.objects.get(slug=SLUG)
    receptionist = User.objects.get(email=f"{Role.RECEPTIONIST}@bench.invalid")
    # As in Django's own test runner: keep this process's one connection across requests
    # (production keeps its connections too, CONN_MAX_AGE) and let a transaction span them.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    counter = Counted()
    client = Client(HTTP_HOST=site.primary_domain)
    client.force_login(receptionist)
    with tenant_context(site):
        total = Case.objects.count()
        active = Case.objects.filter(status__in=["open", "replied"]).count()
        recent = Case.objects.order_by("-registered_at").values_list("pk", "reference")
        sample = list(recent[:500])[::50]
        department = Department.objects.filter(is_active=True).order_by("pk").first()
        tier = Tier.objects.order_by("rank").last()
        phone = "13900012345"
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            has_trgm = cursor.fetchone() is not None
    connection.set_schema_to_public()
    print(f"cases={total} active={active} pg_trgm={has_trgm} load={os.getloadavg()}", flush=True)

    second_page = client.get("/office/queue/").content.decode()
    after = second_page.split('rel="next"')[0].rsplit('href="?', 1)[1].split('"')[0]
    filtered = [
        "/office/queue/?tab=overdue",
        "/office/queue/?tab=mine&channel=phone",
        f"/office/queue/?department={department.pk}",
        f"/office/queue/?tier={tier.pk}",
        "/office/queue/?tab=due_today",
        "/office/queue/?" + after.replace("&amp;", "&"),
    ]
    searches = [
        "/office/queue/?q=电梯",
        "/office/queue/?q=配电房",
        f"/office/queue/?q={phone}",
        f"/office/queue/?q={sample[3][1]}&status=any",
        "/office/queue/?q=自动扶梯坏了",  # matches nothing: every candidate row is read
    ]
    results = {}
    with connection.execute_wrapper(counter):
        results["queue"] = measure(client, ["/office/queue/"], counter)
        results["filtered"] = measure(client, filtered, counter)
        results["search"] = measure(client, searches, counter)
        for kind, url in (("search_common", searches[0]), ("search_none", searches[4])):
            results[kind] = measure(client, [url], counter)
        with transaction.atomic():
            with tenant_context(site):
                dropped = drop_trigram_indexes()
            connection.set_schema_to_public()
            results["search_no_trgm"] = measure(client, searches, counter)
            transaction.set_rollback(True)
        try:
            case_urls = [reverse("case-detail", args=[pk]) for pk, _ref in sample]
        except NoReverseMatch:
            case_urls = []
        if case_urls:
            results["case"] = measure(client, case_urls, counter)
        sizes = {}
        for size in (10, 200):
            counter.count = 0
            assert client.get(f"/office/queue/?size={size}").status_code == 200
            sizes[size] = counter.count

    for kind, figures in results.items():
        print(
            f"{kind}: p50_ms={figures['p50']:.1f} p95_ms={figures['p95']:.1f} "
            f"django_cpu_p50_ms={figures['cpu_p50']:.1f} max_queries={figures['max_queries']}",
            flush=True,
        )
    if not case_urls:
        print("case page: no URL named case-detail yet, not measured", flush=True)
    print(f"queue statements at size 10: {sizes[10]}, at size 200: {sizes[200]}", flush=True)
    print(f"trigram indexes dropped for the no-trigram variant: {dropped}", flush=True)
    ratio = results["search_no_trgm"]["p95"] / results["search"]["p95"]
    case_p95 = f"{results['case']['p95']:.1f}" if "case" in results else "skipped"
    print(
        f"cases={total} active={active} queue_p95_ms={results['queue']['p95']:.1f} "
        f"filtered_p95_ms={results['filtered']['p95']:.1f} "
        f"search_p95_ms={results['search']['p95']:.1f} "
        f"search_no_trgm_p95_ms={results['search_no_trgm']['p95']:.1f} "
        f"no_trgm_ratio={ratio:.2f} case_p95_ms={case_p95} "
        f"max_queries={max(r['max_queries'] for r in results.values())} "
        f"queries_size10={sizes[10]} queries_size200={sizes[200]} "
        f"load1={os.getloadavg()[0]:.2f} requests={ARGS.requests}"
    )


if __name__ == "__main__":
    main()
