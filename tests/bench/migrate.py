"""What a deploy's `migrate_schemas` costs with 200 sites: with nothing to apply, and with one
migration pending on some of them.

The fixture: the public schema, the template schema and 200 site schemas cloned from it
(tenants/schemas.py), in a database of their own (`carefront_bench_migrate`, or
`<name>_bench_migrate` beside DATABASE_URL's), built once and reused (`--rebuild`).

Each round measures
- `noop_s`: `migrate_schemas` (public, the template and every site) with nothing pending, the
  migration graph read from disk again as a new deploy process would
  (tenants/migration.py: one query finds that no schema is behind);
- `stock_per_site_ms`: django-tenants' own executor, which runs Django's `migrate` in every
  schema, on a sample of `--stock-sample` sites (per site, to compare with `per_site_ms`);
- `pending_s`: the latest casework migration reversed on `--pending` sites, then
  `migrate_schemas`: only those are migrated, by the multiprocessing executor
  (TENANT_MULTIPROCESSING_MAX_PROCESSES processes).

    .venv/bin/python tests/bench/migrate.py [--rounds 3] [--pending 10] [--stock-sample 10]

Last line: sites=200 noop_s=… per_site_ms=… stock_per_site_ms=… pending=… pending_s=… load=…
Target: noop_s under 2.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from benchdb import bench_database_url  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
os.environ.setdefault("DEBUG", "0")
os.environ["SITE_SPARE_SCHEMAS"] = "0"

SITES = 200
MARKER = "bench.migrate.fixture"
SUFFIX = "_bench_migrate"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pending", type=int, default=10)
    parser.add_argument("--stock-sample", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.migration_executors.standard import StandardExecutor  # noqa: E402

from tenants import schemas  # noqa: E402
from tenants.models import Domain, Heartbeat, Site  # noqa: E402
from tenants.services import create_firm  # noqa: E402


def build() -> None:
    started = time.perf_counter()
    schemas.ensure_template_schema()
    firm = create_firm(name="Bench firm", slug="bench")
    rows = []
    for number in range(SITES):
        slug = f"bench-m{number:03d}"
        with transaction.atomic():
            schemas.clone_template(slug.replace("-", "_"))
        rows.append(
            Site(
                schema_name=slug.replace("-", "_"), firm=firm, slug=slug, name=slug, kind="hospital"
            )
        )
        if number % 20 == 19:
            print(f"cloned {number + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    Site.objects.bulk_create(rows)  # bulk_create: Site.save() would migrate a schema again
    Domain.objects.bulk_create(
        Domain(domain=f"{site.slug}.{settings.BASE_DOMAIN}", tenant=site) for site in rows
    )
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.0f} s", flush=True)


def fresh_process_caches() -> None:
    """What a new `manage.py migrate_schemas` process starts without."""
    schemas.expected_tenant_migrations.cache_clear()
    schemas.expected_public_migrations.cache_clear()


def noop() -> float:
    fresh_process_caches()
    started = time.perf_counter()
    call_command("migrate_schemas", verbosity=0, interactive=False)
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return elapsed


def stock(sample: list[str]) -> float:
    """django-tenants' standard executor, unfiltered: Django's migrate in each schema."""
    from django_tenants.management.commands.migrate_schemas import Command

    parser = Command().create_parser("manage.py", "migrate_schemas")
    options = vars(parser.parse_args(["--tenant", "--noinput", "-v", "0"]))
    executor = StandardExecutor([], options)
    started = time.perf_counter()
    executor.run_migrations(tenants=list(sample))
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return elapsed * 1000 / len(sample)


def latest_casework_migration() -> tuple[str, str]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = [key for key in loader.graph.leaf_nodes() if key[0] == "casework"]
    previous = loader.graph.node_map[leaf].parents
    (parent,) = [p.key for p in previous if p.key[0] == "casework"]
    return leaf[1], parent[1]


def pending(behind: list[str]) -> float:
    _leaf, parent = latest_casework_migration()
    for schema in behind:
        call_command(
            "migrate_schemas",
            "casework",
            parent,
            schema_name=schema,
            verbosity=0,
            interactive=False,
        )
    connection.set_schema_to_public()
    assert set(schemas.schemas_behind(behind)) == set(behind)
    fresh_process_caches()
    started = time.perf_counter()
    call_command("migrate_schemas", verbosity=0, interactive=False)
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    assert schemas.schemas_behind(behind) == [], "the pending migration was not applied"
    return elapsed


def main() -> None:
    call_command("migrate_schemas", shared=True, verbosity=0)
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()
    sites = list(Site.objects.order_by("schema_name").values_list("schema_name", flat=True))
    assert len(sites) == SITES, len(sites)
    noop()  # the first run may still migrate what the code added since the fixture was built
    timings: dict[str, list[float]] = {"noop": [], "stock": [], "pending": []}
    load = []
    for number in range(ARGS.rounds):
        load.append(os.getloadavg()[0])
        timings["noop"].append(noop())
        timings["stock"].append(stock(sites[: ARGS.stock_sample]))
        timings["pending"].append(pending(sites[-ARGS.pending :]))
        print(
            f"round {number + 1}: noop={timings['noop'][-1]:.3f}s "
            f"stock={timings['stock'][-1]:.0f}ms/site pending={timings['pending'][-1]:.1f}s",
            flush=True,
        )
    noop_s = statistics.median(timings["noop"])
    print(
        f"sites={SITES} noop_s={noop_s:.3f} per_site_ms={noop_s * 1000 / SITES:.2f} "
        f"stock_per_site_ms={statistics.median(timings['stock']):.0f} "
        f"pending={ARGS.pending} pending_s={statistics.median(timings['pending']):.1f} "
        f"processes={settings.TENANT_MULTIPROCESSING_MAX_PROCESSES} "
        f"load={statistics.median(load):.1f}"
    )


if __name__ == "__main__":
    main()
