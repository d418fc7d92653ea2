"""no schema change (reserved for intake indexes in stop 21, which needed none)

Kept so that the revision chain stays unbroken for databases already at 0023 or later.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
