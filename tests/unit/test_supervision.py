"""Supervision without a ledger: periods, ratios, the inspectors file, the draw algorithm, scorecard rules."""

import hashlib
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.catalog import load_catalog
from workers.supervision.inspectors import (
    Inspector,
    InspectorPool,
    InspectorsFileError,
    load_inspectors,
    parse_inspectors_csv,
    parse_inspectors_yaml,
    sha256_of,
)
from workers.supervision.periods import Period, PeriodError, parse_period
from workers.supervision.scorecard import (
    MEASURES,
    SupervisionConfigError,
    load_supervision_config,
    parse_supervision_config,
)
from workers.supervision.spotcheck import (
    Candidate,
    DrawPlan,
    NoEligibleInspectorError,
    Ratio,
    SpotCheckInputError,
    check_seed,
    parse_ratio,
    plan_draw,
)

CATALOG = load_catalog()
TOWNS = tuple(t.code for t in CATALOG.towns)
DEPARTMENTS = tuple(d.code for d in CATALOG.departments)
CLOSED = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def candidate(number: str, town: str = "xiji", department: str = "xzsp") -> Candidate:
    return Candidate(number, "3700000117086", town, department, "direct", "town", "completed", CLOSED)


def pool(*affiliations: str) -> InspectorPool:
    return InspectorPool(
        tuple(
            Inspector(id=f"JC{i:03d}", name=f"检查员{i}", affiliation=a) for i, a in enumerate(affiliations)
        )
    )


# --------------------------------------------------------------------------------------------------
# Periods and ratios


