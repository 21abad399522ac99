"""The work ledger (工作台账): every case event in a hash chain, a per-case projection, 办件编号, reports.

Open a :class:`Ledger` on a database URL (``default_ledger_url(data_dir)`` for the SQLite default, or
``postgresql+psycopg://…``), call :meth:`Ledger.migrate` once at start-up, then ``record_event``,
``next_case_number``, ``verify``, ``case`` and ``report``. The rules (hash chain, idempotency, personal
data, projection) are described in :mod:`workers.ledger.service`.
"""

from workers.ledger.database import create_ledger_engine, default_ledger_url
from workers.ledger.export import REPORT_HEADERS, report_table_rows, write_report_csv, write_report_xlsx
from workers.ledger.migrations import migrate
from workers.ledger.models import (
    GENESIS_HASH,
    CaseEvent,
    CaseStatus,
    CaseView,
    Counter,
    Outcome,
    RecordedEvent,
    ReportRow,
    VerificationReport,
)
from workers.ledger.service import (
    CHINA_TZ,
    InvalidEventError,
    Ledger,
    PersonalDataError,
    chain_hash,
    china_date,
    format_case_number,
    is_personal_key,
    report_totals,
    sanitize_payload,
)

__all__ = [
    "CHINA_TZ",
    "GENESIS_HASH",
    "REPORT_HEADERS",
    "CaseEvent",
    "CaseStatus",
    "CaseView",
    "Counter",
    "InvalidEventError",
    "Ledger",
    "Outcome",
    "PersonalDataError",
    "RecordedEvent",
    "ReportRow",
    "VerificationReport",
    "chain_hash",
    "china_date",
    "create_ledger_engine",
    "default_ledger_url",
    "format_case_number",
    "is_personal_key",
    "migrate",
    "report_table_rows",
    "report_totals",
    "sanitize_payload",
    "write_report_csv",
    "write_report_xlsx",
]
