"""Working-day deadlines: the Chinese holiday calendar, office hours, warnings, 补正 pauses, holidays.yaml."""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from structlog.testing import capture_logs

from workers.catalog.loader import CONFIG_DIR_ENV
from workers.sla import (
    CalendarSource,
    HolidaysFileError,
    OfficeHours,
    SlaState,
    SlaStateError,
    WorkingCalendar,
    acceptance_day,
    library_years,
    load_working_calendar,
    parse_holiday_tables,
    pause,
    resume,
    schedule,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOSING = time(17, 30)
REPO_HOLIDAYS = Path(__file__).resolve().parents[2] / "config" / "holidays.yaml"

# A made-up year table: 元旦, a 国庆 week, and two make-up days (a Sunday before, a Saturday after).
TABLE_2099 = """\
2099:
  holidays:
    - 2099-01-01
    - 2099-10-01 至 2099-10-07
    - 2098-12-31
  workdays:
    - 2099-09-27
    - 2099-10-10
"""

CALENDAR = WorkingCalendar()  # chinese_calendar only; the tests below stay inside its years


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    """Every test starts and ends with structlog's default configuration."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on ``day`` in Shanghai local time."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def closing(day: date) -> datetime:
    """17:30 Shanghai time on ``day``."""
    return datetime.combine(day, CLOSING, tzinfo=SHANGHAI)


def national_day_2025() -> tuple[list[date], list[date]]:
    """The 2025 National Day holiday (a run of days off) and the make-up working days around it."""
    autumn = [date(2025, 9, 1) + timedelta(days=offset) for offset in range(61)]
    national = [
        day
        for day in autumn
        if chinese_calendar.get_holiday_detail(day) == (True, chinese_calendar.Holiday.national_day.value)
    ]
    holiday = [
        national[0] + timedelta(days=offset) for offset in range((national[-1] - national[0]).days + 1)
    ]
    assert not any(chinese_calendar.is_workday(day) for day in holiday)
    make_up = [day for day in autumn if day.weekday() >= 5 and chinese_calendar.is_workday(day)]
    return holiday, make_up


def plain_week() -> date:
    """The Monday of a week in November 2025 with no holiday and no make-up day around it."""
    monday = date(2025, 11, 10)
    for offset in range(-7, 21):
        day = monday + timedelta(days=offset)
        assert chinese_calendar.is_workday(day) == (day.weekday() < 5)
    return monday


def write_table(tmp_path: Path, text: str) -> Path:
    """``text`` as a holidays file in ``tmp_path``."""
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# The calendar


def test_library_years_are_those_chinese_calendar_accepts() -> None:
    """library_years() is exactly the span chinese_calendar answers for; the next year raises."""
    years = library_years()
    assert 2025 in years
    chinese_calendar.is_workday(date(years[-1], 12, 31))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(years[-1] + 1, 1, 4))
    assert CALENDAR.year_source(years[-1]) is CalendarSource.LIBRARY


def test_deadline_of_case_accepted_before_national_day_falls_after_it() -> None:
    """A case accepted the working day before the 2025 National Day holiday is due after the holiday."""
    holiday, _ = national_day_2025()
    assert len(holiday) >= 7
    eve = holiday[0] - timedelta(days=1)
    assert chinese_calendar.is_workday(eve)
    first_back = holiday[-1] + timedelta(days=1)
    assert chinese_calendar.is_workday(first_back)

    deadlines = schedule(at(eve, 10), 1, calendar=CALENDAR)

    assert deadlines.due_at == closing(first_back)
    assert deadlines.warn_at == closing(eve)


def test_make_up_saturday_counts_and_weekends_do_not() -> None:
    """A 调休 make-up weekend day is a working day; an ordinary Saturday and Sunday are not."""
    holiday, make_up = national_day_2025()
    assert make_up
    for day in make_up:
        assert CALENDAR.is_working_day(day)
    last_make_up = make_up[-1]
    day_before = last_make_up - timedelta(days=1)
    assert chinese_calendar.is_workday(day_before)
    assert CALENDAR.working_days_after(day_before, last_make_up) == 1
    assert schedule(at(day_before, 9), 1, calendar=CALENDAR).due_at == closing(last_make_up)

    monday = plain_week()
    saturday, sunday = monday + timedelta(days=5), monday + timedelta(days=6)
    assert not CALENDAR.is_working_day(saturday)
    assert not CALENDAR.is_working_day(sunday)
    friday = monday + timedelta(days=4)
    assert schedule(at(friday, 9), 1, calendar=CALENDAR).due_at == closing(monday + timedelta(days=7))
    assert not any(CALENDAR.is_working_day(day) for day in holiday)


# --------------------------------------------------------------------------------------------------
# Office hours, 即办 and warnings


def test_immediate_item_is_due_at_closing_of_acceptance_day() -> None:
    """即办 (limit 0) accepted on a working day is due at 17:30 that day, warned half-way there."""
    wednesday = plain_week() + timedelta(days=2)

    deadlines = schedule(at(wednesday, 10), 0, calendar=CALENDAR)

    assert deadlines.due_at == closing(wednesday)
    assert deadlines.warn_at == at(wednesday, 13, 45)
    assert deadlines.counting_from == wednesday
    # Accepted before opening time: the warning is half-way through the office day.
    assert schedule(at(wednesday, 7), 0, calendar=CALENDAR).warn_at == at(wednesday, 13, 15)


def test_immediate_item_accepted_after_hours_is_due_next_working_day() -> None:
    """即办 accepted on Friday evening or on Saturday is due on Monday at 17:30."""
    monday = plain_week()
    friday = monday - timedelta(days=3)
    next_monday_close = closing(monday)

    assert schedule(at(friday, 18), 0, calendar=CALENDAR).due_at == next_monday_close
    saturday = schedule(at(friday + timedelta(days=1), 11), 0, calendar=CALENDAR)
    assert saturday.due_at == next_monday_close
    assert saturday.warn_at == at(monday, 13, 15)


def test_acceptance_at_or_after_closing_counts_from_next_working_day() -> None:
    """Accepted at 17:29 the day counts; at 17:30 or later the next working day is the acceptance day."""
    monday = plain_week()
    friday = monday - timedelta(days=3)

    assert acceptance_day(at(friday, 17, 29), calendar=CALENDAR) == friday
    assert acceptance_day(at(friday, 17, 30), calendar=CALENDAR) == monday
    assert schedule(at(friday, 17, 29), 1, calendar=CALENDAR).due_at == closing(monday)
    assert schedule(at(friday, 17, 30), 1, calendar=CALENDAR).due_at == closing(monday + timedelta(days=1))
    # The same moment given in UTC is the same acceptance.
    in_utc = at(friday, 17, 30).astimezone(UTC)
    assert schedule(in_utc, 1, calendar=CALENDAR).due_at == closing(monday + timedelta(days=1))


def test_office_hours_are_configurable() -> None:
    """A different closing time moves both the after-hours boundary and the deadline hour."""
    monday = plain_week()
    hours = OfficeHours(opens=time(8, 30), closes=time(18, 0))

    deadlines = schedule(at(monday, 17, 45), 1, calendar=CALENDAR, office_hours=hours)

    assert deadlines.due_at == datetime.combine(monday + timedelta(days=1), time(18), tzinfo=SHANGHAI)
    with pytest.raises(ValidationError, match="earlier than closes"):
        OfficeHours(opens=time(18), closes=time(17, 30))


def test_warning_is_one_working_day_before_due_across_a_weekend() -> None:
    """A case due on Monday is warned at 17:30 on the Friday before."""
    monday = plain_week()
    wednesday = monday - timedelta(days=5)

    deadlines = schedule(at(wednesday, 10), 3, calendar=CALENDAR)

    assert deadlines.due_at == closing(monday)
    assert deadlines.warn_at == closing(monday - timedelta(days=3))
    two_before = schedule(at(wednesday, 10), 3, warn_days_before=2, calendar=CALENDAR)
    assert two_before.warn_at == closing(monday - timedelta(days=4))


def test_short_limit_warns_at_closing_of_acceptance_day() -> None:
    """When the limit is shorter than the warning lead, the warning falls at the acceptance day's close."""
    monday = plain_week()

    deadlines = schedule(at(monday, 10), 2, warn_days_before=5, calendar=CALENDAR)

    assert deadlines.due_at == closing(monday + timedelta(days=2))
    assert deadlines.warn_at == closing(monday)


def test_deadlines_serialise_as_iso_8601_with_offset_for_bpmn_timers() -> None:
    """The process variables are camelCase and the timer dates ISO 8601 with +08:00."""
    monday = plain_week()

    variables = schedule(at(monday, 10), 3, calendar=CALENDAR).model_dump(mode="json", by_alias=True)

    assert variables["dueAt"] == f"{monday + timedelta(days=3)}T17:30:00+08:00"
    assert variables["warnAt"] == f"{monday + timedelta(days=2)}T17:30:00+08:00"
    state = variables["state"]
    assert set(state) == {
        "acceptedAt",
        "limitDays",
        "warnDaysBefore",
        "consumedWorkingDays",
        "pausedAt",
        "resumedAt",
        "dueAt",
        "warnAt",
    }
    assert SlaState.model_validate(state).due_at == closing(monday + timedelta(days=3))


def test_naive_datetimes_are_rejected() -> None:
    """A datetime without a time zone is an error, not a guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(datetime(2025, 11, 10, 10), 1, calendar=CALENDAR)  # noqa: DTZ001 - naive on purpose


# --------------------------------------------------------------------------------------------------
# 补正 pause and resume


def test_pause_and_resume_keep_consumed_days_and_extend_across_weekend() -> None:
    """Paused on Wednesday, resumed on Friday: 2 days used, 3 counted after Friday, due Wednesday next week."""
    monday = plain_week()
    started = schedule(at(monday, 10), 5, calendar=CALENDAR)
    assert started.due_at == closing(monday + timedelta(days=7))

    paused = pause(started.state, at(monday + timedelta(days=2), 11), calendar=CALENDAR)
    assert paused.is_paused
    assert paused.consumed_working_days == 2
    assert paused.due_at is None
    assert paused.warn_at is None

    resumed = resume(paused, at(monday + timedelta(days=4), 15), calendar=CALENDAR)
    assert resumed.consumed_working_days == 2
    assert resumed.working_days_remaining == 3
    assert resumed.due_at == closing(monday + timedelta(days=9))
    assert resumed.warn_at == closing(monday + timedelta(days=8))
    assert resumed.state.resumed_at == at(monday + timedelta(days=4), 15)
    assert not resumed.state.is_paused


def test_second_pause_counts_from_the_resume_day() -> None:
    """After a resume the next pause adds the working days since the resume day to those already used."""
    monday = plain_week()
    first = pause(schedule(at(monday, 10), 10, calendar=CALENDAR).state, at(monday, 16), calendar=CALENDAR)
    assert first.consumed_working_days == 0
    running = resume(first, at(monday + timedelta(days=1), 9), calendar=CALENDAR)
    second = pause(running.state, at(monday + timedelta(days=7), 9), calendar=CALENDAR)
    assert second.consumed_working_days == 4  # Wednesday to Friday, and Monday of the next week


def test_pause_and_resume_on_the_same_day_leave_the_deadline() -> None:
    """A pause and resume within one office day do not move the deadline."""
    monday = plain_week()
    started = schedule(at(monday, 10), 5, calendar=CALENDAR)
    wednesday = monday + timedelta(days=2)

    paused = pause(started.state, at(wednesday, 9), calendar=CALENDAR)
    resumed = resume(paused, at(wednesday, 16), calendar=CALENDAR)

    assert resumed.due_at == started.due_at
    assert resumed.warn_at == started.warn_at


def test_pause_after_deadline_leaves_the_resume_day() -> None:
    """Paused after the deadline, all days are used: the resumed case is due at the resume day's close."""
    monday = plain_week()
    started = schedule(at(monday, 10), 1, calendar=CALENDAR)

    paused = pause(started.state, at(monday + timedelta(days=3), 10), calendar=CALENDAR)
    resumed = resume(paused, at(monday + timedelta(days=4), 10), calendar=CALENDAR)

    assert paused.consumed_working_days == 1
    assert resumed.due_at == closing(monday + timedelta(days=4))


def test_pause_and_resume_reject_states_that_do_not_fit() -> None:
    """Pausing twice, resuming a running clock or going back in time raise SlaStateError."""
    monday = plain_week()
    started = schedule(at(monday, 10), 5, calendar=CALENDAR)
    paused = pause(started.state, at(monday, 15), calendar=CALENDAR)

    with pytest.raises(SlaStateError, match="already paused"):
        pause(paused, at(monday, 16), calendar=CALENDAR)
    with pytest.raises(SlaStateError, match="not paused"):
        resume(started.state, at(monday, 16), calendar=CALENDAR)
    with pytest.raises(SlaStateError, match="before the pause"):
        resume(paused, at(monday, 14), calendar=CALENDAR)
    with pytest.raises(SlaStateError, match="before the clock started"):
        pause(started.state, at(monday, 9), calendar=CALENDAR)
    with pytest.raises(ValidationError, match="paused state has no dueAt"):
        SlaState.model_validate({**started.state.model_dump(by_alias=True), "pausedAt": at(monday, 11)})


# --------------------------------------------------------------------------------------------------
# Reports


def test_working_days_between_is_the_least_limit_that_is_on_time() -> None:
    """Finished before the deadline of N days gives N; finished at the deadline gives N + 1."""
    monday = plain_week()
    accepted = at(monday - timedelta(days=3), 10)  # a Friday

    assert working_days_between(accepted, at(monday - timedelta(days=3), 16), calendar=CALENDAR) == 0
    assert working_days_between(accepted, at(monday - timedelta(days=1), 12), calendar=CALENDAR) == 1
    assert working_days_between(accepted, closing(monday) - timedelta(seconds=1), calendar=CALENDAR) == 1
    assert working_days_between(accepted, closing(monday), calendar=CALENDAR) == 2
    with pytest.raises(ValueError, match="before start"):
        working_days_between(accepted, accepted - timedelta(hours=1), calendar=CALENDAR)


# --------------------------------------------------------------------------------------------------
# holidays.yaml and unknown years


def test_year_unknown_to_library_uses_the_holidays_table(tmp_path: Path) -> None:
    """For 2099 the table applies: its holidays are skipped, its make-up days count, nothing is warned."""
    calendar = load_working_calendar(write_table(tmp_path, TABLE_2099))
    assert calendar.year_source(2099) is CalendarSource.TABLE
    eve = date(2099, 9, 30)

    with capture_logs() as logs:
        one = schedule(at(eve, 10), 1, calendar=calendar)
        three = schedule(at(eve, 10), 3, calendar=calendar)
        sunday = calendar.is_working_day(date(2099, 9, 27))
        new_year = calendar.is_working_day(date(2099, 1, 1))

    assert one.due_at == closing(date(2099, 10, 8))  # 1–7 October off
    assert three.due_at == closing(date(2099, 10, 10))  # Thursday, Friday, make-up Saturday
    assert sunday
    assert not new_year
    assert logs == []
    assert calendar.unknown_years == ()
    assert three.unknown_years == ()


def test_table_may_list_the_previous_december_for_new_year() -> None:
    """A 元旦 holiday date in December of the previous year, listed under the new year, is a day off."""
    calendar = WorkingCalendar(parse_holiday_tables(TABLE_2099).values())
    with capture_logs():
        assert not calendar.is_working_day(date(2098, 12, 31))
        assert calendar.is_working_day(date(2098, 12, 30))


def test_year_in_neither_source_warns_once_and_uses_monday_to_friday(tmp_path: Path) -> None:
    """A year in no source logs sla.calendar_unknown_year once, is exposed, and counts Monday–Friday."""
    calendar = load_working_calendar(write_table(tmp_path, TABLE_2099))
    new_year = date(2098, 1, 1)
    assert new_year.weekday() == 2  # a Wednesday

    with capture_logs() as logs:
        first = schedule(at(new_year, 10), 2, calendar=calendar)
        second = schedule(at(new_year, 10), 3, calendar=calendar)

    assert first.due_at == closing(date(2098, 1, 3))  # 元旦 is unknown: counted as a working day
    assert second.due_at == closing(date(2098, 1, 6))  # the weekend is skipped
    warnings = [log for log in logs if log["event"] == "sla.calendar_unknown_year"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["year"] == 2098
    assert calendar.unknown_years == (2098,)
    assert first.unknown_years == (2098,)
    assert calendar.year_source(2098) is CalendarSource.WEEKDAYS


def test_shipped_table_loads_and_its_placeholder_year_still_warns() -> None:
    """config/holidays.yaml parses; a year left empty there counts as unknown (Monday–Friday, warned)."""
    calendar = load_working_calendar(REPO_HOLIDAYS)
    placeholders = [year for year, table in calendar.tables.items() if not table.filled]
    assert library_years()[-1] + 1 in calendar.tables
    for year in placeholders:
        assert calendar.year_source(year) in {CalendarSource.WEEKDAYS, CalendarSource.LIBRARY}
        with capture_logs() as logs:
            calendar.is_working_day(date(year, 3, 1))
        if calendar.year_source(year) is CalendarSource.WEEKDAYS:
            assert [log["event"] for log in logs] == ["sla.calendar_unknown_year"]


def test_default_file_follows_config_dir_and_a_missing_one_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_working_calendar() reads $SHUANGSHI_CONFIG_DIR/holidays.yaml; without one it warns and goes on."""
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    with capture_logs() as logs:
        empty = load_working_calendar()
    assert empty.tables == {}
    assert [log["event"] for log in logs] == ["sla.calendar_file_missing"]

    write_table(tmp_path, TABLE_2099)
    assert set(load_working_calendar().tables) == {2099}


def test_shipped_example_in_comments_matches_chinese_calendar() -> None:
    """The commented 2025 example in config/holidays.yaml, uncommented, agrees with chinese_calendar."""
    text = REPO_HOLIDAYS.read_text(encoding="utf-8")
    block = re.search(r"^#   2025:\n(?:#     .*\n)+", text, flags=re.MULTILINE)
    assert block is not None
    example = "\n".join(line[4:] for line in block.group().splitlines())
    table = parse_holiday_tables(example)[2025]
    calendar = WorkingCalendar([table])
    for offset in range(365):
        day = date(2025, 1, 1) + timedelta(days=offset)
        from_table = day in table.workdays or (day.weekday() < 5 and day not in table.holidays)
        assert from_table == calendar.is_working_day(day) == chinese_calendar.is_workday(day), day


@pytest.mark.parametrize(
    ("entry_lines", "line", "message"),
    [
        ("    - 2099-02-30\n", 4, "not a valid date"),
        ("    - 2099-10-07 至 2099-10-01\n", 4, "ends"),
        ("    - 2099-03-01 至 2099-06-01\n", 4, "too long"),
        ("    - 2100-01-01\n", 4, "is not in 2099"),
        ("    - 1 October\n", 4, "expected a date"),
        ("    - 2099-01-02T09:00:00\n", 4, "without a time"),
        ("  workdays:\n    - 2099-10-01\n", 5, "also listed as a holiday"),
        ("  workdays:\n    - 2099-10-12\n", 5, "is a Monday"),
        ("  workday:\n    - 2099-10-11\n", 4, "unknown key"),
    ],
)
def test_bad_entry_is_reported_with_file_and_line(
    tmp_path: Path, entry_lines: str, line: int, message: str
) -> None:
    """A bad entry in holidays.yaml is reported as file:line with what is wrong."""
    text = "2099:\n  holidays:\n    - 2099-10-01 至 2099-10-07\n" + entry_lines
    path = write_table(tmp_path, text)

    with pytest.raises(HolidaysFileError) as caught:
        load_working_calendar(path)

    assert f"{path}:{line}: " in str(caught.value)
    assert message in str(caught.value)


def test_yaml_syntax_error_and_bad_year_key_are_reported_with_line(tmp_path: Path) -> None:
    """Broken YAML and a key that is not a year both name the line."""
    with pytest.raises(HolidaysFileError, match=r"holidays\.yaml:3: YAML syntax error"):
        load_working_calendar(write_table(tmp_path, "2099:\n  holidays: [2099-01-01\n  workdays: ]\n"))
    with pytest.raises(HolidaysFileError, match=r"holidays\.yaml:2: year2099: a year key"):
        load_working_calendar(write_table(tmp_path, "# 注释\nyear2099:\n  holidays: []\n"))
    with pytest.raises(HolidaysFileError, match="cannot read"):
        load_working_calendar(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------------------------------
# Properties

moments = st.datetimes(
    min_value=datetime(2005, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds with separate zones
    max_value=datetime(2026, 10, 31),  # noqa: DTZ001 - same; later limits would leave the library's years
    timezones=st.sampled_from([SHANGHAI, UTC]),
)
limits = st.integers(min_value=0, max_value=30)


@settings(max_examples=150, deadline=None)
@given(accepted_at=moments, limit=limits, extra=st.integers(min_value=1, max_value=5))
def test_due_is_a_working_day_closing_time_not_before_acceptance_and_monotone(
    accepted_at: datetime, limit: int, extra: int
) -> None:
    """due_at is 17:30 local on a working day, after the acceptance, and more days never move it earlier."""
    deadlines = schedule(accepted_at, limit, calendar=CALENDAR)
    due = deadlines.due_at.astimezone(SHANGHAI)

    assert due.time() == CLOSING
    assert CALENDAR.is_working_day(due.date())
    assert due > accepted_at
    assert accepted_at <= deadlines.warn_at <= deadlines.due_at
    assert schedule(accepted_at, limit + extra, calendar=CALENDAR).due_at > deadlines.due_at
    assert working_days_between(accepted_at, due - timedelta(seconds=1), calendar=CALENDAR) == limit
    assert working_days_between(accepted_at, due, calendar=CALENDAR) == limit + 1


@settings(max_examples=100, deadline=None)
@given(
    accepted_at=moments,
    limit=limits,
    pause_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    pause_for=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_pause_never_moves_the_deadline_earlier(
    accepted_at: datetime, limit: int, pause_after: timedelta, pause_for: timedelta
) -> None:
    """Whenever a case is paused and resumed, the new deadline is no earlier than the original one."""
    started = schedule(accepted_at, limit, calendar=CALENDAR)
    paused = pause(started.state, accepted_at + pause_after, calendar=CALENDAR)
    resumed = resume(paused, accepted_at + pause_after + pause_for, calendar=CALENDAR)

    assert resumed.due_at >= started.due_at
    assert resumed.due_at.astimezone(SHANGHAI).time() == CLOSING
    assert 0 <= paused.consumed_working_days <= limit
