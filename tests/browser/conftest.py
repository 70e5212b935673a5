"""Browser tests: a person using the public pages in a real browser.

Playwright drives Debian's chromium (/usr/bin/chromium; Playwright's own browser download is
not used) against a real server process (`manage.py runserver`) on the per-run test
database. The cases the browser files are committed by that server, so they go to a site of
this package's own, `browser-site`, which is dropped again when the package is done: the
other tests never see it.

Without chromium (or the playwright package) these tests are skipped with the reason; under
CI (the CI environment variable set) they fail instead, since CI must run them.
`make test` installs chromium when it runs as root with apt-get.
"""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import translation

from tenants.models import Domain, Firm, Role, User
from tenants.services import create_firm, create_site, grant_role

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# How chromium must be started here: headless as root, and with nothing of its own going out
# to the network (a closed network refuses those connections, many at a time).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLUG = "browser-site"
HOST = f"{SLUG}.localhost"  # chromium resolves *.localhost to loopback by itself
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"browser tests need Debian's chromium ({CHROMIUM} is missing); "
            "`make test` installs it when run as root"
        )
    if sync_playwright is None:
        return "browser tests need the playwright package (pip install -r requirements.lock)"
    return None


def pytest_collection_modifyitems(config, items):
    """Without a browser, skip this folder's tests with the reason, before any of them sets
    up the database (under CI they fail instead: see `_browser_available`)."""
    reason = _missing()
    if reason is None or _in_ci():
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package", autouse=True)
def _browser_available():
    """Fails every test of this folder under CI when there is no browser: CI must run them."""
    reason = _missing()
    if reason and _in_ci():
        pytest.fail(f"CI must run the browser tests, but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="package")
def browser_site(_browser_available, django_db_setup, django_db_blocker):
    """A third site (a hospital, configured from the hospital template by create_site, with
    a site admin to receive web complaints) that only the browser files complaints on; it,
    its schema, its firm and its admin are removed afterwards."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        firm = create_firm(
            name="浏览器测试物业", name_en="Browser Test Property", slug="browserfirm"
        )
        site = create_site(
            firm=firm, slug=SLUG, name="丙医院", name_en="Hospital C", kind="hospital"
        )
        admin = User.objects.create_user("site-admin@browser.example", None)
        grant_role(user=admin, role=Role.SITE_ADMIN, site=site)
    yield site
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        Domain.objects.filter(tenant_id=site.pk).delete()
        site.delete(force_drop=True)
        # The admin owns the browser's cases, gone with the schema; its memberships went with
        # the site. Nothing else refers to it, and the ORM's cascade would look for tables
        # that exist only in a site's schema.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tenants_user WHERE id = %s", [admin.pk])
            # Staff the back-office journey logs in as (tests/browser/test_backoffice_journey.py).
            cursor.execute(
                "DELETE FROM tenants_user WHERE email LIKE %s", ["%@office.browser.example"]
            )
        Firm.objects.filter(pk=firm.pk).delete()


def _database_url() -> str:
    """The per-run test database, as a URL for another process (as in tests/test_celery.py)."""
    s = connection.settings_dict
    host = s["HOST"] or ""
    if host.startswith("/"):  # the embedded server listens on a socket in its data folder
        return f"postgresql://{s['USER']}@{quote(host, safe='')}/{s['NAME']}"
    password = quote(s["PASSWORD"] or "", safe="")
    return f"postgresql://{s['USER']}:{password}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/", headers={"Host": f"{HOST}:{port}"})
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture(scope="package")
def live_server_url(browser_site, tmp_path_factory):
    """`manage.py runserver` in its own process on the test database, until it answers.

    runserver (not gunicorn) because it serves the static files (--insecure: whatever DEBUG
    is), so the screenshots show the real stylesheet.
    """
    var = tmp_path_factory.mktemp("browser-var")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CAREFRONT_VAR_DIR": str(var),
        "SITE_URL_PORT": str(port),
        # Every test files from 127.0.0.1: keep the public form's rate limit out of the way.
        "PUBLIC_FORM_LIMIT_PER_ADDRESS": "1000/60",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):  # the folder broker, an in-process cache
        env.pop(name, None)
    log = (var / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--insecure",
            "--skip-checks",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "the test server did not start:\n" + (var / "server.log").read_text()[-3000:]
                )
            time.sleep(0.2)
        yield f"http://{HOST}:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser(db, live_server_url):
    """Chromium for one test (about a second to start). It starts after the database is set
    up and stops before the test's transaction is rolled back: Playwright's sync API runs an
    event loop, and Django refuses database work while one runs. (`db` is also what tells
    pytest-django that this run needs the test database at all.)"""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(request, browser, live_server_url):
    """A fresh phone-sized browser window (no cookies), set to Chinese like most visitors'
    phones; `phone(java_script_enabled=False)` for one without JavaScript."""
    contexts = []
    request.node.browser_contexts = contexts  # for the report of a failure

    def open_page(**options):
        context = browser.new_context(
            base_url=live_server_url,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            **options,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports where each of its pages was and what it showed."""
    report = yield
    if report.failed and call.when == "call":
        for context in getattr(item, "browser_contexts", []):
            for page in context.pages:
                try:
                    shown = page.locator("main").inner_text(timeout=2_000)
                except Exception as error:  # the report itself must not fail
                    shown = f"(could not read the page: {error})"
                report.sections.append((f"page {page.url}", shown))
    return report


@pytest.fixture
def screenshot():
    """Saves a full-page screenshot into docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take


def t(language: str, message: str) -> str:
    """`message` as the site shows it in `language` (from the project's own catalogue), so the
    tests find buttons and labels the way a person reads them."""
    with translation.override(language):
        return translation.gettext(message)
