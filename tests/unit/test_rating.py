"""好差评 rules, the portal's token and secret, the notification link with its token, and the ``sla.schedule``
``limitDays`` header; no engine (the process scenarios are in tests/process/test_rating.py)."""

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from pyzeebe import Job

from workers.catalog.loader import config_dir, load_catalog
from workers.ledger import CaseEvent, Ledger, default_ledger_url, sanitize_payload
from workers.ledger.tasks import payload_for
from workers.notify import build_notifier
from workers.notify.templates import TemplateRenderer
from workers.portal.access import DEV_SECRET_FILE_NAME, PortalSettings, ProgressTokens, load_secret
from workers.rating import RatingError, check_ratable, mask_free_text, parse_rating, rating_state
from workers.runtime import JOB_TIMEOUT_MS, Services
from workers.settings import WorkerSettings
from workers.sla import load_working_calendar
from workers.sla import tasks as sla_tasks

SECRET = b"s" * 32
ITEM = "3700000117086"  # 直接下放, 3 working days


# --------------------------------------------------------------------------------------------------
# masking and input


def test_comment_masking_hides_id_numbers_phones_and_email_addresses() -> None:
    """ID and mobile numbers are masked as in the logs; e-mail addresses are replaced as a whole."""
    text = (
        "身份证370402199001011234，手机 +86 138-1234-5678，邮箱 wang.xiao@example.com，事项编码3700000117086"
    )
    assert mask_free_text(text) == (
        "身份证370402********1234，手机 +86 138****5678，邮箱 [邮箱]，事项编码3700000117086"
    )


@given(st.text(alphabet=st.sampled_from("0123456789Xx@.-+ 号abcCOM邮箱\n"), max_size=80))
def test_masked_text_is_accepted_by_the_ledger_and_no_longer(text: str) -> None:
    """Whatever the text, the masked comment passes the ledger's personal-data check and is not longer."""
    masked = mask_free_text(text)
    assert len(masked) <= len(text)
    sanitize_payload({"comment": masked})


@pytest.mark.parametrize(
    ("score", "comment", "field", "message"),
    [
        (0, None, "score", "score: 0 is out of range"),
        (6, None, "score", "score: 6 is out of range"),
        (True, None, "score", "score: must be a whole number"),
        ("３", None, "score", "score: must be a whole number"),
        (3.0, None, "score", "score: must be a whole number"),
        (3, "慢" * 501, "comment", "comment: 501 characters; at most 500"),
        (3, 42, "comment", "comment: must be text"),
        (3, "好\x00", "comment", "comment: contains control characters"),
    ],
)
def test_bad_ratings_are_refused_naming_the_field(
    score: object, comment: object, field: str, message: str
) -> None:
    """A score other than 1–5 or a comment that is not text of at most 500 characters names its field."""
    with pytest.raises(RatingError) as caught:
        parse_rating(score, comment)
    assert (caught.value.reason, caught.value.field) == ("invalid", field)
    assert message in caught.value.message


def test_good_ratings_are_parsed_and_their_comment_masked() -> None:
    """1 and 5 (also as digit strings from a form) pass; 500 characters pass; the comment is stripped and masked."""
    assert parse_rating("5", "  很满意  ").comment == "很满意"
    assert parse_rating(1, None).comment == ""
    assert parse_rating(3, "慢" * 500).score == 3
    assert parse_rating(2, "电话13812345678").comment == "电话138****5678"


# --------------------------------------------------------------------------------------------------
# who may rate, and what the ledger says


def event(case_number: str, name: str, minutes: int, **payload: Any) -> CaseEvent:
    return CaseEvent(
        case_number=case_number,
        item_code=ITEM,
        town_code="xiji",
        department_code="xzsp",
        mode="direct",
        counter="town",
        event=name,
        actor="ledger.record:test",
        occurred_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes),
        payload=payload,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger(default_ledger_url(tmp_path / "data")) as opened:
        opened.migrate()
        yield opened


