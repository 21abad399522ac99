"""调度通报 figures on SQLite and PostgreSQL against hand-counted values, filters, the migration, CSV/XLSX/HTML.

The ledger is the fixed one of :mod:`tests.integration.report_ledger`; every expected number below was counted
by hand from the comments there (working days per case, on time or not, 补正), not computed by the code.
"""

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import libpq_url
from tests.integration.report_ledger import ITEM_A, ITEM_B, NOW, SINCE, UNTIL, build_fixture_ledger
from workers.catalog.loader import load_catalog
from workers.catalog.models import Catalog
from workers.ledger import Ledger, default_ledger_url
from workers.ledger.migrations import alembic_config, upgrade
from workers.ledger.models import CaseRow
from workers.report import Figures, SupervisionReport, WorkdayIndex, build_report
from workers.report.export import csv_rows
from workers.report.html import render_html
from workers.report.workbook import write_xlsx
from workers.sla import WorkingCalendar, load_working_calendar, working_days_between

#: (accepted_town, accepted_district, supplement_requested, decided, approved, rejected, not_accepted,
#: on_time, overdue, in_progress, open_overdue)
Counts = tuple[int, int, int, int, int, int, int, int, int, int, int]
ZERO: Counts = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
OTHER_TOWNS = ("chengtou", "fengmao", "dianzi", "shuiquan", "xuzhuang", "beizhuang", "fucheng")


def counts(figures: Figures) -> Counts:
    return (
        figures.accepted_town,
        figures.accepted_district,
        figures.supplement_requested,
        figures.decided,
        figures.approved,
        figures.rejected,
        figures.not_accepted,
        figures.on_time,
        figures.overdue,
        figures.in_progress,
        figures.open_overdue,
    )


def times(figures: Figures) -> tuple[float | None, int | None]:
    return (None if figures.mean_days is None else round(figures.mean_days, 6), figures.p90_days)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_working_calendar()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The fixture ledger on a SQLite file, or on the session's PostgreSQL database with a fresh schema."""
    if request.param == "sqlite":
        url = default_ledger_url(tmp_path / "data")
    else:
        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
    with Ledger(url) as opened:
        opened.migrate()
        build_fixture_ledger(opened)
        yield opened


def period_report(
    ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar, **filters: str
) -> SupervisionReport:
    return build_report(
        ledger, catalog=catalog, calendar=calendar, since=SINCE, until=UNTIL, now=NOW, **filters
    )


# --------------------------------------------------------------------------------------------------
# Figures


def test_town_item_figures_match_the_hand_counts(
    ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar
) -> None:
    """Per town × item: counters, 办结, 不予受理, on time, working days (mean, P90), open, 补正 as counted by hand."""
    report = period_report(ledger, catalog, calendar)
    rows = {(row.town_code, row.item_code): row for row in report.detail}
    assert list(rows) == [("xiji", ITEM_A), ("xiji", ITEM_B), ("sangcun", ITEM_A), ("sangcun", ITEM_B)]
    assert counts(rows["xiji", ITEM_A].figures) == (4, 1, 1, 4, 3, 1, 0, 3, 1, 2, 1)
    assert times(rows["xiji", ITEM_A].figures) == (3.25, 7)  # days 2, 7, 4, 0
    assert counts(rows["xiji", ITEM_B].figures) == (2, 1, 1, 2, 2, 0, 1, 2, 0, 0, 0)
    assert times(rows["xiji", ITEM_B].figures) == (0.0, 0)  # days 0, 0
    assert counts(rows["sangcun", ITEM_A].figures) == (2, 1, 0, 2, 1, 1, 0, 1, 1, 1, 0)
    assert times(rows["sangcun", ITEM_A].figures) == (3.5, 4)  # days 4, 3
    assert counts(rows["sangcun", ITEM_B].figures) == (1, 0, 0, 2, 2, 0, 0, 2, 0, 1, 1)
    assert times(rows["sangcun", ITEM_B].figures) == (0.5, 1)  # days 1, 0
    xiji_a = rows["xiji", ITEM_A]
    assert (xiji_a.town_name, xiji_a.item_name) == ("西集镇", "在城市建筑物、设施上张挂、张贴宣传品审批")
    assert xiji_a.figures.accepted == 5
    assert xiji_a.figures.on_time_rate == 0.75
    assert xiji_a.figures.supplement_rate == 0.2


