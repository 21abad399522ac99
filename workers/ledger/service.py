"""The work ledger (工作台账): an append-only, hash-chained log of case events and a per-case projection.

Everything here is synchronous and thread-safe; workers call it through ``asyncio.to_thread``. One
:class:`Ledger` owns one SQLAlchemy engine: SQLite (a file, WAL, busy timeout) by default, PostgreSQL by URL.

**Hash chain.** Row ``n`` stores ``prev_hash`` (row ``n-1``'s ``hash``; 64 zeros for row 1) and ``hash`` =
SHA-256 of the sorted-keys, compact, UTF-8 JSON document ``{"v": 1, "prev": prev_hash, "row": content}``
where ``content`` holds every other column (:func:`chain_hash`, :func:`row_content`). Appends are serialized
by locking the one-row ``ledger_head`` (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite), which is updated in the same transaction; the row id is ``last_id + 1``, so ids are gapless.
:meth:`Ledger.verify` recomputes every hash (an edited row), follows every link (a deleted or inserted row)
and compares the table with the head (rows deleted at the end).

**Idempotency.** Zeebe delivers a job at least once. ``record_event`` and ``next_case_number`` take the job
key: a second call with the same key writes nothing and returns what the first call produced; a race
between two deliveries ends in a unique violation, after which the winner's result is read back. An event
recorded with ``once_per_case=True`` (the applicant's one rating, ``rated``) is written only while its case
has no event of that name; the check runs under the head lock.

**Personal data rule** (:func:`sanitize_payload`). Payloads carry process facts, never applicant data.

* A *key* naming personal data is **stripped** (with everything under it), at any depth. Keys are compared
  after lower-casing and dropping everything but letters and digits (``id_number`` → ``idnumber``): a key
  is personal when it is one of :data:`PERSONAL_KEYS` (``name``, ``applicant``, ``idNumber``, ``mobile``,
  ``email``, ``address``, ``legalRepresentative``, …) or ends with one of :data:`PERSONAL_KEY_SUFFIXES`
  (``applicantIdNumber``, ``contactMobile``, ``agentName``, …). The stripped paths are returned and logged
  (paths only).
* A *value* anywhere in the payload (or the actor) that contains an 18-digit ID number, a mainland mobile
  number or an email address is **refused** with :class:`PersonalDataError`: under an innocent key it
  means something unexpected was mapped into the event, and the job should fail visibly. The error names
  the path, never the value.

**Projection rules** (table ``cases``, updated in the same transaction as the event):

* The first event of a case creates its row from the event's fields: status ``in-progress``,
  ``accepted_at`` = the event's ``occurred_at``. ``registered`` always sets ``accepted_at`` to its own
  time (so an event recorded before ``registered`` only provides a provisional value).
* ``sla.scheduled``: payload ``dueAt`` (ISO 8601 with offset, required) sets ``due_at``; on a closed case
  ``on_time`` is recomputed.
* ``decided``: payload ``outcome`` is required: ``approved`` → status ``completed``, ``rejected`` → status
  ``rejected``; ``outcome`` is stored.
* ``not-accepted`` (不予受理): status and outcome ``not-accepted``.
* ``withdrawn``: status ``withdrawn``, no outcome.
* A closing event (the three above) sets ``closed_at`` = its ``occurred_at`` and ``on_time`` =
  ``closed_at <= due_at`` (``None`` while no due time is known). On a case that is already closed it is
  recorded in the ledger but changes nothing (the first close wins; a warning is logged).
* ``materials-requested`` (一次性告知补正): ``supplement_requests`` counts one more.
* Every other event (``validated``, ``reviewed``, ``seal-verified``, ``alert-red``, ``closed``, names a
  future process introduces, …) is recorded and leaves the projection as it is.
  ``closed`` marks the end of the process instance; the case was closed by one of the events above.

The 调度通报 (reports) are computed from the ``cases`` projection by :mod:`workers.report`, on one
:meth:`Ledger.snapshot`.
"""

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final, Self

