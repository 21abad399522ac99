"""Outputs of supervision: the public list of a spot-check draw (公示) and the 用权评估 scorecard.

The public list holds the draw's facts only: case numbers, items, towns, departments, the inspectors'
names and units, the seed and digests, and the findings. The ledger holds no applicant data, and nothing
here reads anything but the ledger's spot-check events, the catalog and the inspectors list.
"""

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from jinja2 import Environment
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from workers.catalog.models import Catalog
from workers.ledger.service import CHINA_TZ
from workers.supervision.inspectors import InspectorPool, affiliation_name
from workers.supervision.scorecard import MEASURE_LABELS, MEASURE_UNITS, MEASURES, Scorecard, TownScore
from workers.supervision.spotcheck import Candidate, RecordedDraw

__all__ = [
    "NO_DATA",
    "PENDING",
    "PUBLIC_COLUMNS",
    "RESULT_NAMES",
    "SCORECARD_HEADERS",
    "public_document",
    "public_rows",
    "render_public_html",
    "scorecard_document",
    "scorecard_rows",
    "write_csv",
    "write_scorecard_xlsx",
]

NO_DATA: Final = "无数据"
NO_CASES: Final = "本期无办件"
RESULT_NAMES: Final[Mapping[str, str]] = {"pass": "未发现问题", "issue": "发现问题"}
PENDING: Final = "待检查"
PUBLIC_COLUMNS: Final[tuple[str, ...]] = (
    "抽查批次",
    "抽查期间",
    "办件编号",
    "事项编码",
    "事项名称",
    "承接镇",
    "区级实施部门",
    "检查人员",
    "检查人员所属单位",
    "抽取时间",
    "抽取比例",
    "随机种子",
    "候选办件清单摘要",
    "检查人员名录摘要",
    "输入摘要",
    "检查结果",
    "检查情况",
    "检查时间",
)


def _name(lookup: Mapping[str, str], code: str) -> str:
    return lookup.get(code, code)


# --------------------------------------------------------------------------------------------------
# The public list of a draw
# --------------------------------------------------------------------------------------------------


def public_document(
    recorded: RecordedDraw,
    catalog: Catalog,
    candidates: Sequence[Candidate],
    pool: InspectorPool | None = None,
) -> dict[str, Any]:
    """The public list as JSON-ready data, with what anyone needs to redo the draw.

    ``candidates`` is the candidate list rebuilt from the ledger up to the draw's bound; ``pool`` the
    inspectors file when it was given and matches the recorded digest (else ``inspectors`` is null).
    """
    parameters = recorded.parameters
    towns = {t.code: t.name for t in catalog.towns}
    departments = {d.code: d.name for d in catalog.departments}
    items = {i.code: i.name for i in catalog.items}
    strata: dict[str, tuple[int, int]] = {}
    cases = []
    for number in sorted(recorded.assignments):
        entry = recorded.assignments[number]
        event, payload = entry.event, entry.payload
        strata[event.town_code] = (payload.town_candidates, payload.town_drawn)
        finding = recorded.findings.get(number)
        cases.append(
            {
                "caseNumber": number,
                "itemCode": event.item_code,
                "itemName": _name(items, event.item_code),
                "townCode": event.town_code,
                "townName": _name(towns, event.town_code),
                "departmentCode": event.department_code,
                "departmentName": _name(departments, event.department_code),
                "drawKey": payload.draw_key,
                "inspectorId": payload.inspector_id,
                "inspectorName": payload.inspector_name,
                "inspectorAffiliation": payload.inspector_affiliation,
                "inspectorAffiliationName": affiliation_name(catalog, payload.inspector_affiliation),
                "result": finding.payload.result if finding else None,
                "resultName": RESULT_NAMES[finding.payload.result] if finding else PENDING,
                "note": finding.payload.note if finding else None,
                "checkedAt": (
                    finding.event.occurred_at.astimezone(CHINA_TZ).isoformat(timespec="seconds")
                    if finding
                    else None
                ),
            }
        )
    return {
        "drawId": recorded.draw_id,
        "period": parameters.period,
        "periodTitle": recorded.period.title,
        "ratio": parameters.ratio,
        "seed": parameters.seed,
        "algorithm": parameters.algorithm,
        "drawnAt": parameters.drawn_at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
        "ledgerHead": parameters.ledger_head,
        "candidateCount": parameters.candidates,
        "drawnCount": parameters.drawn,
        "digests": {
            "candidates": parameters.candidates_digest,
            "inspectors": parameters.inspectors_digest,
            "inputs": parameters.inputs_digest,
        },
        "strata": [
            {"townCode": code, "townName": _name(towns, code), "candidates": total, "drawn": drawn}
            for code, (total, drawn) in sorted(strata.items())
        ],
        "cases": cases,
        "candidates": [candidate.canonical() for candidate in candidates],
        "inspectors": pool.canonical() if pool is not None else None,
    }