def test_town_item_and_overall_totals_match_the_hand_counts(
    ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar
) -> None:
    """Totals per town (all nine, empty ones too), per item and overall; P90 over the merged cases."""
    report = period_report(ledger, catalog, calendar)
    towns = {row.town_code: row.figures for row in report.towns}
    assert list(towns) == ["xiji", "sangcun", *OTHER_TOWNS]
    assert counts(towns["xiji"]) == (6, 2, 2, 6, 5, 1, 1, 5, 1, 2, 1)
    assert times(towns["xiji"]) == (round(13 / 6, 6), 7)  # days 2, 7, 4, 0, 0, 0
    assert counts(towns["sangcun"]) == (3, 1, 0, 4, 3, 1, 0, 3, 1, 2, 1)
    assert times(towns["sangcun"]) == (2.0, 4)  # days 4, 3, 1, 0
    for code in OTHER_TOWNS:
        assert counts(towns[code]) == ZERO
        assert times(towns[code]) == (None, None)
        assert towns[code].on_time_rate is None
        assert towns[code].supplement_rate is None
    items = {row.item_code: row.figures for row in report.items}
    assert len(items) == 13
    assert counts(items[ITEM_A]) == (6, 2, 1, 6, 4, 2, 0, 4, 2, 3, 1)
    assert times(items[ITEM_A]) == (round(20 / 6, 6), 7)  # days 2, 7, 4, 0, 4, 3
    assert counts(items[ITEM_B]) == (3, 1, 1, 4, 4, 0, 1, 4, 0, 1, 1)
    assert times(items[ITEM_B]) == (0.25, 1)  # days 0, 0, 1, 0
    assert counts(report.total) == (9, 3, 2, 10, 8, 2, 1, 8, 2, 4, 2)
    assert times(report.total) == (2.1, 4)  # sorted 0 0 0 0 1 2 3 4 4 7: the 9th of 10
    assert report.total.on_time_rate == 0.8
    assert report.total.supplement_rate == pytest.approx(2 / 12)


def test_monthly_trend_and_the_open_overdue_list(
    ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar
) -> None:
    """Accepted by acceptance month, decided by closing month; overdue cases with working days overdue."""
    report = period_report(ledger, catalog, calendar)
    assert [month.label for month in report.months] == ["2025-09", "2025-10"]
    september, october = (month.figures for month in report.months)
    assert counts(september) == (7, 2, 2, 5, 5, 0, 0, 5, 0, 0, 0)
    assert times(september) == (0.6, 2)  # days 2, 0, 0, 1, 0
    assert counts(october) == (2, 1, 0, 5, 3, 2, 1, 3, 2, 0, 0)
    assert times(october) == (3.6, 7)  # days 7, 4, 0, 4, 3
    assert [(case.case_number, case.days_overdue) for case in report.overdue_cases] == [
        ("YB-20250915-0001", 21),
        ("XJ-20251013-0001", 2),
    ]
    first = report.overdue_cases[0]
    assert (first.town_name, first.item_code, first.counter) == ("桑村镇", ITEM_B, "district")
    assert first.due_at == datetime(2025, 9, 15, 9, 30, tzinfo=UTC)
    assert report.ledger_events == 49
    assert re.fullmatch(r"[0-9a-f]{64}", report.ledger_head_hash)
    assert report.calendar_unknown_years == ()


