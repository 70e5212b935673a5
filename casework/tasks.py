"""Background tasks of casework. They only find work and call services."""

import logging

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework.notifications import relay_outbox
from tenants.models import Deadline

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def relay_all_outboxes(limit: int = 200) -> dict[str, dict[str, int]]:
    """Run by beat every 30 s: send what is due on every site that has pending messages.

    The sites come from the cross-site index in one query, not from a visit to each schema.
    Idempotent, and safe when two runs overlap: messages are claimed with SKIP LOCKED. A
    site that fails is logged (and so reported to Sentry) and never stops the others.
    """
    due = list(
        Deadline.objects.filter(kind=Deadline.Kind.OUTBOX, due_at__lte=timezone.now())
        .select_related("site")
        .order_by("due_at")
    )
    results: dict[str, dict[str, int]] = {}
    for deadline in due:
        site = deadline.site
        with tenant_context(site):
            # Inside the site's context, so that the Sentry event is tagged with its schema.
            try:
                results[site.schema_name] = relay_outbox(limit=limit)
            except Exception:
                logger.exception("Outbox relay failed on site %s", site.schema_name)
    return results


@shared_task(ignore_result=True)
def sweep_deadlines() -> dict[str, int]:
    """Run by beat every minute: escalate every clock that is due, on every site, once.

    Works from the database alone (docs/decisions/0005-deadline-sweep.md): a missed or
    doubled run, or one after downtime, leaves the same result.
    """
    from casework.sweep import sweep_deadlines as sweep

    counts = sweep()
    if counts["failed"]:
        logger.error("Deadline sweep: %s clocks failed and were pushed back", counts["failed"])
    return counts
