"""Read queries of the case domain, shared by views, reports, the sweep and the API.
All of them run in the current site's schema."""

from django.db import connection

from casework.calendar import SiteCalendar
from casework.models import CalendarDay, SiteConfiguration


def site_configuration() -> SiteConfiguration:
    configuration, _created = SiteConfiguration.objects.get_or_create(id=1)
    return configuration


def site_calendar(*, configuration: SiteConfiguration | None = None) -> SiteCalendar:
    """The current site's calendar: its time zone, office hours and its own exceptions."""
    configuration = configuration or site_configuration()
    days = CalendarDay.objects.values_list("day", "kind")
    return SiteCalendar(
        time_zone=getattr(connection.tenant, "time_zone", "Asia/Shanghai"),
        workday_start=configuration.workday_start,
        workday_end=configuration.workday_end,
        closures=frozenset(d for d, kind in days if kind == CalendarDay.Kind.CLOSED),
        extra_workdays=frozenset(d for d, kind in days if kind == CalendarDay.Kind.WORKING),
        use_official_holidays=configuration.use_official_holidays,
    )


MASK = "***"


def may_see_complainant(*, user, case) -> bool:
    """Staff of the site see who complained and how to reach them, except the people the
    complaint is about (seed 004: never shown to them, never disclosed without consent)."""
    from tenants.selectors import site_roles

    if not site_roles(user=user, site=connection.tenant):
        return False
    return not case.persons_complained_about.filter(pk=user.pk).exists()


def complainant_details(*, user, case) -> dict[str, str]:
    """The complainant panel as `user` may see it: masked for those who may not."""
    visible = may_see_complainant(user=user, case=case)
    details = {
        "name": case.complainant_name,
        "phone": case.complainant_phone,
        "email": case.complainant_email,
    }
    if case.anonymous:
        return dict.fromkeys(details, "")
    return details if visible else {k: MASK if v else "" for k, v in details.items()}


def calendar_gap(*, today=None):
    """The first day in the coming 90 days that China's official holiday data does not cover
    yet (each year's holidays are announced late in the year before), or None."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    calendar = site_calendar()
    today = today or timezone.localtime(timezone.now(), ZoneInfo(calendar.time_zone)).date()
    return calendar.first_uncovered_day(today)


def describe_duration(amount: int, unit: str) -> str:
    """'within 30 minutes' / '30 分钟内', for the public page and notices."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if unit == "working_days" and amount == 0:
        return _("the same working day")
    forms = {
        "minutes": ngettext("within %(n)s minute", "within %(n)s minutes", amount),
        "hours": ngettext("within %(n)s hour", "within %(n)s hours", amount),
        "working_days": ngettext("within %(n)s working day", "within %(n)s working days", amount),
        "calendar_days": ngettext("within %(n)s day", "within %(n)s days", amount),
    }
    return forms[unit] % {"n": amount}


def published_time_limits() -> list[dict]:
    """The promises of the public page, read from the live tier configuration so that they
    are never typed twice: each tier with its clocks, in the reader's language."""
    from casework.models import Tier

    tiers = Tier.objects.prefetch_related("milestone_rules").order_by("rank")
    return [
        {
            "tier": tier.display_name,
            "description": tier.description,
            "milestones": [
                {"name": rule.display_name, "limit": describe_duration(rule.amount, rule.unit)}
                for rule in tier.milestone_rules.all()
            ],
        }
        for tier in tiers
    ]
