"""'Apply to open cases': how long re-basing the open clocks of a tier takes, by open cases.

The site admin ticks "apply to open cases" on a clock of a tier; `update_milestone_rule`
re-bases every open case of that tier through `_start_clocks` inside the one transaction of
the web request. This measures that request's service call for the first 100, 500 and all
open cases of the minor tier, with the statements it runs per case, so that the point where
the screen should hand the work to a background task is read from figures, not guessed.
Each measured call is rolled back, so every round starts from the same cases; a plain
change without re-basing (`apply=no`) is timed beside it as the baseline, and the former
path (`_start_clocks` case by case, `old_100`) on 100 cases for the ratio.

The fixture: one site (`create_site` + the `hospital_property` template) with `--cases` open
minor cases, in a database of its own (`<name>_bench_rebase` beside DATABASE_URL's, or on the
embedded server), built once and reused; `--rebuild` builds it again.

    .venv/bin/python tests/bench/rebase.py [--cases 2000] [--rounds 3] [--rebuild]

Last line: cases=… rebase_s_all=… per_case_ms=… statements_per_case=… baseline_ms=…
old_per_case_ms=… speedup_100=…
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from benchdb import bench_database_url  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
os.environ.setdefault("DEBUG", "0")

MARKER = "bench.rebase.fixture"
SUFFIX = "_bench_rebase"
SLUG = "bench-rebase"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from casework.models import Case, CaseStatus, MilestoneRule  # noqa: E402
from casework.services import (  # noqa: E402
    Complainant,
    _start_clocks,
    register_case,
    update_milestone_rule,
)
from casework.site_templates import apply_template  # noqa: E402
from tenants.models import Heartbeat, Role, Site, User  # noqa: E402
from tenants.services import create_firm, create_site, grant_role  # noqa: E402


class Rollback(Exception):
    pass


def build() -> None:
    started = time.perf_counter()
    firm = create_firm(name="Bench firm", slug="bench")
    site = create_site(firm=firm, slug=SLUG, name="Bench rebase", kind="hospital")
    admin = User.objects.create_user(email="admin@bench-rebase.invalid")
    grant_role(user=admin, role=Role.SITE_ADMIN, site=site)
    with tenant_context(site):
        apply_template(code="hospital_property")
        now = timezone.now()
        for i in range(ARGS.cases):
            register_case(
                channel="phone",
                account=f"Bench rebase {i}: the lift on ward 7 is out of order again.",
                complainant=Complainant(relation="family", name=f"Caller {i}"),
                received_by=admin,
                now=now - timedelta(minutes=i),
            )
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.1f} s", flush=True)


def rebase_case_by_case(*, admin, rule) -> None:
    """The former path: the rule changed, then `_start_clocks` for each open case."""
    from casework.selectors import site_calendar

    update_milestone_rule(rule=rule, by=admin, amount=rule.amount + 1)
    calendar = site_calendar()
    now = timezone.now()
    for case in (
        Case.objects.filter(tier=rule.tier)
        .exclude(status=CaseStatus.CLOSED)
        .select_for_update(of=("self",))
        .select_related("tier", "nature", "content", "lead_department")
        .order_by("pk")
    ):
        _start_clocks(case, since=case.registered_at, now=now, actor=admin, calendar=calendar)


def timed_change(
    *, admin, rule, apply: bool, limit: int | None, old: bool = False
) -> tuple[float, int]:
    """One rolled-back change of the rule's duration: seconds and statements."""
    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    start = time.perf_counter()
    try:
        with transaction.atomic(), connection.execute_wrapper(counter):
            if limit is not None:  # fewer open cases: the others closed, inside the rollback
                keep = Case.objects.filter(tier=rule.tier).order_by("pk").values("pk")[:limit]
                Case.objects.filter(tier=rule.tier).exclude(pk__in=keep).update(
                    status=CaseStatus.CLOSED
                )
                count[0] = 0
                start = time.perf_counter()
            if old:
                rebase_case_by_case(admin=admin, rule=rule)
            else:
                update_milestone_rule(
                    rule=rule, by=admin, amount=rule.amount + 1, apply_to_open_cases=apply
                )
            elapsed = time.perf_counter() - start
            raise Rollback
    except Rollback:
        pass
    return elapsed, count[0]


def main() -> None:
    call_command("migrate_schemas", verbosity=0)  # the site's schema too: new columns
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()
    site = Site.objects.get(slug=SLUG)
    admin = User.objects.get(email="admin@bench-rebase.invalid")
    load = os.getloadavg()[0]
    with tenant_context(site):
        rule = MilestoneRule.objects.select_related("tier").get(tier__code="minor", code="resolve")
        total = Case.objects.filter(tier=rule.tier).exclude(status=CaseStatus.CLOSED).count()
        results: dict[str, list] = {}
        for _round in range(ARGS.rounds):
            for label, apply, limit, old in (
                ("baseline", False, None, False),
                ("old_100", True, 100, True),
                ("100", True, 100, False),
                ("500", True, 500, False),
                ("all", True, None, False),
            ):
                results.setdefault(label, []).append(
                    timed_change(admin=admin, rule=rule, apply=apply, limit=limit, old=old)
                )
    for label, runs in results.items():
        seconds = statistics.median(r[0] for r in runs)
        statements = statistics.median(r[1] for r in runs)
        print(f"{label:>8}: median {seconds * 1000:9.1f} ms, {statements:7.0f} statements")
    cases_all = total
    all_s = statistics.median(r[0] for r in results["all"])
    all_statements = statistics.median(r[1] for r in results["all"])
    baseline = statistics.median(r[0] for r in results["baseline"])
    old_100 = statistics.median(r[0] for r in results["old_100"])
    new_100 = statistics.median(r[0] for r in results["100"])
    print(
        f"cases={cases_all} rounds={ARGS.rounds} load={load:.1f} "
        f"rebase_s_all={all_s:.2f} per_case_ms={all_s * 1000 / max(cases_all, 1):.2f} "
        f"statements_per_case={all_statements / max(cases_all, 1):.1f} "
        f"rebase_s_500={statistics.median(r[0] for r in results['500']):.2f} "
        f"baseline_ms={baseline * 1000:.1f} "
        f"old_per_case_ms={old_100 * 1000 / 100:.2f} "
        f"speedup_100={old_100 / max(new_100, 1e-9):.1f}"
    )


if __name__ == "__main__":
    main()
