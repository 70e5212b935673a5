"""The deadline sweep: every minute, everything due on every site, escalated exactly once.

One indexed query on the public `Deadline` table finds what is due across all sites (idle cost
does not grow with sites or with closed cases); rows are claimed with SKIP LOCKED so two
sweepers share the work instead of doubling it. A site's due milestones are escalated
together (`services.escalate_milestones`, a fixed number of statements per site); hand-overs
and upgrades, rare, one by one. When something fails, the sweep is rolled back and run again
with each site in a savepoint, a failing site clock by clock, and a clock that fails alone is
pushed back a few minutes instead of blocking the rest. See
docs/decisions/0005-deadline-sweep.md.
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
    """Handle up to `batch` due clocks; returns counts of what was done.

    Optimistically in one transaction without savepoints (each is a round trip, and
    failures are rare); if anything fails, that is rolled back and the sweep runs again
    with every site, then every clock of a failing site, in a savepoint of its own.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _sweep(now=now, batch=batch, isolated=False)
    except Exception:
        logger.warning("Deadline sweep failed; sweeping again site by site", exc_info=True)
    with transaction.atomic():
        return _sweep(now=now, batch=batch, isolated=True)


def _sweep(*, now: datetime, batch: int, isolated: bool) -> dict[str, int]:
    counts = {"due": 0, "escalations": 0, "failed": 0}
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
    failed: list[Deadline] = []
    for site_id, site_rows in by_site.items():
        with tenant_context(sites[site_id]):
            one_by_one = [row for row in site_rows if row.kind != Deadline.Kind.MILESTONE]
            milestones = [row for row in site_rows if row.kind == Deadline.Kind.MILESTONE]
            if not isolated:
                if milestones:  # in their due order: a case's events follow it
                    counts["escalations"] += services.escalate_milestones(
                        milestone_ids=[row.object_id for row in milestones], now=now
                    )
                for row in one_by_one:
                    counts["escalations"] += HANDLERS[row.kind](row, now)
                continue
            try:
                if milestones:
                    with transaction.atomic():
                        counts["escalations"] += services.escalate_milestones(
                            milestone_ids=[row.object_id for row in milestones], now=now
                        )
            except Exception:
                logger.warning(
                    "Deadline sweep of site %s failed; retrying clock by clock",
                    site_id,
                    exc_info=True,
                )
                one_by_one = milestones + one_by_one
            for row in one_by_one:
                try:
                    with transaction.atomic():
                        counts["escalations"] += HANDLERS[row.kind](row, now)
                except Exception:
                    logger.exception("Deadline %s failed; retrying later", row)
                    failed.append(row)
    if failed:
        counts["failed"] = len(failed)
        Deadline.objects.filter(pk__in=[row.pk for row in failed]).update(due_at=now + RETRY_AFTER)
    return counts
