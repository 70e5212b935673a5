"""`make run`: the web server, a Celery worker and beat, together; Ctrl-C stops all three.

The embedded PostgreSQL (when DATABASE_URL is unset) is started by whichever process imports
the settings first and kept up while any of them runs.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:
    # A shell that starts us in the background ignores SIGINT for us; the children need it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
    import django

    django.setup()
    from django.conf import settings

    from tenants.models import Site, site_url

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}"}
    python = sys.executable
    port = settings.SITE_URL_PORT or "8000"
    commands = {
        "web": [python, "manage.py", "runserver", f"0.0.0.0:{port}"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "carefront",
            "worker",
            "-l",
            "warning",
            "--pool",
            "solo",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "carefront",
            "beat",
            "-l",
            "warning",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    }
    # Each child leads its own process group, so that stopping it also stops what it started
    # (runserver's autoreloader runs the server in a grandchild).
    processes = {
        name: subprocess.Popen(  # noqa: S603 - our own fixed commands
            cmd, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_default_sigint
        )
        for name, cmd in commands.items()
    }
    print()
    print(f"Platform and firm console: {site_url(settings.PUBLIC_HOSTS[0])}")
    for site in Site.objects.prefetch_related("domains").order_by("name"):
        print(f"  {site.name_en or site.name}: {site.url}")
    print("Press Ctrl-C to stop the web server, the worker and beat.", flush=True)

    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping the rest.")
                    stopping = True
            time.sleep(0.5)
    finally:
        # SIGINT first: each child then exits through its own shutdown path, which also lets go
        # of the embedded PostgreSQL; then harder, for whatever is left.
        for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            alive = [p for p in processes.values() if p.poll() is None]
            for process in alive:
                _signal_group(process, sig)
            deadline = time.monotonic() + grace
            for process in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if not os.environ.get("DATABASE_URL"):
            from carefront.embedded import forget_dead_handles

            # This process is now the last user of the embedded server; on exit it stops it.
            forget_dead_handles(settings.VAR_DIR / "pgdata")
    return 0


if __name__ == "__main__":
    sys.exit(main())
