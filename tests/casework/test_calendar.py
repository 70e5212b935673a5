"""The site calendar's deadline arithmetic: named rules first, then properties.

Pure Python: no database, no Django models.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.calendar import OFFICIAL_DATA_UNTIL, UNITS, SiteCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

CAL = SiteCalendar()


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def same_instant(a: datetime, b: datetime) -> bool:
    # Python compares datetimes sharing a tzinfo by wall clock, blind to DST folds.
    return a.astimezone(UTC) == b.astimezone(UTC)


# -- working days: the official calendar ---------------------------------------------


def test_working_days_start_counting_the_day_after_the_complaint():
    assert CAL.add(sh(2025, 6, 13, 16, 0), 2, "working_days") == sh(2025, 6, 17, 17, 30)
    # Even before opening time the start's own day is not counted.
    assert CAL.add(sh(2025, 6, 16, 7, 0), 1, "working_days") == sh(2025, 6, 17, 17, 30)


def test_working_days_skip_national_day_and_count_the_make_up_saturday():
    start = sh(2025, 9, 30, 10, 0)
    assert CAL.add(start, 1, "working_days") == sh(2025, 10, 9, 17, 30)
    assert CAL.add(start, 2, "working_days") == sh(2025, 10, 10, 17, 30)
    assert CAL.add(start, 3, "working_days") == sh(2025, 10, 11, 17, 30)  # 调休 Saturday
    assert CAL.add(start, 4, "working_days") == sh(2025, 10, 13, 17, 30)


def test_the_make_up_sunday_before_national_day_is_a_working_day():
    assert date(2025, 9, 28).weekday() == 6
    assert CAL.is_working_day(date(2025, 9, 28))
    assert CAL.add(sh(2025, 9, 26, 12, 0), 1, "working_days") == sh(2025, 9, 28, 17, 30)


def test_working_days_skip_the_nine_day_spring_festival_of_2026():
    # chinese_calendar 1.11: 15–23 February off, Saturdays 14 and 28 February worked.
    assert CAL.is_working_day(date(2026, 2, 14))
    assert not CAL.is_working_day(date(2026, 2, 23))  # a Monday inside the holiday
    assert CAL.is_working_day(date(2026, 2, 28))
    start = sh(2026, 2, 13, 10, 0)
    assert CAL.add(start, 1, "working_days") == sh(2026, 2, 14, 17, 30)
    assert CAL.add(start, 2, "working_days") == sh(2026, 2, 24, 17, 30)


def test_zero_working_days_means_closing_time_today_or_on_the_next_working_day():
    assert CAL.add(sh(2025, 6, 16, 10, 0), 0, "working_days") == sh(2025, 6, 16, 17, 30)
    assert CAL.add(sh(2025, 6, 16, 17, 30), 0, "working_days") == sh(2025, 6, 17, 17, 30)
    assert CAL.add(sh(2025, 9, 30, 18, 0), 0, "working_days") == sh(2025, 10, 9, 17, 30)


def test_working_days_count_on_the_site_local_date():
    start = sh(2025, 10, 10, 1, 0)  # still 9 October, 23:00, in Ürümqi
    urumqi = SiteCalendar(time_zone="Asia/Urumqi")
    due = urumqi.add(start, 1, "working_days")
    assert due == datetime(2025, 10, 10, 17, 30, tzinfo=URUMQI)
    assert due.utcoffset() == timedelta(hours=6)
    assert CAL.add(start, 1, "working_days") == sh(2025, 10, 11, 17, 30)


# -- the site's own days override the official calendar -------------------------------


def test_site_closures_override_the_official_calendar():
    cal = SiteCalendar(closures=frozenset({date(2025, 9, 28), date(2025, 6, 16)}))
    assert cal.add(sh(2025, 9, 26, 12, 0), 1, "working_days") == sh(2025, 9, 29, 17, 30)
    assert cal.add(sh(2025, 6, 13, 12, 0), 1, "working_days") == sh(2025, 6, 17, 17, 30)


def test_site_extra_workdays_override_the_official_calendar():
    cal = SiteCalendar(extra_workdays={date(2025, 10, 3), date(2025, 6, 14)})
    assert cal.extra_workdays == frozenset({date(2025, 10, 3), date(2025, 6, 14)})
    assert cal.add(sh(2025, 9, 30, 12, 0), 1, "working_days") == sh(2025, 10, 3, 17, 30)
    assert cal.add(sh(2025, 6, 13, 12, 0), 1, "working_days") == sh(2025, 6, 14, 17, 30)


def test_a_closure_beats_an_extra_workday_on_the_same_date():
    day = date(2025, 6, 14)
    cal = SiteCalendar(closures=frozenset({day}), extra_workdays=frozenset({day}))
    assert not cal.is_working_day(day)


def test_without_official_holidays_the_site_works_monday_to_friday():
    cal = SiteCalendar(use_official_holidays=False)
    assert cal.is_working_day(date(2025, 10, 1))
    assert not cal.is_working_day(date(2025, 9, 28))
    assert cal.add(sh(2025, 9, 30, 10, 0), 1, "working_days") == sh(2025, 10, 1, 17, 30)
    assert cal.coverage_warning(date(2026, 12, 1)) is None


# -- beyond the official data ---------------------------------------------------------


def test_official_data_runs_to_the_end_of_its_last_year():
    assert SiteCalendar.official_data_until() == OFFICIAL_DATA_UNTIL == date(2026, 12, 31)
    assert chinese_calendar.is_workday(date(2026, 12, 31))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_outside_official_coverage_working_days_fall_back_to_monday_to_friday():
    assert date(2035, 10, 1).weekday() == 0
    assert CAL.is_working_day(date(2035, 10, 1))  # National Day, but no data for 2035
    assert not CAL.is_working_day(date(2035, 10, 6))
    assert CAL.add(sh(2035, 9, 28, 16, 0), 1, "working_days") == sh(2035, 10, 1, 17, 30)
    closed = SiteCalendar(closures=frozenset({date(2035, 10, 1)}))
    assert closed.add(sh(2035, 9, 28, 16, 0), 1, "working_days") == sh(2035, 10, 2, 17, 30)


def test_coverage_warning_fires_when_the_horizon_runs_past_the_official_data():
    assert CAL.coverage_warning(date(2026, 6, 1)) is None
    assert CAL.first_uncovered_day(date(2026, 10, 2)) is None  # horizon ends 31 December
    assert CAL.first_uncovered_day(date(2026, 10, 3)) == date(2027, 1, 1)
    assert CAL.first_uncovered_day(date(2027, 3, 1)) == date(2027, 3, 1)
    assert CAL.first_uncovered_day(date(2026, 12, 1), horizon_days=30) is None
    assert CAL.first_uncovered_day(date(2026, 12, 1), horizon_days=31) == date(2027, 1, 1)
    warning = CAL.coverage_warning(date(2026, 11, 15))
    assert warning is not None
    assert "2026-12-31" in warning
    assert "2027-01-01" in warning


# -- office hours ---------------------------------------------------------------------


def test_office_hours_include_opening_and_exclude_closing_time():
    assert CAL.is_working_hours(sh(2025, 10, 11, 8, 0))  # 调休 Saturday
    assert not CAL.is_working_hours(sh(2025, 10, 11, 7, 59))
    assert not CAL.is_working_hours(sh(2025, 10, 10, 17, 30))
    assert not CAL.is_working_hours(sh(2025, 10, 4, 9, 0))  # National Day
    assert CAL.is_working_hours(datetime(2025, 10, 11, 1, 0, tzinfo=UTC))  # 09:00 local


def test_working_time_counts_only_office_hours_on_working_days():
    # Friday 16:00–17:30, the make-up Sunday in full, Monday 08:00–09:00.
    a, b = sh(2025, 9, 26, 16, 0), sh(2025, 9, 29, 9, 0)
    assert CAL.working_time_between(a, b) == timedelta(hours=12)
    assert CAL.working_time_between(b, a) == -timedelta(hours=12)
    assert CAL.working_time_between(sh(2025, 9, 30, 17, 30), sh(2025, 10, 9, 8, 0)) == timedelta()


def test_add_working_time_walks_over_the_make_up_sunday_and_stops_at_closing():
    due = sh(2025, 9, 26, 17, 30)
    assert CAL.add_working_time(due, timedelta(hours=10)) == sh(2025, 9, 29, 8, 30)
    assert CAL.add_working_time(due, timedelta(hours=9.5)) == sh(2025, 9, 28, 17, 30)


# -- elapsed and calendar time --------------------------------------------------------


def test_minutes_are_real_time_round_the_clock_even_on_holidays():
    assert CAL.add(sh(2025, 10, 4, 23, 50), 30, "minutes") == sh(2025, 10, 5, 0, 20)
    assert CAL.add(sh(2025, 10, 4, 23, 50), 48, "hours") == sh(2025, 10, 6, 23, 50)


def test_hours_are_elapsed_across_the_spring_dst_change():
    london = SiteCalendar(time_zone="Europe/London")
    due = london.add(datetime(2025, 3, 30, 0, 30, tzinfo=LONDON), 2, "hours")
    assert due.replace(tzinfo=None) == datetime(2025, 3, 30, 3, 30)
    assert due.utcoffset() == timedelta(hours=1)


def test_calendar_days_keep_the_local_wall_clock_across_dst():
    london = SiteCalendar(time_zone="Europe/London")
    start = datetime(2025, 3, 29, 12, 0, tzinfo=LONDON)
    due = london.add(start, 1, "calendar_days")
    assert due.replace(tzinfo=None) == datetime(2025, 3, 30, 12, 0)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)

    new_york = SiteCalendar(time_zone="America/New_York")
    start = datetime(2025, 11, 1, 9, 0, tzinfo=NEW_YORK)
    due = new_york.add(start, 1, "calendar_days")
    assert due.replace(tzinfo=None) == datetime(2025, 11, 2, 9, 0)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


def test_calendar_days_push_a_missing_local_time_forward_and_take_the_earlier_of_two():
    london = SiteCalendar(time_zone="Europe/London")
    gap = london.add(datetime(2025, 3, 29, 1, 30, tzinfo=LONDON), 1, "calendar_days")
    assert gap.astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert gap.replace(tzinfo=None) == datetime(2025, 3, 30, 2, 30)  # a real BST time
    twice = london.add(datetime(2025, 10, 25, 1, 30, tzinfo=LONDON), 1, "calendar_days")
    assert twice.astimezone(UTC) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 01:30 BST

    new_york = SiteCalendar(time_zone="America/New_York")
    twice = new_york.add(datetime(2025, 11, 1, 1, 30, tzinfo=NEW_YORK), 1, "calendar_days")
    assert twice.astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_calendar_days_ignore_holidays():
    assert CAL.add(sh(2025, 9, 30, 10, 0), 3, "calendar_days") == sh(2025, 10, 3, 10, 0)


# -- pauses ---------------------------------------------------------------------------


def test_a_working_day_clock_is_pushed_back_by_the_office_time_it_was_paused():
    due = sh(2025, 6, 17, 17, 30)
    paused = CAL.shift_for_pause(
        due, sh(2025, 6, 16, 10, 0), sh(2025, 6, 16, 12, 0), "working_days"
    )
    assert paused == sh(2025, 6, 18, 10, 0)
    overnight = CAL.shift_for_pause(
        due, sh(2025, 6, 13, 17, 0), sh(2025, 6, 16, 8, 30), "working_days"
    )
    assert overnight == sh(2025, 6, 18, 9, 0)


def test_a_pause_over_a_weekend_costs_a_working_day_clock_nothing():
    due = sh(2025, 6, 17, 17, 30)
    shifted = CAL.shift_for_pause(
        due, sh(2025, 6, 14, 10, 0), sh(2025, 6, 15, 18, 0), "working_days"
    )
    assert shifted == due


def test_elapsed_and_calendar_clocks_are_pushed_back_by_the_real_pause():
    due = sh(2025, 6, 17, 17, 30)
    pause = (sh(2025, 6, 14, 22, 0), sh(2025, 6, 15, 0, 30))
    assert CAL.shift_for_pause(due, *pause, "hours") == sh(2025, 6, 17, 20, 0)
    assert CAL.shift_for_pause(due, *pause, "calendar_days") == sh(2025, 6, 17, 20, 0)


def test_an_hours_clock_paused_across_a_dst_change_moves_on_by_real_time():
    london = SiteCalendar(time_zone="Europe/London")
    due = datetime(2025, 3, 30, 12, 0, tzinfo=LONDON)
    paused = datetime(2025, 3, 29, 23, 0, tzinfo=LONDON)
    resumed = datetime(2025, 3, 30, 3, 0, tzinfo=LONDON)  # 3 real hours later
    shifted = london.shift_for_pause(due, paused, resumed, "hours")
    assert shifted.replace(tzinfo=None) == datetime(2025, 3, 30, 15, 0)


# -- invalid input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "unit", "message"),
    [
        (datetime(2025, 6, 16, 10, 0), 1, "hours", "timezone-aware"),
        (sh(2025, 6, 16, 10, 0), -1, "hours", ">= 0"),
        (sh(2025, 6, 16, 10, 0), 1.5, "hours", "whole number"),
        (sh(2025, 6, 16, 10, 0), 1, "days", "unknown unit"),
    ],
)
def test_add_rejects_invalid_input(start, amount, unit, message):
    with pytest.raises(ValueError, match=message):
        CAL.add(start, amount, unit)


def test_other_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="before"):
        CAL.shift_for_pause(sh(2025, 6, 17), sh(2025, 6, 16, 12), sh(2025, 6, 16, 10), "hours")
    with pytest.raises(ValueError, match="unknown unit"):
        CAL.shift_for_pause(sh(2025, 6, 17), sh(2025, 6, 16), sh(2025, 6, 16), "weeks")
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_time_between(datetime(2025, 6, 16), sh(2025, 6, 17))
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_working_time(sh(2025, 6, 16), timedelta(hours=-1))
    with pytest.raises(ValueError, match="workday_start"):
        SiteCalendar(workday_start=time(18, 0), workday_end=time(9, 0))
    with pytest.raises(ZoneInfoNotFoundError):
        SiteCalendar(time_zone="Asia/Atlantis")
    with pytest.raises(TypeError):
        CAL.is_working_day(sh(2025, 6, 16))


# -- properties -----------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "Asia/Urumqi", "Europe/London", "America/New_York"]

INTERESTING_DAYS = sorted(
    {d for d in (*chinese_calendar.holidays, *chinese_calendar.workdays) if d.year >= 2025}
    | {date(y, m, 1) - timedelta(days=1) for y in (2025, 2026, 2027) for m in range(1, 13)}
    | {  # DST changes in London and New York, and the end of the official data
        date(2025, 3, 9),
        date(2025, 3, 30),
        date(2025, 10, 26),
        date(2025, 11, 2),
        date(2026, 3, 8),
        date(2026, 3, 29),
        date(2026, 10, 25),
        date(2026, 11, 1),
        date(2026, 12, 31),
    }
)

days = st.one_of(
    st.builds(
        lambda d, k: d + timedelta(days=k),
        st.sampled_from(INTERESTING_DAYS),
        st.integers(-2, 2),
    ),
    st.dates(date(2024, 12, 1), date(2027, 3, 31)),
)


@st.composite
def moments(draw, near=None):
    d = draw(days) if near is None else near + timedelta(days=draw(st.integers(0, 40)))
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    wall = datetime.combine(d, draw(st.times()))
    # Normalise a wall time that falls in a DST gap into a real instant.
    return wall.replace(tzinfo=tz, fold=draw(st.integers(0, 1))).astimezone(UTC).astimezone(tz)


@st.composite
def calendars(draw):
    return SiteCalendar(
        time_zone=draw(st.sampled_from(ZONES)),
        workday_start=time(draw(st.integers(6, 10)), draw(st.sampled_from([0, 15, 30, 45]))),
        workday_end=time(draw(st.integers(15, 20)), draw(st.sampled_from([0, 15, 30, 45]))),
        closures=draw(st.frozensets(days, max_size=4)),
        extra_workdays=draw(st.frozensets(days, max_size=4)),
        use_official_holidays=draw(st.booleans()),
    )


fast = settings(deadline=None)


@fast
@given(calendars(), moments(), st.integers(0, 15))
def test_working_day_deadlines_land_at_closing_time_on_a_working_day(cal, start, n):
    due = cal.add(start, n, "working_days")
    local_start = start.astimezone(cal.tz)
    assert due.tzinfo == cal.tz
    assert due.time() == cal.workday_end
    assert cal.is_working_day(due.date())
    assert due.astimezone(UTC) > start.astimezone(UTC)
    assert due.date() >= local_start.date() + timedelta(days=n)
    if n > 0:
        counted = local_start.date() + timedelta(days=1)
        span = (due.date() - counted).days + 1
        worked = [counted + timedelta(days=k) for k in range(span)]
        assert sum(map(cal.is_working_day, worked)) == n


@fast
@given(calendars(), moments(), st.integers(0, 15))
def test_working_day_deadlines_grow_with_the_amount(cal, start, n):
    earlier = cal.add(start, n, "working_days").astimezone(UTC)
    later = cal.add(start, n + 1, "working_days").astimezone(UTC)
    assert earlier < later if n > 0 else earlier <= later


@fast
@given(calendars(), moments(), moments(), st.integers(0, 15), st.sampled_from(UNITS))
def test_a_later_start_never_gives_an_earlier_deadline(cal, a, b, n, unit):
    a, b = sorted((a, b), key=lambda m: m.astimezone(UTC))
    if unit == "calendar_days":
        # Wall-clock arithmetic is only monotonic away from the hour the clocks go back.
        a, b = a.astimezone(SHANGHAI), b.astimezone(SHANGHAI)
        cal = SiteCalendar(time_zone="Asia/Shanghai")
    assert cal.add(a, n, unit).astimezone(UTC) <= cal.add(b, n, unit).astimezone(UTC)


@fast
@given(calendars(), moments(), st.integers(0, 100_000))
def test_minutes_and_hours_add_exactly_that_much_real_time(cal, start, n):
    begin = start.astimezone(UTC)
    assert cal.add(start, n, "minutes").astimezone(UTC) - begin == timedelta(minutes=n)
    assert cal.add(start, n, "hours").astimezone(UTC) - begin == timedelta(hours=n)


@fast
@given(calendars(), moments(), st.integers(0, 400))
def test_calendar_days_keep_the_local_date_and_wall_clock(cal, start, n):
    due = cal.add(start, n, "calendar_days")
    local = start.astimezone(cal.tz)
    wanted = local.replace(tzinfo=None, fold=0) + timedelta(days=n)
    round_trip = wanted.replace(tzinfo=cal.tz).astimezone(UTC).astimezone(cal.tz)
    exists = round_trip.replace(tzinfo=None) == wanted
    assert due.date() == wanted.date()
    if exists:
        assert due.replace(tzinfo=None, fold=0) == wanted
    else:
        assert due.replace(tzinfo=None) > wanted


@fast
@given(calendars(), moments(), moments(), st.sampled_from(UNITS))
def test_a_zero_length_pause_changes_nothing(cal, due, paused, unit):
    assert same_instant(cal.shift_for_pause(due, paused, paused, unit), due)


@fast
@given(calendars(), moments(), moments(), st.integers(0, 30 * 24 * 60))
def test_a_paused_elapsed_or_calendar_clock_moves_on_by_exactly_the_real_pause(
    cal, due, paused, minutes
):
    resumed = paused.astimezone(UTC) + timedelta(minutes=minutes)
    for unit in ("minutes", "hours", "calendar_days"):
        shifted = cal.shift_for_pause(due, paused, resumed, unit)
        assert shifted.astimezone(UTC) - due.astimezone(UTC) == timedelta(minutes=minutes)


@fast
@given(calendars(), moments(), moments(), st.integers(0, 30 * 24 * 60))
def test_a_paused_working_day_clock_moves_on_by_exactly_the_paused_office_time(
    cal, due, paused, minutes
):
    resumed = paused.astimezone(UTC) + timedelta(minutes=minutes)
    shifted = cal.shift_for_pause(due, paused, resumed, "working_days")
    assert shifted.astimezone(UTC) >= due.astimezone(UTC)
    assert cal.working_time_between(due, shifted) == cal.working_time_between(paused, resumed)


@fast
@given(calendars(), moments(), st.integers(0, 200 * 60))
def test_add_working_time_is_the_inverse_of_working_time_between(cal, start, minutes):
    amount = timedelta(minutes=minutes)
    end = cal.add_working_time(start, amount)
    assert cal.working_time_between(start, end) == amount
    if minutes:
        assert cal.is_working_hours(end) or end.time() == cal.workday_end


@fast
@given(calendars(), st.data())
def test_working_time_is_additive_and_bounded_by_real_time(cal, data):
    a = data.draw(moments())
    b = data.draw(moments(near=a.date()))
    c = data.draw(moments(near=b.date()))
    a, b, c = sorted((a, b, c), key=lambda m: m.astimezone(UTC))
    ab, bc = cal.working_time_between(a, b), cal.working_time_between(b, c)
    assert ab + bc == cal.working_time_between(a, c)
    assert timedelta() <= ab <= b.astimezone(UTC) - a.astimezone(UTC)


@fast
@given(calendars(), days)
def test_site_days_take_precedence_over_everything(cal, d):
    if d in cal.closures:
        assert not cal.is_working_day(d)
    elif d in cal.extra_workdays:
        assert cal.is_working_day(d)
    elif not cal.use_official_holidays or d > OFFICIAL_DATA_UNTIL:
        assert cal.is_working_day(d) == (d.weekday() < 5)
    else:
        assert cal.is_working_day(d) == chinese_calendar.is_workday(d)
