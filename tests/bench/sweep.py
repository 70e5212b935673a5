"""What the deadline sweep costs with 200 sites: idle, and escalating 1,000 missed clocks.

The fixture: 200 hospital sites with 500 open cases each (100,000 open cases, 425,000 open
milestones, every one mirrored in the public `tenants.Deadline` index, all due ten years
from now) and as many closed cases again (met milestones, no index rows). It lives in a
database of its own, `carefront_bench_sweep` on the embedded server (or `<name>_bench_sweep`
beside DATABASE_URL's database), never in the demo's. It is built once (10 to 20 minutes on
the shared 2-core machine: one site by `create_site` + the `hospital_property` template, its
schema cloned for the other 199, cases bulk-inserted exactly as `register_case` writes them)
and reused; a build that did not finish is started again from an empty database. Rebuild on
purpose with `--rebuild`.

Each round measures
- the idle sweep: `sweep_deadlines(now=…)` with nothing due, median of `--idle` runs;
- escalation: exactly 1,000 open milestones made due (5 on each site, their `Milestone.due_at`
  and `Deadline.due_at` one minute in the past), one `sweep_deadlines` timed; afterwards the
  bench checks that exactly those milestones reached escalation level 1, that a second sweep
  escalates nothing, and that sweeping them again with their index rows put back in the past
  (a replay: the index out of step with the clocks) escalates nothing either;
then restores the fixture (milestones, index rows; the events and notices the round wrote are
deleted). One more round sweeps the same way clock by clock (each due milestone in its own
savepoint, the path a site takes when its batch fails): `per_clock_escalate_s`, and
`batch_speedup` its ratio to `escalate_s`. The run starts with `VACUUM ANALYZE
tenants_deadline` and prints the idle query's plan before and after the rounds: moved index
rows leave dead entries at past due times that the idle sweep steps over until vacuum. Each
round also times 500 `SELECT 1` (`roundtrip_ms`, the machine's noise: the sweep is a chain of
small statements). A last, untimed round counts the statements of the escalating sweep by
shape.

    .venv/bin/python tests/bench/sweep.py [--rounds 3] [--idle 20] [--rebuild]

DEBUG is off (as in production), so Django keeps no query log.
Last line: sites=200 open=… closed=… idle_sweep_s=… due=1000 escalate_s=… escalations=…
per_clock_escalate_s=… batch_speedup=… statements_per_escalation=… statements_per_site=…
Targets: idle_sweep_s under 0.5, escalate_s under 5.
"""

import argparse
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from benchdb import bench_database_url  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
os.environ.setdefault("DEBUG", "0")

SITES = 200
OPEN_PER_SITE = 500
CLOSED_PER_SITE = 500
DUE_PER_SITE = 5  # 200 sites x 5 = 1,000 due milestones
MARKER = "bench.sweep.fixture"  # a Heartbeat row written when the fixture is complete
SUFFIX = "_bench_sweep"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=20, help="idle sweeps per round")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the fixture")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.clone import CloneSchema  # noqa: E402
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
    Notification,
    OutboxMessage,
    ReferenceCounter,
    Relation,
    Tier,
    TimelineEvent,
)
from casework.selectors import site_configuration  # noqa: E402
from casework.site_templates import apply_template  # noqa: E402
from casework.sweep import HANDLERS, sweep_deadlines  # noqa: E402
from tenants.models import (  # noqa: E402
    Deadline,
    Domain,
    Heartbeat,
    Membership,
    Role,
    Site,
    User,
)
from tenants.services import create_firm, create_site  # noqa: E402

ROLES = [
    Role.RECEPTIONIST,
    Role.DEPARTMENT_SUPERVISOR,
    Role.MANAGER_ASSISTANT,
    Role.PROJECT_MANAGER,
    Role.SERVICE_CENTRE_MANAGER,
]
FAR = timedelta(days=3650)  # open clocks of the fixture fall due ten years from the build
UNIT = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    # Office hours do not matter here: the fixture's clocks only need to be far away.
    "working_days": timedelta(days=1),
    "calendar_days": timedelta(days=1),
}


