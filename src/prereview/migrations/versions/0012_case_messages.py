"""clearinghouse: case messages, and a due date on each vendor status

A case's thread (``ch_case_messages``) is read by the case's vendors and the clearinghouse;
each vendor's status on a report of the case gets the day it is due (``due_on``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_case_messages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("author_org_id", sa.String(length=40), nullable=False),
        sa.Column("author_user_id", sa.String(length=40), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_case_messages_case_id_ch_cases")
        ),
        sa.ForeignKeyConstraint(
            ["author_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_case_messages_author_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_case_messages")),
    )
    op.create_index(
        op.f("ix_ch_case_messages_case_id"), "ch_case_messages", ["case_id"], unique=False
    )
    with op.batch_alter_table("ch_vendor_statuses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ch_vendor_statuses", schema=None) as batch_op:
        batch_op.drop_column("due_on")
    op.drop_index(op.f("ix_ch_case_messages_case_id"), table_name="ch_case_messages")
    op.drop_table("ch_case_messages")