from pydantic import AwareDatetime, JsonValue, TypeAdapter, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from workers.ledger.database import READ_ONLY_OPTION, create_ledger_engine
from workers.ledger.migrations import upgrade
from workers.ledger.models import (
    GENESIS_HASH,
    CaseEvent,
    CaseEventRow,
    CaseNumberAssignment,
    CaseNumberCounter,
    CaseRow,
    CaseStatus,
    CaseView,
    LedgerHead,
    Outcome,
    RecordedEvent,
    VerificationReport,
)
from workers.logging import get_logger, mask_text

__all__ = [
    "CHINA_TZ",
    "PERSONAL_KEYS",
    "PERSONAL_KEY_SUFFIXES",
    "DuplicateEventError",
    "InvalidEventError",
    "Ledger",
    "PersonalDataError",
    "chain_hash",
    "china_date",
    "format_case_number",
    "is_personal_key",
    "row_content",
    "sanitize_payload",
]

_log = get_logger(__name__)

#: Calendar days (case numbers, report periods) are days in China Standard Time, which has no DST.
CHINA_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
_HASH_SCHEME_VERSION: Final = 1
_CASE_PREFIX_RE: Final = re.compile(r"^[A-Z]{2,4}$")

# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class InvalidEventError(ValueError):
    """The event cannot be recorded as given (e.g. ``decided`` without an outcome); nothing was written."""


class PersonalDataError(InvalidEventError):
    """A payload value or the actor contains personal data (ID number, mobile number, email address)."""


class DuplicateEventError(InvalidEventError):
    """``record_event(once_per_case=True)`` for an event the case already has; nothing was written."""


# --------------------------------------------------------------------------------------------------
# Personal data in payloads
# --------------------------------------------------------------------------------------------------

#: Normalized payload keys (lower case, letters and digits only) that name personal data.
PERSONAL_KEYS: Final = frozenset(
    {
        "applicant",
        "applicants",
        "name",
        "fullname",
        "realname",
        "personname",
        "legalrepresentative",
        "legalperson",
        "idnumber",
        "idno",
        "idcard",
        "idcardnumber",
        "identitynumber",
        "identitycard",
        "sfzh",
        "mobile",
        "mobilephone",
        "phone",
        "phonenumber",
        "telephone",
        "tel",
        "email",
        "emailaddress",
        "address",
        "birthdate",
        "dateofbirth",
        "birthday",
    }
)
#: Normalized key endings that name personal data (``applicantIdNumber``, ``contactMobile``, ``agentName``).
PERSONAL_KEY_SUFFIXES: Final = (
    "idnumber",
    "idcard",
    "idcardnumber",
    "mobile",
    "phone",
    "phonenumber",
    "telephone",
    "email",
    "address",
    "birthdate",
    "applicantname",
    "contactname",
    "agentname",
    "personname",
    "realname",
    "fullname",
    "legalrepresentative",
)
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def _normalize_key(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.lower())


def is_personal_key(key: str) -> bool:
    """Whether a payload key names personal data (see the module docstring for the rule)."""
    normalized = _normalize_key(key)
    return normalized in PERSONAL_KEYS or normalized.endswith(PERSONAL_KEY_SUFFIXES)


def _check_text(text: str, where: str) -> None:
    if mask_text(text) != text:
        raise PersonalDataError(f"{where} contains an ID number or a mobile number; it may not be recorded")
    if _EMAIL_RE.search(text):
        raise PersonalDataError(f"{where} contains an email address; it may not be recorded")


def _sanitize_dict(value: Mapping[str, JsonValue], path: str, stripped: list[str]) -> dict[str, JsonValue]:
    clean: dict[str, JsonValue] = {}
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if is_personal_key(key):
            stripped.append(child)
            continue
        _check_text(key, f"payload key {child!r}")
        clean[key] = _sanitize(item, child, stripped)
    return clean


