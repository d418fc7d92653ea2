"""The clearinghouse's published entry point: what routes, commands and other capabilities call.

The use cases live beside what they work on: intake in :mod:`.intake.store` (parsing in
:mod:`.intake.formats`), reads, publication and relabelling in :mod:`.reports`, duplicates,
relations and merges in :mod:`.dedup.duplicates`, cases, embargo and vendor statuses in
:mod:`.cases`, product claims and vendor routing in :mod:`.sharing.routing`. This module
re-exports the reports' use cases, and those of cases, case messages (:mod:`.messages`),
duplicate decisions and the analyst's triage (:mod:`.triage`) that the pages call, so that
callers import one stable name.
"""

from __future__ import annotations

from prereview.clearinghouse.cases import (
    CaseCreate,
    VendorState,
    add_to_case,
    case_report_ids,
    case_with_vendors,
    create_case,
    embargo_history,
    get_case,
    list_cases,
    set_vendor_status,
    vendor_counts,
    vendor_table,
    zone_of,
)
from prereview.clearinghouse.dedup.duplicates import decide_duplicate
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
from prereview.clearinghouse.triage import (
    TriageFilter,
    get_duplicate,
    open_duplicate_counts,
    report_duplicates,
    report_sources,
    triage_queue,
)

__all__ = [
    "CaseCreate",
    "ReportFilter",
    "StoredRecords",
    "TriageFilter",
    "VendorState",
    "add_to_case",
    "advisory_of",
    "case_report_ids",
    "case_with_vendors",
    "create_case",
    "decide_duplicate",
    "disclosed_advisory_rows",
    "domain_report",
    "embargo_history",
    "evidence_context",
    "exportable_advisory",
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
    "read_evidence",
    "readable",
    "relabel_report",
    "report_duplicates",
    "report_relations",
    "report_sources",
    "report_versions",
    "set_vendor_status",
    "submit_report",
    "triage_queue",
    "vendor_counts",
    "vendor_table",
    "visible_intake",
    "visible_relations",
    "zone_of",
]
