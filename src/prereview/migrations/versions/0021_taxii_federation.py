"""clearinghouse: TAXII federation peers and sync records

(placeholder: filled in by the work that needs it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
