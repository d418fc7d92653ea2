"""clearinghouse: per-vendor case threads and vendor-product cells

A case message may belong to one vendor's private thread with the coordinators
(``ch_case_messages.vendor_org_id``; NULL is the thread of all the case's members), and a page of
one thread is one range of ``ix_ch_case_messages_thread``. Each vendor x product pair of a case
gets its status, VEX justification, statement and due day in ``ch_case_cells`` (no row: unknown,
due when the embargo ends).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ch_case_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vendor_org_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ch_case_messages_vendor_org_id_organisations"),
            "organisations",
            ["vendor_org_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_ch_case_messages_thread",
            ["case_id", "vendor_org_id", "created_at", "id"],
            unique=False,
        )
    op.create_table(
        "ch_case_cells",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("vendor_org_id", sa.String(length=40), nullable=False),
        sa.Column("product_key", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("justification", sa.String(length=80), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ch_cases.id"], name=op.f("fk_ch_case_cells_case_id_ch_cases")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_case_cells_vendor_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_case_cells")),
        sa.UniqueConstraint(
            "case_id", "vendor_org_id", "product_key", name=op.f("uq_ch_case_cells_case_id")
        ),
    )
    op.create_index(op.f("ix_ch_case_cells_case_id"), "ch_case_cells", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ch_case_cells_case_id"), table_name="ch_case_cells")
    op.drop_table("ch_case_cells")
    with op.batch_alter_table("ch_case_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_ch_case_messages_thread")
        batch_op.drop_constraint(
            batch_op.f("fk_ch_case_messages_vendor_org_id_organisations"), type_="foreignkey"
        )
        batch_op.drop_column("vendor_org_id")
