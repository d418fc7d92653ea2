"""The authorization policy: the one place that decides who may do what.

A rule is a small object whose ``check`` raises :class:`~prereview.core.errors.Forbidden` when the
actor may not act; rules compose with :class:`AllOf` and :class:`AnyOf`. :data:`POLICY` maps every
:class:`Permission` to its rule, and :func:`authorize` denies any permission it has no rule for.

The caller describes the actor's relation to the object in an :class:`Access` (computed by the
owning capability's service from its own tables) so that this module needs no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.authz.permissions import Permission
from prereview.authz.usecase import check_declared
from prereview.core.errors import Forbidden
from prereview.core.markings import Tlp


@dataclass(frozen=True, slots=True)
class Access:
    """What the actor is to the object being acted on. Every flag defaults to 'nothing'."""

    owner: bool = False
    """The actor's organisation is the developer that owns the submission."""
    granted_agency: bool = False
    """The actor's organisation is an agency with a live grant on the submission."""
    consented_partner: bool = False
    """The actor's organisation is a trusted partner the developer consented to, window open."""
    had_access: bool = False
    """The actor's organisation held a grant or consented nomination at some time."""
    author: bool = False
    """The actor's organisation wrote the object (a finding)."""
    same_org: bool = False
    """The object belongs to the actor's own organisation (users, tokens)."""
    own: bool = False
    """The object belongs to the actor personally (their own token)."""
    first_user: bool = False
    """The organisation has no people yet (its first administrator is being invited)."""
    shareable: bool = False
    """The developer marked the object shareable with its consented partners (by TLP)."""
    tlp: Tlp | None = None
    """The TLP 2.0 label of clearinghouse material (``CLEAR`` ... ``RED``), if it is that."""
    reporter: bool = False
    """The actor's organisation reported the vulnerability (or opened the case)."""
    need_to_know: bool = False
    """A vendor of an affected product or on the case, or a partner whose inventory matches."""
    named_recipient: bool = False
    """The reporter named the actor's organisation as a recipient (what TLP:RED allows)."""
    disclosed: bool = False
    """The advisory is published and no embargo holds it back any more."""
    in_embargo: bool = False
    """The actor's organisation is a vendor on the case, inside its embargo."""
    loosens_tlp: bool = False
    """The change asked for would loosen the object's TLP label (TLP 2.0: only its source may)."""
    sector: Sector | None = None
    """The object is shared with one critical-infrastructure sector's members only."""
    shared_with: bool = False
    """Its owner shares the object (a private task pack) with the actor's organisation now."""


class Rule(Protocol):
    def check(self, actor: Actor, access: Access) -> None:
        """Return if ``actor`` may act given ``access``; raise ``Forbidden`` otherwise."""
        ...


class PolicyDenied(Forbidden):
    slug = "forbidden"


@dataclass(frozen=True)
class Authenticated:
    """Anyone with a valid token."""

    def check(self, actor: Actor, access: Access) -> None:
        return None


@dataclass(frozen=True)
class KindIs:
    kinds: frozenset[OrgKind]

    def check(self, actor: Actor, access: Access) -> None:
        if actor.org_kind not in self.kinds:
            names = ", ".join(sorted(k.value for k in self.kinds))
            raise PolicyDenied(f"only organisations of kind {names} may do this")


@dataclass(frozen=True)
class IsAdmin:
    def check(self, actor: Actor, access: Access) -> None:
        if actor.role is not Role.ADMIN:
            raise PolicyDenied("only an administrator of the organisation may do this")


@dataclass(frozen=True)
class Relation:
    """The actor stands in the named relation (a field of :class:`Access`) to the object."""

    name: str
    explanation: str

    def check(self, actor: Actor, access: Access) -> None:
        if not getattr(access, self.name):
            raise PolicyDenied(self.explanation)


