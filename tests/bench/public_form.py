"""The public complaint form under load, through the production web server: stored per second.

The site is served by gunicorn on loopback exactly as in production (`infra/gunicorn.conf.py`:
gthread workers with one thread each (GUNICORN_THREADS), keep-alive 5 s, access log, workers
recycled after about 20,000 requests), with 2 workers (the 2-core machine). gthread, not sync:
it is what production runs, and a sync worker closes the connection after every response, so
keep-alive clients would reconnect for each submission. Environment of the server: DATABASE_URL
of the bench database, a temporary CAREFRONT_VAR_DIR, CAREFRONT_ENV=development with DEBUG=0
and CONN_MAX_AGE=60 (production's persistent connections; development's default is 0, a new
connection per request), and both form rate limits raised to 1000000/60
(PUBLIC_FORM_LIMIT_PER_ADDRESS and PUBLIC_FORM_LIMIT_PER_SITE): every submission comes from
127.0.0.1, and the production limits (30 per 10 minutes per address) would turn all but the
first 30 away.

A separate process (this script with `--drive`, standard library only) runs `--clients`
threads, each with one keep-alive `http.client` connection: it fetches the form once for its
CSRF token (the `csrftoken` cookie and the hidden `csrfmiddlewaretoken`), then posts valid
complaints with varied text to `http://<slug>.localhost:<port>/complain/` for `--seconds`,
timing every POST. A 302 to `?receipt=1` means accepted (redirects are not followed; only the
CSRF cookie is sent back, so each submission is a new visitor with a new session, as on a
poster's QR code). The clients send no proof-of-work stamp (cms/pow.py): with the limits
raised none is needed. After each round the cases stored in the site's schema are counted and
compared with the 302s the clients saw: `lost = accepted - stored` must be 0 (only the
cases whose text carries this round's tag are counted, and a second run against the same
database waits for the first: an advisory lock). A 3 s warm-up
round (not reported) goes first. After the last round gunicorn is stopped and all the cases
written since the warm-up are counted once more.

A last, untimed part posts `--profile` complaints through Django's test client in this process
(same database, same settings) and prints the statements of one submission by shape with
their database time, the CPU one POST costs in Django and in its PostgreSQL backend, and where
Django's time goes in the project's code (cProfile).

The fixture: one hospital site (`create_site`, which applies the hospital template, ~20 s),
its staff (one person per site role, as `seed_demo` does) and the intake owner and after-hours
receiver set, in a database of its own: `carefront_bench_form` on the embedded server (or
`<name>_bench_form` beside DATABASE_URL's database), never the demo's. It is built once and
reused (cases accumulate); a build that did not finish is started again from an empty database.
Rebuild on purpose with `--rebuild`. Everything the script starts (gunicorn, the client
process) is stopped on exit, Ctrl-C or error.

    .venv/bin/python tests/bench/public_form.py [--seconds 20] [--clients 8] [--rounds 3]
        [--profile 30] [--rebuild]

Last line: submitted=… stored=… lost=0 per_s=… p50_ms=… p99_ms=… (medians of the rounds;
lost is the sum), then errors, non-302 answers, and gunicorn's CPU per stored case
(`server_cpu_ms`, its master and workers, read from /proc) and its PostgreSQL backends'
(`db_cpu_ms`, the server is local): on a shared machine they say what a submission costs when
the throughput is set by other people's load (`load1`, the load average at the end of a
round). Target: per_s of at least 180 with p99_ms under 250.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
MARKER = "bench.public_form.fixture"  # a Heartbeat row written when the fixture is complete
SUFFIX = "_bench_form"
SLUG = "bench-form"
FORM = "/complain/"
LIMIT = "1000000/60"
WARMUP_SECONDS = 3.0
LOCK_KEY = 4_151_042  # pg_advisory_lock key of this benchmark


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=30, help="untimed submissions profiled")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the fixture")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # internal: the client process
    return parser.parse_args()


# --- The client process (standard library only, no Django) -----------------------------------

PLACES = ["门诊楼1楼挂号处", "住院部3号楼5楼", "急诊科", "放射科候诊区", "地下停车场", "食堂"]
WHAT = [
    "地面刚拖过没有放警示牌，我父亲滑倒了。",
    "护工态度很差，按铃二十分钟没人来。",
    "电梯坏了两天没有人修。",
    "病房的卫生间一直漏水。",
    "排队缴费等了一个多小时，窗口只开了一个。",
    "夜里走廊太吵，病人无法休息。",
]


def complaint(tag: str, client: int, number: int, relations: list[str]) -> dict:
    """A valid submission; every fifth one anonymous, the text different every time."""
    anonymous = number % 5 == 4
    data = {
        "relation": relations[(client + number) % len(relations)],
        "location": PLACES[number % len(PLACES)],
        "account": f"{WHAT[(client * 7 + number) % len(WHAT)]}（{tag}-{client}-{number}）",
        "desired_outcome": "请尽快处理并回复。" if number % 2 else "",
    }
    if anonymous:
        data["anonymous"] = "on"
    else:
        data.update(
            name=f"测试{client}号{number}",
            phone=f"139 {client:04d} {number % 10000:04d}",
            consent_contact="on",
        )
    return data


def client_run(spec: dict, number: int, start: threading.Barrier, out: list) -> None:
    """One visitor's browser: fetch the form once, then post complaints until the deadline."""
    host = f"{spec['hostname']}:{spec['port']}"
    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
    result = {"submitted": 0, "accepted": 0, "statuses": {}, "errors": 0, "latencies": []}
    out[number] = result
    try:
        conn.request("GET", FORM, headers={"Host": host})
        response = conn.getresponse()
        page = response.read().decode()
        cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or []]
        csrf_cookie = next(c for c in cookies if c.startswith("csrftoken="))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    except BaseException:
        start.abort()  # the others must not wait for this client
        raise
    headers = {
        "Host": host,
        "Origin": f"http://{host}",
        "Cookie": csrf_cookie,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    start.wait(timeout=60)
    deadline = time.monotonic() + spec["seconds"]
    sent = 0
    while time.monotonic() < deadline and sent < 1_000_000:
        body = urlencode(
            {
                "csrfmiddlewaretoken": token,
                **complaint(spec["tag"], number, sent, spec["relations"]),
            }
        )
        sent += 1
        began = time.perf_counter()
        try:
            conn.request("POST", FORM, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            # A connection the server closed (a recycled worker); the next request reconnects.
            result["errors"] += 1
            conn.close()
            continue
        result["latencies"].append(time.perf_counter() - began)
        result["submitted"] += 1
        status = response.status
        result["statuses"][status] = result["statuses"].get(status, 0) + 1
        if status == 302 and response.getheader("Location", "").endswith("?receipt=1"):
            result["accepted"] += 1
    conn.close()


def drive(spec: dict) -> None:
    """Runs as its own process; prints one JSON line with what the clients saw."""
    clients = spec["clients"]
    start = threading.Barrier(clients + 1)
    out: list = [None] * clients
    threads = [
        threading.Thread(target=client_run, args=(spec, n, start, out), daemon=True)
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait(timeout=120)  # every client holds its CSRF token
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join(timeout=spec["seconds"] + 60)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if any(thread.is_alive() for thread in threads) or None in out:
        raise RuntimeError("a client did not finish")
    statuses: dict = {}
    for result in out:
        for status, count in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "submitted": sum(r["submitted"] for r in out),
                "accepted": sum(r["accepted"] for r in out),
                "errors": sum(r["errors"] for r in out),
                "statuses": statuses,
                "latencies": [x for r in out for x in r["latencies"]],
            }
        ),
        flush=True,
    )


