"""What resolving the site costs a request.

Serves a trivial view through Django's test client, in one run, three ways: without tenant
resolution (`plain`), with Carefront's SiteMiddleware (`tenant`), and with django-tenants'
stock TenantMainMiddleware (`stock`, for reference). Rounds are interleaved so that the noise
of a shared machine falls on all three alike; medians are reported.

    .venv/bin/python tests/bench/middleware.py [--requests 3000] [--rounds 5]

Last line: plain_rps=… tenant_rps=… overhead_pct=… stock_rps=… stock_overhead_pct=…
Target: overhead_pct under 15.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from tenants.models import Domain, Firm  # noqa: E402


def hello(request):
    return HttpResponse("ok")


# This script is its own URL conf (ROOT_URLCONF="__main__" below).
urlpatterns = [path("hello", hello)]

SITE_MIDDLEWARE = "tenants.middleware.SiteMiddleware"
STOCK_MIDDLEWARE = "django_tenants.middleware.main.TenantMainMiddleware"


def bench_host() -> str:
    """A site's domain: an existing one, or a bench site made once (it needs a schema)."""
    call_command("migrate_schemas", shared=True, verbosity=0)
    domain = Domain.objects.filter(is_primary=True).first()
    if domain:
        return domain.domain
    from tenants.services import create_firm, create_site

    firm = Firm.objects.filter(slug="bench").first() or create_firm(name="Bench", slug="bench")
    return create_site(firm=firm, slug="bench-site", name="Bench", kind="hospital").primary_domain


def rps(middleware: list[str], host: str, requests: int) -> float:
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF="__main__"):
        client = Client(HTTP_HOST=host)
        for _ in range(200):  # warm caches, connections, the handler
            assert client.get("/hello").status_code == 200
        start = time.perf_counter()
        for _ in range(requests):
            client.get("/hello")
        return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    host = bench_host()
    # Persistent connections, as in production, so the comparison is of queries, not connects.
    connection.settings_dict["CONN_MAX_AGE"] = None
    full = list(settings.MIDDLEWARE)
    variants = {
        "plain": [m for m in full if m != SITE_MIDDLEWARE],
        "tenant": full,
        "stock": [STOCK_MIDDLEWARE if m == SITE_MIDDLEWARE else m for m in full],
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for round_no in range(args.rounds):
        for name, middleware in variants.items():
            results[name].append(rps(middleware, host, args.requests))
        print(
            f"round {round_no + 1}: "
            + " ".join(f"{name}={values[-1]:.0f}" for name, values in results.items()),
            flush=True,
        )

    plain, tenant, stock = (statistics.median(results[n]) for n in ("plain", "tenant", "stock"))
    print(
        f"host={host} requests={args.requests} rounds={args.rounds} "
        f"plain_rps={plain:.0f} tenant_rps={tenant:.0f} "
        f"overhead_pct={(1 - tenant / plain) * 100:.1f} "
        f"stock_rps={stock:.0f} stock_overhead_pct={(1 - stock / plain) * 100:.1f}"
    )


if __name__ == "__main__":
    main()