def test_filters_by_town_item_and_period(ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar) -> None:
    """A town or an item narrows every view; without a period every case counts; an empty period counts none."""
    sangcun = period_report(ledger, catalog, calendar, town="sangcun")
    assert [row.town_code for row in sangcun.towns] == ["sangcun"]
    assert [(row.town_code, row.item_code) for row in sangcun.detail] == [
        ("sangcun", ITEM_A),
        ("sangcun", ITEM_B),
    ]
    assert counts(sangcun.total) == (3, 1, 0, 4, 3, 1, 0, 3, 1, 2, 1)
    assert [case.case_number for case in sangcun.overdue_cases] == ["YB-20250915-0001"]

    item_b = period_report(ledger, catalog, calendar, item=ITEM_B)
    assert [row.item_code for row in item_b.items] == [ITEM_B]
    assert [(row.town_code, row.item_code) for row in item_b.detail] == [
        ("xiji", ITEM_B),
        ("sangcun", ITEM_B),
    ]
    assert len(item_b.towns) == 9
    assert counts(item_b.total) == (3, 1, 1, 4, 4, 0, 1, 4, 0, 1, 1)

    everything = build_report(ledger, catalog=catalog, calendar=calendar, now=NOW)
    # 09-15 (district) and 09-19 (town, 补正) before the period, 10-20 (town) after it.
    assert counts(everything.total) == (11, 4, 3, 10, 8, 2, 1, 8, 2, 4, 2)
    assert times(everything.total) == (2.1, 4)
    assert [counts(month.figures)[:3] for month in everything.months] == [(8, 3, 3), (3, 1, 0)]

    quiet = build_report(
        ledger, catalog=catalog, calendar=calendar, since=date(2025, 1, 1), until=date(2025, 1, 31), now=NOW
    )
    assert counts(quiet.total) == (0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2)  # open cases are as of now
    assert quiet.months == ()
    assert period_report(ledger, catalog, calendar, town="fucheng").total.empty


def test_an_open_case_is_overdue_only_after_its_due_time(
    ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar
) -> None:
    """At 17:29 on its due day a case is not overdue; at 17:30 it is, by 0 working days (due earlier today)."""
    due = datetime(2025, 10, 16, 17, 30, tzinfo=NOW.tzinfo)
    before = build_report(
        ledger, catalog=catalog, calendar=calendar, town="xiji", now=due - timedelta(minutes=1)
    )
    at = build_report(ledger, catalog=catalog, calendar=calendar, town="xiji", now=due)
    assert [case.case_number for case in before.overdue_cases] == []
    assert [(case.case_number, case.days_overdue) for case in at.overdue_cases] == [("XJ-20251013-0001", 0)]


def test_bad_arguments_are_refused(ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar) -> None:
    """A reversed period and a naive now are refused with the reason."""
    with pytest.raises(ValueError, match="after it ends"):
        build_report(ledger, catalog=catalog, calendar=calendar, since=UNTIL, until=SINCE)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_report(ledger, catalog=catalog, calendar=calendar, now=datetime(2025, 10, 20))  # noqa: DTZ001


# --------------------------------------------------------------------------------------------------
# Projection and migration


def test_materials_requests_are_counted_and_backfilled_by_the_migration(ledger: Ledger) -> None:
    """The projection counts materials-requested events; migration 0002 fills the count in for old rows."""

    def supplements() -> dict[str, int]:
        with ledger.snapshot() as session:
            rows = session.execute(select(CaseRow.case_number, CaseRow.supplement_requests)).all()
        return {number: count for number, count in rows if count}

    expected = {"XJ-20250927-0001": 1, "YB-20250925-0001": 1, "SC-20250919-0001": 1}
    assert supplements() == expected
    config = alembic_config()
    with ledger.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    upgrade(ledger.engine)
    assert supplements() == expected


# --------------------------------------------------------------------------------------------------
# Working days


