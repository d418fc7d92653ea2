"""The case's view: one page of its vendors with their statuses, cells and private threads.

The view of a case with 200 vendors, a handful of reports and products and 1,000 messages is a
fixed number of queries whatever the number of vendors (one per kind of row, each an ``IN``
over the page's vendors, each on an index): what ``benchmarks/case_page.py`` measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.usecase import use_case
from prereview.clearinghouse.cases import readable_case
from prereview.clearinghouse.cells import Cell, case_reports_and_products, cell_of
from prereview.clearinghouse.models import Case, CaseCell, CaseMessage, CaseVendor, VendorStatus
from prereview.core.pagination import PageRequest, Slice, paginate


@dataclass(frozen=True)
class CaseView:
    """One page of a case's vendors with everything the case's view shows of them: their status
    on each report, their vendor x product cells, and (for whoever may read them) how many
    messages each one's private thread holds. A fixed number of queries, whatever the number
    of vendors: one per kind of row, each an ``IN`` over the page's vendors."""

    case: Case
    vendors: Slice[CaseVendor]
    report_ids: list[str]
    statuses: dict[str, dict[str, VendorStatus]]
    products: list[str]
    cells: dict[str, dict[str, CaseCell]]
    threads: dict[str, int]

    def cell(self, vendor_org_id: str, product: str) -> Cell:
        """The cell as it reads: its row, or ``unknown`` due when the embargo ends."""
        return cell_of(self.case, self.cells.get(vendor_org_id, {}).get(product))


def _vendor_page(db: Session, actor: Actor, case: Case, page: PageRequest) -> CaseView:
    vendors = paginate(
        db,
        select(CaseVendor).where(CaseVendor.case_id == case.id).order_by(CaseVendor.vendor_org_id),
        page,
    )
    ids = [v.vendor_org_id for v in vendors.rows]
    statuses: dict[str, dict[str, VendorStatus]] = {vid: {} for vid in ids}
    cells: dict[str, dict[str, CaseCell]] = {vid: {} for vid in ids}
    threads: dict[str, int] = {}
    if ids:
        for status in db.scalars(
            select(VendorStatus).where(
                VendorStatus.case_id == case.id, VendorStatus.vendor_org_id.in_(ids)
            )
        ):
            statuses[status.vendor_org_id][status.report_id] = status
        for row in db.scalars(
            select(CaseCell).where(CaseCell.case_id == case.id, CaseCell.vendor_org_id.in_(ids))
        ):
            cells[row.vendor_org_id][row.product_key] = row
        # Private threads: the coordinators see each vendor's count, a vendor only its own.
        readers = ids if actor.org_kind is OrgKind.CLEARINGHOUSE else []
        if actor.organisation_id in ids:
            readers = readers or [actor.organisation_id]
        if readers:
            threads = thread_counts(db, case.id, readers)
    report_ids, products = case_reports_and_products(db, case.id)
    return CaseView(case, vendors, report_ids, statuses, products, cells, threads)


def thread_counts(db: Session, case_id: str, vendor_org_ids: Sequence[str]) -> dict[str, int]:
    """How many messages each vendor's private thread in the case holds (one query)."""
    counts = dict.fromkeys(vendor_org_ids, 0)
    query = (
        select(CaseMessage.vendor_org_id, func.count())
        .where(CaseMessage.case_id == case_id, CaseMessage.vendor_org_id.in_(list(counts)))
        .group_by(CaseMessage.vendor_org_id)
    )
    counts.update({vendor: n for vendor, n in db.execute(query) if vendor is not None})
    return counts


@use_case(Permission.CH_CASE_READ)
def vendor_table(
    db: Session, actor: Actor, case_id: str, page: PageRequest, now: datetime
) -> CaseView:
    """One page of the case's vendors, their status per vulnerability and their cells."""
    case, _ = readable_case(db, actor, case_id, Permission.CH_CASE_READ, now)
    found = _vendor_page(db, actor, case, page)
    db.commit()
    return found


@use_case(Permission.CH_CASE_READ)
def case_with_vendors(
    db: Session, actor: Actor, case_id: str, page: PageRequest, now: datetime
) -> CaseView:
    """The case and one page of its vendor table, as one audited read (the case's page):
    :func:`vendor_table`'s view, under the page's name."""
    return vendor_table(db, actor, case_id, page, now)
