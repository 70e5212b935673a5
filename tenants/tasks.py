from celery import shared_task
from django.utils import timezone

from tenants.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "beat") -> None:
    """Run by beat every minute: the platform console shows when it last ran."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
