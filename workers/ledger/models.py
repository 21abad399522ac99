"""Tables of the work ledger (工作台账) and the pydantic models the service takes and returns.

Tables (SQLAlchemy 2 typed ORM; the schema itself is created by ``migrations/``):

``case_events``
    The append-only event log. ``id`` is the row's position in the hash chain: the service assigns it
    under the head lock as ``ledger_head.last_id + 1``, so ids are gapless and a missing id is evidence.
``ledger_head``
    One row (``id = 1``): the last id, the last hash and the row count. Every append locks and updates it in
    the same transaction, which serializes writers; ``verify`` compares it with the table to notice rows
    deleted at the end of the chain.
``cases``
    The per-case projection, updated in the same transaction as each event (rules in ``service``).
``case_number_counters`` / ``case_number_assignments``
    The last 办件编号 sequence value per prefix and day, and the number given to each job key.

Pydantic models use snake_case attributes with camelCase aliases, like the process variables.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from pydantic.alias_generators import to_camel
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "CASE_STATUSES",
    "GENESIS_HASH",
    "OUTCOMES",
    "Base",
    "CaseEvent",
    "CaseEventRow",
    "CaseNumberAssignment",
    "CaseNumberCounter",
    "CaseRow",
    "CaseStatus",
    "CaseView",
    "Counter",
    "LedgerHead",
    "Outcome",
    "RecordedEvent",
    "UTCDateTime",
    "VerificationReport",
]

#: ``prev_hash`` of the first row of the chain.
GENESIS_HASH: Final = "0" * 64

Counter = Literal["town", "district"]
CaseStatus = Literal["in-progress", "completed", "rejected", "not-accepted", "withdrawn"]
Outcome = Literal["approved", "rejected", "not-accepted"]
CASE_STATUSES: Final[tuple[CaseStatus, ...]] = (
    "in-progress",
    "completed",
    "rejected",
    "not-accepted",
    "withdrawn",
)
OUTCOMES: Final[tuple[Outcome, ...]] = ("approved", "rejected", "not-accepted")

# Lengths shared by the ORM columns and the pydantic constraints.
CASE_NUMBER_LENGTH: Final = 40
CODE_LENGTH: Final = 64
ACTOR_LENGTH: Final = 128
HASH_LENGTH: Final = 64
PREFIX_LENGTH: Final = 8


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    Binding a naive datetime is an error. PostgreSQL stores ``timestamptz``; SQLite, which has no time zones,
    stores the UTC wall time, and reading attaches UTC again.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where a UTC instant is stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 — TypeDecorator's signature; reading is the same everywhere
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the ledger tables, with constraint names alembic can rely on."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class CaseEventRow(Base):
    """One ledger event; never updated or deleted by the service."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint("counter IN ('town', 'district')", name="counter"),
        Index(None, "case_number", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_number: Mapped[str] = mapped_column(String(CASE_NUMBER_LENGTH))
    item_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    town_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    department_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    mode: Mapped[str] = mapped_column(String(CODE_LENGTH))
    counter: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(CODE_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    job_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))


class LedgerHead(Base):
    """The single head row of the chain; locked by every append."""

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    count: Mapped[int] = mapped_column(BigInteger)


class CaseRow(Base):
    """The current picture of one case (办件), derived from its events."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("counter IN ('town', 'district')", name="counter"),
        CheckConstraint(
            "status IN ('in-progress', 'completed', 'rejected', 'not-accepted', 'withdrawn')", name="status"
        ),
        CheckConstraint("outcome IN ('approved', 'rejected', 'not-accepted')", name="outcome"),
        Index(None, "town_code", "item_code"),
        Index(None, "status", "due_at"),
        # The period filters of the 调度通报 (workers.report).
        Index(None, "accepted_at"),
        Index(None, "closed_at"),
    )

    case_number: Mapped[str] = mapped_column(String(CASE_NUMBER_LENGTH), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    town_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    department_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    mode: Mapped[str] = mapped_column(String(CODE_LENGTH))
    counter: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    on_time: Mapped[bool | None] = mapped_column(Boolean(create_constraint=False))
    #: How many ``materials-requested`` events (一次性告知补正) the case has had.
    supplement_requests: Mapped[int] = mapped_column(Integer, server_default="0")


class CaseNumberCounter(Base):
    """The last sequence value handed out for a case-number prefix on a day."""

    __tablename__ = "case_number_counters"

    prefix: Mapped[str] = mapped_column(String(PREFIX_LENGTH), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class CaseNumberAssignment(Base):
    """The case number given to a job, so that a redelivered job gets the same one."""

    __tablename__ = "case_number_assignments"

    job_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_number: Mapped[str] = mapped_column(String(CASE_NUMBER_LENGTH), unique=True)


# --------------------------------------------------------------------------------------------------
# Pydantic models
# --------------------------------------------------------------------------------------------------

_CODE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Code = Annotated[str, StringConstraints(pattern=_CODE_PATTERN, max_length=CODE_LENGTH)]
CaseNumber = Annotated[str, StringConstraints(pattern=_CODE_PATTERN, max_length=CASE_NUMBER_LENGTH)]
#: Event names are lower-case words joined by ``-`` or ``.``: ``registered``, ``sla.scheduled``.
EventName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9]*([.-][a-z0-9]+)*$", max_length=CODE_LENGTH)
]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=ACTOR_LENGTH)]
Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class CaseEvent(_Model):
    """An event to append to the ledger. ``payload`` holds process facts, never personal data."""

    case_number: CaseNumber
    #: 事项编码, 13 digits.
    item_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{13}$")]
    town_code: Code
    department_code: Code
    mode: Code
    #: Where the case was accepted (区、镇有同等的受理权).
    counter: Counter
    event: EventName
    #: The clerk's user name or the worker's name.
    actor: Actor
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    payload: dict[str, JsonValue] = Field(default_factory=dict)


class RecordedEvent(CaseEvent):
    """An event as stored: its chain position and hashes.

    ``duplicate`` and ``stripped_keys`` describe the ``record_event`` call that returned it: the job key had
    been recorded before (nothing was written), and which personal-data payload keys were removed.
    """

    id: int
    job_key: int | None
    prev_hash: Hash
    hash: Hash
    duplicate: bool = False
    stripped_keys: tuple[str, ...] = ()


class CaseView(_Model):
    """A case's projection and its events in ledger order."""

    case_number: str
    item_code: str
    town_code: str
    department_code: str
    mode: str
    counter: Counter
    status: CaseStatus
    accepted_at: AwareDatetime
    due_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    outcome: Outcome | None
    on_time: bool | None
    events: tuple[RecordedEvent, ...]


class VerificationReport(_Model):
    """The outcome of checking the hash chain: every problem names the row id and what is wrong."""

    ok: bool
    checked: int
    problems: list[str]
    #: ``ledger_head.last_hash``: publish it (e.g. in the 调度通报) to anchor the chain outside the database.
    head_hash: str