# --- Fixture ----------------------------------------------------------------------------------


def build() -> None:
    started = time.perf_counter()
    firm = create_firm(name="Bench firm", slug="bench")
    people = {
        role: User.objects.create_user(email=f"{role}@bench.invalid", first_name=role)
        for role in ROLES
    }
    base = create_site(firm=firm, slug="bench-s000", name="Bench site 000", kind="hospital")
    with tenant_context(base):
        apply_template(code="hospital_property")
        Department.objects.update(supervisor=people[Role.DEPARTMENT_SUPERVISOR])
    made = time.perf_counter()
    print(f"base site (create_site + template): {made - started:.1f} s", flush=True)

    # django-tenants' clone_schema() slows down on a connection that has already cloned (1.5 s
    # for the first, ~5 s by the 8th, ~25 s by the 72nd here): each clone gets a new one.
    rows = []
    for number in range(1, SITES):
        slug = f"bench-s{number:03d}"
        schema = slug.replace("-", "_")
        connection.close()
        CloneSchema().clone_schema(base.schema_name, schema)
        if number % 20 == 0:
            print(f"cloned {number}: {time.perf_counter() - made:.1f} s", flush=True)
        rows.append(
            Site(
                schema_name=schema,
                firm=firm,
                slug=slug,
                name=f"Bench site {number:03d}",
                kind="hospital",
            )
        )
    # bulk_create skips Site.save(), which would create (and migrate) the schema again.
    Site.objects.bulk_create(rows)
    Domain.objects.bulk_create(
        Domain(domain=f"{site.slug}.{settings.BASE_DOMAIN}", tenant=site, is_primary=True)
        for site in rows
    )
    sites = [base, *rows]
    Membership.objects.bulk_create(
        Membership(user=people[role], role=role, site=site) for site in sites for role in ROLES
    )
    cloned = time.perf_counter()
    print(f"{SITES - 1} clones: {cloned - made:.1f} s", flush=True)

    build_now = timezone.now()
    for number, site in enumerate(sites):
        fill(site, owner=people[Role.RECEPTIONIST], now=build_now)
        if number % 20 == 19:
            print(f"filled {number + 1} sites: {time.perf_counter() - cloned:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tenants_deadline")
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.1f} s", flush=True)


