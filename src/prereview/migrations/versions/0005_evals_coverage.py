"""evaluation results and coverage determinations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_eval_runs_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_eval_runs_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_eval_runs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_runs_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eval_runs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "eval_results",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("ci_lower", sa.Float(), nullable=True),
        sa.Column("ci_upper", sa.Float(), nullable=True),
        sa.Column("pass_at_k", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("failed_samples", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_filename", sa.String(length=255), nullable=True),
        sa.Column("log_size", sa.BigInteger(), nullable=True),
        sa.Column("log_sha256", sa.String(length=64), nullable=True),
        sa.Column("log_uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eval_runs.id"], name=op.f("fk_eval_results_run_id_eval_runs")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_eval_results_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_results")),
    )
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_results_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_eval_results_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "coverage_determinations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("agency_org_id", sa.String(length=40), nullable=False),
        sa.Column("reviewer_user_id", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=120), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("policy_title", sa.String(length=300), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("policy_text", sa.Text(), nullable=False),
        sa.Column("disclose_outcome", sa.Boolean(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "covered",
                "not_covered",
                "undetermined",
                name="outcome",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column(
            "tlp",
            sa.Enum(
                "TLP:CLEAR",
                "TLP:GREEN",
                "TLP:AMBER",
                "TLP:AMBER+STRICT",
                "TLP:RED",
                name="tlp",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("markings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_coverage_determinations_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_org_id"],
            ["organisations.id"],
            name=op.f("fk_coverage_determinations_agency_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"],
            ["users.id"],
            name=op.f("fk_coverage_determinations_reviewer_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_determinations")),
    )
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coverage_determinations_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coverage_determinations_agency_org_id"), ["agency_org_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_determinations_agency_org_id"))
        batch_op.drop_index(batch_op.f("ix_coverage_determinations_submission_id"))
    op.drop_table("coverage_determinations")
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_results_submission_id"))
        batch_op.drop_index(batch_op.f("ix_eval_results_run_id"))
    op.drop_table("eval_results")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_runs_org_id"))
        batch_op.drop_index(batch_op.f("ix_eval_runs_submission_id"))
    op.drop_table("eval_runs")
