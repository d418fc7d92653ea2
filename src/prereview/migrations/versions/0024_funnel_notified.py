"""funnel_notified: the indexes the triage queue's pages and the paced deliveries walk.

The analyst's queue in severity order walks ``ix_ch_reports_severity_seq``, an expression
index on the queue's own sort key (the CVSS v4 score, else v3, unscored as -1.0) and ``seq``:
the page reads about a page of index entries, not the table (the newest order walks the
primary key). A vendor's pacing reads its undelivered notifications and its last deliveries:
``ix_ch_notifications_org_notified`` serves both.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The expression must be written exactly as the query writes it for the planner to use it
    # (prereview.clearinghouse.triage._severity_of: the constant inline, not bound).
    op.create_index(
        "ix_ch_reports_severity_seq",
        "ch_reports",
        [sa.text("coalesce(cvss_v4_score, cvss_v3_score, -1.0)"), "seq"],
    )
    op.create_index(
        "ix_ch_notifications_org_notified", "ch_notifications", ["org_id", "notified_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_ch_notifications_org_notified", table_name="ch_notifications")
    op.drop_index("ix_ch_reports_severity_seq", table_name="ch_reports")
