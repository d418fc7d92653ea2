"""evals: evidence recomputed from the log, calibration runs, determinations name their runs

A task result is ``pending`` until its Inspect log is uploaded; the server then reads the
log, recomputes its numbers and marks it ``evidence`` (the submission's gateway model, its
calls in the gateway's audit trail) or ``calibration`` (with the reason). A determination
records the runs it rests on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="pending", nullable=False)
        )
        batch_op.add_column(sa.Column("kind_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suite_version", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("config_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("distinct_samples", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("clusters", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("model_calls", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("log_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("log_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("log_completed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_runs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.drop_column("evidence_runs")
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        for name in (
            "log_completed_at",
            "log_started_at",
            "log_model",
            "model_calls",
            "clusters",
            "distinct_samples",
            "config_sha256",
            "suite_version",
            "kind_reason",
            "kind",
        ):
            batch_op.drop_column(name)