def public_rows(document: Mapping[str, Any]) -> list[list[str]]:
    """The rows of the public list in :data:`PUBLIC_COLUMNS` order, one per drawn case."""
    digests = document["digests"]
    drawn_at = document["drawnAt"][:16].replace("T", " ")
    rows = []
    for case in document["cases"]:
        checked_at = case["checkedAt"][:16].replace("T", " ") if case["checkedAt"] else ""
        rows.append(
            [
                document["drawId"],
                document["periodTitle"],
                case["caseNumber"],
                case["itemCode"],
                case["itemName"],
                case["townName"],
                case["departmentName"],
                case["inspectorName"],
                case["inspectorAffiliationName"],
                drawn_at,
                document["ratio"],
                document["seed"],
                digests["candidates"],
                digests["inspectors"],
                digests["inputs"],
                case["resultName"],
                case["note"] or "",
                checked_at,
            ]
        )
    return rows


def write_csv(headers: Sequence[str], rows: Sequence[Sequence[object]], target: Path | TextIO) -> None:
    """Write a header and rows as CSV; a path as UTF-8 with a byte-order mark (Excel shows the Chinese)."""
    if isinstance(target, Path):
        with target.open("w", encoding="utf-8-sig", newline="") as stream:
            write_csv(headers, rows, stream)
        return
    writer = csv.writer(target)
    writer.writerow(headers)
    writer.writerows(rows)


