"""Working days in mainland China: public holidays and 调休 make-up working days.

Where a date's answer comes from, by year (:meth:`WorkingCalendar.year_source`):

1. The ``chinese_calendar`` library, for the years it ships data for (:func:`library_years`; it raises
   ``NotImplementedError`` for any other year).
2. ``config/holidays.yaml``, a table the office fills in from the State Council notice
   (国务院办公厅关于XXXX年部分节假日安排的通知) for years the library does not know yet. A year whose
   ``holidays`` list is empty counts as not filled in.
3. Neither: Monday to Friday are working days. This is a guess, so the calendar warns loudly: a structlog
   warning ``sla.calendar_unknown_year`` once per year, and the year is listed in
   :attr:`WorkingCalendar.unknown_years` so that callers can show it.

The table of year Y may also list dates in December of Y-1 (a 元旦 holiday that starts in the old year, as
2019's did); those dates override whatever the source of year Y-1 says about them.

:func:`load_working_calendar` reads the YAML and reports every bad entry as ``file:line: field: message``.
"""

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

import chinese_calendar
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from workers.catalog.loader import config_dir
from workers.config_errors import ConfigFileError, FileProblem
from workers.logging import get_logger

__all__ = [
    "HOLIDAYS_FILE_NAME",
    "CalendarError",
    "CalendarSource",
    "HolidayProblem",
    "HolidaysFileError",
    "WorkingCalendar",
    "YearTable",
    "default_holidays_path",
    "library_years",
    "load_working_calendar",
    "parse_holiday_tables",
]

HOLIDAYS_FILE_NAME: Final = "holidays.yaml"

_log = get_logger(__name__)

# Years outside this window are certainly typos in the table (and keep the library probe short).
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2199
# The longest holiday run in a State Council notice is the 8-or-9-day Spring Festival; a range longer than
# this is a typo (a wrong month, say).
_MAX_RANGE_DAYS: Final = 31
# No calendar rests this many days in a row; reaching it means a broken table, not a long holiday.
_MAX_REST_RUN: Final = 60
_SATURDAY: Final = 5
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME_RE: Final = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|\s+)[0-9].*")
_RANGE_RE: Final = re.compile(
    r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})\s*(?:至|~|\.\.)\s*([0-9]{4}-[0-9]{2}-[0-9]{2})\s*"
)
_WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TABLE_KEYS: Final = ("holidays", "workdays")


class CalendarSource(StrEnum):
    """Where the working days of a year come from."""

    LIBRARY = "chinese_calendar"
    TABLE = "holidays.yaml"
    WEEKDAYS = "weekdays"  # a guess: Monday to Friday


class CalendarError(Exception):
    """The calendar cannot answer (a table that leaves no working day in sight)."""


@cache
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _library_workday(day: date) -> bool:
    """chinese_calendar's answer, memoised (it scans its whole table on every call; ~8 500 dates at most)."""
    return bool(chinese_calendar.is_workday(day))


@cache
def library_years() -> range:
    """The years ``chinese_calendar`` has holiday data for (2004–2026 in version 1.11)."""
    known = [year for year in range(_MIN_YEAR, _MAX_YEAR + 1) if _library_knows(year)]
    return range(known[0], known[-1] + 1) if known else range(0)


@dataclass(frozen=True, slots=True)
class YearTable:
    """One year of ``holidays.yaml``: days off (放假) and make-up working days (调休上班)."""

    year: int
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @property
    def filled(self) -> bool:
        """Whether the office has filled the year in (every real year has at least 元旦 off)."""
        return bool(self.holidays)


