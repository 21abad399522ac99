"""structlog set-up for the workers: JSON off a terminal, and never an ID number or phone number in clear.

Call :func:`configure_logging` once at start-up (the CLI does); get loggers with :func:`get_logger`.
Records from the standard library's ``logging`` (pyzeebe, grpc) go through the same processors, so they are
rendered and masked the same way. pyzeebe logs at WARNING and above only, and a pyzeebe ``Job`` in a record
is shown as its key and type, never its variables. ``SHUANGSHI_LOG_FORMAT`` (``auto``, ``json``,
``console``) picks the renderer through :func:`json_for_format`.

Masking (:func:`mask_personal_data`) runs after exceptions are formatted and before rendering. It walks the
whole event dict — the event message, nested dicts, lists, tuples and sets, and the ``repr`` of other
objects — and replaces every 18-character ID number (``370402********123X``) and mainland mobile number
(``138****5678``) embedded in text. The patterns require the number not to touch other digits (or, for ID
numbers, letters), so 13-digit item codes and 16-to-19-digit Zeebe keys are left alone.
"""

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from workers.domain.validators import mask_id_number, mask_phone

__all__ = [
    "LOG_FORMATS",
    "configure_logging",
    "get_logger",
    "json_for_format",
    "mask_personal_data",
    "mask_text",
    "reset_logging",
]

#: ``SHUANGSHI_LOG_FORMAT`` values: ``auto`` is JSON when the log stream (stderr) is not a terminal.
LOG_FORMATS: Final = ("auto", "json", "console")

_ID_NUMBER_RE: Final = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# An optional country prefix, then 1[3-9] and 9 more digits, optionally grouped 3-4-4 by a space or hyphen.
# Not inside a longer run of ASCII letters and digits: a key fingerprint or hash (hex) may contain 11
# digits in a row that look like a mobile number, and is not one.
_MOBILE_RE: Final = re.compile(
    r"(?<![0-9A-Za-z+])((?:\+|00)?86[ -]?)?(1[3-9][0-9])([ -]?)([0-9]{4})\3([0-9]{4})(?![0-9A-Za-z])"
)


def _mask_mobile_match(match: re.Match[str]) -> str:
    prefix, head, _, middle, tail = match.groups()
    return (prefix or "") + mask_phone(head + middle + tail)


def mask_text(text: str) -> str:
    """``text`` with every ID number and mobile number in it masked."""
    text = _ID_NUMBER_RE.sub(lambda match: mask_id_number(match.group()), text)
    return _MOBILE_RE.sub(_mask_mobile_match, text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # A phone number logged as an int; ID numbers cannot be (X), and keys are longer than 11 digits.
        text = str(value)
        masked = mask_text(text)
        return value if masked == text else masked
    if isinstance(value, Mapping):
        return {_mask(key): _mask(item) for key, item in value.items()}
    if type(value) in {list, tuple, set, frozenset}:  # exact types: a namedtuple is rendered by its repr
        return type(value)(_mask(item) for item in value)
    # Anything else is rendered through its repr; mask that only when it holds something to mask.
    text = repr(value)
    masked = mask_text(text)
    return value if masked == text else masked


def mask_personal_data(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask ID numbers and mobile numbers anywhere in the event dict."""
    return {_mask(key): _mask(value) for key, value in event_dict.items()}


def _add_record_logger_name(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """For records from the standard library: ``logger_name``, as :func:`get_logger` binds it."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        event_dict["logger_name"] = record.name
    return event_dict


def json_for_format(log_format: str) -> bool | None:
    """The ``json`` argument of :func:`configure_logging` for a ``SHUANGSHI_LOG_FORMAT`` value."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (one of {', '.join(LOG_FORMATS)})")
    return {"auto": None, "json": True, "console": False}[log_format]


class _JobRef:
    """Stands in for a pyzeebe ``Job`` in a log record: key, type and instance, never the variables."""

    def __init__(self, job: Any) -> None:
        self._text = (
            f"Job(key={getattr(job, 'key', None)}, type={getattr(job, 'type', None)}, "
            f"process_instance_key={getattr(job, 'process_instance_key', None)})"
        )

    def __repr__(self) -> str:
        return self._text

    __str__ = __repr__


def _is_pyzeebe_job(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "Job" and kind.__module__.startswith("pyzeebe.")


class _PyzeebeRecordFilter(logging.Filter):
    """pyzeebe logs whole jobs, variables included ("Got job: %s", "failed job %s"): a job among a record's
    arguments is rendered as its key, type and instance only. pyzeebe's warning that a job type has its
    maximum of jobs running is dropped: that is the limit working (``shuangshi_worker_jobs_in_flight``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "pyzeebe.worker.job_poller" and str(record.msg).startswith(
            "Maximum number of jobs running"
        ):
            return False
        if isinstance(record.args, tuple) and any(_is_pyzeebe_job(arg) for arg in record.args):
            record.args = tuple(_JobRef(arg) if _is_pyzeebe_job(arg) else arg for arg in record.args)
        elif isinstance(record.args, Mapping) and any(_is_pyzeebe_job(arg) for arg in record.args.values()):
            record.args = {k: _JobRef(v) if _is_pyzeebe_job(v) else v for k, v in record.args.items()}
        return True


class _Handler(logging.StreamHandler[TextIO]):
    """The root handler configure_logging installs (and replaces on the next call)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.addFilter(_PyzeebeRecordFilter())


def _remove_handlers() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
        handler.close()


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog and the standard library's root logger; calling it again replaces the setup.

    ``json=None`` renders JSON lines when stderr is not a terminal and coloured console output when it is.
    Output goes to stderr.
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")
    as_json = not sys.stderr.isatty() if json is None else json

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Exceptions are turned into data before masking, so their text is masked too. No local variables:
    # they would carry process variables.
    exceptions: Processor = (
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        if as_json
        else structlog.processors.format_exc_info
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )

    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            exceptions,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached, so that a later configure_logging (tests, CLI options) reaches existing loggers.
        cache_logger_on_first_use=False,
    )

    _remove_handlers()
    handler = _Handler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _add_record_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.StackInfoRenderer(),
                exceptions,
                mask_personal_data,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # pyzeebe's DEBUG and INFO records are job dumps and poll chatter; its warnings and errors are kept.
    logging.getLogger("pyzeebe").setLevel(max(numeric_level, logging.WARNING))


def reset_logging() -> None:
    """Undo :func:`configure_logging`: structlog defaults, and our root handler removed (for tests)."""
    structlog.reset_defaults()
    _remove_handlers()
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("pyzeebe").setLevel(logging.NOTSET)


def get_logger(name: str) -> FilteringBoundLogger:
    """A logger whose events carry ``logger_name=name``; event names follow ``domain.event``."""
    logger: FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger
