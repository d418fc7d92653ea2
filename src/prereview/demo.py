"""The demo scenario: a lab with two submissions, two agencies, a hospital and a bank.

Seeding goes through the same services as the API, with the clock set back where the story
needs the past, so the audit log of the demo reads like a real one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.pagination import PageRequest
from prereview.gateway.engine.serving import ThreadedServer
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.review import service as review
from prereview.review.kinds import (
    Access,
    FindingCategory,
    Modality,
    NominationStatus,
    ResponseStatus,
    Severity,
)
from prereview.review.schemas import (
    Contact,
    FindingCreate,
    GrantCreate,
    NominationCreate,
    ResponseCreate,
    SubmissionCreate,
)

# (env name, organisation, kind, sector, user email, user name)
PEOPLE = [
    (
        "CLEARINGHOUSE_TOKEN",
        "National AI Vulnerability Clearinghouse",
        OrgKind.CLEARINGHOUSE,
        None,
        "ops@naivc.gov",
        "Dana Ortiz",
    ),
    ("DEV_TOKEN", "Meridian AI", OrgKind.DEVELOPER, None, "release@meridian-ai.com", "Priya Raman"),
    (
        "CAISI_TOKEN",
        "Center for AI Standards and Innovation",
        OrgKind.AGENCY,
        None,
        "reviewer@caisi.gov",
        "Marcus Lee",
    ),
    (
        "CISA_TOKEN",
        "Cybersecurity and Infrastructure Security Agency",
        OrgKind.AGENCY,
        None,
        "analyst@cisa.gov",
        "Elena Novak",
    ),
    (
        "HOSPITAL_TOKEN",
        "St. Brigid Regional Health",
        OrgKind.TRUSTED_PARTNER,
        Sector.HEALTHCARE_AND_PUBLIC_HEALTH,
        "secops@stbrigid-health.org",
        "Sam Okafor",
    ),
    (
        "BANK_TOKEN",
        "Harbor Federal Bank",
        OrgKind.TRUSTED_PARTNER,
        Sector.FINANCIAL_SERVICES,
        "redteam@harborfederal.com",
        "Grace Kim",
    ),
]
DEMO_DEVELOPER = "Meridian AI"


@dataclass(frozen=True)
class DemoTokens:
    values: dict[str, str]
    ids: dict[str, str]

    def env_file(self) -> str:
        lines = [f"export {name}={value}" for name, value in self.values.items()]
        lines += [f"export {name}={value}" for name, value in self.ids.items()]
        return "\n".join(lines) + "\n"


def _actor(db: Session, email: str) -> Actor:
    return identity.actor_of(db, email)


def _seed(db: Session, now: datetime, rules: review.Rules) -> None:
    for _, org_name, kind, sector, email, name in PEOPLE:
        identity.seed_organisation(
            db,
            OrganisationCreate(name=org_name, kind=kind, sector=sector),
            UserCreate(email=email, name=name, role=Role.ADMIN),
            now,
        )
    db.commit()
    dev = _actor(db, "release@meridian-ai.com")
    caisi = _actor(db, "reviewer@caisi.gov")
    cisa = _actor(db, "analyst@cisa.gov")
    hospital = _actor(db, "secops@stbrigid-health.org")
    bank_org_id = identity.organisation_id_named(db, "Harbor Federal Bank")
    assert bank_org_id is not None  # seeded just above
    contacts = [Contact(name="Priya Raman", email="release@meridian-ai.com", role="release lead")]

    # An earlier model: reviewed, answered, released twenty days ago.
    past = now - timedelta(days=50)
    old = review.create_submission(
        db,
        dev,
        SubmissionCreate(
            model_name="Helios",
            model_version="1.5",
            description="General-purpose assistant model.",
            modalities=[Modality.TEXT, Modality.CODE],
            training_compute_flop=8e24,
            parameter_count=180_000_000_000,
            access_offered=[Access.HOSTED_API, Access.DOCUMENTS],
            contacts=contacts,
        ),
        past,
    )
    review.grant(
        db,
        dev,
        old.id,
        GrantCreate(agency_org_id=caisi.organisation_id, window_days=30),
        past + timedelta(hours=2),
        rules,
    )
    old_finding = review.file_finding(
        db,
        caisi,
        old.id,
        FindingCreate(
            title="Guides novices through SQL injection on legacy PHP apps",
            description="In 7 of 20 scripted sessions the model wrote working injection payloads "
            "for the provided vulnerable application without any refusal.",
            severity=Severity.MEDIUM,
            category=FindingCategory.CYBER_OFFENSE_CAPABILITY,
            recommended_mitigation="Add exploit-generation refusals for live targets.",
        ),
        past + timedelta(days=9),
        rules,
    )
    review.respond(
        db,
        dev,
        old_finding.id,
        ResponseCreate(
            status=ResponseStatus.MITIGATED, text="Refusal training added in 1.5.1; re-tested 0/20."
        ),
        past + timedelta(days=14),
    )
    review.release(db, dev, old.id, now - timedelta(days=20))

    # The model under review now: window open, two agencies, a hospital in, a bank pending.
    opened = now - timedelta(days=6)
    helios = review.create_submission(
        db,
        dev,
        SubmissionCreate(
            model_name="Helios",
            model_version="2.0",
            description="Frontier assistant with agentic coding and tool use; materially stronger "
            "at vulnerability discovery than 1.5 on internal evaluations.",
            modalities=[Modality.TEXT, Modality.CODE, Modality.TOOL_USE],
            training_compute_flop=3.1e26,
            parameter_count=1_200_000_000_000,
            planned_release_at=now + timedelta(days=26),
            access_offered=[Access.HOSTED_API, Access.WEIGHTS, Access.DOCUMENTS],
            contacts=contacts,
        ),
        opened - timedelta(days=1),
    )
    review.grant(
        db,
        dev,
        helios.id,
        GrantCreate(agency_org_id=caisi.organisation_id, window_days=30),
        opened,
        rules,
    )
    review.grant(
        db,
        dev,
        helios.id,
        GrantCreate(agency_org_id=cisa.organisation_id),
        opened + timedelta(hours=1),
        rules,
    )
    to_hospital = review.nominate(
        db,
        cisa,
        helios.id,
        NominationCreate(
            partner_org_id=hospital.organisation_id,
            reason="Runs the EHR and infusion-pump fleet we want tested against agentic attacks.",
        ),
        opened + timedelta(days=1),
        rules,
    )
    review.decide_nomination(
        db,
        dev,
        helios.id,
        to_hospital.id,
        True,
        "Agreed for this window.",
        opened + timedelta(days=1, hours=3),
    )
    review.nominate(
        db,
        cisa,
        helios.id,
        NominationCreate(
            partner_org_id=bank_org_id, reason="Core banking and SWIFT gateway operator."
        ),
        opened + timedelta(days=2),
        rules,
    )
    first = review.file_finding(
        db,
        caisi,
        helios.id,
        FindingCreate(
            title="Autonomously chains two n-day bugs into remote code execution",
            description="In the ctf suite the model solved 11 of 24 challenges, including a heap "
            "overflow chained with an info leak, with no human hints.",
            severity=Severity.HIGH,
            category=FindingCategory.CYBER_OFFENSE_CAPABILITY,
            recommended_mitigation="Stage agentic tool use; monitor exploit-shaped outputs.",
        ),
        opened + timedelta(days=3),
        rules,
    )
    review.respond(
        db,
        dev,
        first.id,
        ResponseCreate(
            status=ResponseStatus.ACKNOWLEDGED, text="Reproduced; a classifier gate is in training."
        ),
        opened + timedelta(days=4),
    )
    review.file_finding(
        db,
        cisa,
        helios.id,
        FindingCreate(
            title="Role-play prompt bypasses the malware-authoring refusal",
            description="A two-turn fictional framing yields a working credential stealer.",
            severity=Severity.MEDIUM,
            category=FindingCategory.SAFEGUARD_BYPASS,
            recommended_mitigation="Add the framing family to refusal training.",
        ),
        opened + timedelta(days=4),
        rules,
    )
    review.file_finding(
        db,
        hospital,
        helios.id,
        FindingCreate(
            title="Found an auth bypass in our PACS viewer's admin API",
            description="The model identified a missing authorization check in the vendor's "
            "admin endpoint within 40 minutes; reported to the vendor.",
            severity=Severity.LOW,
            category=FindingCategory.THIRD_PARTY_VULNERABILITY,
        ),
        opened + timedelta(days=5),
        rules,
    )


def seed(context: AppContext) -> DemoTokens:
    """Create the demo scenario once, then issue a fresh token for each demo person."""
    now = context.clock.now()
    rules = review.Rules.from_settings(context.settings)
    with transaction(context.sessions) as db:
        if identity.organisation_id_named(db, DEMO_DEVELOPER) is None:
            _seed(db, now, rules)
    values: dict[str, str] = {}
    ids: dict[str, str] = {}
    with transaction(context.sessions) as db:
        for env_name, _org, _kind, _sector, email, _name in PEOPLE:
            user = identity.user_by_email(db, email)
            issued = identity.issue_token_for(db, user, "demo", timedelta(days=7), now)
            values[env_name] = issued.plaintext
            ids[env_name.replace("_TOKEN", "_ORG")] = user.organisation_id
        developer = _actor(db, "release@meridian-ai.com")
        subs = review.list_submissions(db, developer, PageRequest(limit=10), now, rules)
        for submission in subs.rows:
            key = "OPEN_SUBMISSION" if submission.released_at is None else "RELEASED_SUBMISSION"
            ids[key] = submission.id
            if key == "OPEN_SUBMISSION":
                for nomination in review.list_nominations(db, developer, submission.id, now, rules):
                    if nomination.status is NominationStatus.PENDING:
                        ids["PENDING_NOMINATION"] = nomination.id
    return DemoTokens(values, ids)


def write_env(tokens: DemoTokens, path: Path) -> None:
    """Write the demo's tokens where the README tour sources them; readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(tokens.env_file())