def fill(site: Site, *, owner: User, now) -> None:
    """500 open and 500 closed cases, written as register_case (and close_case) write them."""
    with tenant_context(site), transaction.atomic():
        tiers = list(Tier.objects.prefetch_related("milestone_rules").order_by("rank"))
        departments = list(Department.objects.filter(parent=None))
        pattern = site_configuration().reference_pattern
        first_day = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0)
        cases, per_day = [], 40
        total = OPEN_PER_SITE + CLOSED_PER_SITE
        for i in range(total):
            is_open = i < OPEN_PER_SITE
            day_no, seq = divmod(i, per_day)
            registered = first_day - timedelta(days=day_no + 1, minutes=-seq)
            anonymous = i % 5 == 0
            cases.append(
                Case(
                    reference=pattern.format(
                        date=registered.strftime("%Y%m%d"), category="SVC", seq=seq + 1
                    ),
                    channel=Channel.values[i % len(Channel.values)],
                    status=CaseStatus.OPEN if is_open else CaseStatus.CLOSED,
                    tier=tiers[i % len(tiers)],
                    lead_department=departments[i % len(departments)],
                    first_responder=owner,
                    owner=owner,
                    anonymous=anonymous,
                    relation=Relation.PATIENT,
                    complainant_name="" if anonymous else f"Complainant {i}",
                    complainant_phone="" if anonymous else f"138{i:08d}",
                    account=f"Bench complaint {i}: the lift on ward {i % 30} was out of order.",
                    registered_at=registered,
                    closed_at=None if is_open else registered + timedelta(days=3),
                    outcome="" if is_open else CaseOutcome.RESOLVED,
                )
            )
        Case.objects.bulk_create(cases, batch_size=1000)
        ReferenceCounter.objects.bulk_create(
            ReferenceCounter(day=day, last=count)
            for day, count in Counter(
                timezone.localtime(c.registered_at).date() for c in cases
            ).items()
        )

        milestones, events = [], []
        for case in cases:
            is_open = case.status == CaseStatus.OPEN
            for rule in case.tier.milestone_rules.all():
                due = case.registered_at + rule.amount * UNIT[rule.unit]
                met_at_once = rule.met_by in (MetBy.REGISTRATION, MetBy.REPORT)
                if is_open and not met_at_once:
                    state, met_at, due = MilestoneState.OPEN, None, due + FAR
                else:
                    state = MilestoneState.MET
                    met_at = case.registered_at if met_at_once else case.closed_at
                milestones.append(
                    Milestone(
                        case=case, rule=rule, code=rule.code, due_at=due, state=state, met_at=met_at
                    )
                )
            events.append(
                TimelineEvent(
                    case=case,
                    action="registered",
                    at=case.registered_at,
                    public=True,
                    actor=owner,
                    after={
                        "reference": case.reference,
                        "channel": case.channel,
                        "tier": case.tier.code,
                        "owner": owner.pk,
                    },
                )
            )
            if not is_open:
                events.append(
                    TimelineEvent(
                        case=case,
                        action="closed",
                        at=case.closed_at,
                        public=True,
                        actor=owner,
                        after={"status": "closed", "outcome": "resolved"},
                    )
                )
        Milestone.objects.bulk_create(milestones, batch_size=2000)
        Deadline.objects.bulk_create(
            (
                Deadline(site=site, kind=Deadline.Kind.MILESTONE, object_id=m.pk, due_at=m.due_at)
                for m in milestones
                if m.state == MilestoneState.OPEN
            ),
            batch_size=2000,
        )
        TimelineEvent.objects.bulk_create(events, batch_size=2000)


def bench_sites() -> list[Site]:
    return list(Site.objects.filter(slug__startswith="bench-s").order_by("slug"))


# --- Rounds -----------------------------------------------------------------------------------


def make_due(sites: list[Site], now) -> dict[int, dict[int, object]]:
    """Put DUE_PER_SITE random open milestones of each site one minute in the past.

    Returns {site id: {milestone id: its original due time}}. Clocks of zero length (0
    working days: "closing time of the same day") are left out, so that one period after the
    new due time is still ahead and each chosen clock escalates exactly one level.
    """
    past = now - timedelta(minutes=1)
    chosen: dict[int, dict[int, object]] = {}
    for site in sites:
        with tenant_context(site):
            picked = dict(
                Milestone.objects.filter(state=MilestoneState.OPEN, rule__amount__gt=0)
                .order_by("?")
                .values_list("id", "due_at")[:DUE_PER_SITE]
            )
            Milestone.objects.filter(pk__in=list(picked)).update(due_at=past)
        moved = Deadline.objects.filter(
            site=site, kind=Deadline.Kind.MILESTONE, object_id__in=list(picked)
        ).update(due_at=past)
        assert moved == len(picked) == DUE_PER_SITE, (site.slug, moved, len(picked))
        chosen[site.pk] = picked
    return chosen


def escalated(sites: list[Site]) -> dict[int, dict[int, int]]:
    """{site id: {milestone id: escalation level}} of every milestone above level 0."""
    found = {}
    for site in sites:
        with tenant_context(site):
            found[site.pk] = dict(
                Milestone.objects.filter(escalation_level__gt=0).values_list(
                    "id", "escalation_level"
                )
            )
    return found


