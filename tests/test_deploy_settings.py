"""Production settings refuse to start without secrets and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION_ENV = {
    "CAREFRONT_ENV": "production",
    "SECRET_KEY": "x7#kq9!v2m" * 6,
    "DATABASE_URL": "postgres://carefront@db.invalid/carefront",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
    "BASE_DOMAIN": "carefront.example",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_mistyped_boolean_stops_the_process():
    result = _manage("check", env={**PRODUCTION_ENV, "EMAIL_USE_TLS": "ture"})
    assert result.returncode != 0
    assert "EMAIL_USE_TLS='ture' is not a boolean" in result.stderr
