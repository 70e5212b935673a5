"""Tasks the Celery tests send to a real worker process (loaded with `celery worker -I`)."""

from django.db import connection

from carefront.celery import app
from cms.models import HomePage


@app.task(name="tests.site_home_title", ignore_result=False)
def site_home_title() -> list[str]:
    return [connection.schema_name, HomePage.objects.get().title]
