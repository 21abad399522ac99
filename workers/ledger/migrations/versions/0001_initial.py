"""Ledger schema: case_events (hash chain), ledger_head, cases, case-number counters and assignments.

Revision ID: 0001
Revises:
Create Date: 2026-05-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workers.ledger.models import GENESIS_HASH, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(40), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=False),
        sa.Column("town_code", sa.String(64), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(64), nullable=False),
        sa.Column("counter", sa.String(16), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("job_key", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("counter IN ('town', 'district')", name=op.f("ck_case_events_counter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("job_key", name=op.f("uq_case_events_job_key")),
    )
    op.create_index(op.f("ix_case_events_case_number_id"), "case_events", ["case_number", "id"])

    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.bulk_insert(
        sa.table(
            "ledger_head",
            sa.column("id", sa.Integer()),
            sa.column("last_id", sa.BigInteger()),
            sa.column("last_hash", sa.String()),
            sa.column("count", sa.BigInteger()),
        ),
        [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH, "count": 0}],
    )

    op.create_table(
        "cases",
        sa.Column("case_number", sa.String(40), nullable=False),
        sa.Column("item_code", sa.String(64), nullable=False),
        sa.Column("town_code", sa.String(64), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(64), nullable=False),
        sa.Column("counter", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.CheckConstraint("counter IN ('town', 'district')", name=op.f("ck_cases_counter")),
        sa.CheckConstraint(
            "status IN ('in-progress', 'completed', 'rejected', 'not-accepted', 'withdrawn')",
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "outcome IN ('approved', 'rejected', 'not-accepted')", name=op.f("ck_cases_outcome")
        ),
        sa.PrimaryKeyConstraint("case_number", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_town_code_item_code"), "cases", ["town_code", "item_code"])
    op.create_index(op.f("ix_cases_status_due_at"), "cases", ["status", "due_at"])

    op.create_table(
        "case_number_counters",
        sa.Column("prefix", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "day", name=op.f("pk_case_number_counters")),
    )
    op.create_table(
        "case_number_assignments",
        sa.Column("job_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("job_key", name=op.f("pk_case_number_assignments")),
        sa.UniqueConstraint("case_number", name=op.f("uq_case_number_assignments_case_number")),
    )


def downgrade() -> None:
    op.drop_table("case_number_assignments")
    op.drop_table("case_number_counters")
    op.drop_index(op.f("ix_cases_status_due_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_town_code_item_code"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("ledger_head")
    op.drop_index(op.f("ix_case_events_case_number_id"), table_name="case_events")
    op.drop_table("case_events")