def _sanitize(value: JsonValue, path: str, stripped: list[str]) -> JsonValue:
    if isinstance(value, dict):
        return _sanitize_dict(value, path, stripped)
    if isinstance(value, list):
        return [_sanitize(item, f"{path}[{index}]", stripped) for index, item in enumerate(value)]
    if isinstance(value, str):
        _check_text(value, f"payload value at {path!r}")
    elif isinstance(value, int) and not isinstance(value, bool):
        _check_text(str(value), f"payload value at {path!r}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidEventError(f"payload value at {path!r} is not a finite number")
    return value


def sanitize_payload(payload: Mapping[str, JsonValue]) -> tuple[dict[str, JsonValue], tuple[str, ...]]:
    """The payload without personal-data keys, and the paths stripped; :class:`PersonalDataError` on values.

    Paths are dotted keys with list indexes: ``applicant``, ``fields.contactMobile``, ``parties[0].name``.
    """
    stripped: list[str] = []
    clean = _sanitize_dict(payload, "", stripped)
    return clean, tuple(stripped)


# --------------------------------------------------------------------------------------------------
# Hash chain
# --------------------------------------------------------------------------------------------------


def _canonical_time(value: datetime) -> str:
    """An instant as UTC with microseconds, the form both databases round-trip exactly."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_content(row: CaseEventRow) -> dict[str, Any]:
    """The hashed content of a ledger row: every column except ``prev_hash`` and ``hash``."""
    return {
        "id": row.id,
        "caseNumber": row.case_number,
        "itemCode": row.item_code,
        "townCode": row.town_code,
        "departmentCode": row.department_code,
        "mode": row.mode,
        "counter": row.counter,
        "event": row.event,
        "actor": row.actor,
        "occurredAt": _canonical_time(row.occurred_at),
        "payload": row.payload,
        "jobKey": row.job_key,
    }


def chain_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of ``{"v": 1, "prev": prev_hash, "row": content}`` as sorted-keys compact UTF-8 JSON."""
    document = {"v": _HASH_SCHEME_VERSION, "prev": prev_hash, "row": content}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------------------------------

_AWARE_DATETIME: Final = TypeAdapter(AwareDatetime)
_OUTCOME_STATUS: Final[Mapping[str, tuple[CaseStatus, Outcome]]] = {
    "approved": ("completed", "approved"),
    "rejected": ("rejected", "rejected"),
}


@dataclass(frozen=True, slots=True)
class _Effect:
    """What an event does to its case's projection, worked out before anything is written."""

    registered: bool = False
    due_at: datetime | None = None
    supplement_requested: bool = False
    close: tuple[CaseStatus, Outcome | None] | None = None


def _effect(name: str, payload: Mapping[str, JsonValue]) -> _Effect:
    if name == "registered":
        return _Effect(registered=True)
    if name == "sla.scheduled":
        raw = payload.get("dueAt")
        try:
            due_at = _AWARE_DATETIME.validate_python(raw)
        except ValidationError:
            raise InvalidEventError(
                "sla.scheduled needs payload dueAt, an ISO 8601 date-time with a UTC offset"
            ) from None
        return _Effect(due_at=due_at.astimezone(UTC))
    if name == "decided":
        outcome = payload.get("outcome")
        if not isinstance(outcome, str) or outcome not in _OUTCOME_STATUS:
            raise InvalidEventError("decided needs payload outcome 'approved' or 'rejected'")
        return _Effect(close=_OUTCOME_STATUS[outcome])
    if name == "not-accepted":
        return _Effect(close=("not-accepted", "not-accepted"))
    if name == "materials-requested":
        return _Effect(supplement_requested=True)
    if name == "withdrawn":
        return _Effect(close=("withdrawn", None))
    return _Effect()


def _on_time(closed_at: datetime | None, due_at: datetime | None) -> bool | None:
    if closed_at is None or due_at is None:
        return None
    return closed_at <= due_at


def _project(session: Session, row: CaseEventRow, effect: _Effect) -> None:
    projection = session.get(CaseRow, row.case_number)
    if projection is None:
        projection = CaseRow(
            case_number=row.case_number,
            item_code=row.item_code,
            town_code=row.town_code,
            department_code=row.department_code,
            mode=row.mode,
            counter=row.counter,
            status="in-progress",
            accepted_at=row.occurred_at,
            supplement_requests=0,
        )
        session.add(projection)
    if effect.registered:
        projection.accepted_at = row.occurred_at
    if effect.supplement_requested:
        projection.supplement_requests += 1
    if effect.due_at is not None:
        projection.due_at = effect.due_at
        projection.on_time = _on_time(projection.closed_at, projection.due_at)
    if effect.close is not None:
        if projection.status != "in-progress":
            _log.warning(
                "ledger.case_already_closed",
                case_number=row.case_number,
                ledger_event=row.event,
                status=projection.status,
            )
            return
        projection.status, projection.outcome = effect.close
        projection.closed_at = row.occurred_at
        projection.on_time = _on_time(projection.closed_at, projection.due_at)


# --------------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------------


def recorded_event(
    row: CaseEventRow, *, duplicate: bool = False, stripped_keys: tuple[str, ...] = ()
) -> RecordedEvent:
    """The pydantic view of a stored event row."""
    return RecordedEvent.model_validate(
        {
            "id": row.id,
            "case_number": row.case_number,
            "item_code": row.item_code,
            "town_code": row.town_code,
            "department_code": row.department_code,
            "mode": row.mode,
            "counter": row.counter,
            "event": row.event,
            "actor": row.actor,
            "occurred_at": row.occurred_at,
            "payload": row.payload,
            "job_key": row.job_key,
            "prev_hash": row.prev_hash,
            "hash": row.hash,
            "duplicate": duplicate,
            "stripped_keys": stripped_keys,
        }
    )


def _check_redelivery(existing: RecordedEvent, event: CaseEvent) -> RecordedEvent:
    """The recorded event for a redelivered job; a warning if the job key was recorded for another event."""
    if (existing.case_number, existing.event) != (event.case_number, event.event):
        _log.warning(
            "ledger.job_key_reused",
            ledger_id=existing.id,
            recorded_case_number=existing.case_number,
            recorded_event=existing.event,
            case_number=event.case_number,
            ledger_event=event.event,
        )
    return existing


def format_case_number(prefix: str, day: date, sequence: int) -> str:
    """``XJ-20261126-0001``: prefix, day, and the day's sequence number (at least four digits)."""
    return f"{prefix}-{day:%Y%m%d}-{sequence:04d}"


def china_date(instant: datetime) -> date:
    """The calendar day in China of an aware instant (for case numbers and report periods)."""
    return instant.astimezone(CHINA_TZ).date()


# --------------------------------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------------------------------


class Ledger:
    """The work ledger on one database. Thread-safe; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = create_ledger_engine(url)
        self._dialect = self._engine.dialect.name
        if self._dialect == "postgresql":
            # One snapshot for the head and the rows it describes (verify, snapshot for reports).
            self._read_engine = self._engine.execution_options(isolation_level="REPEATABLE READ")
        else:
            self._read_engine = self._engine.execution_options(**{READ_ONLY_OPTION: True})

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and maintenance)."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to call on every start, also concurrently)."""
        upgrade(self._engine)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session on one consistent snapshot of the tables, for queries made elsewhere (reports,
        supervision).

        For reading only: every write goes through :meth:`record_event`, which keeps the chain.
        """
        with self._read() as session:
            yield session

    # -- events -------------------------------------------------------------------------------------

    def _by_job_key(self, job_key: int) -> RecordedEvent | None:
        with self._read() as session:
            row = session.scalars(select(CaseEventRow).where(CaseEventRow.job_key == job_key)).one_or_none()
            return None if row is None else recorded_event(row, duplicate=True)

    def record_event(
        self, event: CaseEvent, job_key: int | None = None, *, once_per_case: bool = False
    ) -> RecordedEvent:
        """Append ``event`` to the chain and update its case; idempotent on ``job_key``.

        With ``once_per_case`` the event is written only if the case has no event of that name yet (checked
        under the head lock, so two concurrent calls cannot both write it); otherwise
        :class:`DuplicateEventError`. Raises :class:`PersonalDataError` or :class:`InvalidEventError` before
        writing anything.
        """
        payload, stripped = sanitize_payload(event.payload)
        _check_text(event.actor, "the actor")
        effect = _effect(event.event, payload)
        if stripped:
            _log.warning(
                "ledger.payload_stripped",
                case_number=event.case_number,
                ledger_event=event.event,
                keys=stripped,
            )
        if job_key is not None and (existing := self._by_job_key(job_key)) is not None:
            return _check_redelivery(existing, event)
        try:
            with self._write() as session:
                head = session.scalars(
                    select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
                ).one_or_none()
                if head is None:
                    raise RuntimeError("the ledger has no head row: run Ledger.migrate() first")
                if job_key is not None:
                    # Checked again under the lock: a concurrent delivery may have committed meanwhile.
                    row = session.scalars(
                        select(CaseEventRow).where(CaseEventRow.job_key == job_key)
                    ).one_or_none()
                    if row is not None:
                        return _check_redelivery(recorded_event(row, duplicate=True), event)
                if once_per_case:
                    earlier = session.scalar(
                        select(CaseEventRow.id)
                        .where(
                            CaseEventRow.case_number == event.case_number, CaseEventRow.event == event.event
                        )
                        .limit(1)
                    )
                    if earlier is not None:
                        raise DuplicateEventError(
                            f"case {event.case_number} already has a '{event.event}' event "
                            f"(ledger row {earlier})"
                        )
                row = CaseEventRow(
                    id=head.last_id + 1,
                    case_number=event.case_number,
                    item_code=event.item_code,
                    town_code=event.town_code,
                    department_code=event.department_code,
                    mode=event.mode,
                    counter=event.counter,
                    event=event.event,
                    actor=event.actor,
                    occurred_at=event.occurred_at.astimezone(UTC),
                    payload=payload,
                    job_key=job_key,
                    prev_hash=head.last_hash,
                )
                row.hash = chain_hash(row_content(row), row.prev_hash)
                session.add(row)
                head.last_id, head.last_hash, head.count = row.id, row.hash, head.count + 1
                _project(session, row, effect)
                session.flush()
                recorded = recorded_event(row, stripped_keys=stripped)
        except IntegrityError:
            if job_key is None:
                raise
            existing = self._by_job_key(job_key)
            if existing is None:
                raise
            return _check_redelivery(existing, event)
        _log.info(
            "ledger.event_recorded",
            case_number=recorded.case_number,
            ledger_event=recorded.event,
            ledger_id=recorded.id,
        )
        return recorded

    # -- case numbers -------------------------------------------------------------------------------

    def _assigned_number(self, job_key: int) -> str | None:
        with self._read() as session:
            return session.scalar(
                select(CaseNumberAssignment.case_number).where(CaseNumberAssignment.job_key == job_key)
            )

    def _counter_upsert(self, prefix: str, day: date) -> ReturningInsert[int]:
        """``INSERT … ON CONFLICT (prefix, day) DO UPDATE SET last_value = last_value + 1 RETURNING``."""
        values = {"prefix": prefix, "day": day, "last_value": 1}
        increment = {"last_value": CaseNumberCounter.last_value + 1}
        keys = [CaseNumberCounter.prefix, CaseNumberCounter.day]
        if self._dialect == "postgresql":
            pg_insert = postgresql.insert(CaseNumberCounter).values(values)
            return pg_insert.on_conflict_do_update(index_elements=keys, set_=increment).returning(
                CaseNumberCounter.last_value
            )
        lite_insert = sqlite.insert(CaseNumberCounter).values(values)
        return lite_insert.on_conflict_do_update(index_elements=keys, set_=increment).returning(
            CaseNumberCounter.last_value
        )

    def next_case_number(self, prefix: str, day: date, job_key: int | None = None) -> str:
        """The next 办件编号 for ``prefix`` on ``day`` (``XJ-20261126-0001``); idempotent on ``job_key``.

        Numbers are unique and gapless per prefix and day under any concurrency: the counter row is
        incremented by one atomic upsert (row-locked on PostgreSQL, under ``BEGIN IMMEDIATE`` on SQLite).
        """
        if not _CASE_PREFIX_RE.fullmatch(prefix):
            raise ValueError(f"case number prefix {prefix!r} must be 2 to 4 capital letters")
        if job_key is not None and (existing := self._assigned_number(job_key)) is not None:
            return existing
        try:
            with self._write() as session:
                if job_key is not None:
                    existing = session.scalar(
                        select(CaseNumberAssignment.case_number).where(
                            CaseNumberAssignment.job_key == job_key
                        )
                    )
                    if existing is not None:
                        return existing
                sequence = session.execute(self._counter_upsert(prefix, day)).scalar_one()
                number = format_case_number(prefix, day, sequence)
                if job_key is not None:
                    session.add(CaseNumberAssignment(job_key=job_key, case_number=number))
                    session.flush()
        except IntegrityError:
            if job_key is None:
                raise
            existing = self._assigned_number(job_key)
            if existing is None:
                raise
            return existing
        _log.info("ledger.case_number_assigned", case_number=number)
        return number

    # -- verification -------------------------------------------------------------------------------

    def verify(self) -> VerificationReport:
        """Recompute the chain: every problem names the row id and what is wrong."""
        problems: list[str] = []
        checked = 0
        prev_id, prev_hash = 0, GENESIS_HASH
        with self._read() as session:
            head = session.get(LedgerHead, 1)
            rows = session.scalars(
                select(CaseEventRow).order_by(CaseEventRow.id).execution_options(yield_per=1000)
            )
            for row in rows:
                checked += 1
                if chain_hash(row_content(row), row.prev_hash) != row.hash:
                    problems.append(
                        f"row {row.id}: hash mismatch — the row's content was changed after it was written"
                    )
                missing = f"; rows {prev_id + 1}..{row.id - 1} are missing" if row.id > prev_id + 1 else ""
                if row.prev_hash != prev_hash:
                    previous = f"row {prev_id}" if prev_id else "the chain's start (genesis)"
                    problems.append(
                        f"row {row.id}: broken link — prev_hash does not match the hash of {previous} "
                        f"(a row was deleted or inserted before it{missing})"
                    )
                elif row.id != prev_id + 1:
                    problems.append(f"row {row.id}: id does not follow row {prev_id}{missing}")
                prev_id, prev_hash = row.id, row.hash
        if head is None:
            problems.append("ledger_head: the head row is missing")
            head_hash = ""
        else:
            head_hash = head.last_hash
            if (head.count, head.last_id, head.last_hash) != (checked, prev_id, prev_hash):
                problems.append(
                    f"head mismatch: ledger_head records {head.count} rows ending at row {head.last_id}, "
                    f"the table holds {checked} rows ending at row {prev_id} "
                    "(rows were deleted at the end of the chain, or the head was changed)"
                )
        return VerificationReport(ok=not problems, checked=checked, problems=problems, head_hash=head_hash)

    # -- queries ------------------------------------------------------------------------------------

    def case(self, case_number: str) -> CaseView | None:
        """A case's projection with its events in ledger order, or ``None`` for an unknown number."""
        with self._read() as session:
            projection = session.get(CaseRow, case_number)
            if projection is None:
                return None
            rows = session.scalars(
                select(CaseEventRow).where(CaseEventRow.case_number == case_number).order_by(CaseEventRow.id)
            ).all()
            return CaseView.model_validate(
                {
                    "case_number": projection.case_number,
                    "item_code": projection.item_code,
                    "town_code": projection.town_code,
                    "department_code": projection.department_code,
                    "mode": projection.mode,
                    "counter": projection.counter,
                    "status": projection.status,
                    "accepted_at": projection.accepted_at,
                    "due_at": projection.due_at,
                    "closed_at": projection.closed_at,
                    "outcome": projection.outcome,
                    "on_time": projection.on_time,
                    "events": tuple(recorded_event(row) for row in rows),
                }
            )