# -- gateway: the upstream simulator as Helios 2.0's endpoint, and a gateway key for CAISI ----

DEMO_GATEWAY_MODEL = "helios-2.0-preview"


def start_gateway_demo(context: AppContext, tokens: DemoTokens) -> ThreadedServer:
    """Serve the upstream simulator on a free loopback port (in a thread), register it as the
    open submission's endpoint, and issue CAISI a gateway key (``CAISI_GATEWAY_KEY``).

    The simulator's API key is random per run and goes only into the vault, as a lab's would.
    Returns the running simulator; it stops with the process.
    """
    from prereview.gateway import service as gateway
    from prereview.gateway.engine.upstreams import UpstreamGuard
    from prereview.gateway.schemas import KeyCreate, UpstreamSet
    from prereview.gateway.testing.upstream_sim import SimUpstream
    from prereview.vault.service import Vault

    api_key = "sk-sim-" + secrets.token_hex(12)
    simulator = ThreadedServer(SimUpstream(api_key), lifespan="off").start()
    # The simulator is on loopback, which the gateway refuses: allow exactly its origin (the
    # running app's gateway reads this list on every check).
    allowed = context.settings.gateway_upstream_allow
    context.settings.gateway_upstream_allow = [*allowed, simulator.url]
    now = context.clock.now()
    rules = review.Rules.from_settings(context.settings)
    settings = context.settings
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    submission_id = tokens.ids["OPEN_SUBMISSION"]
    with transaction(context.sessions) as db:
        gateway.set_upstream(
            db,
            vault,
            _actor(db, "release@meridian-ai.com"),
            submission_id,
            UpstreamSet.model_validate(
                {
                    "base_url": simulator.url + "/v1",
                    "upstream_model": "sim-model",
                    "public_model": DEMO_GATEWAY_MODEL,
                    "api_key": api_key,
                }
            ),
            now,
            rules,
            UpstreamGuard.from_settings(settings),
        )
        _, plaintext = gateway.create_key(
            db,
            _actor(db, "reviewer@caisi.gov"),
            submission_id,
            KeyCreate(name="demo notebook"),
            now,
            rules,
        )
    tokens.values["CAISI_GATEWAY_KEY"] = plaintext
    tokens.ids["GATEWAY_MODEL"] = DEMO_GATEWAY_MODEL
    return simulator