@pytest.mark.parametrize(
    ("text", "label", "first", "last"),
    [
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026Q3", "2026Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2026-q1", "2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026Q4", "2026Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-09", "2026-09", date(2026, 9, 1), date(2026, 9, 30)),
        ("2028-02", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_periods_parse_to_whole_days(text: str, label: str, first: date, last: date) -> None:
    """Years, quarters and months parse to their canonical label and first and last day."""
    period = parse_period(text)
    assert (period.label, period.first, period.last) == (label, first, last)


def test_period_bounds_are_china_midnights() -> None:
    """A period runs from midnight China time of its first day to midnight after its last day."""
    period = parse_period("2026Q3")
    assert period.start == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert period.contains(datetime(2026, 9, 30, 15, 59, tzinfo=UTC))
    assert not period.contains(datetime(2026, 9, 30, 16, 0, tzinfo=UTC))
    assert period.title == "2026年第3季度"
    assert Period.quarter_of(date(2026, 11, 27)).label == "2026Q4"


@pytest.mark.parametrize("text", ["2026Q5", "2026-13", "26Q1", "2026/09", "Q3", "", "1999"])
def test_bad_periods_are_refused_with_the_expected_forms(text: str) -> None:
    """A text that is not a year, quarter or month is refused, naming the text."""
    with pytest.raises(PeriodError, match="period"):
        parse_period(text)


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("5%", Fraction(1, 20), "5%"),
        ("0.05", Fraction(1, 20), "5%"),
        ("12.5%", Fraction(1, 8), "12.5%"),
        ("100%", Fraction(1), "100%"),
        (" 7 % ", Fraction(7, 100), "7%"),
    ],
)
def test_ratios_are_exact_fractions(text: str, value: Fraction, shown: str) -> None:
    """Ratios parse exactly (no binary floating point) with a canonical percentage text."""
    ratio = parse_ratio(text)
    assert (ratio.value, ratio.text) == (value, shown)


@pytest.mark.parametrize("text", ["0%", "-5%", "101%", "1.5", "five", "nan", "5%%"])
def test_bad_ratios_are_refused(text: str) -> None:
    """A ratio outside (0, 100%] or not a number is refused."""
    with pytest.raises(SpotCheckInputError, match="ratio"):
        parse_ratio(text)


def test_seed_that_reads_as_a_mobile_number_is_refused() -> None:
    """The ledger refuses mobile numbers, so such a seed is refused before drawing, with the reason."""
    with pytest.raises(SpotCheckInputError, match="mobile number"):
        check_seed("13812345678")
    assert check_seed("2026-10-08 福彩3D 5 1 8") == "2026-10-08 福彩3D 5 1 8"


# --------------------------------------------------------------------------------------------------
# The inspectors file


def test_example_inspectors_file_is_valid_and_fictional() -> None:
    """config/inspectors.example.yaml loads, spreads over towns and departments, with made-up names."""
    loaded = load_inspectors(REPO / "config" / "inspectors.example.yaml", CATALOG)
    affiliations = {i.affiliation for i in loaded.inspectors}
    assert affiliations & set(TOWNS)
    assert affiliations & set(DEPARTMENTS)
    assert all(i.name.startswith("检查员") for i in loaded.inspectors)


def test_yaml_and_csv_of_the_same_list_have_the_same_digest() -> None:
    """The digest is over the validated list (sorted by id), not the file's bytes or format."""
    yaml_pool = parse_inspectors_yaml(
        "inspectors:\n  - {id: B2, name: 检查员乙, affiliation: xzsp}\n  - {id: A1, name: 检查员甲, affiliation: xiji}\n",
        CATALOG,
    )
    csv_pool = parse_inspectors_csv(
        "\ufeffname,id,affiliation\n检查员甲,A1,xiji\n检查员乙,B2,xzsp\n".removeprefix("\ufeff"), CATALOG
    )
    assert yaml_pool.digest == csv_pool.digest
    assert [i.id for i in yaml_pool.inspectors] == ["A1", "B2"]
    expected = hashlib.sha256(
        '[{"affiliation":"xiji","id":"A1","name":"检查员甲"},{"affiliation":"xzsp","id":"B2","name":"检查员乙"}]'.encode()
    ).hexdigest()
    assert yaml_pool.digest == expected == sha256_of(yaml_pool.canonical())


def test_yaml_inspectors_problems_name_line_and_field() -> None:
    """Unknown affiliations, duplicate ids, bad types and unknown keys are reported by line and field."""
    text = (
        "# 名录\n"
        "inspectors:\n"
        "  - {id: JC001, name: 检查员甲, affiliation: xiji}\n"
        "  - {id: JC001, name: 检查员乙, affiliation: xzsp}\n"
        "  - {id: JC003, name: 检查员丙, affiliation: nowhere}\n"
    )
    with pytest.raises(InspectorsFileError) as caught:
        parse_inspectors_yaml(text, CATALOG, "inspectors.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "inspectors.yaml:4: inspectors[1].id: duplicate inspector id JC001 (first at line 3)",
        (
            "inspectors.yaml:5: inspectors[2].affiliation: unknown affiliation 'nowhere': not a town code "
            f"({', '.join(sorted(TOWNS))}) or a department code ({', '.join(sorted(DEPARTMENTS))})"
        ),
    ]
    with pytest.raises(InspectorsFileError) as caught:
        parse_inspectors_yaml(
            "inspectors:\n  - id: 7\n    name: 检查员甲\n    affiliation: xiji\n    phone: x\n",
            CATALOG,
            "i.yaml",
        )
    assert [str(p) for p in caught.value.problems] == [
        "i.yaml:2: inspectors[0].id: Input should be a valid string, got 7",
        "i.yaml:5: inspectors[0].phone: unknown key (keys are camelCase; check the spelling)",
    ]


def test_csv_inspectors_problems_name_line_and_column() -> None:
    """A CSV row's problems name its line and column; extra columns (e.g. a phone) are refused."""
    with pytest.raises(InspectorsFileError) as caught:
        parse_inspectors_csv("id,name,affiliation\nJC001,检查员甲,xiji\nJC 2,,xzsp\n", CATALOG, "i.csv")
    messages = [str(p) for p in caught.value.problems]
    assert messages[0].startswith("i.csv:3: id: String should match pattern")
    assert messages[1] == "i.csv:3: name: String should have at least 1 character, got ''"
    with pytest.raises(InspectorsFileError, match=r"i\.csv:1: <header>: unknown column\(s\) 'phone'"):
        parse_inspectors_csv("id,name,affiliation,phone\nJC001,检查员甲,xiji,x\n", CATALOG, "i.csv")
    with pytest.raises(InspectorsFileError, match=r"i\.csv:2: name: Value error, a name may not contain"):
        parse_inspectors_csv("id,name,affiliation\nJC001,检查员 13812345678,xiji\n", CATALOG, "i.csv")
    with pytest.raises(InspectorsFileError, match=r"i\.csv:2: no inspectors"):
        parse_inspectors_csv("id,name,affiliation\n", CATALOG, "i.csv")


def test_inspectors_file_must_be_yaml_or_csv(tmp_path: Path) -> None:
    """Another file type is refused, naming the file."""
    path = tmp_path / "inspectors.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InspectorsFileError, match=r"inspectors\.txt: an inspectors file is YAML"):
        load_inspectors(path, CATALOG)


# --------------------------------------------------------------------------------------------------
# The draw algorithm


def test_draw_follows_the_published_procedure() -> None:
    """The drawn cases and inspectors are what SHA-256 and sorting give, as the public would redo it."""
    candidates = [candidate(f"XJ-20260801-{n:04d}", "xiji", "xzsp") for n in range(1, 11)]
    candidates += [candidate(f"SC-20260801-{n:04d}", "sangcun", "ybj") for n in range(1, 4)]
    inspectors = pool("sangcun", "xiji", "rsj")
    plan = plan_draw(candidates, inspectors, parse_ratio("20%"), "seed-1")

    def key(*parts: str) -> str:
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    expected_cases = sorted(c.case_number for c in candidates if c.town_code == "xiji")
    expected_cases.sort(key=lambda n: key("seed-1", n))
    drawn_sc = min(
        (c.case_number for c in candidates if c.town_code == "sangcun"), key=lambda n: key("seed-1", n)
    )
    expected = sorted([*expected_cases[:2], drawn_sc])  # ceil(20% × 10) = 2, ceil(20% × 3) = 1
    assert [a.candidate.case_number for a in plan.assignments] == expected
    assert [(s.town_code, s.candidates, s.drawn) for s in plan.strata] == [("sangcun", 3, 1), ("xiji", 10, 2)]
    load = {"JC000": 0, "JC001": 0, "JC002": 0}
    affiliation = {"JC000": "sangcun", "JC001": "xiji", "JC002": "rsj"}
    for assignment in plan.assignments:
        own = {assignment.candidate.town_code, assignment.candidate.department_code}
        eligible = [i for i in sorted(load) if affiliation[i] not in own]
        chosen = min(eligible, key=lambda i: (load[i], key("seed-1", assignment.candidate.case_number, i), i))
        load[chosen] += 1
        assert assignment.inspector.id == chosen
        assert assignment.draw_key == key("seed-1", assignment.candidate.case_number)


def test_same_inputs_and_seed_give_the_same_draw_and_another_seed_another() -> None:
    """The draw depends only on the inputs and the seed: input order does not matter, the seed does."""
    candidates = [candidate(f"XJ-20260801-{n:04d}", TOWNS[n % 3], DEPARTMENTS[n % 4]) for n in range(60)]
    inspectors = pool(*TOWNS, *DEPARTMENTS)
    ratio = parse_ratio("10%")
    first = plan_draw(candidates, inspectors, ratio, "2026Q3 第一次")
    shuffled = candidates[1::2] + list(reversed(candidates[::2]))
    again = plan_draw(shuffled, InspectorPool(tuple(reversed(inspectors.inspectors))), ratio, "2026Q3 第一次")
    assert again.assignments == first.assignments
    assert again.inputs_digest == first.inputs_digest
    other = plan_draw(candidates, inspectors, ratio, "2026Q3 第二次")
    assert [a.candidate.case_number for a in other.assignments] != [
        a.candidate.case_number for a in first.assignments
    ]
    assert other.inputs_digest == first.inputs_digest  # the seed is not an input of the digest


def test_no_eligible_inspector_names_the_case_and_why() -> None:
    """A drawn case whose town and department cover every inspector stops the draw, naming it."""
    candidates = [
        candidate("XJ-20260801-0001", "xiji", "xzsp"),
        candidate("SC-20260801-0001", "sangcun", "ybj"),
    ]
    with pytest.raises(NoEligibleInspectorError) as caught:
        plan_draw(candidates, pool("xiji", "xzsp"), parse_ratio("100%"), "s")
    message = str(caught.value)
    assert "XJ-20260801-0001（town xiji, department xzsp）" in message
    assert "SC-20260801-0001" not in message
    assert "own town or department" in message


def test_seven_percent_of_a_hundred_is_seven() -> None:
    """Rounding is exact: 7% of 100 cases is 7, not 8 (0.07 × 100 is 7.000000000000001 in floats)."""
    candidates = [candidate(f"XJ-20260801-{n:04d}") for n in range(100)]
    plan = plan_draw(candidates, pool("sangcun"), parse_ratio("0.07"), "s")
    assert len(plan.assignments) == 7


def attempt(
    candidates: list[Candidate], inspectors: InspectorPool, ratio: Ratio, seed: str
) -> DrawPlan | NoEligibleInspectorError:
    """The plan, or the error that no inspector may check some drawn case."""
    try:
        return plan_draw(candidates, inspectors, ratio, seed)
    except NoEligibleInspectorError as exc:
        return exc


candidate_lists = st.lists(
    st.tuples(st.sampled_from(TOWNS), st.sampled_from(DEPARTMENTS)), min_size=1, max_size=50
).map(lambda pairs: [candidate(f"CASE-{n:04d}", t, d) for n, (t, d) in enumerate(pairs)])
inspector_pools = st.lists(st.sampled_from(TOWNS + DEPARTMENTS), min_size=1, max_size=12).map(
    lambda affiliations: pool(*affiliations)
)
ratios = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(100), places=1).map(
    lambda d: parse_ratio(f"{d}%")
)
seeds = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(candidate_lists, inspector_pools, ratios, seeds)
def test_draw_never_assigns_own_town_or_department(
    candidates: list[Candidate], inspectors: InspectorPool, ratio: Ratio, seed: str
) -> None:
    """Random pools: never an own-unit inspector, ceil(ratio × N) ≥ 1 per town, or the unassignable case named."""
    blocked = {
        c.case_number
        for c in candidates
        if all(i.affiliation in {c.town_code, c.department_code} for i in inspectors.inspectors)
    }
    plan = attempt(candidates, inspectors, ratio, seed)
    if isinstance(plan, NoEligibleInspectorError):
        named = {c.case_number for c in candidates if f"{c.case_number}（" in str(plan)}
        assert named
        assert named <= blocked
        return
    numbers = {c.case_number for c in candidates}
    for assignment in plan.assignments:
        case = assignment.candidate
        assert assignment.inspector.affiliation not in {case.town_code, case.department_code}
        assert case.case_number in numbers
        assert case.status == "completed"
    for town in {c.town_code for c in candidates}:
        members = [c for c in candidates if c.town_code == town]
        drawn = [a for a in plan.assignments if a.candidate.town_code == town]
        assert len(drawn) == math.ceil(ratio.value * len(members)) >= 1
    total = math.ceil(ratio.value * len(candidates))
    assert total <= len(plan.assignments) <= total + len(plan.strata) - 1


