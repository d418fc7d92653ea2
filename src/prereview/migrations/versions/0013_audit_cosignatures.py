"""audit: witness cosignatures of checkpoints

One row per checkpoint and witness: the C2SP tlog-cosignature line the witness returned, its
timestamp and when it was received.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_audit_cosignatures")),
    )
    op.create_index(
        "ix_audit_cosignatures_witness_size",
        "audit_cosignatures",
        ["witness", "size"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_cosignatures_witness_size", table_name="audit_cosignatures")
    op.drop_table("audit_cosignatures")
