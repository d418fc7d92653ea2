"""clearinghouse: per-vendor case threads and vendor-product cells

(placeholder: filled in by the work that needs it)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
