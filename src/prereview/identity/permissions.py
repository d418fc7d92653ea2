"""Every action the platform knows, named ``capability:resource:action``.

Each HTTP route names one of these (``openapi_extra['x-permission']``) and the policy module
(:mod:`prereview.identity.policy`) has one rule for each; an action without a rule is denied.
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


def route_permission(permission: Permission) -> dict[str, str]:
    """The ``openapi_extra`` that labels a route with the permission it exercises."""
    return {"x-permission": permission.value}
