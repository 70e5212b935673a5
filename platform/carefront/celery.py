"""The Celery app. tenant-schemas-celery's CeleryApp carries the current schema in each task's
headers and switches to it in the worker, so a task sent from a site runs in that site."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")

app = CeleryApp("carefront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