# --------------------------------------------------------------------------------------------------
# Scorecard rules


def test_shipped_scorecard_rules_load() -> None:
    """config/supervision.yaml is valid: every measure with a weight, the town counter, threshold 80."""
    config = load_supervision_config(REPO / "config" / "supervision.yaml")
    assert config.counters == ("town",)
    assert config.threshold == 80
    assert sum(config.measures.rule(name).weight for name in MEASURES) == 100


def test_invalid_scorecard_rules_name_file_line_and_field() -> None:
    """Each problem of supervision.yaml names the file, the line and the field path."""
    text = """\
threshold: 80
extra: 1
measures:
  timeliness: {weight: -1, best: 100, worst: 50}
  rejection: {weight: 10, best: 0, worst: 0}
  returns: {weight: 10, best: 0, worst: 50, floor: 120}
  satisfaction: {weight: 10, best: 5, worst: 1}
  spotcheck: {weight: "10", best: 0, worst: 50}
"""
    with pytest.raises(SupervisionConfigError) as caught:
        parse_supervision_config(text, "config/supervision.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "config/supervision.yaml:2: extra: unknown key (keys are camelCase; check the spelling)",
        "config/supervision.yaml:3: measures.backlog: Field required",
        "config/supervision.yaml:4: measures.timeliness.weight: Input should be greater than or equal to 0, got -1",
        (
            "config/supervision.yaml:5: measures.rejection: Value error, best and worst must differ: they are the raw "
            "values worth 100 and 0 points"
        ),
        "config/supervision.yaml:6: measures.returns.floor: Input should be less than or equal to 100, got 120",
        "config/supervision.yaml:8: measures.spotcheck.weight: Input should be a valid number, got '10'",
    ]


def test_scorecard_rules_need_some_weight() -> None:
    """All weights 0 is refused: there would be no overall score."""
    rule = "{weight: 0, best: 0, worst: 1}"
    text = "threshold: 50\nmeasures:\n" + "".join(f"  {name}: {rule}\n" for name in MEASURES)
    with pytest.raises(SupervisionConfigError, match=r"s.yaml:1: <root>: Value error, at least one measure"):
        parse_supervision_config(text, "s.yaml")
