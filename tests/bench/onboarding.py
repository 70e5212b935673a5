"""How long opening a hospital takes, by the product's path and by django-tenants' default one.

Each onboarding is timed from the call to the moment the site answers on its domain: its
channels page (which renders the promised time limits from the site's live configuration),
its complaint form and its tracking page, each fetched through the whole middleware stack
with Django's test client and checked for status 200 and the site's name.

- product (`clone_median_s`): `tenants.services.create_site` with a spare schema ready, as
  the beat/after-commit top-up keeps it (tenants/schemas.py): the spare is renamed, and the
  configuration, pages, domain, role and invitation are written in the same transaction. The
  top-up after each onboarding is not timed (a worker does it while the meeting goes on).
- product, no spare (`cold_clone_median_s`): the same call with the pool empty, so the
  schema is cloned on the spot by the generated script.
- default (`default_median_s`): django-tenants' path, a `Site.save()` that creates the
  schema and runs every tenant migration, then the same domain, pages and configuration.

The three alternate, so load drifts hit them alike; one untimed onboarding first warms the
process as a web worker is warm (templates compiled, URL confs and the migration graph
loaded). Sites are deleted between rounds. The database is `carefront_bench_onboarding`
(or `<name>_bench_onboarding` beside DATABASE_URL's), holding the public and template
schemas only.

    .venv/bin/python tests/bench/onboarding.py [--rounds 5] [--default-rounds 3] [--rebuild]

Last line: clone_median_s=… cold_clone_median_s=… default_median_s=… speedup=… load=…
Targets: clone_median_s under 0.3, speedup (default / clone) at least 20.
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
# The bench tops the pool up itself, untimed; no task is queued after commit.
os.environ["SITE_SPARE_SCHEMAS"] = "0"

MARKER = "bench.onboarding.fixture"
SUFFIX = "_bench_onboarding"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--default-rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    return parser.parse_args()


ARGS = parse_args()
os.environ["DATABASE_URL"] = bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=ARGS.rebuild)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from casework.site_templates import apply_template  # noqa: E402
from cms.services import provision_site_pages  # noqa: E402
from tenants import schemas  # noqa: E402
from tenants.middleware import forget_cached_sites  # noqa: E402
from tenants.models import Domain, Firm, Heartbeat, Site  # noqa: E402
from tenants.services import create_firm, create_site  # noqa: E402


def prepare() -> Firm:
    call_command("migrate_schemas", verbosity=0)  # public, then the template schema
    if not Heartbeat.objects.filter(name=MARKER).exists():
        create_firm(name="Bench firm", slug="bench")
        Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    for site in Site.objects.all():
        _delete(site)
    return Firm.objects.get(slug="bench")


def _delete(site: Site) -> None:
    Domain.objects.filter(tenant=site).delete()
    site.delete(force_drop=True)


def answers(host: str, name: str) -> None:
    """The site's three pages, through the middleware, as a visitor's browser asks."""
    forget_cached_sites()
    client = Client()
    for path in ("/", "/complain/", "/track/"):
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 200, (path, response.status_code)
        if path == "/":
            assert name in response.content.decode(), "the site's name is not on its page"
    connection.set_schema_to_public()


def product(firm: Firm, number: int) -> float:
    slug = f"bench-new-{number}"
    started = time.perf_counter()
    create_site(
        firm=firm,
        slug=slug,
        name=f"新医院{number}",
        name_en=f"New hospital {number}",
        kind="hospital",
        admin_email=f"admin{number}@bench.invalid",
    )
    answers(f"{slug}.{settings.BASE_DOMAIN}", f"新医院{number}")
    return time.perf_counter() - started


def default(firm: Firm, number: int) -> float:
    """django-tenants' own path: Site.save() creates the schema and migrates it."""
    slug = f"bench-old-{number}"
    host = f"{slug}.{settings.BASE_DOMAIN}"
    started = time.perf_counter()
    site = Site(
        schema_name=slug.replace("-", "_"),
        firm=firm,
        slug=slug,
        name=f"旧医院{number}",
        name_en=f"Old hospital {number}",
        kind="hospital",
    )
    site.save(verbosity=0)
    Domain.objects.create(domain=host, tenant=site, is_primary=True)
    with tenant_context(site):
        provision_site_pages(site=site, hostname=host)
        apply_template(code="hospital_property")
    connection.set_schema_to_public()
    answers(host, f"旧医院{number}")
    return time.perf_counter() - started


def main() -> None:
    firm = prepare()
    # A web worker has served requests before the meeting: the migration graph, the clone
    # script, templates and URL confs are loaded. One untimed onboarding warms the same.
    schemas.expected_tenant_migrations()
    schemas.blueprint()
    schemas.replenish_spares(count=1)
    product(firm, 999)
    for site in Site.objects.all():
        _delete(site)
    timings: dict[str, list[float]] = {"clone": [], "cold": [], "default": []}
    rounds = max(ARGS.rounds, ARGS.default_rounds)
    load = []
    for number in range(rounds):
        load.append(os.getloadavg()[0])
        if number < ARGS.rounds:
            schemas.replenish_spares(count=1)  # untimed: the worker's top-up
            timings["clone"].append(product(firm, 2 * number))
            for spare in schemas.spare_schemas():  # none left; the cold run must clone
                raise SystemExit(f"spare {spare} left over")
            timings["cold"].append(product(firm, 2 * number + 1))
        if number < ARGS.default_rounds:
            timings["default"].append(default(firm, number))
        print(
            f"round {number + 1}: "
            + " ".join(f"{k}={v[-1]:.3f}s" for k, v in timings.items() if len(v) > number),
            flush=True,
        )
        for site in Site.objects.all():
            _delete(site)
    clone = statistics.median(timings["clone"])
    cold = statistics.median(timings["cold"])
    slow = statistics.median(timings["default"])
    print(
        f"clone_median_s={clone:.3f} cold_clone_median_s={cold:.3f} "
        f"default_median_s={slow:.3f} speedup={slow / clone:.1f} "
        f"cold_speedup={slow / cold:.1f} rounds={ARGS.rounds} "
        f"load={statistics.median(load):.1f}"
    )


if __name__ == "__main__":
    main()
