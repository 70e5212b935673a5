"""`make run`: the web server, a Celery worker and beat, together; Ctrl-C stops all three.

The embedded PostgreSQL (when DATABASE_URL is unset) is started by whichever process imports
the settings first and kept up while any of them runs.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
        "worker": [python, "-m", "celery", "-A", "carefront", "worker", "-l", "warning",
                   "--pool", "solo"],
        "beat": [python, "-m", "celery", "-A", "carefront", "beat", "-l", "warning",
                 "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
    }
    processes = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603 - our own fixed commands
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
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
