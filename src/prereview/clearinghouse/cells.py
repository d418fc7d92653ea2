"""The vendor x product grid of a case: each vendor's status for each product of the case.

The products of a case are those its reports name as affected (their package keys: a purl or a
CPE without version). Every pair of a vendor of the case and one of its products has a status,
in the vocabulary of CSAF 2.0's product status and of VEX (see :class:`CellState`); a pair no
one has set yet reads ``unknown``. A ``not_affected`` cell needs a VEX justification or an
impact statement, as CSAF asks of ``known_not_affected`` products. Each cell is due on a day:
the one someone set, or the day the embargo ends (in the embargo's zone), computed when asked,
so that moving the embargo moves every cell still on its default.

A vendor sets the cells of its own row; the clearinghouse's coordinators set any row (what a
vendor told them); nobody else does, as for vendor statuses (the policy's
``clearinghouse:vendor-status:update``). Every change is audited with what it replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.cases import case_of_vendor_row, row_to_change, zone_of
from prereview.clearinghouse.models import Case, CaseCell, VulnReport


class CellState(StrEnum):
    """A vendor's status for one product, named as VEX names it; ``csaf`` gives CSAF's."""

    UNKNOWN = "unknown"
    UNDER_INVESTIGATION = "under_investigation"
    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    FIXED = "fixed"

    @property
    def csaf(self) -> str | None:
        """The CSAF 2.0 ``product_status`` list the product goes in (none while unknown)."""
        return _CSAF[self]


_CSAF: dict[CellState, str | None] = {
    CellState.UNKNOWN: None,
    CellState.UNDER_INVESTIGATION: "under_investigation",
    CellState.AFFECTED: "known_affected",
    CellState.NOT_AFFECTED: "known_not_affected",
    CellState.FIXED: "fixed",
}

# VEX's justifications for "not affected" (CISA's minimum requirements; CSAF's flag labels).
JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
MAX_STATEMENT = 10_000


@dataclass(frozen=True)
class Cell:
    """A cell as it reads: its stored values, or ``unknown`` due when the embargo ends."""

    status: str
    justification: str | None
    statement: str
    due_on: date
    # Whether the due day was set (False: it follows the embargo).
    due_set: bool
    updated_at: datetime | None


def embargo_day(case: Case) -> date:
    """The day the embargo ends, in the zone it was set in."""
    return case.embargo_until.astimezone(zone_of(case.embargo_zone)).date()


def cell_of(case: Case, row: CaseCell | None) -> Cell:
    """``row`` as it reads (no row: unknown, due the day the embargo ends)."""
    if row is None:
        return Cell(CellState.UNKNOWN.value, None, "", embargo_day(case), False, None)
    return Cell(
        row.status,
        row.justification,
        row.statement,
        row.due_on or embargo_day(case),
        row.due_on is not None,
        row.updated_at,
    )


def products_of(package_keys: Iterable[list[str] | None]) -> list[str]:
    """The distinct products of the reports whose package keys are given, sorted."""
    return sorted({key for keys in package_keys for key in keys or ()})


def case_reports_and_products(db: Session, case_id: str) -> tuple[list[str], list[str]]:
    """The case's report ids, in order, and its products (one query)."""
    rows = db.execute(
        select(VulnReport.id, VulnReport.package_keys)
        .where(VulnReport.case_id == case_id)
        .order_by(VulnReport.id)
    ).all()
    return [rid for rid, _ in rows], products_of(keys for _, keys in rows)


def _check(state: CellState, justification: str | None, statement: str) -> None:
    problems = []
    if justification is not None and justification not in JUSTIFICATIONS:
        problems.append(
            {"path": "$.justification", "message": f"one of: {', '.join(JUSTIFICATIONS)}"}
        )
    if justification is not None and state is not CellState.NOT_AFFECTED:
        problems.append(
            {"path": "$.justification", "message": "a justification is for not_affected only"}
        )
    if state is CellState.NOT_AFFECTED and justification is None and not statement.strip():
        problems.append(
            {
                "path": "$.justification",
                "message": "not_affected needs a justification or an impact statement (VEX)",
            }
        )
    if len(statement) > MAX_STATEMENT:
        problems.append({"path": "$.statement", "message": f"at most {MAX_STATEMENT} characters"})
    if problems:
        raise errors.InvalidCaseChange(problems[0]["message"], errors=problems)


@dataclass(frozen=True)
class CellChange:
    """What a cell is set to."""

    status: CellState
    justification: str | None = None
    statement: str = ""
    due_on: date | None = None


@use_case(Permission.CH_VENDOR_STATUS_UPDATE, also=(Permission.CH_CASE_READ,))
def set_cell(
    db: Session,
    actor: Actor,
    case_id: str,
    vendor_org_id: str,
    product: str,
    change: CellChange,
    now: datetime,
) -> tuple[Case, CaseCell]:
    """Set one vendor x product cell of the case (a vendor its own row, or a coordinator)."""
    case = case_of_vendor_row(db, actor, case_id, vendor_org_id)
    _, products = case_reports_and_products(db, case.id)
    if product not in products:
        raise errors.InvalidCaseChange(
            f"'{product}' is not a product of this case",
            errors=[
                {
                    "path": "$.product",
                    "message": f"one of the case's products: {', '.join(products) or 'none yet'}",
                }
            ],
        )
    statement = change.statement.strip()
    _check(change.status, change.justification, statement)
    row, created = row_to_change(
        db, CaseCell, "cell", case.id, vendor_org_id=vendor_org_id, product_key=product
    )
    previous = CellState.UNKNOWN.value if created else row.status
    row.status = change.status.value
    row.justification = change.justification
    row.statement = statement
    row.due_on = change.due_on
    row.updated_by = actor.user_id
    row.updated_at = now
    commit_audited(
        db,
        actor,
        Permission.CH_VENDOR_STATUS_UPDATE,
        object_type="case",
        object_id=case.id,
        at=now,
        detail={
            "vendor": vendor_org_id,
            "product": product,
            "previous": previous,
            "status": change.status.value,
            "justification": change.justification,
            "due_on": change.due_on.isoformat() if change.due_on else None,
        },
    )
    return case, row