@pytest.mark.parametrize(
    ("closing", "payload", "allowed"),
    [
        ("decided", {"outcome": "approved"}, True),
        ("decided", {"outcome": "rejected"}, True),
        ("not-accepted", {}, False),
        ("withdrawn", {}, False),
        (None, {}, False),
    ],
)
def test_only_cases_closed_with_a_decision_can_be_rated(
    ledger: Ledger, closing: str | None, payload: dict[str, Any], allowed: bool
) -> None:
    """completed and rejected cases can be rated; in-progress, not-accepted and withdrawn ones cannot."""
    ledger.record_event(event("XJ-20260302-0001", "registered", 0))
    if closing is not None:
        ledger.record_event(event("XJ-20260302-0001", closing, 1, **payload))
    view = ledger.case("XJ-20260302-0001")
    if allowed:
        assert check_ratable(view, "XJ-20260302-0001") is view
        return
    with pytest.raises(RatingError) as caught:
        check_ratable(view, "XJ-20260302-0001")
    assert caught.value.reason == "not-closed"
    assert "only a closed case" in caught.value.message


def test_rating_state_reads_the_rating_and_its_follow_up(ledger: Ledger) -> None:
    """rated, followup.scheduled and rectified of the case give the score, the deadline and the 整改 end."""
    number = "XJ-20260302-0002"
    ledger.record_event(event(number, "registered", 0))
    ledger.record_event(event(number, "decided", 1, outcome="approved"))
    view = ledger.case(number)
    assert view is not None
    assert rating_state(view) is None
    ledger.record_event(event(number, "rated", 2, score=2, comment="", followUp=True, ratingId="r-1"))
    ledger.record_event(
        event(number, "followup.scheduled", 3, dueAt="2026-03-23T17:30:00+08:00", limitDays=15)
    )
    ledger.record_event(event(number, "rectified", 4, measures="已整改", applicantContacted=True))
    view = ledger.case(number)
    assert view is not None
    state = rating_state(view)
    assert state is not None
    assert (state.score, state.rating_id, state.follow_up) == (2, "r-1", True)
    assert state.due_at == datetime(2026, 3, 23, 9, 30, tzinfo=UTC)
    assert state.rectified_at == datetime(2026, 3, 2, 1, 4, tzinfo=UTC)
    with pytest.raises(RatingError, match="already rated on 2026-03-02: one rating per case"):
        check_ratable(view, number)


def test_ledger_payloads_of_rated_and_rectified_are_masked_facts() -> None:
    """rated carries score, masked comment, followUp and ratingId; rectified the masked measures."""
    rated = payload_for(
        "rated", {"score": 1, "comment": "电话13812345678", "followUp": True, "ratingId": "r-1", "x": "y"}
    )
    assert rated == {"score": 1, "comment": "电话138****5678", "followUp": True, "ratingId": "r-1"}
    rectified = payload_for(
        "rectified", {"rectificationMeasures": "邮箱 a@b.cn", "applicantContacted": False}
    )
    assert rectified == {"measures": "邮箱 [邮箱]", "applicantContacted": False}
    for score in (0, 6, "3", None, True):
        with pytest.raises(ValueError, match="'score', a whole number 1 to 5"):
            payload_for("rated", {"score": score})


# --------------------------------------------------------------------------------------------------
# the portal's token and secret


def test_token_is_a_43_character_hmac_that_matches_only_its_case() -> None:
    """base64url HMAC-SHA256 of the case number: stable, per case and per secret; wrong or missing never matches."""
    tokens = ProgressTokens(SECRET)
    token = tokens.token("XJ-20260302-0001")
    assert len(token) == 43
    assert token == ProgressTokens(SECRET).token("XJ-20260302-0001")
    assert token != tokens.token("XJ-20260302-0002")
    assert token != ProgressTokens(b"t" * 32).token("XJ-20260302-0001")
    assert tokens.matches("XJ-20260302-0001", token)
    for wrong in (None, "", token[:-1], token + "A", tokens.token("XJ-20260302-0002"), "令牌" * 20):
        assert not tokens.matches("XJ-20260302-0001", wrong)
    assert "s" * 32 not in repr(tokens)
    with pytest.raises(ValueError, match="at least 32"):
        ProgressTokens(b"short")


def test_portal_secret_comes_from_the_environment_and_must_be_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SHUANGSHI_PORTAL_SECRET is used as it is (no file written); a short one is refused naming the rule."""
    monkeypatch.setenv("SHUANGSHI_PORTAL_SECRET", "x" * 40)
    assert load_secret(tmp_path) == b"x" * 40
    assert not (tmp_path / DEV_SECRET_FILE_NAME).exists()
    monkeypatch.setenv("SHUANGSHI_PORTAL_SECRET", "too-short")
    with pytest.raises(ValidationError, match="at least 32 characters") as caught:
        PortalSettings()
    assert "too-short" not in str(caught.value)


def test_without_a_secret_a_development_secret_is_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SHUANGSHI_PORTAL_SECRET: <data dir>/portal.secret is created 0600 and read back the next time."""
    monkeypatch.delenv("SHUANGSHI_PORTAL_SECRET", raising=False)
    monkeypatch.setenv("SHUANGSHI_SECRETS_DIR", str(tmp_path))  # an empty secrets folder
    first = load_secret(tmp_path / "data")
    path = tmp_path / "data" / DEV_SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_secret(tmp_path / "data") == first
    assert [p.name for p in path.parent.iterdir()] == [DEV_SECRET_FILE_NAME]


