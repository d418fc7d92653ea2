"""clearinghouse: verified model-found labels, vendors' weekly capacity, paced notifications

A report's model-found label (``ch_model_labels``) names the submission (review) and the model
that found it, and is stored only once the platform checked that the reporting organisation
had access to that submission. A vendor states how many new reports it takes per week
(``ch_vendor_capacity``); a notification is delivered (``notified_at``) when the vendor's
pacing lets it out. Notifications made before pacing existed were delivered when made.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_model_labels",
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("verified_for_org_id", sa.String(length=40), nullable=False),
        sa.Column("verified_by", sa.String(length=40), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_ch_model_labels")),
    )
    op.create_index(
        op.f("ix_ch_model_labels_submission_id"),
        "ch_model_labels",
        ["submission_id"],
        unique=False,
    )
    op.create_table(
        "ch_vendor_capacity",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("per_week", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=40), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_vendor_capacity_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_ch_vendor_capacity")),
    )
    with op.batch_alter_table("ch_notifications") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE ch_notifications SET notified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("ch_notifications") as batch:
        batch.drop_column("notified_at")
    op.drop_table("ch_vendor_capacity")
    op.drop_index(op.f("ix_ch_model_labels_submission_id"), table_name="ch_model_labels")
    op.drop_table("ch_model_labels")
