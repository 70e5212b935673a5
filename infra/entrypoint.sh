#!/usr/bin/env bash
# The image's entrypoint. `migrate` brings every schema up to date (the compose one-shot that
# web and workers wait for); anything else is run as given, so gunicorn (the default CMD) and
# celery get PID 1 and receive the container's stop signal directly.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${1:-}" == "migrate" ]]; then
    # Public schema first: it holds the table of sites that the second pass walks.
    python manage.py migrate_schemas --shared --noinput
    exec python manage.py migrate_schemas --tenant --noinput
fi

exec "$@"