def test_notification_links_carry_the_token_the_portal_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifier's progress link is <base>/<case>?t=<token> with the token of the data dir's secret."""
    monkeypatch.delenv("SHUANGSHI_PORTAL_SECRET", raising=False)
    monkeypatch.setenv("SHUANGSHI_SECRETS_DIR", str(tmp_path))
    settings = WorkerSettings(data_dir=tmp_path / "data", progress_base_url="https://zwfw.example/progress/")
    notifier = build_notifier(settings)
    tokens = ProgressTokens(load_secret(tmp_path / "data"))
    number = "XJ-20260302-0001"
    assert notifier.templates.progress_url(number) == (
        f"https://zwfw.example/progress/{number}?t={tokens.token(number)}"
    )
    plain = TemplateRenderer(config_dir() / "templates", progress_base_url="https://zwfw.example/progress")
    assert plain.progress_url(number) == f"https://zwfw.example/progress/{number}"
    quoted = TemplateRenderer(
        config_dir() / "templates",
        progress_base_url="https://zwfw.example/p",
        progress_token=lambda _: "a+b/c",
    )
    assert quoted.progress_url("XJ 1") == "https://zwfw.example/p/XJ%201?t=a%2Bb%2Fc"


# --------------------------------------------------------------------------------------------------
# sla.schedule with limitDays


def sla_job(headers: dict[str, str], at: datetime, number: str) -> Job:
    return Job(
        key=2251799813685301,
        type="sla.schedule",
        process_instance_key=2251799813685300,
        bpmn_process_id="case-rating",
        process_definition_version=1,
        process_definition_key=2251799813685299,
        element_id="schedule_rectification",
        element_instance_key=2251799813685302,
        custom_headers=headers,
        worker="test",
        retries=3,
        deadline=int(at.timestamp() * 1000) + JOB_TIMEOUT_MS,
        variables={
            "caseNumber": number,
            "itemCode": ITEM,
            "townCode": "xiji",
            "counter": "town",
            "departmentCode": "xzsp",
            "mode": "direct",
        },
        tenant_id=None,
    )


def test_limit_days_header_fixes_the_deadline_and_leaves_the_case_deadline(
    ledger: Ledger, tmp_path: Path
) -> None:
    """limitDays=15 counts 15 working days from now (no timeLimitDays needed); recorded as followup.scheduled."""
    services = Services(
        settings=WorkerSettings(data_dir=tmp_path),
        catalog=load_catalog(),
        ledger=ledger,
        keys=None,  # type: ignore[arg-type]  # sla.schedule uses the ledger and the calendar only
        documents=None,  # type: ignore[arg-type]
        calendar=load_working_calendar(),
        extra={},
    )
    number = "XJ-20260302-0003"
    ledger.record_event(event(number, "registered", 0))
    ledger.record_event(event(number, "sla.scheduled", 1, dueAt="2026-03-05T17:30:00+08:00", limitDays=3))
    ledger.record_event(event(number, "decided", 2, outcome="approved"))
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in China, no holiday in the next weeks
    variables = sla_tasks.apply(services, sla_job({"action": "start", "limitDays": "15"}, at, number))
    assert variables["slaDueAt"] == "2026-03-23T17:30:00+08:00"
    assert variables["slaWarnAt"] == "2026-03-20T17:30:00+08:00"
    view = ledger.case(number)
    assert view is not None
    assert view.due_at == datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
    assert view.on_time is True
    assert [(e.event, e.payload) for e in view.events[-1:]] == [
        ("followup.scheduled", {"dueAt": "2026-03-23T17:30:00+08:00", "limitDays": 15})
    ]
    for bad, message in (
        ("fifteen", "is not a whole number"),
        ("-1", "is not a whole number"),
        ("366", "is more than 365"),
    ):
        with pytest.raises(ValueError, match=f"limitDays='{bad}' {message}"):
            sla_tasks.apply(services, sla_job({"action": "start", "limitDays": bad}, at, number))
    assert json.dumps(variables["sla"])
