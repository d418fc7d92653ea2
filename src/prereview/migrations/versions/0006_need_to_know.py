"""need to know: verified product claims

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A product registration becomes a claim with a verification state. Claims stored before this
revision were never checked by anyone: they come back as ``claimed``, so they keep routing
notifications but confer no need to know until an analyst verifies them.
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ch_registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="claimed")
        )
        batch_op.add_column(sa.Column("proof", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("challenge", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("decided_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decision_note", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_ch_registrations_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ch_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ch_registrations_status"))
        batch_op.drop_column("decision_note")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("challenge")
        batch_op.drop_column("proof")
        batch_op.drop_column("status")
