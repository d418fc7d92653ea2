"""The clearinghouse's published entry point: what routes, commands and other capabilities call.

The use cases live beside what they work on: intake in :mod:`.intake.store` (parsing in
:mod:`.intake.formats`), reads, publication and relabelling in :mod:`.reports`, duplicates,
relations and merges in :mod:`.dedup.duplicates`, cases, embargo and vendor statuses in
:mod:`.cases`, product claims and vendor routing in :mod:`.sharing.routing`. This module
re-exports the reports' use cases, so that callers import one stable name.
"""

from __future__ import annotations

from prereview.clearinghouse.intake.store import (
    StoredIdentifiers,
    import_reports,
    submit_report,
    visible_intake,
)
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
    visible_relations,
)

__all__ = [
    "ReportFilter",
    "StoredIdentifiers",
    "advisory_of",
    "disclosed_advisory_rows",
    "domain_report",
    "evidence_context",
    "exportable_advisory",
    "get_report",
    "import_reports",
    "list_reports",
    "load_report",
    "publish_report",
    "read_evidence",
    "readable",
    "relabel_report",
    "report_relations",
    "submit_report",
    "visible_intake",
    "visible_relations",
]
