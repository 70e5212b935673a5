"""WSGI entry point (gunicorn --pythonpath platform carefront.wsgi). Not ASGI: the tenant
schema lives on the database connection and is lost across sync_to_async thread hops
(django-tenants #820, #1168)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")

application = get_wsgi_application()