@dataclass(frozen=True)
class AllOf:
    rules: tuple[Rule, ...]

    def check(self, actor: Actor, access: Access) -> None:
        for rule in self.rules:
            rule.check(actor, access)


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[Rule, ...]

    def check(self, actor: Actor, access: Access) -> None:
        refusals: list[str] = []
        for rule in self.rules:
            try:
                rule.check(actor, access)
            except Forbidden as refusal:
                refusals.append(refusal.detail)
            else:
                return
        raise PolicyDenied("; or ".join(refusals) if refusals else "not allowed")


def kind(*kinds: OrgKind) -> KindIs:
    return KindIs(frozenset(kinds))


def all_of(*rules: Rule) -> AllOf:
    return AllOf(rules)


def any_of(*rules: Rule) -> AnyOf:
    return AnyOf(rules)


OWNER = Relation("owner", "only the developer that owns this submission may do this")
GRANTED_AGENCY = Relation(
    "granted_agency", "your organisation holds no open grant on this submission"
)
CONSENTED_PARTNER = Relation(
    "consented_partner", "your organisation is not a consented partner with an open window here"
)
HAD_ACCESS = Relation("had_access", "your organisation was never granted access to this submission")
AUTHOR = Relation("author", "only the organisation that wrote this may read it")
SAME_ORG = Relation("same_org", "this belongs to another organisation")
FIRST_USER = Relation(
    "first_user", "the organisation already has people: its own administrators invite more"
)
OWN = Relation("own", "this belongs to another user")
SHARED_WITH = Relation(
    "shared_with", "this task pack's owner does not share it with your organisation"
)
SHAREABLE = Relation(
    "shareable", "the developer did not mark this shareable with trusted partners (TLP)"
)

_PARTICIPANT = any_of(OWNER, GRANTED_AGENCY, CONSENTED_PARTNER)
# An agency's work after its access ended: what it wrote itself, nothing of other agencies'.
_LIVE_OR_OWN = any_of(
    GRANTED_AGENCY,
    all_of(
        HAD_ACCESS,
        Relation("author", "your organisation's access has ended: it keeps only its own work"),
    ),
)


@dataclass(frozen=True)
class TlpAllows:
    """Clearinghouse material by its TLP 2.0 label (FIRST): CLEAR and GREEN reach everyone on
    the platform (its community); AMBER the reporter, the clearinghouse and those with a need
    to know; AMBER+STRICT the reporter and the clearinghouse; RED the reporter and the
    recipients it named. An unlabelled object is refused."""

    def check(self, actor: Actor, access: Access) -> None:
        label = access.tlp
        clearinghouse = actor.org_kind is OrgKind.CLEARINGHOUSE
        if label in (Tlp.CLEAR, Tlp.GREEN):
            return
        if label == Tlp.AMBER and (access.reporter or clearinghouse or access.need_to_know):
            return
        if label == Tlp.AMBER_STRICT and (access.reporter or clearinghouse):
            return
        if label == Tlp.RED and (access.reporter or access.named_recipient):
            return
        raise PolicyDenied(f"TLP:{label} does not allow your organisation to read this")


TLP_ALLOWS = TlpAllows()


@dataclass(frozen=True)
class NotLoosening:
    """The change keeps or tightens the TLP label: FIRST's TLP 2.0 lets only the source of the
    information loosen it, so anyone else (the clearinghouse included) may only tighten."""

    def check(self, actor: Actor, access: Access) -> None:
        if access.loosens_tlp:
            raise PolicyDenied(
                "only the reporter (the source) may loosen a TLP label; the clearinghouse may "
                "keep or tighten it: ask the reporter to relabel the report first"
            )


NOT_LOOSENING = NotLoosening()


@dataclass(frozen=True)
class SectorMember:
    """Material shared with a sector reaches that sector's trusted partners (and the
    clearinghouse that shares it): what a sector's members run is theirs to know, not a
    developer's, an agency's or another sector's."""

    def check(self, actor: Actor, access: Access) -> None:
        if access.sector is None or actor.org_kind is OrgKind.CLEARINGHOUSE:
            return
        if actor.org_kind is OrgKind.TRUSTED_PARTNER and actor.sector is access.sector:
            return
        raise PolicyDenied("this is shared with the members of another sector only")