def restore(sites: list[Site], chosen: dict[int, dict[int, object]], marks: dict) -> None:
    """Undo a round: the clocks as built, their index rows, and nothing the round wrote."""
    for site in sites:
        originals = chosen[site.pk]
        with tenant_context(site), transaction.atomic():
            milestones = list(Milestone.objects.filter(pk__in=list(originals)))
            for milestone in milestones:
                milestone.due_at = originals[milestone.pk]
                milestone.state, milestone.escalation_level = MilestoneState.OPEN, 0
                milestone.escalated_at = None
            Milestone.objects.bulk_update(
                milestones, ["due_at", "state", "escalation_level", "escalated_at"]
            )
            TimelineEvent.objects.filter(pk__gt=marks[site.pk]).delete()
            Notification.objects.all().delete()
            OutboxMessage.objects.all().delete()
        rows = list(
            Deadline.objects.filter(
                site=site, kind=Deadline.Kind.MILESTONE, object_id__in=list(originals)
            )
        )
        for row in rows:
            row.due_at = originals[row.object_id]
        Deadline.objects.bulk_update(rows, ["due_at"])
    Deadline.objects.exclude(kind=Deadline.Kind.MILESTONE).delete()


def event_marks(sites: list[Site]) -> dict[int, int]:
    marks = {}
    for site in sites:
        with tenant_context(site):
            marks[site.pk] = TimelineEvent.objects.order_by("-pk").values_list("pk", flat=True)[0]
    return marks


def roundtrip_ms(statements: int = 500) -> float:
    """Mean time of one trivial statement: what the machine's load does to every round trip."""
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for _ in range(statements):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.perf_counter() - start) / statements * 1000


def idle_sweep(runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        counts = sweep_deadlines(now=timezone.now())
        times.append(time.perf_counter() - start)
        assert counts == {"due": 0, "escalations": 0, "failed": 0}, counts
    return statistics.median(times)


def sweep_clock_by_clock(*, now) -> dict[str, int]:
    """The sweep as it was before a site's milestones were batched: each due clock in its own
    savepoint, one at a time (today the path of a site whose batch failed)."""
    counts = {"due": 0, "escalations": 0, "failed": 0}
    with transaction.atomic():
        rows = list(
            Deadline.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now, kind__in=list(HANDLERS))
            .order_by("due_at")[:2000]
        )
        counts["due"] = len(rows)
        by_site: defaultdict = defaultdict(list)
        for row in rows:
            by_site[row.site_id].append(row)
        sites = Site.objects.in_bulk(list(by_site))
        for site_id, site_rows in by_site.items():
            with tenant_context(sites[site_id]):
                for row in site_rows:
                    with transaction.atomic():
                        counts["escalations"] += HANDLERS[row.kind](row, now)
    return counts


def escalation_round(
    sites: list[Site], marks: dict, sweep=sweep_deadlines
) -> tuple[float, int, int]:
    now = timezone.now()
    chosen = make_due(sites, now)
    try:
        start = time.perf_counter()
        counts = sweep(now=now)
        seconds = time.perf_counter() - start
        want = {site_id: dict.fromkeys(ids, 1) for site_id, ids in chosen.items()}
        assert counts["due"] == len(sites) * DUE_PER_SITE and counts["failed"] == 0, counts
        assert escalated(sites) == want, "escalated milestones differ from the due ones"
        again = sweep_deadlines(now=now)
        assert again == {"due": 0, "escalations": 0, "failed": 0}, again
        # A replay: the index rows back in the past, the clocks already escalated.
        Deadline.objects.filter(kind=Deadline.Kind.MILESTONE, due_at__gt=now).filter(
            due_at__lt=now + timedelta(days=30)
        ).update(due_at=now - timedelta(minutes=1))
        replay = sweep_deadlines(now=now)
        assert replay["due"] == counts["due"] and replay["escalations"] == 0, replay
        assert escalated(sites) == want, "a replay changed escalation levels"
        return seconds, counts["escalations"], replay["escalations"]
    finally:
        restore(sites, chosen, marks)


