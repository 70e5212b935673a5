"""gunicorn settings for Carefront's web containers (`gunicorn --config infra/gunicorn.conf.py`).

WSGI, never ASGI: django-tenants keeps the current site's schema on the database connection,
which sync_to_async thread hops would lose (see platform/carefront/wsgi.py).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Absolute paths, so the config works from any working directory: the repo root holds the
# apps, platform/ the `carefront` package (platform/ itself is never a package, so the
# standard library's `platform` stays importable).
chdir = str(ROOT)
pythonpath = str(ROOT / "platform")
wsgi_app = "carefront.wsgi:application"

bind = "0.0.0.0:8000"


def _default_workers() -> int:
    # The CPUs this process may use (cpu_count() reports the whole host). Capped because every
    # worker thread holds its own PostgreSQL connection: scale with more containers instead.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2 * (cpus or 1) + 1, 8)


workers = int(os.environ.get("WEB_CONCURRENCY") or _default_workers())
# gthread: an idle keep-alive client or a slow upload doesn't pin a whole worker. Threads are
# safe here: Django's connections (and so the tenant schema) are per thread.
worker_class = "gthread"
# One thread a worker: a second one shares the worker's GIL, and the thread that holds the
# day's reference-counter lock (until its intake commits) then waits for the interpreter while
# every other intake on the site waits for it. Measured with tests/bench/public_form.py on an
# idle machine: 1 thread 239 stored/s, p99 54 ms; 2 threads 163/s, p99 145 ms; 4 threads
# 149/s, p99 203 ms. gthread still serves keep-alive connections.
threads = int(os.environ.get("GUNICORN_THREADS") or 1)

# Each worker imports the app itself: nothing (a DB connection, Sentry's thread) is shared
# across the fork, and a HUP reloads new code.
preload_app = False

# Longer than a normal page, shorter than a load balancer's patience (60 s on most).
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows; jitter keeps them from all
# restarting at once. Not too often: a new worker imports and warms the whole app (about 1.5 s
# of CPU), which at 1,000 requests cost 1.5 ms a request under the public form's load
# (docs/benchmarks.md, "Public form under load"); at 20,000 it is under 0.1 ms.
max_requests = 20_000
max_requests_jitter = 2_000
# The worker heartbeat file on tmpfs: a slow overlay disk must not get workers killed.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn creates its own private files here (mkstemp)
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# Containers scale by adding containers, not via gunicornc; the socket's default home
# (/app) is read-only to the app user anyway.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
