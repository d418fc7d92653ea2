"""The clearinghouse's published entry point: what routes, commands and other capabilities call.

The use cases live beside what they work on: intake in :mod:`.intake.store` (parsing in
:mod:`.intake.formats`), reads, publication and relabelling in :mod:`.reports`, duplicates,
relations and merges in :mod:`.dedup.duplicates`, cases, embargo and vendor statuses in
:mod:`.cases` (their vendor x product cells in :mod:`.cells`, the case's view in
:mod:`.case_view`), product claims and vendor routing in :mod:`.sharing.routing`. This module
re-exports the reports' use cases, and those of cases, case messages (:mod:`.messages`),
duplicate decisions, the analyst's triage (:mod:`.triage`) and the funnel (:mod:`.funnel`)
that the pages call, so that
callers import one stable name.
"""

from __future__ import annotations

from prereview.clearinghouse.case_view import CaseView, case_with_vendors, vendor_table
from prereview.clearinghouse.cases import (
    CaseCreate,
    VendorState,
    add_to_case,
    case_report_ids,
    create_case,
    embargo_history,
    get_case,
    list_cases,
    remove_vendor,
    set_vendor_status,
    vendor_counts,
    zone_of,
)
from prereview.clearinghouse.cells import JUSTIFICATIONS, Cell, CellChange, CellState, set_cell
from prereview.clearinghouse.dedup.duplicates import decide_duplicate
from prereview.clearinghouse.funnel import STAGES, Funnel, FunnelRow, funnel
from prereview.clearinghouse.intake.store import (
    StoredRecords,
    import_reports,
    submit_report,
    visible_intake,
)
from prereview.clearinghouse.messages import list_messages, post_message
from prereview.clearinghouse.reports import (
    ReportFilter,
    advisory_of,
    disclosed_advisory_rows,
    domain_report,
    evidence_context,
    exportable_advisory,
    get_report,
    list_reports,
    load_report,
    publish_report,
    read_evidence,
    readable,
    relabel_report,
    report_relations,
    report_versions,
    visible_relations,
)
from prereview.clearinghouse.reproduction import LABELS as REPRODUCTION_LABELS
from prereview.clearinghouse.reproduction import ReproductionView, reproduction_view
from prereview.clearinghouse.triage import (
    QueueEntry,
    QueueGroup,
    QueuePage,
    TriageFilter,
    TriageOrder,
    TriageState,
    analyst_queue,
    get_duplicate,
    open_duplicate_counts,
    queue_groups,
    report_duplicates,
    report_sources,
    triage_queue,
    triage_report,
)

__all__ = [
    "JUSTIFICATIONS",
    "REPRODUCTION_LABELS",
    "STAGES",
    "CaseCreate",
    "CaseView",
    "Cell",
    "CellChange",
    "CellState",
    "Funnel",
    "FunnelRow",
    "QueueEntry",
    "QueueGroup",
    "QueuePage",
    "ReportFilter",
    "ReproductionView",
    "StoredRecords",
    "TriageFilter",
    "TriageOrder",
    "TriageState",
    "VendorState",
    "add_to_case",
    "advisory_of",
    "analyst_queue",
    "case_report_ids",
    "case_with_vendors",
    "create_case",
    "decide_duplicate",
    "disclosed_advisory_rows",
    "domain_report",
    "embargo_history",
    "evidence_context",
    "exportable_advisory",
    "funnel",
    "get_case",
    "get_duplicate",
    "get_report",
    "import_reports",
    "list_cases",
    "list_messages",
    "list_reports",
    "load_report",
    "open_duplicate_counts",
    "post_message",
    "publish_report",
    "queue_groups",
    "read_evidence",
    "readable",
    "relabel_report",
    "remove_vendor",
    "report_duplicates",
    "report_relations",
    "report_sources",
    "report_versions",
    "reproduction_view",
    "set_cell",
    "set_vendor_status",
    "submit_report",
    "triage_queue",
    "triage_report",
    "vendor_counts",
    "vendor_table",
    "visible_intake",
    "visible_relations",
    "zone_of",
]
