"""evals: private task packs, their shares, the pack on each result and determination

An agency's task pack (``eval_packs``: its bytes are a vault blob under the owning agency's
data key) is shared with other agencies (``eval_pack_shares``, until unshared or ended). A
task result names the pack its task came from and the pack's SHA-256; a determination lists
the packs and versions its evidence came from.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0013"  # the lead chains it after the last migration that lands before it
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_packs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_org_id", sa.String(length=40), nullable=False),
        sa.Column("uploaded_by", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("package", sa.String(length=100), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_eval_packs_owner_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_eval_packs_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_packs")),
        sa.UniqueConstraint(
            "owner_org_id", "name", "version", name=op.f("uq_eval_packs_owner_org_id")
        ),
    )
    op.create_index(op.f("ix_eval_packs_owner_org_id"), "eval_packs", ["owner_org_id"])
    op.create_index(op.f("ix_eval_packs_sha256"), "eval_packs", ["sha256"])
    op.create_table(
        "eval_pack_shares",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("pack_id", sa.String(length=40), nullable=False),
        sa.Column("agency_org_id", sa.String(length=40), nullable=False),
        sa.Column("shared_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["pack_id"], ["eval_packs.id"], name=op.f("fk_eval_pack_shares_pack_id_eval_packs")
        ),
        sa.ForeignKeyConstraint(
            ["agency_org_id"],
            ["organisations.id"],
            name=op.f("fk_eval_pack_shares_agency_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["shared_by"], ["users.id"], name=op.f("fk_eval_pack_shares_shared_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_eval_pack_shares_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_pack_shares")),
    )
    op.create_index(op.f("ix_eval_pack_shares_pack_id"), "eval_pack_shares", ["pack_id"])
    op.create_index(
        op.f("ix_eval_pack_shares_agency_org_id"), "eval_pack_shares", ["agency_org_id"]
    )
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pack_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("pack_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("pack_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("pack_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_eval_results_pack_id"), ["pack_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_results_pack_id_eval_packs"), "eval_packs", ["pack_id"], ["id"]
        )
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_packs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coverage_determinations", schema=None) as batch_op:
        batch_op.drop_column("evidence_packs")
    with op.batch_alter_table("eval_results", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_eval_results_pack_id_eval_packs"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_eval_results_pack_id"))
        for name in ("pack_sha256", "pack_version", "pack_name", "pack_id"):
            batch_op.drop_column(name)
    op.drop_index(op.f("ix_eval_pack_shares_agency_org_id"), table_name="eval_pack_shares")
    op.drop_index(op.f("ix_eval_pack_shares_pack_id"), table_name="eval_pack_shares")
    op.drop_table("eval_pack_shares")
    op.drop_index(op.f("ix_eval_packs_sha256"), table_name="eval_packs")
    op.drop_index(op.f("ix_eval_packs_owner_org_id"), table_name="eval_packs")
    op.drop_table("eval_packs")
