"""Logging set-up: JSON output, and ID numbers and phone numbers never in clear."""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import structlog

from workers.domain.validators import id_number_check_digit
from workers.logging import configure_logging, get_logger, mask_personal_data, mask_text, reset_logging

_BODY = "37040619850312001"  # made-up: 山亭区, 1985-03-12, sequence 001
ID_NUMBER = _BODY + id_number_check_digit(_BODY)
ID_MASKED = ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
PHONE = "13800001234"
PHONE_MASKED = "138****1234"
ITEM_CODE = "3700002036027"
JOB_KEY = "2251799813685249"


@dataclass
class Record:
    """Any object without special treatment: it reaches the output through its repr."""

    mobile: str


def _raise_with_id_number() -> None:
    raise ValueError(f"bad id {ID_NUMBER}")


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    """Every test starts and ends with structlog's defaults and no handler of ours on the root logger."""
    reset_logging()
    yield
    reset_logging()


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects, one per line, in captured output."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_message_nested_dict_and_list_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """ID and phone numbers in the message, a nested dict, a list and a tuple are masked in JSON output."""
    configure_logging(json=True)
    get_logger("test").info(
        f"case.registered for {ID_NUMBER}, phone {PHONE}",
        applicant={"contact": {"mobile": PHONE, "ids": [ID_NUMBER]}},
        history=[f"called {PHONE}", (ID_NUMBER.lower(),)],
    )
    out = capsys.readouterr().err
    assert ID_NUMBER not in out
    assert ID_NUMBER.lower() not in out
    assert PHONE not in out
    (line,) = json_lines(out)
    assert line["event"] == f"case.registered for {ID_MASKED}, phone {PHONE_MASKED}"
    assert line["applicant"] == {"contact": {"mobile": PHONE_MASKED, "ids": [ID_MASKED]}}
    assert line["history"] == [f"called {PHONE_MASKED}", [ID_MASKED.lower()]]
    assert line["level"] == "info"
    assert line["logger_name"] == "test"


def test_item_codes_and_job_keys_are_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    """13-digit item codes and 16- or 19-digit Zeebe keys are not mistaken for phone or ID numbers."""
    configure_logging(json=True)
    long_key = "9223372036854775807"
    get_logger("test").info(
        f"job.activated {JOB_KEY} for item {ITEM_CODE}",
        job_key=int(JOB_KEY),
        process_instance_key=long_key,
        item_code=ITEM_CODE,
    )
    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == f"job.activated {JOB_KEY} for item {ITEM_CODE}"
    assert line["job_key"] == int(JOB_KEY)
    assert line["process_instance_key"] == long_key
    assert line["item_code"] == ITEM_CODE


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"+86 {PHONE}", f"+86 {PHONE_MASKED}"),
        ("+8613800001234", f"+86{PHONE_MASKED}"),
        ("138 0000 1234", PHONE_MASKED),
        ("138-0000-1234.", f"{PHONE_MASKED}."),
        (f"tel:{PHONE};", f"tel:{PHONE_MASKED};"),
        (f"idNumber={ID_NUMBER}", f"idNumber={ID_MASKED}"),
        (f"{ID_NUMBER}9", f"{ID_NUMBER}9"),  # 19 digits: not an ID number
        (f"A{ID_NUMBER}", f"A{ID_NUMBER}"),  # part of a longer code
        (f"{PHONE}5", f"{PHONE}5"),  # 12 digits: not a phone
        ("12800001234", "12800001234"),  # no mobile prefix
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    """Numbers are masked where they stand alone and left alone inside longer digit runs or codes."""
    assert mask_text(text) == masked


def test_processor_masks_ints_keys_and_reprs() -> None:
    """A phone logged as an int, a dict key and an object's repr are masked; other values are untouched."""
    masked = mask_personal_data(
        None,
        "info",
        {
            "event": "x",
            "mobile": int(PHONE),
            "by_id": {ID_NUMBER: 1},
            "obj": Record(PHONE),
            "when": date(2021, 6, 28),
            "ok": True,
            "ratio": 0.5,
            "none": None,
            "tags": {PHONE},
        },
    )
    assert masked["mobile"] == PHONE_MASKED
    assert masked["by_id"] == {ID_MASKED: 1}
    assert masked["obj"] == f"Record(mobile='{PHONE_MASKED}')"
    assert masked["when"] == date(2021, 6, 28)
    assert (masked["ok"], masked["ratio"], masked["none"]) == (True, 0.5, None)
    assert masked["tags"] == {PHONE_MASKED}


