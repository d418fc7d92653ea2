"""Request and response models of the clearinghouse API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prereview.clearinghouse.cases import VendorState
from prereview.clearinghouse.cells import CellState
from prereview.core.fields import UtcDatetime
from prereview.core.markings import Tlp


class CvssOut(BaseModel):
    vector: str
    base_score: float
    severity: str


class ReportOut(BaseModel):
    id: str
    title: str
    tlp: str
    reporter_org_id: str
    description: str
    affected: list[dict[str, Any]]
    cwes: list[str]
    # Both CVSS versions side by side, each with its own score: neither replaces the other.
    cvss_v3: CvssOut | None
    cvss_v4: CvssOut | None
    discovered_by: dict[str, Any] | None
    submission_id: str | None
    aliases: list[str]
    has_evidence: bool
    merged_into: str | None
    case_id: str | None
    published_at: datetime | None
    created_at: datetime
    # The source's own times (OSV ``modified`` and ``withdrawn``): a withdrawn report stays.
    modified: datetime | None = None
    withdrawn: datetime | None = None
    # What was kept but is not right, e.g. an alias that is not an id (path and message).
    warnings: list[dict[str, str]] = Field(default_factory=list)
    # Verified: the reporter was let into that review (``discovered_by`` is only asserted).
    model_label: ModelLabelOut | None = None
    # For the reporter and the clearinghouse: when the vendors are (expected to be) told.
    pacing: ReportPaceOut | None = None


class ModelLabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    submission_id: str = Field(min_length=1, max_length=40)
    model: str = Field(min_length=1, max_length=200)


class ModelLabelOut(BaseModel):
    submission_id: str
    model: str
    model_version: str
    verified_at: datetime


class ReportPaceOut(BaseModel):
    vendors_told: int
    vendors_waiting: int
    expected_notification_at: datetime | None
    # Vendors waiting that take no new reports now (capacity 0): no date can be given.
    unscheduled: int


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_week: int = Field(ge=0, le=100_000)


class ScheduledOut(BaseModel):
    report_id: str
    expected_at: datetime | None


class CapacityOut(BaseModel):
    org_id: str
    per_week: int | None
    set_at: datetime | None
    delivered_last_week: int
    waiting: int
    # The waiting reports in delivery order: for the clearinghouse only.
    schedule: list[ScheduledOut] | None = None


class FoundByOut(BaseModel):
    model_verified: int
    model_claimed: int
    other: int


class ReportVersionOut(BaseModel):
    """A version of a report that an update replaced, whole as it was stored."""

    version: int
    modified: datetime | None
    tlp: str
    stored_at: datetime
    replaced_at: datetime
    document: dict[str, Any]


class ReportVersionsOut(BaseModel):
    id: str
    # Oldest first; the current version is the report itself.
    previous: list[ReportVersionOut]


class IntakeOut(BaseModel):
    counts: dict[str, int]
    items: list[dict[str, Any]]


class ReportCreated(BaseModel):
    report: ReportOut
    likely_duplicates: list[dict[str, Any]]


class EvidenceOut(BaseModel):
    report_id: str
    evidence: str


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tlp: Tlp | None = None


class RelationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["alias", "upstream", "related"]
    source: str = Field(min_length=1, max_length=128)
    target: str = Field(min_length=1, max_length=128)


class RelationsOut(BaseModel):
    id: str
    aliases: list[str]
    upstream: list[str]
    downstream: list[str]
    related: list[str]


class DuplicateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    report_id: str
    candidate_id: str
    similarity: float
    same_code: bool
    status: str
    decided_at: datetime | None


class DuplicateDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["merge", "reject", "reopen"]
    note: str = Field(default="", max_length=2000)


class CaseCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    tlp: Tlp = Tlp.AMBER
    report_ids: list[str] = Field(default_factory=list, max_length=1000)
    vendor_org_ids: list[str] = Field(default_factory=list, max_length=1000)
    embargo_until: UtcDatetime | None = None
    embargo_zone: str = "UTC"


class CaseMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report_ids: list[str] = Field(default_factory=list, max_length=1000)
    vendor_org_ids: list[str] = Field(default_factory=list, max_length=1000)


class EmbargoChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    embargo_until: UtcDatetime
    embargo_zone: str = "UTC"
    reason: str = Field(min_length=1, max_length=2000)


class EmbargoOut(BaseModel):
    until: datetime
    zone: str
    local: str
    public: bool
    seconds_left: int


class EmbargoChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    previous: datetime
    new: datetime
    zone: str
    reason: str
    changed_at: datetime


class CaseOut(BaseModel):
    id: str
    title: str
    tlp: str
    opened_at: datetime
    embargo: EmbargoOut
    report_ids: list[str]
    vendor_count: int
    embargo_changes: list[EmbargoChangeOut]


class StatusOut(BaseModel):
    status: str
    statement: str
    justification: str | None
    updated_at: datetime | None
    due_on: date | None = None


class CellOut(BaseModel):
    """A vendor x product cell: its status (VEX's name, and the CSAF product status list it
    goes in), and the day it is due (set, or the embargo's last day)."""

    status: str
    csaf_product_status: str | None
    justification: str | None
    statement: str
    due_on: date
    due_set: bool
    updated_at: datetime | None


class VendorRowOut(BaseModel):
    vendor_org_id: str
    statuses: dict[str, StatusOut]
    cells: dict[str, CellOut] = Field(
        default_factory=dict, description="The vendor's cell for each of the case's products."
    )
    private_messages: int | None = Field(
        default=None,
        description="Messages in the vendor's private thread (for those who may read it).",
    )


class VendorTable(BaseModel):
    report_ids: list[str]
    products: list[str] = Field(default_factory=list)
    items: list[VendorRowOut]
    total: int
    limit: int
    offset: int


class CellIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=300, description="A product of the case.")
    status: CellState
    justification: (
        Literal[
            "component_not_present",
            "vulnerable_code_not_present",
            "vulnerable_code_not_in_execute_path",
            "vulnerable_code_cannot_be_controlled_by_adversary",
            "inline_mitigations_already_exist",
        ]
        | None
    ) = None
    statement: str = Field(default="", max_length=10_000)
    due_on: date | None = Field(
        default=None, description="The day it is due; none: the embargo's last day."
    )


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: VendorState
    statement: str = Field(default="", max_length=10_000)
    justification: (
        Literal[
            "component_not_present",
            "vulnerable_code_not_present",
            "vulnerable_code_not_in_execute_path",
            "vulnerable_code_cannot_be_controlled_by_adversary",
            "inline_mitigations_already_exist",
        ]
        | None
    ) = None
    due_on: date | None = Field(
        default=None,
        description="The day the vendor is expected to have acted (a fix, a statement).",
    )


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    report_id: str
    status: str
    statement: str
    changed_at: datetime


class ProductsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifiers: list[str] = Field(min_length=1, max_length=5000)
    proof: str | None = Field(
        default=None,
        max_length=10_000,
        description="For the analyst who verifies the claim: a signed statement, or where the "
        "claim's challenge is published (a DNS TXT record, a URL of the product's site).",
    )


class ProductOut(BaseModel):
    """A product claim as its claimant sees it; only a ``verified`` one confers a need to know."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    role: str
    identifier: str
    package_key: str
    created_at: datetime
    status: Literal["claimed", "verified", "rejected", "revoked"]
    challenge: str = Field(
        description="Publish this (DNS TXT record, or a file on the product's site) to prove "
        "the claim, or quote it in a signed statement."
    )
    proof: str | None
    decided_at: datetime | None


class ClaimOut(ProductOut):
    """A product claim as the analyst sees it: whose, and who decided it."""

    org_id: str
    decided_by: str | None
    decision_note: str | None


class ClaimDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["verify", "reject", "revoke"]
    note: str = Field(default="", max_length=2000)


class NotificationOut(BaseModel):
    """A report concerns one of the organisation's products. ``report_id`` is given only when
    the organisation may read the report (an unverified claim is told of the product only)."""

    id: str
    report_id: str | None
    readable: bool
    package_key: str
    created_at: datetime


class RelabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tlp: Tlp


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000, pattern=r"\S")


class MessageOut(BaseModel):
    """A message of a case's thread, with who wrote it (their name as it was then)."""

    id: str
    case_id: str
    author_org_id: str
    author_org_name: str
    author_user_id: str
    author_name: str
    text: str
    created_at: datetime
    thread: str | None = Field(
        default=None, description="The vendor of the private thread; none: the case's thread."
    )


class QueueItemOut(BaseModel):
    """A row of the analyst's triage queue. ``claimed_found_by`` is the report's own
    ``discovered_by``, a claim; ``model_label`` is the verified label (or ``None``)."""

    id: str
    title: str
    tlp: str
    reporter_org_id: str
    severity: float | None
    package_keys: list[str]
    created_at: datetime
    reproduction: Literal["reproduced", "not_reproduced", "unknown"] | str
    model_label: ModelLabelOut | None
    claimed_found_by: dict[str, Any] | None
    cluster: str
    open_duplicates: int
    triage_outcome: str | None
    triaged_at: datetime | None


class QueuePageOut(BaseModel):
    items: list[QueueItemOut]
    next_cursor: str | None


class QueueGroupOut(BaseModel):
    key: str
    reports: int
    newest_at: datetime
    highest_severity: float | None


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["accepted", "not_a_vulnerability", "needs_information"]
    note: str = Field(default="", max_length=5_000)


class TriageOut(BaseModel):
    report_id: str
    outcome: str
    note: str
    triaged_at: datetime


class StageLatencyOut(BaseModel):
    earlier: str
    later: str
    pairs: int
    median_hours: float | None
    p90_hours: float | None


class FunnelRowOut(BaseModel):
    """A vendor's funnel (``vendor_org_id``) or the overall one (``None``)."""

    vendor_org_id: str | None
    vendor_name: str | None
    counts: dict[str, int]
    latencies: list[StageLatencyOut]


class FunnelOut(BaseModel):
    stages: list[str]
    since: datetime | None
    until: datetime | None
    overall: FunnelRowOut | None
    vendors: list[FunnelRowOut]
