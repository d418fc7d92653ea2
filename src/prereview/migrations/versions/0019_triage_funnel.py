"""clearinghouse: triage decisions, the disclosure funnel's "triaged" stage

An analyst's triage of a report is stored in ``ch_triage`` with the moment the server recorded
it. The other stages of the funnel already have server-recorded moments (intake's
``created_at``, a notification's ``notified_at``, the vendor status history, ``published_at``).

Backfill: a report that was already merged or decided in a duplicate pair, put in a case, or
published had been looked at by an analyst, so it gets an ``inferred`` triage at the earliest
of those moments (the duplicate decision, the case's opening, the publication); any other
report stays untriaged. No moment is invented later than what the log shows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_triage",
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("triaged_by", sa.String(length=40), nullable=True),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_ch_triage")),
    )
    op.create_index(op.f("ix_ch_triage_triaged_at"), "ch_triage", ["triaged_at"], unique=False)
    op.execute(
        """
        INSERT INTO ch_triage (report_id, outcome, note, triaged_by, triaged_at)
        SELECT seen.report_id, 'inferred', '', NULL, MIN(seen.at)
        FROM (
            SELECT id AS report_id, published_at AS at FROM ch_reports
            WHERE published_at IS NOT NULL
            UNION ALL
            SELECT report_id, decided_at FROM ch_duplicates WHERE decided_at IS NOT NULL
            UNION ALL
            SELECT candidate_id, decided_at FROM ch_duplicates WHERE decided_at IS NOT NULL
            UNION ALL
            SELECT r.id, c.opened_at FROM ch_reports r JOIN ch_cases c ON c.id = r.case_id
        ) AS seen
        WHERE seen.report_id IN (SELECT id FROM ch_reports)
        GROUP BY seen.report_id
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ch_triage_triaged_at"), table_name="ch_triage")
    op.drop_table("ch_triage")
