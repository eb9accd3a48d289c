"""indexes for the credit office's reports: records by type and decision date, cases by closing day

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:00:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("records_type_decision_date", "records", ["type", "decision_date"])
    op.create_index("cases_closed_on", "cases", ["closed_on"])


def downgrade() -> None:
    op.drop_index("cases_closed_on", table_name="cases")
    op.drop_index("records_type_decision_date", table_name="records")
