"""A site's calendar and the deadline arithmetic that runs on it.

Pure Python (no models, no database) so that the intake, the deadline sweep and the tests
share one set of rules. Working days follow the Chinese official calendar by default —
public holidays (法定节假日) and their make-up working days (调休), as published by the
State Council and packaged by ``chinese_calendar`` — plus the site's own closures and
extra working days.

Every instant going in must be timezone-aware; every instant coming out is expressed in
the site's time zone. All comparisons and differences are made in UTC, because Python
compares two datetimes sharing one tzinfo by wall clock, which is wrong across DST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

Unit = Literal["minutes", "hours", "working_days", "calendar_days"]
UNITS: tuple[str, ...] = ("minutes", "hours", "working_days", "calendar_days")

ONE_DAY = timedelta(days=1)

# The State Council announces a whole year at once, and chinese_calendar refuses any date
# past the last year it carries, so its data covers that year to 31 December (the last
# holiday entry itself falls in October).
OFFICIAL_DATA_UNTIL = date(max(chinese_calendar.holidays).year, 12, 31)


@dataclass(frozen=True)
class SiteCalendar:
    """When a site works: its time zone, office hours and days off.

    ``closures`` are the site's own extra days off and ``extra_workdays`` its own extra
    working days; both may be given as any iterable of dates.
    """

    time_zone: str = "Asia/Shanghai"
    workday_start: time = time(8, 0)
    workday_end: time = time(17, 30)
    closures: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    use_official_holidays: bool = True

    def __post_init__(self) -> None:
        if not self.workday_start < self.workday_end:
            raise ValueError(
                f"workday_start ({self.workday_start}) must be before "
                f"workday_end ({self.workday_end})"
            )
        ZoneInfo(self.time_zone)  # fail now on an unknown zone, not at the first deadline
        object.__setattr__(self, "closures", frozenset(self.closures))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches its instances

    # -- days ------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether the site works on local date ``d``.

        In order of precedence: the site's closures, the site's extra working days, the
        official calendar (holidays off, 调休 make-up days on), and finally Monday–Friday.
        Outside the official data's years (see ``official_data_until``) the official
        calendar is silently skipped, i.e. Monday–Friday applies.
        """
        if isinstance(d, datetime):
            raise TypeError("is_working_day takes a local date, not a datetime")
        if d in self.closures:
            return False
        if d in self.extra_workdays:
            return True
        if self.use_official_holidays:
            official = _official_workday(d)
            if official is not None:
                return official
        return d.weekday() < 5

    @staticmethod
    def official_data_until() -> date:
        """The last date the installed official holiday data covers."""
        return OFFICIAL_DATA_UNTIL

    def first_uncovered_day(self, today: date, horizon_days: int = 90) -> date | None:
        """The first day within ``horizon_days`` of ``today`` that the official data does
        not cover, or None when the horizon is covered (or the site ignores the official
        calendar). Callers wanting a translated warning build it from this date."""
        if not self.use_official_holidays:
            return None
        if today + timedelta(days=horizon_days) <= OFFICIAL_DATA_UNTIL:
            return None
        return max(today, OFFICIAL_DATA_UNTIL + ONE_DAY)

    def coverage_warning(self, today: date, horizon_days: int = 90) -> str | None:
        """An English warning when deadlines in the coming horizon may miss holidays, else
        None. Each year's holidays are announced late in the year before, so this fires
        every autumn until the ``chinesecalendar`` package is upgraded."""
        gap = self.first_uncovered_day(today, horizon_days)
        if gap is None:
            return None
        return (
            f"Official Chinese holiday data ends on {OFFICIAL_DATA_UNTIL.isoformat()}: "
            f"from {gap.isoformat()} working days are counted as Monday to Friday plus the "
            "site's own closures. Upgrade the chinesecalendar package once the State "
            "Council has announced the holidays."
        )

    # -- hours -----------------------------------------------------------------------

    def is_working_hours(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in office hours on a working day, local time.

        Office hours run from ``workday_start`` inclusive to ``workday_end`` exclusive.
        """
        local = self._local(moment)
        return (
            self.is_working_day(local.date())
            and self.workday_start <= local.time() < self.workday_end
        )

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time elapsed from ``a`` to ``b``: only working days' office hours count.

        Negative when ``b`` is before ``a``, so that it is additive in any order.
        """
        a_utc, b_utc = _utc(a), _utc(b)
        if b_utc < a_utc:
            return -self.working_time_between(b, a)
        total = timedelta()
        day, last = self._local(a).date(), self._local(b).date()
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._office_hours(day)
                lo, hi = max(opens, a_utc), min(closes, b_utc)
                if hi > lo:
                    total += hi - lo
            day += ONE_DAY
        return total

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which ``amount`` of office time has elapsed since ``start``.

        Walks forward over working days' office hours; a walk that ends exactly at closing
        time stays there rather than jumping to the next opening. The inverse of
        ``working_time_between``.
        """
        if amount < timedelta():
            raise ValueError(f"amount of office time must be >= 0, got {amount}")
        remaining, at = amount, _utc(start)
        day = self._local(start).date()
        while remaining:
            if self.is_working_day(day):
                opens, closes = self._office_hours(day)
                begin = max(opens, at)
                if begin < closes:
                    if remaining <= closes - begin:
                        return (begin + remaining).astimezone(self.tz)
                    remaining -= closes - begin
            day += ONE_DAY
        return start.astimezone(self.tz)

    # -- deadlines -------------------------------------------------------------------

    def add(self, start: datetime, amount: int, unit: Unit) -> datetime:
        """The due time of a clock of ``amount`` ``unit`` started at ``start``.

        - ``minutes``/``hours``: elapsed time, round the clock — hospitals run 24/7, so a
          30-minute contact rule means 30 real minutes, nights and holidays included.
        - ``calendar_days``: the same local wall-clock time ``amount`` days later, so
          "3 days" stays "3 days" across a DST change. A wall-clock time that occurs twice
          (clocks going back) resolves to the earlier instant; one that does not exist
          (clocks going forward) is pushed forward by the gap, as the clocks are.
        - ``working_days`` ("within N working days", N个工作日内): the start's own day is
          not counted (开始的当日不计入, as 民法典 第二百零一条 counts periods); counting
          begins with the next working day after the start's local date, whatever the
          hour, and the clock ends at ``workday_end`` (closing time, 停止业务活动的时间,
          第二百零三条) of the Nth working day. A complaint on Friday 16:00 with
          2 working days is due Tuesday 17:30 when Monday and Tuesday are working days;
          holidays are skipped and 调休 make-up days count. ``amount=0`` means closing
          time today if the start is a working day before closing time, otherwise closing
          time of the next working day — never before the start.
        """
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"amount must be a whole number >= 0, got {amount!r}")
        local = self._local(start)
        if unit == "minutes":
            return (_utc(start) + timedelta(minutes=amount)).astimezone(self.tz)
        if unit == "hours":
            return (_utc(start) + timedelta(hours=amount)).astimezone(self.tz)
        if unit == "calendar_days":
            return self._localise(local.replace(tzinfo=None) + timedelta(days=amount))
        day = local.date()
        open_today = self.is_working_day(day) and local.time() < self.workday_end
        if amount == 0 and not open_today:
            day = self._next_working_day(day)
        for _ in range(amount):
            day = self._next_working_day(day)
        return self._localise(datetime.combine(day, self.workday_end))

    def shift_for_pause(
        self, due: datetime, paused_at: datetime, resumed_at: datetime, unit: Unit
    ) -> datetime:
        """A paused clock's new due time once it resumes.

        For ``minutes``, ``hours`` and ``calendar_days`` the due time moves on by the real
        length of the pause. For ``working_days`` it moves on by the office time the pause
        took up (a pause over a weekend or a night costs nothing), walking forward over
        office hours from the old due time — so a 2-hour pause inside office hours turns
        a Tuesday-17:30 due time into the next working day's opening plus 2 hours.
        """
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
        if _utc(resumed_at) < _utc(paused_at):
            raise ValueError("resumed_at is before paused_at")
        if unit == "working_days":
            return self.add_working_time(due, self.working_time_between(paused_at, resumed_at))
        return (_utc(due) + (_utc(resumed_at) - _utc(paused_at))).astimezone(self.tz)

    # -- helpers ---------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        return _utc(moment).astimezone(self.tz)

    def _localise(self, wall: datetime) -> datetime:
        # fold=0 picks the earlier of two instants and, for a time in a gap, the offset
        # before the change; the round trip through UTC turns the latter into a real time.
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC).astimezone(self.tz)

    def _office_hours(self, day: date) -> tuple[datetime, datetime]:
        opens = self._localise(datetime.combine(day, self.workday_start))
        closes = self._localise(datetime.combine(day, self.workday_end))
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def _next_working_day(self, day: date) -> date:
        day += ONE_DAY
        while not self.is_working_day(day):
            day += ONE_DAY
        return day


# chinese_calendar rescans its whole table on every call; deadline walks ask about the same
# few hundred days over and over.
@lru_cache(maxsize=8192)
def _official_workday(d: date) -> bool | None:
    """The official calendar's verdict on ``d``, or None outside the years it covers."""
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        return None


def _utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)
