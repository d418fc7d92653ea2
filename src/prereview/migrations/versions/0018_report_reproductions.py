"""clearinghouse: proof-of-concept reproductions of reports

A report's proof of concept (``ch_report_pocs``: the package, the affected and fixed versions,
what counts as reproduced; the script itself is sealed in the vault) and the server's
reproduction of each PoC version (``ch_reproductions``: the queue entry a worker claims, the
verdict, the rank the triage queue orders by, and the log of each sandboxed run). No backfill:
reports stored before this have no PoC and stay claims only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_report_pocs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("ecosystem", sa.String(length=20), nullable=False),
        sa.Column("package", sa.String(length=200), nullable=False),
        sa.Column("affected_version", sa.String(length=100), nullable=False),
        sa.Column("fixed_version", sa.String(length=100), nullable=True),
        sa.Column("expect_exit", sa.Integer(), nullable=False),
        sa.Column("expect_stdout", sa.String(length=500), nullable=True),
        sa.Column("script_sha256", sa.String(length=64), nullable=False),
        sa.Column("script_bytes", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(length=40), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_report_pocs")),
        sa.UniqueConstraint("report_id", "version", name=op.f("uq_ch_report_pocs_report_id")),
    )
    op.create_index(
        op.f("ix_ch_report_pocs_report_id"), "ch_report_pocs", ["report_id"], unique=False
    )
    op.create_table(
        "ch_reproductions",
        sa.Column("poc_id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("verdict", sa.String(length=40), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("runs", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["poc_id"],
            ["ch_report_pocs.id"],
            name=op.f("fk_ch_reproductions_poc_id_ch_report_pocs"),
        ),
        sa.PrimaryKeyConstraint("poc_id", name=op.f("pk_ch_reproductions")),
    )
    op.create_index(op.f("ix_ch_reproductions_state"), "ch_reproductions", ["state"], unique=False)
    op.create_index(
        "ix_ch_reproductions_report_rank",
        "ch_reproductions",
        ["report_id", "rank"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_ch_reproductions_report_rank", table_name="ch_reproductions")
    op.drop_index(op.f("ix_ch_reproductions_state"), table_name="ch_reproductions")
    op.drop_table("ch_reproductions")
    op.drop_index(op.f("ix_ch_report_pocs_report_id"), table_name="ch_report_pocs")
    op.drop_table("ch_report_pocs")
