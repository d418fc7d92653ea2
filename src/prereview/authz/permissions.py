"""Every action the platform knows, named ``capability:resource:action``.

Each HTTP route names one of these (``openapi_extra['x-permission']``) and the policy module
(:mod:`prereview.authz.policy`) has one rule for each; an action without a rule is denied.
The same names are the ``action`` of audit entries.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    # identity
    ME_READ = "identity:me:read"
    ORG_CREATE = "identity:organisation:create"
    ORG_LIST = "identity:organisation:list"
    ORG_READ = "identity:organisation:read"
    USER_CREATE = "identity:user:create"
    USER_LIST = "identity:user:list"
    TOKEN_CREATE = "identity:token:create"  # noqa: S105
    TOKEN_LIST = "identity:token:list"  # noqa: S105
    TOKEN_REVOKE = "identity:token:revoke"  # noqa: S105
    # identity: deactivating people, invitations, web sessions (the last two audit actions only)
    USER_DEACTIVATE = "identity:user:deactivate"
    USER_REACTIVATE = "identity:user:reactivate"
    INVITATION_CREATE = "identity:invitation:create"
    INVITATION_REDEEM = "identity:invitation:redeem"
    SESSION_CREATE = "identity:session:create"
    SESSION_REVOKE = "identity:session:revoke"

    # review: submissions and the developer's launch controls
    SUBMISSION_CREATE = "review:submission:create"
    SUBMISSION_LIST = "review:submission:list"
    SUBMISSION_READ = "review:submission:read"
    SUBMISSION_UPDATE = "review:submission:update"
    SUBMISSION_RELEASE = "review:submission:release"
    SUBMISSION_WITHDRAW = "review:submission:withdraw"
    WINDOW_READ = "review:window:read"
    QUEUE_READ = "review:queue:read"

    # review: access
    GRANT_CREATE = "review:grant:create"
    GRANT_LIST = "review:grant:list"
    GRANT_REVOKE = "review:grant:revoke"
    NOMINATION_CREATE = "review:nomination:create"
    NOMINATION_LIST = "review:nomination:list"
    NOMINATION_DECIDE = "review:nomination:decide"

    # review: materials
    MATERIAL_CREATE = "review:material:create"
    MATERIAL_LIST = "review:material:list"
    MATERIAL_READ = "review:material:read"
    MATERIAL_DOWNLOAD = "review:material:download"

    # review: findings
    FINDING_CREATE = "review:finding:create"
    FINDING_LIST = "review:finding:list"
    FINDING_READ = "review:finding:read"
    FINDING_RESPOND = "review:finding:respond"

    # audit
    AUDIT_READ = "audit:entry:read"
    AUDIT_LIST = "audit:entry:list"
    AUDIT_CHECKPOINT_READ = "audit:checkpoint:read"
    AUDIT_PROOF_READ = "audit:proof:read"

    # clearinghouse: reports, duplicates, relations
    CH_REPORT_CREATE = "clearinghouse:report:create"
    CH_REPORT_IMPORT = "clearinghouse:report:import"
    CH_REPORT_LIST = "clearinghouse:report:list"
    CH_REPORT_READ = "clearinghouse:report:read"
    CH_REPORT_RELABEL = "clearinghouse:report-tlp:update"
    CH_EVIDENCE_READ = "clearinghouse:evidence:read"
    CH_RELATION_CREATE = "clearinghouse:relation:create"
    CH_DUPLICATE_LIST = "clearinghouse:duplicate:list"
    CH_DUPLICATE_DECIDE = "clearinghouse:duplicate:decide"
    CH_ADVISORY_PUBLISH = "clearinghouse:advisory:publish"
    CH_ADVISORY_LIST = "clearinghouse:advisory:list"

    # clearinghouse: coordinated disclosure
    CH_CASE_CREATE = "clearinghouse:case:create"
    CH_CASE_LIST = "clearinghouse:case:list"
    CH_CASE_READ = "clearinghouse:case:read"
    CH_CASE_UPDATE = "clearinghouse:case:update"
    CH_EMBARGO_UPDATE = "clearinghouse:embargo:update"
    CH_VENDOR_STATUS_UPDATE = "clearinghouse:vendor-status:update"
    # the case's thread: its vendors and the clearinghouse
    CH_CASE_MESSAGE_LIST = "clearinghouse:case-message:list"
    CH_CASE_MESSAGE_CREATE = "clearinghouse:case-message:create"

    # clearinghouse: vendors' products, partners' inventories, notifications
    CH_PRODUCT_REGISTER = "clearinghouse:product:create"
    CH_INVENTORY_REGISTER = "clearinghouse:inventory:create"
    CH_PRODUCT_LIST = "clearinghouse:product:list"
    # an organisation withdraws one of its own product claims (made or run)
    CH_PRODUCT_WITHDRAW = "clearinghouse:product:delete"
    CH_NOTIFICATION_LIST = "clearinghouse:notification:list"
    # a vendor's weekly capacity for new reports, and the pace of its notifications
    CH_CAPACITY_SET = "clearinghouse:vendor-capacity:update"
    CH_CAPACITY_READ = "clearinghouse:vendor-capacity:read"
    CH_PACING_READ = "clearinghouse:report-pacing:read"
    # a verified label: the report was found by a model during a review the reporter was in
    CH_MODEL_LABEL_CREATE = "clearinghouse:report-model-label:create"
    CH_TRIAGE_SUMMARY = "clearinghouse:triage-summary:read"
    # the analyst's triage queue (grouped by product and duplicate cluster) and its decisions
    CH_TRIAGE_QUEUE = "clearinghouse:triage-queue:list"
    CH_TRIAGE_DECIDE = "clearinghouse:report-triage:create"
    # the disclosure funnel: stage counts and latencies, per vendor and overall
    CH_FUNNEL_READ = "clearinghouse:funnel:read"
    # TAXII federation: the peers this clearinghouse pulls from, their pulls and sync status
    CH_FEDERATION_MANAGE = "clearinghouse:federation-peer:update"
    # ...and reading where each peer's collections stand (counts, digests, last pull)
    CH_FEDERATION_READ = "clearinghouse:federation-peer:read"
    # a clearinghouse analyst verifies (or rejects, or revokes) an organisation's product claim
    CH_CLAIM_LIST = "clearinghouse:product-claim:list"
    CH_CLAIM_DECIDE = "clearinghouse:product-claim:decide"
    # a report's proof of concept: attached by its reporter, run by the server in the sandbox
    CH_POC_CREATE = "clearinghouse:report-poc:create"
    CH_POC_READ = "clearinghouse:report-poc:read"

    # exchange: exports and the TAXII 2.1 server
    EXCHANGE_EXPORT = "exchange:advisory:export"
    EXCHANGE_TAXII_READ = "exchange:taxii:read"
    EXCHANGE_TAXII_OBJECTS = "exchange:taxii-object:read"

    # evals: results of the cyber suite and their Inspect logs
    EVAL_RUN_CREATE = "evals:run:create"
    EVAL_RESULT_READ = "evals:result:read"
    EVAL_LOG_CREATE = "evals:log:create"
    EVAL_LOG_DOWNLOAD = "evals:log:download"
    # evals: agencies' private task packs, and whom their owner shares them with
    EVAL_PACK_CREATE = "evals:pack:create"
    EVAL_PACK_LIST = "evals:pack:list"
    EVAL_PACK_READ = "evals:pack:read"
    EVAL_PACK_DOWNLOAD = "evals:pack:download"
    EVAL_PACK_SHARE = "evals:pack-share:create"
    EVAL_PACK_UNSHARE = "evals:pack-share:delete"

    # coverage: covered-frontier-model determinations
    COVERAGE_DETERMINATION_CREATE = "coverage:determination:create"
    COVERAGE_DETERMINATION_READ = "coverage:determination:read"
    COVERAGE_DETERMINATION_NOTICE = "coverage:determination-notice:read"
    COVERAGE_WHATIF_RUN = "coverage:whatif:run"
    COVERAGE_PRESET_LIST = "coverage:preset:list"

    # attestation: signed, offline-checkable statements of a submission's review
    ATTESTATION_CREATE = "attestation:participation:create"

    # transparency: the audit log entries the public report is computed from, for its auditors
    TRANSPARENCY_ENTRIES_READ = "transparency:entries:read"

    # gateway: the developer's upstream, reviewers' gateway keys, limits, kept transcripts
    GATEWAY_UPSTREAM_WRITE = "gateway:upstream:write"
    GATEWAY_UPSTREAM_READ = "gateway:upstream:read"
    GATEWAY_KEY_CREATE = "gateway:key:create"
    GATEWAY_KEY_LIST = "gateway:key:list"
    GATEWAY_KEY_REVOKE = "gateway:key:revoke"
    GATEWAY_LIMITS_WRITE = "gateway:limits:write"
    GATEWAY_LIMITS_READ = "gateway:limits:read"
    GATEWAY_TRANSCRIPT_LIST = "gateway:transcript:list"
    GATEWAY_TRANSCRIPT_READ = "gateway:transcript:read"


def route_permission(permission: Permission) -> dict[str, str]:
    """The ``openapi_extra`` that labels a route with the permission it exercises."""
    return {"x-permission": permission.value}
