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
