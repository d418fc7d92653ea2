"""clearinghouse: TAXII federation peers and sync records

A peer (``ch_federation_peers``) is another clearinghouse's TAXII 2.1 API root, the
collections pulled from it and the TLP label its reports land under; its credential is sealed
in the vault, never in this table. ``ch_federation_syncs`` holds, per peer collection, where the
pull stands (``added_after``, or the token an interrupted pull resumes at) and the last check
of both sides (counts and digests of object ids and versions, and what differs).
``ch_federation_objects`` records every object a peer served and what intake made of it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ch_federation_peers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_root", sa.String(length=2000), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("collections", sa.JSON(), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_ch_federation_peers_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_federation_peers")),
        sa.UniqueConstraint("name", name=op.f("uq_ch_federation_peers_name")),
    )
    op.create_table(
        "ch_federation_syncs",
        sa.Column("peer_id", sa.String(length=40), nullable=False),
        sa.Column("collection_id", sa.String(length=200), nullable=False),
        sa.Column("added_after", sa.String(length=40), nullable=True),
        sa.Column("resume_added_after", sa.String(length=40), nullable=True),
        sa.Column("resume_next", sa.String(length=500), nullable=True),
        sa.Column("resume_last", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pulled", sa.Integer(), nullable=False),
        sa.Column("peer_count", sa.Integer(), nullable=True),
        sa.Column("peer_digest", sa.String(length=80), nullable=True),
        sa.Column("our_count", sa.Integer(), nullable=True),
        sa.Column("our_digest", sa.String(length=80), nullable=True),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["ch_federation_peers.id"],
            name=op.f("fk_ch_federation_syncs_peer_id_ch_federation_peers"),
        ),
        sa.PrimaryKeyConstraint("peer_id", "collection_id", name=op.f("pk_ch_federation_syncs")),
    )
    op.create_table(
        "ch_federation_objects",
        sa.Column("peer_id", sa.String(length=40), nullable=False),
        sa.Column("collection_id", sa.String(length=200), nullable=False),
        sa.Column("stix_id", sa.String(length=200), nullable=False),
        sa.Column("peer_version", sa.String(length=40), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["ch_federation_peers.id"],
            name=op.f("fk_ch_federation_objects_peer_id_ch_federation_peers"),
        ),
        sa.PrimaryKeyConstraint(
            "peer_id", "collection_id", "stix_id", name=op.f("pk_ch_federation_objects")
        ),
    )
    op.create_index(
        op.f("ix_ch_federation_objects_report_id"),
        "ch_federation_objects",
        ["report_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ch_federation_objects_report_id"), table_name="ch_federation_objects")
    op.drop_table("ch_federation_objects")
    op.drop_table("ch_federation_syncs")
    op.drop_table("ch_federation_peers")
