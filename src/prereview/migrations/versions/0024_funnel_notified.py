"""reserved: funnel_notified (a placeholder that changes nothing; its owner replaces it)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
