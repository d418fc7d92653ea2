"""gateway: upstreams, gateway keys, per-access limits, kept transcripts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_upstreams",
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("public_model", sa.String(length=200), nullable=False),
        sa.Column("upstream_model", sa.String(length=200), nullable=False),
        sa.Column("credential_header_names", sa.JSON(), nullable=False),
        sa.Column("keep_transcripts", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_gateway_upstreams_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_gateway_upstreams_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_gateway_upstreams")),
    )

    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("grant_id", sa.String(length=40), nullable=True),
        sa.Column("nomination_id", sa.String(length=40), nullable=True),
        sa.Column("access_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_gateway_keys_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_gateway_keys_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_gateway_keys_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(
            ["nomination_id"],
            ["nominations.id"],
            name=op.f("fk_gateway_keys_nomination_id_nominations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_gateway_keys_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_gateway_keys_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_gateway_keys_key_hash")),
    )
    with op.batch_alter_table("gateway_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_keys_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gateway_keys_org_id"), ["org_id"], unique=False)

    op.create_table(
        "gateway_limits",
        sa.Column("access_id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("tokens_per_day", sa.BigInteger(), nullable=True),
        sa.Column("concurrent_streams", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_gateway_limits_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_gateway_limits_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("access_id", name=op.f("pk_gateway_limits")),
    )
    with op.batch_alter_table("gateway_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_limits_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "gateway_transcripts",
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("access_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        sa.Column("request_size", sa.BigInteger(), nullable=False),
        sa.Column("response_size", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_gateway_transcripts_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_gateway_transcripts")),
    )
    with op.batch_alter_table("gateway_transcripts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_transcripts_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gateway_transcripts_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_transcripts_org_id"))
        batch_op.drop_index(batch_op.f("ix_gateway_transcripts_submission_id"))
    op.drop_table("gateway_transcripts")
    with op.batch_alter_table("gateway_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_limits_submission_id"))
    op.drop_table("gateway_limits")
    with op.batch_alter_table("gateway_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_keys_org_id"))
        batch_op.drop_index(batch_op.f("ix_gateway_keys_submission_id"))
    op.drop_table("gateway_keys")
    op.drop_table("gateway_upstreams")
