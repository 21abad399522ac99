"""Differential test: engine.feel against the ``feelin`` FEEL interpreter (npm, run with node).

Every entry of ``corpus.json`` is evaluated by both; results are normalised (numbers compared
numerically, temporal values by kind and ISO text, durations as (kind, months, seconds)) and
must agree. Expressions where feelin and Zeebe's engine (feel-scala) disagree are kept out of
the corpus and covered in ``test_feel.py`` instead (see ``engine/feel/README.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.feel import FeelError, FeelFunction, FeelRange, YearsMonthsDuration, evaluate, to_json_value

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
CORPUS = HERE / "corpus.json"
SCRIPT = HERE / "feelin_eval.mjs"
NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)

_DURATION_RE = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def _load_corpus() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return entries


def _duration_key(text: str, *, years_months: bool) -> tuple[str, int, Decimal] | str:
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        return f"unparsable duration {text}"
    sign = -1 if match[1] else 1
    months = int(match[2] or 0) * 12 + int(match[3] or 0)
    seconds = (
        (int(match[4] or 0) * 7 + int(match[5] or 0)) * 86_400
        + int(match[6] or 0) * 3600
        + int(match[7] or 0) * 60
        + Decimal(match[8] or 0)
    )
    kind = "years-months" if years_months else "days-time"
    return (kind, sign * months, sign * seconds)


def _temporal_text(text: str) -> str:
    """Canonical ISO text: no empty fraction, ``+00:00`` written as ``Z``."""
    text = re.sub(r"\.0+(?=$|[Z+\-@])", "", text)
    text = re.sub(r"(\.\d*?)0+(?=$|[Z+\-@])", r"\1", text)
    return text.replace("+00:00", "Z")


def normalise_feelin(value: Any) -> Any:
    """feelin's tagged JSON (see feelin_eval.mjs) in the comparison form."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, list):
        return [normalise_feelin(item) for item in value]
    assert isinstance(value, dict)
    if "$number" in value:
        number = value["$number"]
        return ("number", float(number)) if isinstance(number, int | float) else ("number", number)
    if "$context" in value:
        return {key: normalise_feelin(item) for key, item in value["$context"].items()}
    for kind in ("date", "time", "datetime"):
        if f"${kind}" in value:
            return (kind, _temporal_text(value[f"${kind}"]))
    if "$duration" in value:
        return _duration_key(value["$duration"], years_months=bool(value["yearsMonths"]))
    if "$range" in value:
        return ("range", value["$range"])
    if "$function" in value:
        return ("function",)
    return ("unknown", repr(value))


def normalise_ours(value: Any) -> Any:
    """Our FEEL value in the comparison form (temporal text via ``to_json_value``)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return ("number", float(value))
    if isinstance(value, list):
        return [normalise_ours(item) for item in value]
    if isinstance(value, dict):
        return {key: normalise_ours(item) for key, item in value.items()}
    text = to_json_value(value)
    if isinstance(value, dt.datetime):
        return ("datetime", _temporal_text(text))
    if isinstance(value, dt.date):
        return ("date", _temporal_text(text))
    if isinstance(value, dt.time):
        return ("time", _temporal_text(text))
    if isinstance(value, dt.timedelta):
        return _duration_key(text, years_months=False)
    if isinstance(value, YearsMonthsDuration):
        return _duration_key(text, years_months=True)
    if isinstance(value, FeelRange):
        return ("range", text)
    if isinstance(value, FeelFunction):
        return ("function",)
    return ("unknown", repr(value))


def agree(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, tuple) and isinstance(theirs, tuple) and ours[:1] == theirs[:1] == ("number",):
        a, b = ours[1], theirs[1]
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return bool(a == b)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(agree(x, y) for x, y in zip(ours, theirs, strict=True))
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(agree(ours[key], theirs[key]) for key in ours)
    return bool(type(ours) is type(theirs) and ours == theirs)


def _run_feelin(corpus: list[dict[str, Any]], repo_root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    if not (repo_root / "node_modules" / "feelin" / "package.json").is_file():
        pytest.fail(
            "node_modules/feelin is missing: run `npm ci` in the repository root "
            "(the differential test needs the pinned feelin package)"
        )
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js (>= 18) and run `npm ci`")
    completed = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps([{"expr": entry["expr"], "context": entry["context"]} for entry in corpus]),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"feelin_eval.mjs failed ({completed.returncode}):\n{completed.stderr}")
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


def test_corpus_is_large_and_well_formed() -> None:
    """The corpus has at least 320 entries, each an expression with a JSON context."""
    corpus = _load_corpus()
    assert len(corpus) >= 320
    for entry in corpus:
        assert isinstance(entry["expr"], str)
        assert isinstance(entry["context"], dict)
    assert len({(entry["expr"], json.dumps(entry["context"], sort_keys=True)) for entry in corpus}) == len(
        corpus
    )


def test_missing_feelin_fails_with_an_npm_ci_hint(tmp_path: Path) -> None:
    """Without node_modules/feelin the differential test fails (not skips) and says to run npm ci."""
    with pytest.raises(pytest.fail.Exception, match="npm ci"):
        _run_feelin([], repo_root=tmp_path)


def test_engine_agrees_with_feelin_on_the_corpus() -> None:
    """engine.feel and feelin produce the same value for every corpus expression."""
    corpus = _load_corpus()
    reference = _run_feelin(corpus)
    assert len(reference) == len(corpus)
    disagreements: list[str] = []
    for entry, result in zip(corpus, reference, strict=True):
        label = f"[{entry.get('group', '?')}] {entry['expr']!r} with {json.dumps(entry['context'])}"
        if "error" in result:
            disagreements.append(f"{label}: feelin failed: {result['error']}")
            continue
        try:
            ours = normalise_ours(evaluate(entry["expr"], entry["context"], now=NOW))
        except FeelError as error:
            disagreements.append(f"{label}: engine.feel raised {error!r}")
            continue
        theirs = normalise_feelin(result["value"])
        if not agree(ours, theirs):
            disagreements.append(f"{label}:\n    engine.feel: {ours!r}\n    feelin:      {theirs!r}")
    assert not disagreements, f"{len(disagreements)} of {len(corpus)} entries disagree:\n" + "\n".join(
        disagreements
    )
