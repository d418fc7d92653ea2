"""clearinghouse: triage queue and disclosure funnel

(placeholder: filled in by the work that needs it)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
