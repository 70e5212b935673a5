"""A task sent from a site runs in that site's schema, on a real worker process."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from carefront.celery import app
from carefront.embedded import filesystem_broker_options
from tests.celery_tasks import site_home_title

ROOT = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or ""
    if host.startswith("/"):  # the embedded server listens on a socket in its data folder
        return f"postgresql://{s['USER']}@{quote(host, safe='')}/{s['NAME']}"
    return f"postgresql://{s['USER']}:{s['PASSWORD']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """`celery worker` in its own process, on the embedded (filesystem) broker in tmp_path,
    against the test database; results come back through files."""
    results = tmp_path / "results"
    results.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
        "DATABASE_URL": _database_url(),
        "CAREFRONT_VAR_DIR": str(tmp_path),
        "CELERY_RESULT_BACKEND": f"file://{results}",
    }
    env.pop("CELERY_BROKER_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "carefront",
            "worker",
            "--pool",
            "solo",
            "-I",
            "tests.celery_tasks",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    original = {
        k: app.conf[k] for k in ("broker_url", "broker_transport_options", "result_backend")
    }
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options=filesystem_broker_options(tmp_path / "broker"),
        result_backend=f"file://{results}",
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        app.conf.update(original)


def test_a_task_sent_from_a_site_runs_in_that_sites_schema(world, worker):
    with tenant_context(world.site_a):
        from_a = site_home_title.delay()
    with tenant_context(world.site_b):
        from_b = site_home_title.delay()

    assert from_a.get(timeout=60) == ["site_a", "甲医院"]
    assert from_b.get(timeout=60) == ["site_b", "乙养老院"]
