"""clearinghouse: distinct records share names, updates keep the versions they replace

A name (a CVE id, say) may now be carried by several reports: ``ch_identifiers`` is keyed by
the pair (identifier, report id) instead of the identifier alone. ``ch_report_versions``
keeps every version of a report that an update (a newer OSV ``modified``) replaced.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _identifiers_table(name: str, primary: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint(*primary, name=op.f(f"pk_{name}")),
    )


def _rekey_identifiers(primary: list[str]) -> None:
    # Recreated rather than altered: SQLite cannot change a primary key in place.
    _identifiers_table("ch_identifiers_0011", primary)
    op.execute(
        "INSERT INTO ch_identifiers_0011 (identifier, report_id) "
        "SELECT identifier, report_id FROM ch_identifiers"
    )
    op.drop_index(op.f("ix_ch_identifiers_report_id"), table_name="ch_identifiers")
    op.drop_table("ch_identifiers")
    _identifiers_table("ch_identifiers", primary)
    op.execute(
        "INSERT INTO ch_identifiers (identifier, report_id) "
        "SELECT identifier, report_id FROM ch_identifiers_0011"
    )
    op.drop_table("ch_identifiers_0011")
    op.create_index(
        op.f("ix_ch_identifiers_report_id"), "ch_identifiers", ["report_id"], unique=False
    )


def upgrade() -> None:
    _rekey_identifiers(["identifier", "report_id"])
    op.create_table(
        "ch_report_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ch_report_versions")),
        sa.UniqueConstraint("report_id", "version", name=op.f("uq_ch_report_versions_report_id")),
    )
    op.create_index(
        op.f("ix_ch_report_versions_report_id"),
        "ch_report_versions",
        ["report_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ch_report_versions_report_id"), table_name="ch_report_versions")
    op.drop_table("ch_report_versions")
    # A name carried by several reports keeps one of them: the older schema has room for one.
    op.execute(
        "DELETE FROM ch_identifiers WHERE report_id <> "
        "(SELECT MIN(i.report_id) FROM ch_identifiers i "
        "WHERE i.identifier = ch_identifiers.identifier)"
    )
    _rekey_identifiers(["identifier"])
