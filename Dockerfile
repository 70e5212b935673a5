# syntax=docker/dockerfile:1
# Carefront's one image. It serves the web with gunicorn by default; the same image runs the
# Celery worker and beat and the one-shot migrations (see infra/compose.yaml, infra/README.md).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the locked dependencies in a venv, so the runtime stage copies one folder -------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Hashes: install exactly the locked artefacts or fail. --no-deps: the lock already lists every
# dependency, so pip must not resolve (and fetch unhashed) anything of its own.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

# --- runtime: the venv and the source, nothing that built them ------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# platform/ (the `carefront` package) and the repo root (the apps) must both be importable by
# gunicorn, celery and manage.py alike. CAREFRONT_ENV=production so that a missing secret
# stops the container instead of quietly starting the embedded PostgreSQL.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app/platform:/app \
    DJANGO_SETTINGS_MODULE=carefront.settings \
    CAREFRONT_ENV=production \
    CAREFRONT_VAR_DIR=/app/var

RUN groupadd --system --gid 10001 carefront \
 && useradd --system --uid 10001 --gid carefront --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin carefront

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .
# The source stays root-owned (the app cannot rewrite its own code), so compile the bytecode
# now rather than in every process at start. Only var/ is the app's: static files, beat's
# schedule, and var/media where compose mounts the media volume (a new named volume takes
# this folder's owner, so the non-root user can write to it).
RUN python -m compileall -q -j 0 /app \
 && chmod 0755 infra/entrypoint.sh \
 && mkdir -p var/media \
 && chown -R carefront:carefront var

USER carefront
# Settings must import for collectstatic, and production settings demand these. The values are
# throwaway and exist only in this RUN: a DATABASE_URL keeps settings from starting the
# embedded PostgreSQL (collectstatic never connects), memory:// stands in for the broker.
RUN CAREFRONT_ENV=production \
    SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=postgres://build@localhost/none \
    CELERY_BROKER_URL=memory:// \
    python manage.py collectstatic --noinput -v 0

EXPOSE 8000
# /healthz answers only on known hosts (any other Host is a 404), so send BASE_DOMAIN, the
# platform's own host, which needs no site in the database. No curl in slim: urllib, which
# raises (exit 1) on any non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': os.environ.get('BASE_DOMAIN') or 'localhost'}), timeout=4)"]

ENTRYPOINT ["/app/infra/entrypoint.sh"]
CMD ["gunicorn", "--config", "/app/infra/gunicorn.conf.py"]
