"""Who is asking: the authenticated caller, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass

from prereview.authz.kinds import OrgKind, Role, Sector


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    organisation_id: str
    org_kind: OrgKind
    role: Role
    sector: Sector | None = None
    token_id: str | None = None
    session_id: str | None = None
    """Set when the caller is a signed-in browser; ``token_id`` is then the token that opened it."""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
