"""vault data keys, sealed secrets, materials, handling markings on findings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_data_keys",
        sa.Column("context", sa.String(length=120), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=True),
        sa.Column("master_key_id", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("context", name=op.f("pk_vault_data_keys")),
    )
    with op.batch_alter_table("vault_data_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_data_keys_master_key_id"), ["master_key_id"], unique=False
        )

    op.create_table(
        "vault_secrets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("context", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context"],
            ["vault_data_keys.context"],
            name=op.f("fk_vault_secrets_context_vault_data_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_secrets")),
        sa.UniqueConstraint("context", "name", name=op.f("uq_vault_secrets_context")),
    )
    with op.batch_alter_table("vault_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_secrets_context"), ["context"], unique=False)

    op.create_table(
        "materials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("uploaded_by", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "model_card",
                "system_card",
                "eval_report",
                "safety_framework",
                "weights",
                "other",
                name="materialkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
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
            name=op.f("fk_materials_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_materials_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_materials")),
    )
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_materials_submission_id"), ["submission_id"], unique=False
        )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "tlp", sa.String(length=40), nullable=False, server_default="TLP:AMBER+STRICT"
            )
        )
        batch_op.add_column(sa.Column("markings", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("markings")
        batch_op.drop_column("tlp")
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_materials_submission_id"))

    op.drop_table("materials")
    with op.batch_alter_table("vault_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_secrets_context"))

    op.drop_table("vault_secrets")
    with op.batch_alter_table("vault_data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_data_keys_master_key_id"))

    op.drop_table("vault_data_keys")
