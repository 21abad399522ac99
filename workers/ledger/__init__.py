"""The work ledger (工作台账): every case event in a hash chain, a per-case projection, 办件编号.

Open a :class:`Ledger` on a database URL (``default_ledger_url(data_dir)`` for the SQLite default, or
``postgresql+psycopg://…``), call :meth:`Ledger.migrate` once at start-up, then ``record_event``,
``next_case_number``, ``verify``, ``case`` and ``snapshot``. The rules (hash chain, idempotency, personal
data, projection) are described in :mod:`workers.ledger.service`; the 调度通报 (reports) from the ledger
are :mod:`workers.report`.
"""

from workers.ledger.database import create_ledger_engine, default_ledger_url
from workers.ledger.migrations import migrate
from workers.ledger.models import (
    GENESIS_HASH,
    CaseEvent,
    CaseStatus,
    CaseView,
    Counter,
    Outcome,
    RecordedEvent,
    VerificationReport,
)
from workers.ledger.service import (
    CHINA_TZ,
    DuplicateEventError,
    InvalidEventError,
    Ledger,
    PersonalDataError,
    chain_hash,
    china_date,
    format_case_number,
    is_personal_key,
    sanitize_payload,
)

__all__ = [
    "CHINA_TZ",
    "GENESIS_HASH",
    "CaseEvent",
    "CaseStatus",
    "CaseView",
    "Counter",
    "DuplicateEventError",
    "InvalidEventError",
    "Ledger",
    "Outcome",
    "PersonalDataError",
    "RecordedEvent",
    "VerificationReport",
    "chain_hash",
    "china_date",
    "create_ledger_engine",
    "default_ledger_url",
    "format_case_number",
    "is_personal_key",
    "migrate",
    "sanitize_payload",
]
