"""audit: published checkpoints kept apart from the log

An append-only copy of every signed checkpoint: triggers refuse UPDATE and DELETE on both
SQLite and PostgreSQL, so a rebuilt log cannot silently drop the checkpoints it must match.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REFUSAL = "audit_published_checkpoints is append-only"


def upgrade() -> None:
    op.create_table(
        "audit_published_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_published_checkpoints")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_published_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_published_append_only BEFORE UPDATE OR DELETE ON "
            "audit_published_checkpoints FOR EACH ROW EXECUTE FUNCTION "
            "audit_published_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_published_no_{event.lower()} BEFORE {event} ON "
                "audit_published_checkpoints BEGIN "
                f"SELECT RAISE(ABORT, '{_REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP TRIGGER IF EXISTS audit_published_append_only ON audit_published_checkpoints"
        )
        op.execute("DROP FUNCTION IF EXISTS audit_published_append_only()")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_published_no_{event}")
    op.drop_table("audit_published_checkpoints")
