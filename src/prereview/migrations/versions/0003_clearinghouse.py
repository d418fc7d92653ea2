"""clearinghouse: vulnerability reports, relations, duplicates, cases, vendors, routing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_affected",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("package_key", sa.String(length=300), nullable=False),
        sa.Column("purl", sa.String(length=500), nullable=True),
        sa.Column("cpe", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_affected")),
    )
    op.create_index(
        op.f("ix_ch_affected_package_key"), "ch_affected", ["package_key"], unique=False
    )
    op.create_index(op.f("ix_ch_affected_report_id"), "ch_affected", ["report_id"], unique=False)
    op.create_table(
        "ch_duplicates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("candidate_id", sa.String(length=128), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("same_code", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_duplicates")),
        sa.UniqueConstraint("report_id", "candidate_id", name=op.f("uq_ch_duplicates_report_id")),
    )
    op.create_index(
        op.f("ix_ch_duplicates_candidate_id"), "ch_duplicates", ["candidate_id"], unique=False
    )
    op.create_index(
        op.f("ix_ch_duplicates_report_id"), "ch_duplicates", ["report_id"], unique=False
    )
    op.create_index(op.f("ix_ch_duplicates_status"), "ch_duplicates", ["status"], unique=False)
    op.create_table(
        "ch_identifiers",
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_ch_identifiers")),
    )
    op.create_index(
        op.f("ix_ch_identifiers_report_id"), "ch_identifiers", ["report_id"], unique=False
    )
    op.create_table(
        "ch_relations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_relations")),
        sa.UniqueConstraint("kind", "source", "target", name=op.f("uq_ch_relations_kind")),
    )
    op.create_index(op.f("ix_ch_relations_source"), "ch_relations", ["source"], unique=False)
    op.create_index(op.f("ix_ch_relations_target"), "ch_relations", ["target"], unique=False)
    op.create_table(
        "ch_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("opened_by_org_id", sa.String(length=40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embargo_zone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["opened_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_cases_opened_by_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_cases")),
    )
    op.create_table(
        "ch_notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("package_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_ch_notifications_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_notifications")),
        sa.UniqueConstraint("org_id", "report_id", name=op.f("uq_ch_notifications_org_id")),
    )
    op.create_index(
        op.f("ix_ch_notifications_org_id"), "ch_notifications", ["org_id"], unique=False
    )
    op.create_table(
        "ch_recipients",
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_ch_recipients_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("report_id", "org_id", name=op.f("pk_ch_recipients")),
    )
    op.create_table(
        "ch_registrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("identifier", sa.String(length=500), nullable=False),
        sa.Column("package_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_ch_registrations_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_registrations")),
        sa.UniqueConstraint(
            "org_id", "role", "identifier", name=op.f("uq_ch_registrations_org_id")
        ),
    )
    op.create_index(
        op.f("ix_ch_registrations_org_id"), "ch_registrations", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_ch_registrations_package_key"), "ch_registrations", ["package_key"], unique=False
    )
    op.create_table(
        "ch_case_vendors",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vendor_org_id", sa.String(length=40), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_case_vendors_case_id_ch_cases")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_case_vendors_vendor_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_case_vendors")),
        sa.UniqueConstraint("case_id", "vendor_org_id", name=op.f("uq_ch_case_vendors_case_id")),
    )
    op.create_index(
        op.f("ix_ch_case_vendors_case_id"), "ch_case_vendors", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_ch_case_vendors_vendor_org_id"), "ch_case_vendors", ["vendor_org_id"], unique=False
    )
    op.create_table(
        "ch_embargo_changes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("previous", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=40), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_embargo_changes_case_id_ch_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_embargo_changes")),
    )
    op.create_index(
        op.f("ix_ch_embargo_changes_case_id"), "ch_embargo_changes", ["case_id"], unique=False
    )
    op.create_table(
        "ch_reports",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("reporter_org_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("cwes", sa.JSON(), nullable=False),
        sa.Column("cvss_v3_vector", sa.String(length=200), nullable=True),
        sa.Column("cvss_v3_score", sa.Float(), nullable=True),
        sa.Column("cvss_v4_vector", sa.String(length=300), nullable=True),
        sa.Column("cvss_v4_score", sa.Float(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("has_evidence", sa.Boolean(), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=True),
        sa.Column("package_keys", sa.JSON(), nullable=False),
        sa.Column("merged_into", sa.String(length=128), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_reports_case_id_ch_cases")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_reports_reporter_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ch_reports")),
        sa.UniqueConstraint("id", name=op.f("uq_ch_reports_id")),
    )
    op.create_index(op.f("ix_ch_reports_case_id"), "ch_reports", ["case_id"], unique=False)
    op.create_index(op.f("ix_ch_reports_merged_into"), "ch_reports", ["merged_into"], unique=False)
    op.create_index(
        op.f("ix_ch_reports_reporter_org_id"), "ch_reports", ["reporter_org_id"], unique=False
    )
    op.create_index(op.f("ix_ch_reports_tlp"), "ch_reports", ["tlp"], unique=False)
    op.create_table(
        "ch_vendor_status_history",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vendor_org_id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=40), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_vendor_status_history_case_id_ch_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_vendor_status_history")),
    )
    op.create_index(
        op.f("ix_ch_vendor_status_history_case_id"),
        "ch_vendor_status_history",
        ["case_id"],
        unique=False,
    )
    op.create_table(
        "ch_vendor_statuses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vendor_org_id", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("justification", sa.String(length=80), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_vendor_statuses_case_id_ch_cases")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_vendor_statuses_vendor_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_vendor_statuses")),
        sa.UniqueConstraint(
            "case_id", "vendor_org_id", "report_id", name=op.f("uq_ch_vendor_statuses_case_id")
        ),
    )
    op.create_index(
        op.f("ix_ch_vendor_statuses_case_id"), "ch_vendor_statuses", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_ch_vendor_statuses_vendor_org_id"),
        "ch_vendor_statuses",
        ["vendor_org_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("ch_vendor_statuses")
    op.drop_table("ch_vendor_status_history")
    op.drop_table("ch_reports")
    op.drop_table("ch_embargo_changes")
    op.drop_table("ch_case_vendors")
    op.drop_table("ch_registrations")
    op.drop_table("ch_recipients")
    op.drop_table("ch_notifications")
    op.drop_table("ch_cases")
    op.drop_table("ch_relations")
    op.drop_table("ch_identifiers")
    op.drop_table("ch_duplicates")
    op.drop_table("ch_affected")