SECTOR_MEMBER = SectorMember()
CH_REPORTER = Relation("reporter", "only the reporting organisation may do this")
NEED_TO_KNOW = Relation("need_to_know", "your organisation has no need to know this")
DISCLOSED = Relation("disclosed", "the advisory is not public yet (unpublished or embargoed)")
IN_EMBARGO = Relation("in_embargo", "your organisation is not a vendor on this case")
CASE_MEMBER = Relation(
    "need_to_know", "only the case's vendors and the clearinghouse take part in its messages"
)
_CLEARINGHOUSE = kind(OrgKind.CLEARINGHOUSE)

POLICY: Mapping[Permission, Rule] = {
    Permission.ME_READ: Authenticated(),
    # The platform is operated by the clearinghouse: its administrators admit organisations.
    Permission.ORG_CREATE: all_of(kind(OrgKind.CLEARINGHOUSE), IsAdmin()),
    Permission.ORG_LIST: Authenticated(),
    Permission.ORG_READ: Authenticated(),
    Permission.USER_CREATE: all_of(SAME_ORG, IsAdmin()),
    Permission.USER_LIST: SAME_ORG,
    Permission.TOKEN_CREATE: OWN,
    Permission.TOKEN_LIST: OWN,
    Permission.TOKEN_REVOKE: any_of(OWN, all_of(SAME_ORG, IsAdmin())),
    # An administrator deactivates people of its own organisation. The platform operator does
    # it on the server (`prereview admin deactivate`), not through the API: an API right for
    # the clearinghouse to switch off a developer's people would be a veto on its release.
    Permission.USER_DEACTIVATE: all_of(SAME_ORG, IsAdmin()),
    Permission.USER_REACTIVATE: all_of(SAME_ORG, IsAdmin()),
    # Whoever admits an organisation invites its first administrator; after that, only the
    # organisation's own administrators invite (the operator cannot invite itself in).
    Permission.INVITATION_CREATE: any_of(
        all_of(SAME_ORG, IsAdmin()), all_of(kind(OrgKind.CLEARINGHOUSE), IsAdmin(), FIRST_USER)
    ),
    # Redeeming is unauthenticated (the secret is the credential); signing in to the web
    # and out again is open to anyone with a valid token or session.
    Permission.INVITATION_REDEEM: Authenticated(),
    Permission.SESSION_CREATE: Authenticated(),
    Permission.SESSION_REVOKE: OWN,
    Permission.SUBMISSION_CREATE: kind(OrgKind.DEVELOPER),
    Permission.SUBMISSION_LIST: Authenticated(),
    Permission.SUBMISSION_READ: _PARTICIPANT,
    Permission.SUBMISSION_UPDATE: OWNER,
    # Releasing and withdrawing are the developer's alone, and nothing else is consulted:
    # no state, finding or other party's action can stand in the way (the no-veto rule).
    Permission.SUBMISSION_RELEASE: OWNER,
    Permission.SUBMISSION_WITHDRAW: OWNER,
    Permission.WINDOW_READ: any_of(OWNER, HAD_ACCESS),
    Permission.QUEUE_READ: kind(OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER),
    Permission.GRANT_CREATE: OWNER,
    Permission.GRANT_LIST: any_of(OWNER, HAD_ACCESS),
    Permission.GRANT_REVOKE: OWNER,
    Permission.NOMINATION_CREATE: all_of(kind(OrgKind.AGENCY), GRANTED_AGENCY),
    Permission.NOMINATION_LIST: any_of(OWNER, GRANTED_AGENCY),
    Permission.NOMINATION_DECIDE: OWNER,
    Permission.MATERIAL_CREATE: OWNER,
    Permission.MATERIAL_LIST: _PARTICIPANT,
    Permission.MATERIAL_READ: any_of(OWNER, GRANTED_AGENCY, all_of(CONSENTED_PARTNER, SHAREABLE)),
    Permission.MATERIAL_DOWNLOAD: any_of(
        OWNER, GRANTED_AGENCY, all_of(CONSENTED_PARTNER, SHAREABLE)
    ),
    Permission.FINDING_CREATE: any_of(GRANTED_AGENCY, CONSENTED_PARTNER),
    Permission.FINDING_LIST: any_of(OWNER, HAD_ACCESS),
    Permission.FINDING_READ: any_of(OWNER, AUTHOR),
    Permission.FINDING_RESPOND: OWNER,
    Permission.AUDIT_READ: OWNER,
    # Developers list the entries about their own submissions (the service filters to them).
    Permission.AUDIT_LIST: kind(OrgKind.DEVELOPER),
    # Checkpoints and proofs are hashes only: anyone signed in may check the log's integrity.
    Permission.AUDIT_CHECKPOINT_READ: Authenticated(),
    Permission.AUDIT_PROOF_READ: Authenticated(),
    # Clearinghouse: anyone on the platform may report; reads follow the report's TLP label.
    Permission.CH_REPORT_CREATE: Authenticated(),
    Permission.CH_REPORT_IMPORT: Authenticated(),
    Permission.CH_REPORT_LIST: Authenticated(),
    Permission.CH_REPORT_READ: TLP_ALLOWS,
    Permission.CH_EVIDENCE_READ: all_of(TLP_ALLOWS, any_of(CH_REPORTER, _CLEARINGHOUSE)),
    # A proof of concept is the reporter's to attach; it and its logs are exploit code, for
    # those with a need to know (the reporter, the clearinghouse, a verified vendor), not
    # everyone the report's label would let read the report.
    Permission.CH_POC_CREATE: all_of(TLP_ALLOWS, CH_REPORTER),
    Permission.CH_POC_READ: all_of(TLP_ALLOWS, any_of(CH_REPORTER, _CLEARINGHOUSE, NEED_TO_KNOW)),
    Permission.CH_RELATION_CREATE: _CLEARINGHOUSE,
    Permission.CH_DUPLICATE_LIST: _CLEARINGHOUSE,
    Permission.CH_DUPLICATE_DECIDE: _CLEARINGHOUSE,
    # Publishing may relabel, but a looser label than the reporter's needs the reporter.
    Permission.CH_ADVISORY_PUBLISH: all_of(
        _CLEARINGHOUSE, TLP_ALLOWS, any_of(NOT_LOOSENING, CH_REPORTER)
    ),
    Permission.CH_REPORT_RELABEL: all_of(
        TLP_ALLOWS, any_of(CH_REPORTER, all_of(_CLEARINGHOUSE, NOT_LOOSENING))
    ),
    Permission.CH_ADVISORY_LIST: Authenticated(),
    Permission.CH_CASE_CREATE: _CLEARINGHOUSE,
    Permission.CH_CASE_LIST: Authenticated(),
    Permission.CH_CASE_READ: TLP_ALLOWS,
    Permission.CH_CASE_UPDATE: _CLEARINGHOUSE,
    Permission.CH_EMBARGO_UPDATE: _CLEARINGHOUSE,
    # A vendor states its own status; the clearinghouse records what a vendor told it.
    Permission.CH_VENDOR_STATUS_UPDATE: all_of(
        TLP_ALLOWS, any_of(all_of(SAME_ORG, NEED_TO_KNOW), _CLEARINGHOUSE)
    ),
    # A case's messages are for its members: the clearinghouse and the case's vendors (the
    # need to know a case confers); others who may read the case are told they are not one.
    Permission.CH_CASE_MESSAGE_LIST: all_of(TLP_ALLOWS, any_of(_CLEARINGHOUSE, CASE_MEMBER)),
    Permission.CH_CASE_MESSAGE_CREATE: all_of(TLP_ALLOWS, any_of(_CLEARINGHOUSE, CASE_MEMBER)),
    Permission.CH_PRODUCT_REGISTER: kind(OrgKind.DEVELOPER, OrgKind.TRUSTED_PARTNER),
    Permission.CH_INVENTORY_REGISTER: kind(OrgKind.TRUSTED_PARTNER),
    Permission.CH_PRODUCT_LIST: Authenticated(),
    Permission.CH_PRODUCT_WITHDRAW: all_of(
        kind(OrgKind.DEVELOPER, OrgKind.TRUSTED_PARTNER), SAME_ORG
    ),
    Permission.CH_NOTIFICATION_LIST: Authenticated(),
    # A vendor's capacity is stated by its administrators (or recorded by the clearinghouse);
    # the schedule of a report's notifications is for its reporter and the clearinghouse.
    Permission.CH_CAPACITY_SET: any_of(
        all_of(kind(OrgKind.DEVELOPER, OrgKind.TRUSTED_PARTNER), SAME_ORG, IsAdmin()),
        _CLEARINGHOUSE,
    ),
    Permission.CH_CAPACITY_READ: any_of(SAME_ORG, _CLEARINGHOUSE),
    Permission.CH_PACING_READ: any_of(CH_REPORTER, _CLEARINGHOUSE),
    # A model-found label is verified, not asserted: the reporter must have been let into the
    # review (a grant, a consented nomination, or the developer's own submission).
    Permission.CH_MODEL_LABEL_CREATE: all_of(CH_REPORTER, any_of(OWNER, HAD_ACCESS)),
    Permission.CH_TRIAGE_SUMMARY: _CLEARINGHOUSE,
    Permission.CH_TRIAGE_QUEUE: _CLEARINGHOUSE,
    Permission.CH_TRIAGE_DECIDE: _CLEARINGHOUSE,
    # The funnel is counts and latencies: agencies and the clearinghouse read every row, a
    # vendor (a developer or a partner) only its own (the service narrows it).
    Permission.CH_FUNNEL_READ: kind(
        OrgKind.CLEARINGHOUSE, OrgKind.AGENCY, OrgKind.DEVELOPER, OrgKind.TRUSTED_PARTNER
    ),
    # A claim to make or run a product confers a need to know only once an analyst verified it.
    Permission.CH_CLAIM_LIST: _CLEARINGHOUSE,
    Permission.CH_CLAIM_DECIDE: _CLEARINGHOUSE,
    # Which peers to pull, and their credentials, are the clearinghouse's own business.
    Permission.CH_FEDERATION_MANAGE: _CLEARINGHOUSE,
    Permission.CH_FEDERATION_READ: _CLEARINGHOUSE,
    # Exports and TAXII: the TLP label, and before disclosure only those inside the embargo.
    Permission.EXCHANGE_EXPORT: all_of(
        TLP_ALLOWS, any_of(DISCLOSED, CH_REPORTER, _CLEARINGHOUSE, IN_EMBARGO)
    ),
    Permission.EXCHANGE_TAXII_READ: Authenticated(),
    # TAXII collections, like lists, hold only what TLP and the embargo let the caller see;
    # a sector's collection is for that sector's members.
    Permission.EXCHANGE_TAXII_OBJECTS: SECTOR_MEMBER,
    # Evaluation results, per run: the developer; agencies with a live grant; after an
    # agency's access ends, its own runs only. A run and its logs are uploaded by an agency
    # with a live grant, the logs by the run's own agency; a log is read by the developer and
    # the run's own agency, never by another agency (live or not).
    Permission.EVAL_RUN_CREATE: all_of(kind(OrgKind.AGENCY), GRANTED_AGENCY),
    Permission.EVAL_RESULT_READ: any_of(OWNER, all_of(kind(OrgKind.AGENCY), _LIVE_OR_OWN)),
    Permission.EVAL_LOG_CREATE: all_of(kind(OrgKind.AGENCY), GRANTED_AGENCY, AUTHOR),
    Permission.EVAL_LOG_DOWNLOAD: any_of(OWNER, all_of(kind(OrgKind.AGENCY), HAD_ACCESS, AUTHOR)),
    # Private task packs are an agency's own: it uploads and shares them; only its members and
    # those of agencies it shares a pack with (while the share lasts) read and download one. A
    # developer, a partner or an agency whose share ended never does.
    Permission.EVAL_PACK_CREATE: kind(OrgKind.AGENCY),
    Permission.EVAL_PACK_LIST: kind(OrgKind.AGENCY),
    Permission.EVAL_PACK_READ: all_of(kind(OrgKind.AGENCY), any_of(SAME_ORG, SHARED_WITH)),
    Permission.EVAL_PACK_DOWNLOAD: all_of(kind(OrgKind.AGENCY), any_of(SAME_ORG, SHARED_WITH)),
    Permission.EVAL_PACK_SHARE: all_of(kind(OrgKind.AGENCY), SAME_ORG),
    Permission.EVAL_PACK_UNSHARE: all_of(kind(OrgKind.AGENCY), SAME_ORG),
    # Determinations are the agencies' alone; the developer reads only a notice (that one
    # exists, and its outcome where the policy discloses it), a separate and narrower read.
    # Per determination: agencies with a live grant; after access ends, an agency's own only.
    Permission.COVERAGE_DETERMINATION_CREATE: all_of(kind(OrgKind.AGENCY), HAD_ACCESS),
    Permission.COVERAGE_DETERMINATION_READ: all_of(kind(OrgKind.AGENCY), _LIVE_OR_OWN),
    Permission.COVERAGE_DETERMINATION_NOTICE: OWNER,
    # What-if reads only what the caller may already see (its results, the declared compute).
    Permission.COVERAGE_WHATIF_RUN: any_of(OWNER, all_of(kind(OrgKind.AGENCY), HAD_ACCESS)),
    Permission.COVERAGE_PRESET_LIST: Authenticated(),
    # A participation attestation speaks for the developer, so only the developer asks for it.
    Permission.ATTESTATION_CREATE: OWNER,
    # The entries the public report is computed from name developers and their models: only the
    # operator's administrators (and the auditors it gives such an account) read them, to
    # recompute the report; the report itself is public and needs no permission.
    Permission.TRANSPARENCY_ENTRIES_READ: all_of(kind(OrgKind.CLEARINGHOUSE), IsAdmin()),
    # Gateway: the upstream and the limits are the developer's; keys are made by the members of
    # an organisation whose access is live, and revoked by that organisation or the developer;
    # kept transcripts are read by the developer and by the organisation that made the call.
    Permission.GATEWAY_UPSTREAM_WRITE: OWNER,
    Permission.GATEWAY_UPSTREAM_READ: OWNER,
    Permission.GATEWAY_KEY_CREATE: any_of(GRANTED_AGENCY, CONSENTED_PARTNER),
    Permission.GATEWAY_KEY_LIST: any_of(OWNER, HAD_ACCESS),
    Permission.GATEWAY_KEY_REVOKE: any_of(OWNER, all_of(HAD_ACCESS, SAME_ORG)),
    Permission.GATEWAY_LIMITS_WRITE: OWNER,
    Permission.GATEWAY_LIMITS_READ: any_of(OWNER, HAD_ACCESS),
    Permission.GATEWAY_TRANSCRIPT_LIST: any_of(OWNER, HAD_ACCESS),
    Permission.GATEWAY_TRANSCRIPT_READ: any_of(OWNER, all_of(HAD_ACCESS, SAME_ORG)),
}


def authorize(actor: Actor, permission: Permission, access: Access | None = None) -> None:
    """Raise ``Forbidden`` unless ``actor`` may exercise ``permission`` with ``access``."""
    check_declared(permission)
    rule = POLICY.get(permission)
    if rule is None:
        raise PolicyDenied(f"no policy allows '{permission}'")
    rule.check(actor, access or Access())


def allowed(actor: Actor, permission: Permission, access: Access | None = None) -> bool:
    """Whether :func:`authorize` would pass; for filtering lists."""
    try:
        authorize(actor, permission, access)
    except Forbidden:
        return False
    return True
