"""One factory for the whole platform's people: organisations of every kind, with tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.identity import service as identity_service
from prereview.identity.schemas import OrganisationCreate, UserCreate


@dataclass
class Member:
    org_id: str
    user_id: str
    token: str
    kind: OrgKind

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Platform:
    context: AppContext
    client: TestClient
    members: dict[str, Member] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    @classmethod
    def populate(cls, context: AppContext, client: TestClient) -> Platform:
        platform = cls(context, client)
        now = context.clock.now()
        with transaction(context.sessions) as db:
            org, user, issued = identity_service.bootstrap(
                db,
                OrganisationCreate(name="Clearinghouse", kind=OrgKind.CLEARINGHOUSE),
                UserCreate(email="ops@clearinghouse.org", name="Ops"),
                now,
                timedelta(days=30),
            )
            platform.members["clearinghouse"] = Member(
                org.id, user.id, issued.plaintext, OrgKind.CLEARINGHOUSE
            )
        for name, kind, sector in [
            ("developer", OrgKind.DEVELOPER, None),
            ("other_developer", OrgKind.DEVELOPER, None),
            ("agency", OrgKind.AGENCY, None),
            ("other_agency", OrgKind.AGENCY, None),
            ("partner", OrgKind.TRUSTED_PARTNER, Sector.HEALTHCARE_AND_PUBLIC_HEALTH),
            ("other_partner", OrgKind.TRUSTED_PARTNER, Sector.FINANCIAL_SERVICES),
        ]:
            platform.add(name, kind, sector)
        return platform

    def add(
        self, name: str, kind: OrgKind, sector: Sector | None = None, role: Role = Role.ADMIN
    ) -> Member:
        now = self.context.clock.now()
        with transaction(self.context.sessions) as db:
            org, user = identity_service.seed_organisation(
                db,
                OrganisationCreate(name=f"{name} org", kind=kind, sector=sector),
                UserCreate(email=f"{name}@{name.replace('_', '-')}.org", name=name, role=role),
                now,
            )
            db.flush()
            issued = identity_service.issue_token_for(db, user, "test", timedelta(days=365), now)
        member = Member(org.id, user.id, issued.plaintext, kind)
        self.members[name] = member
        return member

    # HTTP helpers: each asserts the status it expects so a test reads as the flow it checks.
    def call(
        self, who: str | None, method: str, path: str, expect: int | None = None, **kw: Any
    ) -> Any:
        headers = (self.members[who].headers if who else {}) | kw.pop("headers", {})
        response = self.client.request(method, f"/api/v1{path}", headers=headers, **kw)
        if expect is not None:
            assert response.status_code == expect, (
                method,
                path,
                response.status_code,
                response.text,
            )
        return response

    def submit(self, who: str = "developer", **fields: Any) -> dict[str, Any]:
        body = {
            "model_name": "Atlas",
            "model_version": "1.0",
            "training_compute_flop": 3e25,
        } | fields
        return self.call(who, "POST", "/submissions", 201, json=body).json()  # type: ignore[no-any-return]

    def grant(self, submission_id: str, agency: str = "agency", **fields: Any) -> dict[str, Any]:
        body = {"agency_org_id": self[agency].org_id} | fields
        return self.call(
            "developer", "POST", f"/submissions/{submission_id}/grants", 201, json=body
        ).json()  # type: ignore[no-any-return]
