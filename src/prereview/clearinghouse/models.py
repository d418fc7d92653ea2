"""Tables of the clearinghouse: reports, identifiers and relations, duplicates, cases, vendors.

A report is stored whole (its validated domain model as JSON in ``document``) with the columns
that queries need beside it; its evidence is not in the row but sealed in the vault under
``report:<id>``. Nothing time-dependent is stored as a state: whether a case's embargo is lifted
is computed from ``embargo_until`` and the clock when asked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from prereview.core.db import Base


class VulnReport(Base):
    """One vulnerability report as accepted at intake (or later merged or published)."""

    __tablename__ = "ch_reports"

    # A surrogate, increasing key: the duplicate finder indexes what is newer than it has seen.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)
    reporter_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    tlp: Mapped[str] = mapped_column(String(20), index=True)
    cwes: Mapped[list[str]] = mapped_column(JSON)
    cvss_v3_vector: Mapped[str | None] = mapped_column(String(200))
    cvss_v3_score: Mapped[float | None] = mapped_column(Float)
    cvss_v4_vector: Mapped[str | None] = mapped_column(String(300))
    cvss_v4_score: Mapped[float | None] = mapped_column(Float)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    has_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by a verified model-found label (``ch_model_labels``), never from the report's own
    # ``discovered_by``, which is only what its reporter says.
    submission_id: Mapped[str | None] = mapped_column(String(40))
    package_keys: Mapped[list[str]] = mapped_column(JSON)
    merged_into: Mapped[str | None] = mapped_column(String(128), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    published_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ReportRecipient(Base):
    """An organisation the reporter named as a recipient (what TLP:RED is shared with)."""

    __tablename__ = "ch_recipients"

    report_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)


class VulnIdentifier(Base):
    """Every name a stored report is known by (its id and its aliases), to find reports by name.

    One name may be carried by many reports: distinct records (a PYSEC record for
    ``tensorflow`` and another for ``tensorflow-gpu``) share the CVE they both name, and stay
    distinct records; only a report's own id is unique (``ch_reports.id``).
    """

    __tablename__ = "ch_identifiers"

    identifier: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class ReportVersion(Base):
    """A version of a report that an update replaced, kept whole: updates never lose history."""

    __tablename__ = "ch_report_versions"
    __table_args__ = (UniqueConstraint("report_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(String(128), index=True)
    # 1 for the first version stored; the current one is ``len(versions) + 1``.
    version: Mapped[int] = mapped_column(Integer)
    modified: Mapped[datetime | None]
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    tlp: Mapped[str] = mapped_column(String(20))
    stored_at: Mapped[datetime]
    replaced_at: Mapped[datetime]


class AffectedRow(Base):
    """An affected product of a report, by the key that vendor and inventory matching uses."""

    __tablename__ = "ch_affected"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(String(128), index=True)
    package_key: Mapped[str] = mapped_column(String(300), index=True)
    purl: Mapped[str | None] = mapped_column(String(500))
    cpe: Mapped[str | None] = mapped_column(String(500))


class VulnRelation(Base):
    """One stated relation between two vulnerability ids (OSV's alias, upstream or related)."""

    __tablename__ = "ch_relations"
    __table_args__ = (UniqueConstraint("kind", "source", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(128), index=True)
    target: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]


class DuplicateCandidateRow(Base):
    """A likely duplicate the finder proposed, and the analyst's decision on it."""

    __tablename__ = "ch_duplicates"
    __table_args__ = (UniqueConstraint("report_id", "candidate_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(128), index=True)
    candidate_id: Mapped[str] = mapped_column(String(128), index=True)
    similarity: Mapped[float] = mapped_column(Float)
    same_code: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Case(Base):
    """A coordinated disclosure case: reports, vendors, and an embargo."""

    __tablename__ = "ch_cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    tlp: Mapped[str] = mapped_column(String(20))
    opened_by_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    opened_at: Mapped[datetime]
    embargo_until: Mapped[datetime]
    # The zone the embargo was set in (an IANA name), to show it as it was meant.
    embargo_zone: Mapped[str] = mapped_column(String(64))


class EmbargoChange(Base):
    __tablename__ = "ch_embargo_changes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    previous: Mapped[datetime]
    new: Mapped[datetime]
    zone: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime]


class CaseVendor(Base):
    """A vendor organisation taking part in a case."""

    __tablename__ = "ch_case_vendors"
    __table_args__ = (UniqueConstraint("case_id", "vendor_org_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    vendor_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    added_at: Mapped[datetime]


class VendorStatus(Base):
    """A vendor's current status for one vulnerability of a case, with its VEX statement."""

    __tablename__ = "ch_vendor_statuses"
    __table_args__ = (UniqueConstraint("case_id", "vendor_org_id", "report_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    vendor_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    report_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(40))
    statement: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str | None] = mapped_column(String(80))
    # When the vendor is expected to have acted on it (a fix, a statement): a calendar day.
    due_on: Mapped[date | None] = mapped_column(Date)
    updated_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class VendorStatusChange(Base):
    """The history of vendor statuses: every change, never rewritten."""

    __tablename__ = "ch_vendor_status_history"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    vendor_org_id: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(40))
    statement: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str | None] = mapped_column(String(40))
    changed_at: Mapped[datetime]


class CaseMessage(Base):
    """A message in a case's thread, which the case's vendors and the clearinghouse read, or in
    one vendor's private thread with the clearinghouse."""

    __tablename__ = "ch_case_messages"
    # A page of one thread, in order, is one index range (the shared thread at 1,000 messages).
    __table_args__ = (
        Index("ix_ch_case_messages_thread", "case_id", "vendor_org_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    author_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    author_user_id: Mapped[str] = mapped_column(String(40))
    # The author's name as it was when they wrote (a thread reads as it was written).
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # The vendor of a private thread (the coordinators and that vendor only); None: the thread
    # of all the case's members.
    vendor_org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))


class ProductRegistration(Base):
    """An organisation's claim that it makes (``vendor``) or runs (``inventory``) a product,
    by purl or CPE.

    A claim is only a claim until a clearinghouse analyst verifies it (``status``: ``claimed``
    -> ``verified``, or ``rejected``; a verified claim can be ``revoked``): anyone may say they
    make anything. Only a verified claim confers a need to know TLP:AMBER reports; an
    unverified one routes notifications, which carry nothing the organisation may not read.
    """

    __tablename__ = "ch_registrations"
    __table_args__ = (UniqueConstraint("org_id", "role", "identifier"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    identifier: Mapped[str] = mapped_column(String(500))
    package_key: Mapped[str] = mapped_column(String(300), index=True)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True, default="claimed")
    # What the claimant offers the analyst: a signed statement, or where it published the
    # challenge (a DNS TXT record, a URL on the product's site). The server fetches nothing.
    proof: Mapped[str | None] = mapped_column(Text)
    challenge: Mapped[str] = mapped_column(String(80), default="")
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """A report that concerns an organisation's products, waiting for it to read."""

    __tablename__ = "ch_notifications"
    __table_args__ = (UniqueConstraint("org_id", "report_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    report_id: Mapped[str] = mapped_column(String(128))
    package_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    # When the vendor was told: at once, or when its weekly capacity lets the report out
    # (:mod:`.pacing`); ``None`` while it waits its turn.
    notified_at: Mapped[datetime | None]


class VendorCapacity(Base):
    """How many new reports a vendor organisation takes per week (no row: no pacing)."""

    __tablename__ = "ch_vendor_capacity"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    per_week: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(40))
    set_at: Mapped[datetime]


class ModelFoundLabel(Base):
    """A verified label: the report was found by ``model`` during the review of a submission
    the reporting organisation had access to (checked when the label was given)."""

    __tablename__ = "ch_model_labels"

    report_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    submission_id: Mapped[str] = mapped_column(String(40), index=True)
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    verified_for_org_id: Mapped[str] = mapped_column(String(40))
    verified_by: Mapped[str] = mapped_column(String(40))
    verified_at: Mapped[datetime]


class TriageDecision(Base):
    """An analyst's triage of a report (:mod:`.triage`): the funnel's "triaged" stage, with the
    moment the server recorded it. One per report; triaging again keeps the first moment."""

    __tablename__ = "ch_triage"

    report_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # "accepted", "not_a_vulnerability", "needs_information"; "inferred" for a report the
    # migration found already merged, in a case or published (0019's backfill).
    outcome: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    triaged_by: Mapped[str | None] = mapped_column(String(40))
    triaged_at: Mapped[datetime] = mapped_column(index=True)


class FederationPeer(Base):
    """Another clearinghouse's TAXII 2.1 API root that this one pulls from (:mod:`.federation`).

    Its credential is not here: it is sealed in the vault under ``federation-peer:<id>``."""

    __tablename__ = "ch_federation_peers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    api_root: Mapped[str] = mapped_column(String(2000))
    username: Mapped[str | None] = mapped_column(String(200))
    collections: Mapped[list[str]] = mapped_column(JSON)
    # The label pulled reports land under (never looser than the object's own marking).
    tlp: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    # The operator declared it on a private network: private and loopback addresses allowed.
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # The pull now running (migration 0022): taken by compare-and-set, so that two pulls of
    # one peer never run at once; it expires, so a pull that died does not block the next.
    lease_holder: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None]


class FederationSync(Base):
    """Where the pull of one peer collection stands, and the last check of both sides."""

    __tablename__ = "ch_federation_syncs"

    peer_id: Mapped[str] = mapped_column(ForeignKey("ch_federation_peers.id"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # added_after for the next pull: the peer's X-TAXII-Date-Added-Last of the last complete one.
    added_after: Mapped[str | None] = mapped_column(String(40))
    # An interrupted pull: the added_after it ran with and the peer's next token to resume at.
    resume_added_after: Mapped[str | None] = mapped_column(String(40))
    resume_next: Mapped[str | None] = mapped_column(String(500))
    resume_last: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    pulled: Mapped[int] = mapped_column(Integer, default=0)
    peer_count: Mapped[int | None] = mapped_column(Integer)
    peer_digest: Mapped[str | None] = mapped_column(String(80))
    our_count: Mapped[int | None] = mapped_column(Integer)
    our_digest: Mapped[str | None] = mapped_column(String(80))
    differences: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class FederationObject(Base):
    """One object a peer collection served, and what intake made of it."""

    __tablename__ = "ch_federation_objects"

    peer_id: Mapped[str] = mapped_column(ForeignKey("ch_federation_peers.id"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    peer_version: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(20))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    pulled_at: Mapped[datetime]


class CaseCell(Base):
    """One vendor x product cell of a case: the vendor's status for a product of the case's
    reports (CSAF product status / VEX), with its justification and the day it is due.

    No row means ``unknown``, due when the embargo ends: the due day is stored only once someone
    sets it, so that moving the embargo moves every cell still on the default.
    """

    __tablename__ = "ch_case_cells"
    __table_args__ = (UniqueConstraint("case_id", "vendor_org_id", "product_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("ch_cases.id"), index=True)
    vendor_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    product_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(40))
    justification: Mapped[str | None] = mapped_column(String(80))
    statement: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(Date)
    updated_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class ReportPoc(Base):
    """A proof of concept the reporter attached to a report (:mod:`.reproduction`): what it
    runs against and what counts as reproduced. Its script is not in the row but sealed in the
    vault under the report's context (``poc-<version>``), as the report's evidence is."""

    __tablename__ = "ch_report_pocs"
    __table_args__ = (UniqueConstraint("report_id", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(128), index=True)
    # 1 for the first PoC of the report; attaching again adds the next version.
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(20))
    ecosystem: Mapped[str] = mapped_column(String(20))
    package: Mapped[str] = mapped_column(String(200))
    affected_version: Mapped[str] = mapped_column(String(100))
    fixed_version: Mapped[str | None] = mapped_column(String(100))
    # Reproduced means: the script exits with this status and, if set, prints this marker.
    expect_exit: Mapped[int] = mapped_column(Integer, default=0)
    expect_stdout: Mapped[str | None] = mapped_column(String(500))
    script_sha256: Mapped[str] = mapped_column(String(64))
    script_bytes: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(String(40))
    submitted_at: Mapped[datetime]


class Reproduction(Base):
    """The server's reproduction of one PoC version: the queue entry and, once run, its verdict
    and the log of each run (one per package version). One per PoC: idempotent."""

    __tablename__ = "ch_reproductions"
    __table_args__ = (Index("ix_ch_reproductions_report_rank", "report_id", "rank"),)

    poc_id: Mapped[str] = mapped_column(ForeignKey("ch_report_pocs.id"), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(128))
    # "queued", "running" (claimed by a worker until lease_until), "done".
    state: Mapped[str] = mapped_column(String(20), index=True)
    verdict: Mapped[str | None] = mapped_column(String(40))
    # What the triage queue orders by: 0 reproduced, 1 not reproduced, 2 unknown.
    rank: Mapped[int] = mapped_column(Integer, default=2)
    detail: Mapped[str] = mapped_column(Text, default="")
    runs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