# --- The bench process -----------------------------------------------------------------------


def setup_django(args: argparse.Namespace) -> dict:
    """Django on the bench database, with the server's settings; returns the server's env."""
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    from benchdb import bench_database_url

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
    server_env = {
        "DATABASE_URL": bench_database_url(suffix=SUFFIX, marker=MARKER, rebuild=args.rebuild),
        "CAREFRONT_ENV": "development",
        "DEBUG": "0",
        "CONN_MAX_AGE": "60",
        "PUBLIC_FORM_LIMIT_PER_ADDRESS": LIMIT,
        "PUBLIC_FORM_LIMIT_PER_SITE": LIMIT,
    }
    os.environ.update(server_env)
    import django

    django.setup()
    return server_env


def build() -> None:
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from casework.models import Department, SiteConfiguration
    from tenants.models import Heartbeat, Role, User
    from tenants.services import create_firm, create_site, grant_role

    started = time.perf_counter()
    firm = create_firm(name="Bench firm", slug="bench")
    site = create_site(firm=firm, slug=SLUG, name="Bench form", kind="hospital")
    staff = {}
    for role in [
        Role.SITE_ADMIN,
        Role.SERVICE_CENTRE_MANAGER,
        Role.PROJECT_MANAGER,
        Role.MANAGER_ASSISTANT,
        Role.DEPARTMENT_SUPERVISOR,
        Role.RECEPTIONIST,
    ]:
        staff[role] = User.objects.create_user(email=f"{role}@bench.invalid", first_name=role)
        grant_role(user=staff[role], role=role, site=site)
    with tenant_context(site):
        SiteConfiguration.objects.filter(id=1).update(
            intake_owner=staff[Role.RECEPTIONIST],
            after_hours_receiver=staff[Role.SERVICE_CENTRE_MANAGER],
        )
        Department.objects.filter(supervisor=None).update(
            supervisor=staff[Role.DEPARTMENT_SUPERVISOR]
        )
    Heartbeat.objects.create(name=MARKER, seen_at=timezone.now())
    print(f"fixture built in {time.perf_counter() - started:.1f} s", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict, port: int, hostname: str, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn",
        "--config", str(ROOT / "infra" / "gunicorn.conf.py"),
        "--pythonpath", "platform",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "2",
        "--worker-class", "gthread",
        "carefront.wsgi:application",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", FORM, headers={"Host": f"{hostname}:{port}"})
                status = conn.getresponse().status
            finally:
                conn.close()
            if status == 200:
                return server
            raise RuntimeError(f"GET {FORM} answered {status}:\n{tail(log)}")
        time.sleep(0.5)
    stop(server)
    raise RuntimeError(f"gunicorn did not answer within 120 s:\n{tail(log)}")


def stop(process: subprocess.Popen | None, grace: float = 40.0) -> None:
    """Stop a process this script started (and its process group: gunicorn's workers)."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Running:
    """What this script started and must stop, whatever happens."""

    server: subprocess.Popen | None = None
    driver: subprocess.Popen | None = None


def proc_cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a local process (with its reaped children's), 0 if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(master: int) -> float:
    """gunicorn's CPU so far: the master, its live workers, and the workers it has reaped."""
    total = proc_cpu_seconds(master, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == master:
                    total += proc_cpu_seconds(int(entry.name))
    return total


def database_backends() -> dict[int, float]:
    """CPU so far of the PostgreSQL backends serving the bench database, other than this
    process's own (the server runs on this machine: /proc shows them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: proc_cpu_seconds(pid) for pid in pids}


def stored_with_tags(tags: list[str], mark: int) -> int:
    """Cases this run's clients sent (each account carries its round's tag): a run of someone
    else against the same database does not count."""
    from django.db.models import Q

    from casework.models import Case

    tagged = Q()
    for tag in tags:
        tagged |= Q(account__contains=f"（{tag}-")
    return Case.objects.filter(tagged, pk__gt=mark, channel="web").count()


def one_run_at_a_time(database_url: str):
    """A session advisory lock on the bench database for this run's lifetime: a second run
    waits instead of posting into the same site while this one counts."""
    import psycopg

    holder = psycopg.connect(database_url, autocommit=True)
    if not holder.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
        print("another public_form run holds the bench database; waiting", flush=True)
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    return holder


def run_round(spec: dict, site, running: Running) -> dict:
    """One round: the client process for `spec['seconds']`, then the cases counted and the
    CPU gunicorn and its PostgreSQL backends used (persistent connections, CONN_MAX_AGE=60:
    a backend that came or went during the round is counted from its start or not at all,
    so `db_cpu_ms` is a slight undercount)."""
    from django.db.models import Max
    from django_tenants.utils import tenant_context

    from casework.models import Case

    with tenant_context(site):
        mark = Case.objects.aggregate(last=Max("pk"))["last"] or 0
    backends = database_backends()
    server_cpu = server_cpu_seconds(running.server.pid)
    running.driver = subprocess.Popen(
        [sys.executable, __file__, "--drive", json.dumps(spec)],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, _ = running.driver.communicate(timeout=spec["seconds"] + 240)
    finally:
        stop(running.driver, grace=5)
    if running.driver.returncode != 0:
        raise RuntimeError(f"the client process failed ({running.driver.returncode})")
    seen = json.loads(stdout.decode().strip().splitlines()[-1])
    server_cpu = server_cpu_seconds(running.server.pid) - server_cpu
    db_cpu = sum(cpu - backends.get(pid, 0.0) for pid, cpu in database_backends().items())
    with open("/proc/loadavg") as loadavg:
        load = float(loadavg.read().split()[0])
    with tenant_context(site):
        stored = stored_with_tags([spec["tag"]], mark)
    latencies = sorted(seen["latencies"])
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "mark": mark,
        "submitted": seen["submitted"],
        "accepted": seen["accepted"],
        "stored": stored,
        "lost": seen["accepted"] - stored,
        "errors": seen["errors"],
        "statuses": seen["statuses"],
        "seconds": seen["seconds"],
        "per_s": stored / seen["seconds"],
        "p50_ms": percentiles[49] * 1000,
        "p99_ms": percentiles[98] * 1000,
        "max_ms": latencies[-1] * 1000,
        "server_cpu_ms": server_cpu * 1000 / max(stored, 1),
        "db_cpu_ms": db_cpu * 1000 / max(stored, 1),
        "client_cpu_ms": seen["cpu"] * 1000 / max(seen["submitted"], 1),
        "load1": load,
    }


def profile(site, submissions: int) -> None:
    """Untimed, in this process: one POST's statements by shape, count and database time."""
    import cProfile
    import pstats
    from collections import Counter, defaultdict

    from django.db import connection
    from django.test import Client

    from casework.models import Relation
    from tenants.middleware import forget_cached_sites

    shapes: Counter = Counter()
    seconds: defaultdict = defaultdict(float)

    def count(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"\s+", " ", re.sub(r"%s(, %s)*|\d+", "?", sql))[:120]
            shapes[shape] += 1
            seconds[shape] += time.perf_counter() - began

    forget_cached_sites()
    client = Client(HTTP_HOST=site.primary_domain)
    relations = list(Relation.values)
    for number in range(5):  # warm: the site map, templates, Wagtail's site root paths
        response = client.post(FORM, complaint("warm", 0, number, relations))
        assert response.status_code == 302, response.status_code
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def post(number: int, tag: str) -> None:
        client.cookies.clear()  # a new visitor each time, as in the timed rounds
        response = client.post(FORM, complaint(tag, 0, number, relations))
        assert response.status_code == 302, response.status_code

    # Pass 1: statements, wall time, CPU time here and in the database server's backend.
    db_cpu = proc_cpu_seconds(backend)
    cpu, began = time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        for number in range(submissions):
            post(number, "profile")
    total, cpu = time.perf_counter() - began, time.process_time() - cpu
    db_cpu = proc_cpu_seconds(backend) - db_cpu
    statements, in_db = sum(shapes.values()), sum(seconds.values())
    per = 1000 / submissions
    print(
        f"profile: {submissions} POSTs through the test client: {statements / submissions:.1f} "
        f"statements, {total * per:.1f} ms wall of which {in_db * per:.1f} ms waiting on the "
        f"database; CPU {cpu * per:.1f} ms in Django and {db_cpu * per:.1f} ms in PostgreSQL "
        f"per POST"
    )
    for shape, number in shapes.most_common(40):
        print(f"  {number / submissions:5.1f}/post {seconds[shape] * per:6.2f} ms  {shape}")
    # Pass 2: where Django's time goes (cProfile inflates it; read the shares).
    profiler = cProfile.Profile()
    for number in range(submissions):
        profiler.enable()
        post(number, "cprofile")
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(r"(casework|cms|tenants|carefront)/", 25)
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    args = parse_args()
    if args.drive:
        drive(json.loads(args.drive))
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    server_env = setup_django(args)
    lock = one_run_at_a_time(server_env["DATABASE_URL"])  # noqa: F841 - held until exit

    from django.core.management import call_command
    from django.db import connections
    from django_tenants.utils import tenant_context

    from casework.models import Relation
    from tenants.models import Heartbeat, Site

    # Every schema: other work adds migrations between runs of a reused fixture.
    call_command("migrate_schemas", verbosity=0)
    if not Heartbeat.objects.filter(name=MARKER).exists():
        build()  # into an empty database (see bench_database_url)
    site = Site.objects.get(slug=SLUG)
    hostname = site.primary_domain
    connections.close_all()

    running = Running()
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="carefront-bench-form-") as var_dir:
        env = {**os.environ, **server_env, "CAREFRONT_VAR_DIR": var_dir}
        log = Path(var_dir) / "gunicorn.log"
        port = free_port()
        try:
            running.server = start_server(env, port, hostname, log)
            print(f"gunicorn on 127.0.0.1:{port} for {hostname}, log {log}", flush=True)
            spec = {
                "hostname": hostname,
                "port": port,
                "clients": args.clients,
                "relations": list(Relation.values),
            }
            tags = [f"w-{time.time():.0f}"]
            warm = run_round({**spec, "seconds": WARMUP_SECONDS, "tag": tags[0]}, site, running)
            first_mark = warm["mark"]
            accepted_total = warm["accepted"]
            print(f"warm-up: {warm['accepted']} accepted, {warm['stored']} stored", flush=True)
            for number in range(args.rounds):
                tags.append(f"r{number + 1}-{time.time():.0f}")
                result = run_round(
                    {**spec, "seconds": args.seconds, "tag": tags[-1]}, site, running
                )
                rounds.append(result)
                accepted_total += result["accepted"]
                print(
                    f"round {number + 1}: "
                    + " ".join(
                        f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}"
                        for key, value in result.items()
                        if key != "mark"
                    ),
                    flush=True,
                )
        except BaseException:
            print(tail(log), file=sys.stderr)
            raise
        finally:
            stop(running.driver, grace=5)
            stop(running.server)
        logged = log.read_text(errors="replace").splitlines() if log.exists() else []
        trouble = [
            line for line in logged if re.search(r"\[(ERROR|CRITICAL)\]| ERROR |Traceback", line)
        ]
        print(f"gunicorn log: {len(logged)} lines, {len(trouble)} errors", flush=True)
        for line in trouble[:5]:
            print(f"  {line}", flush=True)
    with tenant_context(site):
        stored_total = stored_with_tags(tags, first_mark)
    print(f"after stopping gunicorn: accepted={accepted_total} stored={stored_total}", flush=True)
    assert stored_total >= accepted_total, "accepted submissions are missing from the database"

    if args.profile:
        profile(site, args.profile)

    def median(key):
        return statistics.median(result[key] for result in rounds)

    print(
        f"submitted={median('submitted'):.0f} stored={median('stored'):.0f} "
        f"lost={sum(max(r['lost'], 0) for r in rounds)} per_s={median('per_s'):.0f} "
        f"p50_ms={median('p50_ms'):.0f} p99_ms={median('p99_ms'):.0f} "
        f"rounds={args.rounds} seconds={args.seconds:g} clients={args.clients} "
        f"errors={sum(r['errors'] for r in rounds)} "
        f"non_302={sum(r['submitted'] - r['accepted'] for r in rounds)} "
        f"server_cpu_ms={median('server_cpu_ms'):.1f} "
        # Every error of db_cpu_ms is an undercount (a backend recycled by CONN_MAX_AGE takes
        # its CPU along): the highest round is the best estimate.
        f"db_cpu_ms={max(r['db_cpu_ms'] for r in rounds):.1f} "
        f"load1={median('load1'):.1f} workers=2 worker_class=gthread "
        f"threads={os.environ.get('GUNICORN_THREADS') or 1}"
    )


if __name__ == "__main__":
    main()
