"""clearinghouse: federation peers declared private, and the lease of the pull now running

``allow_private``: the operator declared the peer on a private network, so private and
loopback addresses may be connected to (link-local and metadata addresses never are).
``lease_holder`` / ``lease_until``: the pull now running, taken by compare-and-set so that two
pulls of one peer never run at once, with an expiry so that a pull that died blocks nothing.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ch_federation_peers") as batch:
        batch.add_column(
            sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("lease_holder", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ch_federation_peers") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_holder")
        batch.drop_column("allow_private")
