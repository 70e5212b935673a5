"""Concurrent intake on one site: how many `register_case` per second, references intact.

Worker processes (multiprocessing, forked after Django is set up, each with its own database
connection) register cases on one hospital site at once, all on the same local day, and the
bench then checks that the day's references are unique and gap-free (sequence numbers 1..N,
no hole, no duplicate; the day's counter row at N). Processes, not threads: production
serves intake from several gunicorn worker processes, and threads would queue on the GIL
instead of on the database. On a 2-core machine 8 processes overcommit the CPU, as a busy
server does. Each round also registers cases with a single worker, the serial baseline, so
that the gain from concurrency is read within one run. Every round uses a fresh local day.

The time a worker spends waiting for the day's counter row (`_next_reference`'s
`INSERT … ON CONFLICT DO UPDATE … RETURNING`, whose row lock is held until the registering
transaction commits) and the time from taking the number to the commit are measured per case
through a database execute wrapper; 500 `SELECT 1` per round (`roundtrip_ms`) show the
machine's load. A last, untimed, in-process run counts register_case's
statements by shape.

The fixture: one site (`create_site` + the `hospital_property` template, ~20 s) in a database
of its own, `carefront_bench_intake` on the embedded server (or `<name>_bench_intake` beside
DATABASE_URL's database), never the demo's. It is built once and reused (cases accumulate,
one fresh day per round); a build that did not finish is started again from an empty
database. Rebuild on purpose with `--rebuild`.

    .venv/bin/python tests/bench/intake.py [--cases 2000] [--workers 8] [--rounds 3]
        [--serial-cases 500] [--rebuild]

DEBUG is off (as in production), so Django keeps no query log. `cpu_ms` is the workers' own
CPU per case (Django and psycopg, not PostgreSQL's), `load1` the load average after a round:
on a shared machine per_s follows other people's load, cpu_ms much less.
Last line: cases=2000 workers=8 per_s=… duplicates=0 gaps=0 …
"""

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import time
import traceback
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from benchdb import bench_database_url  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
os.environ.setdefault("DEBUG", "0")

MARKER = "bench.intake.fixture"  # a Heartbeat row written when the fixture is complete
SUFFIX = "_bench_intake"
SLUG = "bench-intake"
COUNTER_SQL = "INSERT INTO casework_referencecounter"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serial-cases", type=int, default=500)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the fixture")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from casework.models import Case, Channel, ReferenceCounter, Relation  # noqa: E402
from casework.services import Complainant, register_case  # noqa: E402
from casework.site_templates import apply_template  # noqa: E402
from tenants.models import Heartbeat, Role, Site, User  # noqa: E402
from tenants.services import create_firm, create_site, grant_role  # noqa: E402


def build() -> None:
    started = time.perf_counter()
    firm = create_firm(name="Bench firm", slug="bench")
    site = create_site(firm=firm, slug=SLUG, name="Bench intake", kind="hospital")
    with tenant_context(site):
        apply_template(code="hospital_property")
    for number in range(ARGS.workers):
        user = User.objects.create_user(
            email=f"receptionist{number}@bench.invalid", first_name=f"Receptionist {number}"
        )
        grant_role(user=user, role=Role.RECEPTIONIST, site=site)
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.1f} s", flush=True)


def receptionists() -> list[int]:
    return list(
        User.objects.filter(email__startswith="receptionist", email__endswith="@bench.invalid")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def worker(number, site_id, user_id, count, now, barrier, results) -> None:
    """Runs in a forked process: `count` register_case calls once every worker is ready."""
    try:
        site = Site.objects.get(pk=site_id)
        connection.set_tenant(site)
        user = User.objects.get(pk=user_id)
        waits, holds, statements = [], [], [0]
        taken = [0.0]

        def observe(execute, sql, params, many, context):
            statements[0] += 1
            if not sql.startswith(COUNTER_SQL):
                return execute(sql, params, many, context)
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                taken[0] = time.perf_counter()
                waits.append(taken[0] - start)

        latencies = []
        with connection.execute_wrapper(observe):
            barrier.wait()
            cpu = time.process_time()
            for i in range(count):
                start = time.perf_counter()
                register_case(
                    channel=Channel.PHONE,
                    account=f"Bench intake {number}/{i}: the porter never came to ward 7.",
                    complainant=Complainant(
                        relation=Relation.FAMILY, name=f"Caller {number}-{i}", phone="13800138000"
                    ),
                    received_by=user,
                    now=now,
                )
                end = time.perf_counter()
                latencies.append(end - start)
                holds.append(end - taken[0])
            cpu = time.process_time() - cpu
        results.put(("ok", latencies, waits, holds, statements[0], cpu))
    except BaseException:
        results.put(("error", traceback.format_exc()))
        raise


def roundtrip_ms(statements: int = 500) -> float:
    """Mean time of one trivial statement: what the machine's load does to every round trip."""
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for _ in range(statements):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.perf_counter() - start) / statements * 1000


