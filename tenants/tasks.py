from celery import shared_task
from django.utils import timezone

from tenants.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "beat") -> None:
    """Run by beat every minute: the platform console shows when it last ran."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task(ignore_result=True)
def replenish_spare_schemas() -> int:
    """After each onboarding and every few minutes from beat: keep SITE_SPARE_SCHEMAS clones
    of the template ready (tenants/schemas.py). Idempotent; two runs at once may make one
    spare too many, which the next onboarding uses."""
    from tenants.schemas import replenish_spares

    return replenish_spares()


@shared_task(ignore_result=True)
def delete_due_sites() -> list[str]:
    """Hourly from beat: delete the sites whose deletion grace period is over."""
    from tenants.services import delete_due_sites as sweep

    return sweep()