def profile_round(sites: list[Site], marks: dict) -> tuple[float, float]:
    """Untimed: the escalating sweep's statements by shape, with their count and DB time."""
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

    now = timezone.now()
    chosen = make_due(sites, now)
    try:
        with connection.execute_wrapper(count):
            start = time.perf_counter()
            counts = sweep_deadlines(now=now)
            total = time.perf_counter() - start
    finally:
        restore(sites, chosen, marks)
    statements = sum(shapes.values())
    in_db = sum(seconds.values())
    print(
        f"profile: {counts['escalations']} escalations in {total:.2f} s, {statements} statements "
        f"({statements / max(counts['escalations'], 1):.1f} per escalation, "
        f"{statements / len(sites):.1f} per site), "
        f"{in_db:.2f} s waiting on the database"
    )
    for shape, number in shapes.most_common(20):
        print(f"  {number:6d} {seconds[shape]:6.2f} s  {shape}")
    return statements / max(counts["escalations"], 1), statements / len(sites)


def explain_idle() -> str:
    query = (
        Deadline.objects.select_for_update(skip_locked=True)
        .filter(due_at__lte=timezone.now(), kind__in=list(HANDLERS))
        .order_by("due_at")[:2000]
    )
    with transaction.atomic():
        return query.explain(analyze=True, buffers=True)


def main() -> None:
    # Every schema: a fixture built before the latest casework migration must get it (the
    # executor skips schemas that are up to date, tenants/migration.py).
    call_command("migrate_schemas", verbosity=0, interactive=False)
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()  # into an empty database (see bench_database_url)
    sites = bench_sites()
    assert len(sites) == SITES, len(sites)
    open_cases = closed_cases = 0
    for site in sites:
        with tenant_context(site):
            open_cases += Case.objects.filter(status=CaseStatus.OPEN).count()
            closed_cases += Case.objects.filter(status=CaseStatus.CLOSED).count()
    open_milestones = Deadline.objects.filter(kind=Deadline.Kind.MILESTONE).count()
    print(
        f"open cases {open_cases}, closed {closed_cases}, indexed open milestones "
        f"{open_milestones}",
        flush=True,
    )
    assert open_milestones >= 100_000
    # Every round moves index rows; the old versions stay in the `deadline_due` index, at due
    # times already past, until (auto)vacuum. Start each run from a vacuumed table.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tenants_deadline")
    print("idle sweep query plan, vacuumed:\n" + explain_idle(), flush=True)

    marks = event_marks(sites)
    idle, escalate, escalations, replays, roundtrips = [], [], [], [], []
    for round_no in range(ARGS.rounds):
        roundtrips.append(roundtrip_ms())
        idle.append(idle_sweep(ARGS.idle))
        seconds, raised, replayed = escalation_round(sites, marks)
        escalate.append(seconds)
        escalations.append(raised)
        replays.append(replayed)
        print(
            f"round {round_no + 1}: idle_sweep_s={idle[-1]:.4f} escalate_s={seconds:.2f} "
            f"escalations={raised} replay_escalations={replayed} "
            f"roundtrip_ms={roundtrips[-1]:.3f}",
            flush=True,
        )
    per_clock, raised, _replayed = escalation_round(sites, marks, sweep=sweep_clock_by_clock)
    assert raised == SITES * DUE_PER_SITE, raised
    print(f"clock by clock: escalate_s={per_clock:.2f} escalations={raised}", flush=True)
    per_escalation, per_site = profile_round(sites, marks)
    print("idle sweep query plan after the rounds:\n" + explain_idle(), flush=True)

    assert set(escalations) == {SITES * DUE_PER_SITE}, escalations
    print(
        f"sites={len(sites)} open={open_cases} closed={closed_cases} "
        f"idle_sweep_s={statistics.median(idle):.4f} due={SITES * DUE_PER_SITE} "
        f"escalate_s={statistics.median(escalate):.2f} escalations={escalations[0]} "
        f"open_milestones={open_milestones} replay_escalations={max(replays)} "
        f"per_clock_escalate_s={per_clock:.2f} "
        f"batch_speedup={per_clock / statistics.median(escalate):.1f} "
        f"statements_per_escalation={per_escalation:.1f} statements_per_site={per_site:.1f} "
        f"roundtrip_ms={statistics.median(roundtrips):.3f} rounds={ARGS.rounds} "
        f"load={' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