def run(site: Site, users: list[int], *, cases: int, workers: int, day) -> dict:
    """Register `cases` on `day` with `workers` processes; returns rate and timings."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    now = datetime.combine(day, datetime.min.time(), ZoneInfo(site.time_zone)) + timedelta(hours=10)
    shares = [cases // workers + (1 if n < cases % workers else 0) for n in range(workers)]
    connections.close_all()  # each forked worker opens its own connection
    processes = [
        context.Process(
            target=worker,
            args=(n, site.pk, users[n % len(users)], shares[n], now, barrier, results),
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    start = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in processes]
    seconds = time.perf_counter() - start
    for process in processes:
        process.join()
    errors = [outcome[1] for outcome in outcomes if outcome[0] == "error"]
    if errors:
        raise RuntimeError("a worker failed:\n" + errors[0])
    latencies = [x for outcome in outcomes for x in outcome[1]]
    waits = [x for outcome in outcomes for x in outcome[2]]
    holds = [x for outcome in outcomes for x in outcome[3]]
    with open("/proc/loadavg") as loadavg:
        load = float(loadavg.read().split()[0])
    return {
        "per_s": cases / seconds,
        "seconds": seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": statistics.quantiles(latencies, n=20)[-1] * 1000,
        "wait_share": sum(waits) / sum(latencies),
        "hold_ms": statistics.median(holds) * 1000,
        "statements": sum(outcome[4] for outcome in outcomes) / cases,
        # The workers' own CPU per case (Django and psycopg), whatever the machine's load.
        "cpu_ms": sum(outcome[5] for outcome in outcomes) / cases * 1000,
        "load1": load,
        **check(site, day=day),
    }


def check(site: Site, *, day) -> dict:
    """Duplicates and holes in the day's sequence numbers, which must be exactly 1..N."""
    with tenant_context(site):
        references = list(
            Case.objects.filter(reference__startswith=day.strftime("%Y%m%d-")).values_list(
                "reference", flat=True
            )
        )
        last = ReferenceCounter.objects.get(day=day).last
    numbers = [int(reference.rsplit("-", 1)[1]) for reference in references]
    distinct = set(numbers)
    return {
        "registered": len(numbers),
        "duplicates": len(numbers) - len(distinct),
        "gaps": len(set(range(1, max(distinct) + 1)) - distinct),
        "counter": last,
    }


def profile(site: Site, users: list[int], *, day, cases: int = 50) -> None:
    """Untimed, in this process: register_case's statements by shape, count and DB time."""
    shapes: Counter = Counter()
    seconds: defaultdict = defaultdict(float)

    def count(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"\s+", " ", re.sub(r"%s(, %s)*|\d+", "?", sql))[:110]
            shapes[shape] += 1
            seconds[shape] += time.perf_counter() - start

    user = User.objects.get(pk=users[0])
    now = datetime.combine(day, datetime.min.time(), ZoneInfo(site.time_zone)) + timedelta(hours=10)
    with tenant_context(site), connection.execute_wrapper(count):
        start = time.perf_counter()
        for i in range(cases):
            register_case(
                channel=Channel.PHONE,
                account=f"Bench intake profile {i}.",
                complainant=Complainant(relation=Relation.FAMILY, name="Caller", phone="138"),
                received_by=user,
                now=now,
            )
        total = time.perf_counter() - start
    statements, in_db = sum(shapes.values()), sum(seconds.values())
    print(
        f"profile: {cases} cases in {total:.2f} s, {statements / cases:.1f} statements and "
        f"{in_db / cases * 1000:.1f} of {total / cases * 1000:.1f} ms in the database per case"
    )
    for shape, number in shapes.most_common(16):
        print(f"  {number / cases:5.1f}/case {seconds[shape] / cases * 1000:6.2f} ms  {shape}")


def main() -> None:
    # Every schema: other work adds migrations between runs of a reused fixture.
    call_command("migrate_schemas", verbosity=0)
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()  # into an empty database (see bench_database_url)
    site = Site.objects.get(slug=SLUG)
    users = receptionists()
    with tenant_context(site):
        latest = ReferenceCounter.objects.aggregate(day=Max("day"))["day"]
    today = timezone.localtime(timezone.now(), ZoneInfo(site.time_zone)).date()
    day = max(latest or today, today)

    serial, concurrent, roundtrips = [], [], []
    for round_no in range(ARGS.rounds):
        roundtrips.append(roundtrip_ms())
        day += timedelta(days=1)
        one = run(site, users, cases=ARGS.serial_cases, workers=1, day=day)
        day += timedelta(days=1)
        many = run(site, users, cases=ARGS.cases, workers=ARGS.workers, day=day)
        for label, result, cases in (
            ("serial", one, ARGS.serial_cases),
            ("concurrent", many, ARGS.cases),
        ):
            result["intact"] = (
                result["registered"] == result["counter"] == cases
                and result["duplicates"] == result["gaps"] == 0
            )
            print(
                f"round {round_no + 1} {label}: roundtrip_ms={roundtrips[-1]:.3f} "
                + " ".join(
                    f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                    for key, value in result.items()
                ),
                flush=True,
            )
        serial.append(one)
        concurrent.append(many)
    profile(site, users, day=day + timedelta(days=1))

    def median(results, key):
        return statistics.median(result[key] for result in results)

    print(
        f"cases={ARGS.cases} workers={ARGS.workers} per_s={median(concurrent, 'per_s'):.0f} "
        f"duplicates={sum(r['duplicates'] for r in concurrent)} "
        f"gaps={sum(r['gaps'] for r in concurrent)} "
        f"p50_ms={median(concurrent, 'p50_ms'):.0f} p95_ms={median(concurrent, 'p95_ms'):.0f} "
        f"counter_wait_pct={median(concurrent, 'wait_share') * 100:.0f} "
        f"lock_hold_ms={median(concurrent, 'hold_ms'):.1f} "
        f"statements_per_case={median(concurrent, 'statements'):.0f} "
        f"serial_per_s={median(serial, 'per_s'):.0f} "
        f"cpu_ms={median(concurrent, 'cpu_ms'):.1f} serial_cpu_ms={median(serial, 'cpu_ms'):.1f} "
        f"roundtrip_ms={statistics.median(roundtrips):.3f} load1={median(concurrent, 'load1'):.1f} "
        f"rounds={ARGS.rounds}"
    )
    if not all(result["intact"] for result in serial + concurrent):
        sys.exit("references were not unique and gap-free in every round (see above)")


if __name__ == "__main__":
    main()