class WorkingCalendar:
    """Answers "is this date a working day?" from chinese_calendar, then the table, then Monday–Friday.

    Thread-safe: the worker calls it from ``asyncio.to_thread``.
    """

    def __init__(self, tables: Iterable[YearTable] = (), *, table_file: str = HOLIDAYS_FILE_NAME) -> None:
        self._tables: dict[int, YearTable] = {}
        for table in tables:
            if table.year in self._tables:
                raise ValueError(f"two tables for year {table.year}")
            self._tables[table.year] = table
        self._table_file = table_file
        # December dates listed under the next year's table (a 元旦 holiday starting in the old year).
        self._spill: dict[date, bool] = {}
        for table in self._tables.values():
            if self.year_source(table.year) is CalendarSource.TABLE:
                self._spill.update((day, False) for day in table.holidays if day.year < table.year)
                self._spill.update((day, True) for day in table.workdays if day.year < table.year)
        self._unknown: set[int] = set()
        self._lock = threading.Lock()

    @property
    def tables(self) -> Mapping[int, YearTable]:
        """The office's tables by year, as loaded (including years the library supersedes)."""
        return dict(self._tables)

    @property
    def unknown_years(self) -> tuple[int, ...]:
        """Years consulted so far that are in neither source (answered as Monday–Friday), ascending."""
        with self._lock:
            return tuple(sorted(self._unknown))

    def year_source(self, year: int) -> CalendarSource:
        """Where the working days of ``year`` come from; does not log."""
        if _library_knows(year):
            return CalendarSource.LIBRARY
        table = self._tables.get(year)
        if table is not None and table.filled:
            return CalendarSource.TABLE
        return CalendarSource.WEEKDAYS

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day in mainland China (a 调休 Saturday is, a holiday Monday not)."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date, not a datetime")
        spilled = self._spill.get(day)
        if spilled is not None:
            return spilled
        source = self.year_source(day.year)
        if source is CalendarSource.LIBRARY:
            return _library_workday(day)
        if source is CalendarSource.TABLE:
            table = self._tables[day.year]
            if day in table.workdays:
                return True
            return day.weekday() < _SATURDAY and day not in table.holidays
        self._note_unknown(day.year)
        return day.weekday() < _SATURDAY

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day strictly after ``day``; ``day`` itself when ``count`` is 0."""
        if count < 0:
            raise ValueError("count must not be negative")
        current = day
        for _ in range(count):
            current = self._step(current, 1)
        return current

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        return self._step(day, -1)

    def working_days_after(self, start: date, end: date) -> int:
        """How many working days lie after ``start`` up to and including ``end`` (0 if ``end <= start``)."""
        count = 0
        current = start + timedelta(days=1)
        while current <= end:
            count += self.is_working_day(current)
            current += timedelta(days=1)
        return count

    def _step(self, day: date, direction: int) -> date:
        current = day
        for _ in range(_MAX_REST_RUN):
            current += timedelta(days=direction)
            if self.is_working_day(current):
                return current
        raise CalendarError(
            f"no working day within {_MAX_REST_RUN} days of {day.isoformat()}; check {self._table_file}"
        )

    def _note_unknown(self, year: int) -> None:
        with self._lock:
            if year in self._unknown:
                return
            self._unknown.add(year)
        table = self._tables.get(year)
        _log.warning(
            "sla.calendar_unknown_year",
            year=year,
            fallback="monday-to-friday",
            table="not filled in" if table is not None else "absent",
            table_file=self._table_file,
            library_years=f"{library_years().start}-{library_years().stop - 1}",
            hint=(
                f"add {year} to {self._table_file} from the State Council notice "
                f"(国务院办公厅关于{year}年部分节假日安排的通知); "
                f"deadlines in {year} ignore holidays until then"
            ),
        )


# --------------------------------------------------------------------------------------------------
# Loading config/holidays.yaml


#: One problem of the holidays file (file, 1-based line, entry, message).
HolidayProblem = FileProblem


class HolidaysFileError(ConfigFileError):
    """The holidays file could not be loaded; ``problems`` lists every problem found, by line."""


def default_holidays_path() -> Path:
    """``holidays.yaml`` in the configuration folder (``$SHUANGSHI_CONFIG_DIR`` or the repository's)."""
    return config_dir() / HOLIDAYS_FILE_NAME


def load_working_calendar(path: Path | None = None) -> WorkingCalendar:
    """A calendar with the office's tables from ``path`` (default: :func:`default_holidays_path`).

    A missing default file is not an error (the library and the Monday–Friday fallback still answer; a
    warning ``sla.calendar_file_missing`` is logged); a missing explicit ``path`` is.
    """
    source = path if path is not None else default_holidays_path()
    shown = _display_path(source)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if path is None:
            _log.warning("sla.calendar_file_missing", table_file=shown)
            return WorkingCalendar(table_file=shown)
        raise HolidaysFileError([HolidayProblem(shown, None, "", f"cannot read the file: {exc}")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HolidaysFileError([HolidayProblem(shown, None, "", f"cannot read the file: {exc}")]) from exc
    tables = parse_holiday_tables(text, shown)
    for year in sorted(tables):
        if _library_knows(year):
            _log.info("sla.calendar_table_superseded", year=year, table_file=shown)
    return WorkingCalendar(tables.values(), table_file=shown)


class _DatesAsText(RoundTripConstructor):
    """ruamel's round-trip constructor, but dates stay text: an impossible date (2027-02-30) is then
    reported with its line by the table checks instead of failing the whole load."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", _DatesAsText.construct_yaml_str)


def parse_holiday_tables(text: str, file: str = "<holidays>") -> dict[int, YearTable]:
    """The year tables in holidays YAML given as text; ``file`` is the name used in problem reports."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _DatesAsText
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = str(exc.problem or exc.context or "invalid YAML")
        raise HolidaysFileError([HolidayProblem(file, line, "", f"YAML syntax error: {message}")]) from exc
    except YAMLError as exc:
        raise HolidaysFileError([HolidayProblem(file, None, "", f"YAML error: {exc}")]) from exc

    if document is None:
        return {}
    if not isinstance(document, CommentedMap):
        raise HolidaysFileError(
            [HolidayProblem(file, 1, "", "the file must map years to {holidays: [...], workdays: [...]}")]
        )
    reader = _TableReader(file)
    tables = {}
    for key, value in document.items():
        table = reader.year(document, key, value)
        if table is not None:
            tables[table.year] = table
    if reader.problems:
        raise HolidaysFileError(sorted(reader.problems, key=lambda problem: problem.line or 0))
    return tables


class _TableReader:
    """Checks the entries of one holidays document, collecting every problem with its line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[HolidayProblem] = []

    def _problem(self, line: int, field: str, message: str) -> None:
        self.problems.append(HolidayProblem(self.file, line, field, message))

    def year(self, document: CommentedMap, key: Any, value: Any) -> YearTable | None:
        line = document.lc.key(key)[0] + 1
        if isinstance(key, bool) or not isinstance(key, int) or not _MIN_YEAR <= key <= _MAX_YEAR:
            self._problem(line, str(key), "a year key must be a four-digit year such as 2027")
            return None
        year = key
        if value is None:
            return YearTable(year)
        if not isinstance(value, CommentedMap):
            self._problem(line, str(year), "a year must map to holidays: [...] and workdays: [...]")
            return None
        for name in value:
            if name not in _TABLE_KEYS:
                self._problem(
                    value.lc.key(name)[0] + 1, f"{year}.{name}", "unknown key (only holidays and workdays)"
                )
        holidays = self._days(value, year, "holidays")
        workdays = self._days(value, year, "workdays")
        self._check_workdays(holidays, workdays)
        if workdays and not holidays:
            self._problem(
                value.lc.key("workdays")[0] + 1,
                f"{year}.workdays",
                "make-up working days listed but no holidays; fill in the holidays of the notice too",
            )
        return YearTable(year, frozenset(holidays), frozenset(workdays))

    def _days(self, table: CommentedMap, year: int, name: str) -> dict[date, tuple[int, str]]:
        """The dates of one list, each with the line and field it is listed at."""
        if name not in table or table[name] is None:
            return {}
        entries = table[name]
        if not isinstance(entries, CommentedSeq):
            self._problem(table.lc.key(name)[0] + 1, f"{year}.{name}", "must be a list of dates")
            return {}
        days: dict[date, tuple[int, str]] = {}
        for index, entry in enumerate(entries):
            line = entries.lc.item(index)[0] + 1
            field = f"{year}.{name}[{index}]"
            span = self._entry(entry, line, field, allow_range=name == "holidays")
            for day in span:
                if not (day.year == year or (day.year == year - 1 and day.month == 12)):
                    self._problem(
                        line, field, f"{day.isoformat()} is not in {year} (nor in December of {year - 1})"
                    )
                    break
                days.setdefault(day, (line, field))
        return days

    def _entry(self, entry: Any, line: int, field: str, *, allow_range: bool) -> list[date]:
        text = entry.strip() if isinstance(entry, str) else None
        if text is not None and _DATE_RE.fullmatch(text):
            day = self._date(text, line, field)
            return [] if day is None else [day]
        match = _RANGE_RE.fullmatch(text) if text is not None else None
        if match and allow_range:
            return self._range(match.group(1), match.group(2), line, field)
        if match:
            self._problem(line, field, "list make-up working days one by one, not as a range")
        elif text is not None and _DATE_TIME_RE.fullmatch(text):
            self._problem(line, field, "write a date without a time, such as 2027-10-01")
        else:
            shown = repr(entry) if len(repr(entry)) <= 60 else repr(entry)[:57] + "..."
            expected = "a date such as 2027-10-01" + (
                ' or a range such as "2027-10-01 至 2027-10-07"' if allow_range else ""
            )
            self._problem(line, field, f"expected {expected}, got {shown}")
        return []

    def _date(self, text: str, line: int, field: str) -> date | None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            self._problem(line, field, f"{text} is not a valid date")
            return None

    def _range(self, first_text: str, last_text: str, line: int, field: str) -> list[date]:
        first = self._date(first_text, line, field)
        last = self._date(last_text, line, field)
        if first is None or last is None:
            return []
        if last < first:
            self._problem(line, field, f"the range ends ({last}) before it starts ({first})")
            return []
        length = (last - first).days + 1
        if length > _MAX_RANGE_DAYS:
            self._problem(line, field, f"a range of {length} days is too long for a holiday; check the dates")
            return []
        return [first + timedelta(days=offset) for offset in range(length)]

    def _check_workdays(
        self, holidays: Mapping[date, tuple[int, str]], workdays: Mapping[date, tuple[int, str]]
    ) -> None:
        for day, (line, field) in workdays.items():
            if day in holidays:
                self._problem(
                    line, field, f"{day.isoformat()} is also listed as a holiday (line {holidays[day][0]})"
                )
            elif day.weekday() < _SATURDAY:
                weekday = _WEEKDAY_NAMES[day.weekday()]
                self._problem(
                    line,
                    field,
                    f"{day.isoformat()} is a {weekday}, already a working day; make-up working days "
                    "(调休上班) are Saturdays or Sundays",
                )


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