def test_standard_library_records_are_rendered_and_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """Records from stdlib loggers (pyzeebe, grpc) go through the same JSON rendering and masking."""
    configure_logging(json=True)
    logging.getLogger("pyzeebe.worker").warning("job failed for %s", PHONE)
    (line,) = json_lines(capsys.readouterr().err)
    assert line["event"] == f"job failed for {PHONE_MASKED}"
    assert line["logger_name"] == "pyzeebe.worker"
    assert line["level"] == "warning"


def test_exception_text_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """An exception message holding an ID number is masked in the rendered traceback."""
    configure_logging(json=True)
    log = get_logger("test")
    try:
        _raise_with_id_number()
    except ValueError:
        log.exception("case.failed")
    out = capsys.readouterr().err
    assert ID_NUMBER not in out
    (line,) = json_lines(out)
    assert line["exception"][0]["exc_value"] == f"bad id {ID_MASKED}"


def test_configuring_twice_does_not_duplicate_output(capsys: pytest.CaptureFixture[str]) -> None:
    """configure_logging is idempotent: a second call leaves one handler and one line per event."""
    configure_logging(json=True)
    configure_logging(json=True)
    get_logger("test").info("one")
    logging.getLogger("other").warning("two")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["one", "two"]


def test_json_is_the_default_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """With json=None, output is JSON because captured stderr is not a terminal."""
    configure_logging()
    get_logger("test").info("case.registered", phone=PHONE)
    assert json_lines(capsys.readouterr().err)[0]["phone"] == PHONE_MASKED


def test_console_renderer_is_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    """The console renderer gets masked values as well."""
    configure_logging(json=False)
    get_logger("test").info(f"call {PHONE}", id_number=ID_NUMBER)
    out = capsys.readouterr().err
    assert PHONE not in out
    assert ID_NUMBER not in out
    assert PHONE_MASKED in out
    assert ID_MASKED in out


def test_level_filters_events(capsys: pytest.CaptureFixture[str]) -> None:
    """Events below the configured level are dropped, for structlog and stdlib loggers alike."""
    configure_logging("WARNING", json=True)
    get_logger("test").info("hidden")
    logging.getLogger("other").info("hidden too")
    get_logger("test").warning("shown")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]


def test_context_variables_are_merged(capsys: pytest.CaptureFixture[str]) -> None:
    """Values bound with structlog.contextvars (job key, case number) appear on every event, masked."""
    configure_logging(json=True)
    with structlog.contextvars.bound_contextvars(job_key=int(JOB_KEY), applicant_phone=PHONE):
        get_logger("test").info("job.started")
    (line,) = json_lines(capsys.readouterr().err)
    assert line["job_key"] == int(JOB_KEY)
    assert line["applicant_phone"] == PHONE_MASKED


def test_unknown_level_is_rejected() -> None:
    """A level name logging does not know is an error."""
    with pytest.raises(ValueError, match="LOUD"):
        configure_logging("LOUD")


def test_reset_removes_our_handler() -> None:
    """reset_logging leaves no handler of ours on the root logger."""
    configure_logging(json=True)
    ours = [h for h in logging.getLogger().handlers if type(h).__module__ == "workers.logging"]
    assert len(ours) == 1
    reset_logging()
    assert not [h for h in logging.getLogger().handlers if type(h).__module__ == "workers.logging"]


def test_hex_fingerprints_are_not_taken_for_mobile_numbers() -> None:
    """A SHA-256 hex digest with 11 phone-like digits inside stays intact; a phone after letters-free text is masked."""
    from workers.logging import mask_text  # noqa: PLC0415 - the function under test

    fingerprint = "0ed66d8b821100aecc43fde44d68eca788fa14c94ee9edbc18980055247db32a"
    assert mask_text(fingerprint) == fingerprint
    assert mask_text("联系电话13800001234。") == "联系电话138****1234。"