CALENDAR = load_working_calendar()
INDEX = WorkdayIndex(CALENDAR, date(2024, 12, 20), date(2026, 1, 10))
MOMENTS = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone it draws
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2025, 12, 31, 23, 59),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(first=MOMENTS, second=MOMENTS)
def test_workday_index_counts_as_the_sla_code(first: datetime, second: datetime) -> None:
    """WorkdayIndex gives the same working days between two moments as workers.sla.working_days_between."""
    start, end = sorted((first.replace(microsecond=0), second.replace(microsecond=0)))
    assert INDEX.working_days_between(WorkdayIndex.seconds(start), WorkdayIndex.seconds(end)) == (
        working_days_between(start, end, calendar=CALENDAR)
    )


# --------------------------------------------------------------------------------------------------
# CSV, XLSX, HTML


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, catalog: Catalog, calendar: WorkingCalendar
) -> SupervisionReport:
    """The period report of the fixture ledger (SQLite): what the renderers get."""
    with Ledger(default_ledger_url(tmp_path_factory.mktemp("report"))) as opened:
        opened.migrate()
        build_fixture_ledger(opened)
        return period_report(opened, catalog, calendar)


def test_csv_has_each_towns_rows_its_subtotal_and_a_total(report: SupervisionReport) -> None:
    """CSV: the Chinese header, town × item rows, 小计 after each town, 合计; rates in %, days with one decimal."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(report))
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0] == [
        "镇", "事项编码", "事项名称", "受理合计", "镇窗口受理", "区窗口受理", "办结", "准予", "不予许可", "不予受理",
        "按期办结", "超期办结", "按期办结率", "平均办理时长（工作日）", "P90办理时长（工作日）", "补正件数", "补正率",
        "在办", "逾期在办",
    ]  # fmt: skip
    name_a, name_b = "在城市建筑物、设施上张挂、张贴宣传品审批", "医疗保险参保和变更登记"
    assert rows[1:] == [
        ["西集镇", ITEM_A, name_a, "5", "4", "1", "4", "3", "1", "0", "3", "1", "75.0%", "3.3", "7", "1", "20.0%", "2", "1"],
        ["西集镇", ITEM_B, name_b, "3", "2", "1", "2", "2", "0", "1", "2", "0", "100.0%", "0.0", "0", "1", "33.3%", "0", "0"],
        ["西集镇", "", "小计", "8", "6", "2", "6", "5", "1", "1", "5", "1", "83.3%", "2.2", "7", "2", "25.0%", "2", "1"],
        ["桑村镇", ITEM_A, name_a, "3", "2", "1", "2", "1", "1", "0", "1", "1", "50.0%", "3.5", "4", "0", "0.0%", "1", "0"],
        ["桑村镇", ITEM_B, name_b, "1", "1", "0", "2", "2", "0", "0", "2", "0", "100.0%", "0.5", "1", "0", "0.0%", "1", "1"],
        ["桑村镇", "", "小计", "4", "3", "1", "4", "3", "1", "0", "3", "1", "75.0%", "2.0", "4", "0", "0.0%", "2", "1"],
        ["合计", "", "", "12", "9", "3", "10", "8", "2", "1", "8", "2", "80.0%", "2.1", "4", "2", "16.7%", "4", "2"],
    ]  # fmt: skip


def test_xlsx_has_a_sheet_per_view_with_frozen_headers_and_formats(
    report: SupervisionReport, tmp_path: Path
) -> None:
    """XLSX: sheets 汇总 明细 按事项 月度趋势 逾期在办 说明; title and header rows frozen; % and 0.0 formats."""
    path = tmp_path / "report.xlsx"
    write_xlsx(report, path)
    book = load_workbook(path)
    assert book.sheetnames == ["汇总", "明细", "按事项", "月度趋势", "逾期在办", "说明"]
    summary = book["汇总"]
    assert str(summary["A1"].value).startswith(
        "山亭区“双十镇”赋权事项调度通报——各镇汇总（2025-09-22 至 2025-10-19"
    )
    header = [cell.value for cell in summary[2]]
    assert header[:4] == ["镇", "受理合计", "镇窗口受理", "区窗口受理"]
    assert summary.freeze_panes == "B3"
    assert [summary.cell(row=row, column=1).value for row in range(3, 13)] == [
        "西集镇", "桑村镇", "城头镇", "冯卯镇", "店子镇", "水泉镇", "徐庄镇", "北庄镇", "凫城镇", "合计",
    ]  # fmt: skip
    rate = header.index("按期办结率") + 1
    days = header.index("平均办理时长（工作日）") + 1
    xiji_rate = summary.cell(row=3, column=rate)
    assert (xiji_rate.value, xiji_rate.number_format) == (pytest.approx(5 / 6), "0.0%")
    xiji_days = summary.cell(row=3, column=days)
    assert (xiji_days.value, xiji_days.number_format) == (pytest.approx(13 / 6), "0.0")
    assert summary.cell(row=12, column=2).value == 12
    assert summary.cell(row=12, column=1).font.bold
    assert summary.column_dimensions["A"].width == 10
    detail = book["明细"]
    assert detail.freeze_panes == "D3"
    assert [cell.value for cell in detail[2]][:3] == ["镇", "事项编码", "事项名称"]
    assert detail.max_row == 2 + 4 + 1
    overdue = book["逾期在办"]
    assert [cell.value for cell in overdue[2]] == [
        "办件编号", "镇", "事项编码", "事项名称", "受理窗口", "受理日期", "办理时限届满", "逾期（工作日）",
    ]  # fmt: skip
    assert [cell.value for cell in overdue[3]] == [
        "YB-20250915-0001", "桑村镇", ITEM_B, "医疗保险参保和变更登记", "区窗口", "2025-09-15", "2025-09-15 17:30", 21,
    ]  # fmt: skip
    assert overdue.freeze_panes == "B3"
    months = book["月度趋势"]
    assert [months.cell(row=row, column=1).value for row in range(3, 6)] == ["2025-09", "2025-10", "合计"]
    assert "在办" not in [cell.value for cell in months[2]]
    notes = book["说明"]
    labels = [notes.cell(row=row, column=1).value for row in range(1, notes.max_row + 1)]
    assert {"统计期间", "生成时间", "工作台账链头哈希", "办理时长", "补正率"} <= set(labels)


def test_html_is_one_self_contained_page_with_svg_charts(report: SupervisionReport) -> None:
    """HTML: title with period and time, three inline SVG charts, no external src/href/url(), print CSS."""
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>山亭区“双十镇”赋权事项调度通报（2025-09-22 至 2025-10-19）</title>" in page
    assert "2025-10-20 10:00（北京时间）" in page
    assert re.findall(r'<svg [^>]*\bid="(chart-[a-z-]+)"', page) == [
        "chart-town-volume",
        "chart-town-overdue",
        "chart-monthly-trend",
    ]
    assert "<script" not in page
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', page)
    assert all(reference.startswith("#") for reference in references), references
    assert not re.search(r"url\(\s*['\"]?(?!#)", page)
    assert not re.search(r"@import|<link\b|<iframe\b|<img\b", page)
    assert "size: A4 landscape" in page
    assert "break-before: page" in page
    assert "YB-20250915-0001" in page
    assert "西集镇" in page
    assert "<metadata>" not in page


def test_an_empty_ledger_gives_an_empty_report_in_every_format(
    tmp_path: Path, catalog: Catalog, calendar: WorkingCalendar
) -> None:
    """No cases: zero rows for every town, no months, no trend chart; CSV, XLSX and HTML still render."""
    with Ledger(default_ledger_url(tmp_path / "data")) as opened:
        opened.migrate()
        empty = build_report(opened, catalog=catalog, calendar=calendar, now=NOW)
    assert empty.total.empty
    assert empty.detail == ()
    assert empty.months == ()
    assert len(empty.towns) == 9
    assert csv_rows(empty)[1:] == [["合计", "", "", *["0"] * 9, "", "", "", "0", "", "0", "0"]]
    write_xlsx(empty, tmp_path / "empty.xlsx")
    page = render_html(empty)
    assert "chart-town-volume" in page
    assert "chart-monthly-trend" not in page
