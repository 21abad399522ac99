"""Reports (调度通报): cases.supplement_requests (补正 count) and indexes on accepted_at and closed_at.

``supplement_requests`` is maintained by the projection from now on; existing rows are filled in from
their ``materials-requested`` events. The two indexes serve the report's period filters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("supplement_requests", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE cases SET supplement_requests = ("
        "SELECT count(*) FROM case_events WHERE case_events.case_number = cases.case_number "
        "AND case_events.event = 'materials-requested')"
    )
    op.create_index(op.f("ix_cases_accepted_at"), "cases", ["accepted_at"])
    op.create_index(op.f("ix_cases_closed_at"), "cases", ["closed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_closed_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_accepted_at"), table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("supplement_requests")
