"""The deadline sweep: every minute, everything due on every site, escalated exactly once.

One indexed query on the public `Deadline` table finds what is due across all sites (idle cost
does not grow with sites or with closed cases); rows are claimed with SKIP LOCKED so two
sweepers share the work instead of doubling it; each clock is handled in its site's schema in
a savepoint, and one that fails is pushed back a few minutes instead of blocking the rest.
See docs/decisions/0005-deadline-sweep.md.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from casework import services
from tenants.models import Deadline, Site

logger = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=5)

HANDLERS = {
    Deadline.Kind.MILESTONE: lambda row, now: services.escalate_milestone(
        milestone_id=row.object_id, now=now
    ),
    Deadline.Kind.HANDOVER: lambda row, now: services.escalate_handover(
        handover_id=row.object_id, now=now
    ),
    Deadline.Kind.UPGRADE: lambda row, now: services.upgrade_case(case_id=row.object_id, now=now),
}


def sweep_deadlines(*, now: datetime | None = None, batch: int = 2000) -> dict[str, int]:
    """Handle up to `batch` due clocks; returns counts of what was done."""
    now = now or timezone.now()
    counts = {"due": 0, "escalations": 0, "failed": 0}
    with transaction.atomic():
        rows = list(
            Deadline.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now, kind__in=list(HANDLERS))
            .order_by("due_at")[:batch]
        )
        counts["due"] = len(rows)
        by_site: dict[int, list[Deadline]] = defaultdict(list)
        for row in rows:
            by_site[row.site_id].append(row)
        sites = Site.objects.in_bulk(list(by_site))
        for site_id, site_rows in by_site.items():
            with tenant_context(sites[site_id]):
                for row in site_rows:
                    try:
                        with transaction.atomic():
                            counts["escalations"] += HANDLERS[row.kind](row, now)
                    except Exception:
                        logger.exception("Deadline %s failed; retrying later", row)
                        counts["failed"] += 1
                        Deadline.objects.filter(pk=row.pk).update(due_at=now + RETRY_AFTER)
    return counts