_HTML: Final = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 4px 8px; text-align: left; }
th { background: #eee; }
code { word-break: break-all; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>抽查批次 {{ doc.drawId }}；抽取时间 {{ drawn_at }}；
抽取比例 {{ doc.ratio }}（各镇按比例向上取整，每镇至少 1 件）；
候选办件 {{ doc.candidateCount }} 件，抽中 {{ doc.drawnCount }} 件。</p>
<table>
<thead><tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for case in doc.cases %}<tr>
<td>{{ loop.index }}</td>
<td>{{ case.caseNumber }}</td>
<td>{{ case.itemName }}</td>
<td>{{ case.townName }}</td>
<td>{{ case.departmentName }}</td>
<td>{{ case.inspectorName }}</td>
<td>{{ case.inspectorAffiliationName }}</td>
<td>{{ case.resultName }}</td>
<td>{{ case.note or "" }}</td>
</tr>
{% endfor %}</tbody>
</table>
<h2>复核方法</h2>
<p>随机种子 <code>{{ doc.seed }}</code>，算法 <code>{{ doc.algorithm }}</code>：
每件候选办件的抽签值为 SHA-256(随机种子 + 换行 + 办件编号)，
各镇按抽签值从小到大抽取；检查人员在不属于该办件所在镇和实施部门的人员中，
按已分配件数最少、再按 SHA-256(随机种子 + 换行 + 办件编号 + 换行 + 人员编号)
最小者确定。</p>
<ul>
<li>候选办件清单摘要（SHA-256，RFC 8785 JSON）：<code>{{ doc.digests.candidates }}</code></li>
<li>检查人员名录摘要：<code>{{ doc.digests.inspectors }}</code></li>
<li>输入摘要：<code>{{ doc.digests.inputs }}</code></li>
</ul>
</body>
</html>
"""
_HTML_COLUMNS: Final = (
    "序号",
    "办件编号",
    "事项名称",
    "承接镇",
    "区级实施部门",
    "检查人员",
    "所属单位",
    "检查结果",
    "检查情况",
)


def render_public_html(document: Mapping[str, Any]) -> str:
    """The public list as an HTML page (every value escaped)."""
    environment = Environment(autoescape=True, keep_trailing_newline=True)
    title = f"{document['periodTitle']}“双随机、一公开”抽查结果公示"
    return environment.from_string(_HTML).render(
        title=title,
        doc=document,
        columns=_HTML_COLUMNS,
        drawn_at=document["drawnAt"][:16].replace("T", " "),
    )


# --------------------------------------------------------------------------------------------------
# The scorecard
# --------------------------------------------------------------------------------------------------


def _measure_headers() -> list[str]:
    headers = []
    for name in MEASURES:
        headers += [f"{MEASURE_LABELS[name]}（{MEASURE_UNITS[name]}）", f"{MEASURE_LABELS[name]}得分"]
    return headers


SCORECARD_HEADERS: Final[tuple[str, ...]] = (
    "镇代码",
    "镇",
    "本期受理",
    "本期办结",
    "超期未办结",
    *_measure_headers(),
    "总分",
    "督导",
    "原因",
)


def _round(value: float | None) -> float | str:
    return NO_DATA if value is None else round(value, 1)


def _town_cells(town: TownScore) -> list[object]:
    cells: list[object] = [town.town_code, town.town_name, town.accepted, town.closed, town.overdue_open]
    if not town.has_cases:
        return [*cells, *([NO_DATA] * (2 * len(MEASURES))), NO_CASES, "", ""]
    for measure in town.measures:
        cells += [_round(measure.raw), _round(measure.score)]
    return [*cells, _round(town.overall), "督导" if town.flagged else "", "；".join(town.reasons)]


def scorecard_rows(scorecard: Scorecard) -> list[list[object]]:
    """One row per town in :data:`SCORECARD_HEADERS` order; numbers rounded to 0.1, 无数据 as text."""
    return [_town_cells(town) for town in scorecard.towns]


def write_scorecard_xlsx(scorecard: Scorecard, path: Path) -> None:
    """One sheet: a bold, frozen header, a row per town, and the rules used below."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "用权评估"
    sheet.append(list(SCORECARD_HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in scorecard_rows(scorecard):
        sheet.append(row)
    sheet.append([])
    config = scorecard.config
    counters = "、".join(config.counters)
    sheet.append([f"评估期间 {scorecard.period.title}；督导线 {config.threshold:g}；计入窗口 {counters}"])
    for name in MEASURES:
        rule = config.measures.rule(name)
        unit = MEASURE_UNITS[name]
        floor = "无" if rule.floor is None else f"{rule.floor:g}"
        ends = f"{rule.best:g}{unit} 得 100 分，{rule.worst:g}{unit} 得 0 分"
        sheet.append([f"{MEASURE_LABELS[name]}：权重 {rule.weight:g}，{ends}，下限 {floor}"])
    sheet.freeze_panes = "C2"
    for index in range(1, len(SCORECARD_HEADERS) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 12
    workbook.save(path)


def scorecard_document(scorecard: Scorecard) -> dict[str, Any]:
    """The scorecard as JSON-ready data: the period, the rules and every town's measures (null: 无数据)."""
    config = scorecard.config
    return {
        "period": scorecard.period.label,
        "periodTitle": scorecard.period.title,
        "from": scorecard.period.first.isoformat(),
        "to": scorecard.period.last.isoformat(),
        "backlogAsOf": scorecard.as_of.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
        "rules": config.model_dump(mode="json", by_alias=True),
        "towns": [
            {
                "townCode": town.town_code,
                "townName": town.town_name,
                "hasCases": town.has_cases,
                "accepted": town.accepted,
                "closed": town.closed,
                "overdueOpen": town.overdue_open,
                "measures": {
                    measure.name: {
                        "label": measure.label,
                        "raw": measure.raw,
                        "unit": MEASURE_UNITS[measure.name],
                        "basis": measure.basis,
                        "score": measure.score,
                        "weight": measure.weight,
                        "share": measure.share,
                        "floor": measure.floor,
                    }
                    for measure in town.measures
                },
                "overall": town.overall,
                "flagged": town.flagged,
                "reasons": list(town.reasons),
            }
            for town in scorecard.towns
        ],
    }
