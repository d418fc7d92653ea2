"""The demo scenario: a lab with two submissions, two agencies, a hospital and a bank, and the
clearinghouse's side of it: public advisories, model-found reports from the review of Helios,
and a coordinated disclosure case with two vendors.

Seeding goes through the same services as the API, with the clock set back where the story
needs the past, so the audit log of the demo reads like a real one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.clearinghouse import cases, provenance
from prereview.clearinghouse import service as clearinghouse
from prereview.clearinghouse.sharing import routing
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.markings import Tlp
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
from prereview.vault.service import Vault

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

# The vendors of the clearinghouse's case (developers: they make the affected products). Seeded
# apart from PEOPLE, so that a data dir seeded before the clearinghouse part gets it too.
VENDORS = [
    (
        "ASTER_TOKEN",
        "Aster Imaging",
        OrgKind.DEVELOPER,
        None,
        "psirt@aster-imaging.com",
        "Jonas Weber",
    ),
    (
        "CORVID_TOKEN",
        "Corvid Health Software",
        OrgKind.DEVELOPER,
        None,
        "security@corvid-health.io",
        "Mei Tanaka",
    ),
]
DEMO_VENDOR = "Aster Imaging"
VIEWER = "pkg:npm/aster-pacs-viewer"
GATEWAY = "pkg:pypi/dicomweb-gateway"
# The hospital's finding in the Helios review, as it reports it to the clearinghouse.
DEMO_REPORT = "SBRH-2026-0007"
DEMO_CLAIMED_REPORT = "HFB-RT-2026-031"
DEMO_AGENCY_REPORT = "CAISI-2026-0142"
# Public advisories imported in bulk: invented records of the seed corpus (no licence to
# respect); the first two products are what the bank and the hospital run.
ADVISORY_IDS = (
    "x_PRV-SEED-0001",
    "x_PRV-SEED-0002",
    "x_PRV-SEED-0003",
    "x_PRV-SEED-0028",
    "x_PRV-SEED-0029",
    "x_PRV-SEED-0030",
)


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


def _advisories() -> bytes:
    """The seed corpus's records named in ADVISORY_IDS, as one multi-document OSV YAML file."""
    corpus = resources.files("prereview.clearinghouse.data").joinpath("seed_advisories.yaml")
    documents = corpus.read_text(encoding="utf-8").split("\n---\n")
    wanted = [d for d in documents if d.partition("\n")[0].removeprefix("id: ") in ADVISORY_IDS]
    return ("---\n" + "\n---\n".join(wanted) + "\n").encode()


def _report(
    report_id: str,
    title: str,
    description: str,
    affected: Sequence[str],
    cwes: Sequence[str],
    cvss: str,
    found_by: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": report_id,
        "title": title,
        "description": description,
        "affected": [{"purl": purl} for purl in affected],
        "cwes": list(cwes),
        "cvss_v3": cvss,
        "discovered_by": found_by,
        "tlp": "AMBER",
    }


def _seed_clearinghouse(db: Session, vault: Vault, now: datetime, rules: review.Rules) -> None:
    """The clearinghouse's scenario: who makes and runs what, six public advisories, three
    model-found reports of the Helios 2.0 review, their triage, and one coordinated case."""
    for _, org_name, kind, sector, email, name in VENDORS:
        identity.seed_organisation(
            db,
            OrganisationCreate(name=org_name, kind=kind, sector=sector),
            UserCreate(email=email, name=name, role=Role.ADMIN),
            now,
        )
    db.commit()
    ops = _actor(db, "ops@naivc.gov")
    aster = _actor(db, "psirt@aster-imaging.com")
    corvid = _actor(db, "security@corvid-health.io")
    hospital = _actor(db, "secops@stbrigid-health.org")
    bank = _actor(db, "redteam@harborfederal.com")
    caisi = _actor(db, "reviewer@caisi.gov")
    dev = _actor(db, "release@meridian-ai.com")
    subs = review.list_submissions(db, dev, PageRequest(limit=10), now, rules)
    helios = next(s.id for s in subs.rows if s.released_at is None)

    # Five weeks ago: the vendors claim what they make, the partners what they run, and an
    # analyst verifies each claim (only a verified claim confers a need to know).
    claimed = now - timedelta(days=35)
    claims = [
        *routing.register_vendor_products(
            db, aster, [VIEWER], claimed, proof="https://aster-imaging.com/.well-known/prv"
        ),
        *routing.register_vendor_products(
            db, corvid, [GATEWAY], claimed, proof="DNS TXT corvid-health.io"
        ),
        *routing.register_inventory(
            db,
            hospital,
            [VIEWER, "pkg:nuget/Example.Auth.Jwt"],
            claimed + timedelta(hours=2),
            proof="signed asset inventory, Q2",
        ),
        *routing.register_inventory(
            db, bank, ["pkg:pypi/tinyhttpd"], claimed + timedelta(hours=3), proof="CMDB export"
        ),
    ]
    for claim in claims:
        routing.decide_claim(
            db, ops, claim.id, "verify", "proof checked", claimed + timedelta(days=1)
        )

    # A month ago: public advisories imported in bulk, triaged, four of them published.
    imported = now - timedelta(days=30)
    clearinghouse.import_reports(
        db, vault, ops, _advisories(), imported, filename="seed_advisories.yaml"
    )
    for n, advisory_id in enumerate(ADVISORY_IDS[:4]):
        at = imported + timedelta(hours=2 + n)
        clearinghouse.triage_report(db, ops, advisory_id, "accepted", "public advisory", at)
        clearinghouse.publish_report(db, ops, advisory_id, at + timedelta(minutes=30))

    # This week: three reports from the Helios 2.0 review. CAISI (granted) and the hospital
    # (nominated, consented) were let into the review, so their labels verify; the bank was
    # only nominated, so its report stays a claim.
    helios_run = {"kind": "model", "model": "Helios", "review_id": helios}
    agency_at = now - timedelta(days=3)
    clearinghouse.submit_report(
        db,
        vault,
        caisi,
        _report(
            DEMO_AGENCY_REPORT,
            "Server-side request forgery in dicomweb-gateway's WADO-RS proxy",
            "The WADO-RS proxy of dicomweb-gateway follows the 'retrieveURL' of a study "
            "without checking its host, so a client can make the gateway fetch internal "
            "URLs (cloud metadata included). Found by Helios 2.0 in the agentic ctf suite.",
            [f"{GATEWAY}@1.8.0"],
            ["CWE-918"],
            "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N",
            helios_run,
        ),
        agency_at,
    )
    provenance.label_model_found(
        db, caisi, DEMO_AGENCY_REPORT, helios, "Helios", agency_at + timedelta(minutes=20), rules
    )
    bank_at = now - timedelta(days=2)
    clearinghouse.submit_report(
        db,
        vault,
        bank,
        _report(
            DEMO_CLAIMED_REPORT,
            "Session fixation in tinyhttpd's cookie session middleware",
            "tinyhttpd keeps the session id a client sends before login, so an attacker "
            "who plants a cookie rides the victim's session after it signs in. Our red team "
            "says Helios found it; we were nominated for the review, not let in yet.",
            ["pkg:pypi/tinyhttpd@2.5.1"],
            ["CWE-384"],
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N",
            helios_run,
        ),
        bank_at,
    )
    found = now - timedelta(days=1)
    clearinghouse.submit_report(
        db,
        vault,
        hospital,
        _report(
            DEMO_REPORT,
            "Found an auth bypass in our PACS viewer's admin API",
            "The admin API of aster-pacs-viewer trusts the X-Forwarded-User header that "
            "dicomweb-gateway passes on, without checking that the request came through the "
            "gateway: any client on the imaging VLAN can call /admin/users as 'admin'. Helios "
            "2.0 found the missing check within 40 minutes during our nominated review.",
            [f"{VIEWER}@4.2.0", f"{GATEWAY}@1.8.0"],
            ["CWE-288", "CWE-290"],
            "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            helios_run,
        ),
        found,
    )
    provenance.label_model_found(
        db, hospital, DEMO_REPORT, helios, "Helios", found + timedelta(minutes=15), rules
    )

    # Triage: the hospital's and CAISI's accepted, the bank's asked for more.
    triaged = found + timedelta(hours=4)
    clearinghouse.triage_report(
        db, ops, DEMO_REPORT, "accepted", "Reproduced from the request log.", triaged
    )
    clearinghouse.triage_report(
        db, ops, DEMO_AGENCY_REPORT, "accepted", "Clear SSRF; vendor notified.", triaged
    )
    clearinghouse.triage_report(
        db,
        ops,
        DEMO_CLAIMED_REPORT,
        "needs_information",
        "Which tinyhttpd version, and a request trace?",
        triaged + timedelta(minutes=10),
    )

    # The case: both vendors of the hospital's report, under embargo (Chicago, where Aster
    # ships from), a shared thread and one private thread per vendor.
    opened = triaged + timedelta(hours=1)
    chicago = clearinghouse.zone_of("America/Chicago")
    embargo = datetime.combine((now + timedelta(days=45)).date(), time(17), tzinfo=chicago)
    case = clearinghouse.create_case(
        db,
        ops,
        clearinghouse.CaseCreate(
            title="Auth bypass in Aster PACS viewer admin API (via dicomweb-gateway)",
            tlp=Tlp.AMBER,
            report_ids=[DEMO_REPORT],
            vendor_org_ids=[aster.organisation_id, corvid.organisation_id],
            embargo_until=embargo,
            embargo_zone="America/Chicago",
        ),
        opened,
    )
    say = clearinghouse.post_message
    say(
        db,
        ops,
        case.id,
        "Case opened. Both products are in the path; please confirm affected versions "
        "and a fix date. Embargo: 45 days, 17:00 Chicago.",
        opened + timedelta(minutes=5),
    )
    say(
        db,
        ops,
        case.id,
        "Privately: the reporter is a hospital running your viewer in production.",
        opened + timedelta(minutes=10),
        aster.organisation_id,
    )
    say(
        db,
        aster,
        case.id,
        "Reproduced on 4.2.0. Fix in 4.2.1; hospitals need two more weeks to roll it out.",
        opened + timedelta(hours=3),
        aster.organisation_id,
    )
    say(
        db,
        ops,
        case.id,
        "Does the gateway strip a client's X-Forwarded-User before passing it on?",
        opened + timedelta(minutes=12),
        corvid.organisation_id,
    )
    say(
        db,
        corvid,
        case.id,
        "It does not in 1.8.x; looking at whether 1.9 does.",
        opened + timedelta(hours=5),
        corvid.organisation_id,
    )
    say(
        db,
        corvid,
        case.id,
        "Corvid: investigating, answer by Friday.",
        opened + timedelta(hours=5, minutes=5),
    )
    clearinghouse.set_vendor_status(
        db,
        aster,
        case.id,
        aster.organisation_id,
        DEMO_REPORT,
        clearinghouse.VendorState.AFFECTED,
        "Affected: 4.0.0 to 4.2.0.",
        None,
        opened + timedelta(hours=3, minutes=5),
        due_on=(now + timedelta(days=21)).date(),
    )
    clearinghouse.set_vendor_status(
        db,
        corvid,
        case.id,
        corvid.organisation_id,
        DEMO_REPORT,
        clearinghouse.VendorState.UNDER_INVESTIGATION,
        "Checking the header handling of 1.8 and 1.9.",
        None,
        opened + timedelta(hours=5, minutes=10),
    )
    cell = clearinghouse.set_cell
    Change = clearinghouse.CellChange
    State = clearinghouse.CellState
    after = opened + timedelta(hours=6)
    cell(
        db,
        aster,
        case.id,
        aster.organisation_id,
        VIEWER,
        Change(State.AFFECTED, statement="4.0.0 to 4.2.0", due_on=(now + timedelta(21)).date()),
        after,
    )
    cell(
        db,
        aster,
        case.id,
        aster.organisation_id,
        GATEWAY,
        Change(State.NOT_AFFECTED, "component_not_present", "We do not ship the gateway."),
        after,
    )
    cell(
        db,
        corvid,
        case.id,
        corvid.organisation_id,
        GATEWAY,
        Change(State.UNDER_INVESTIGATION, statement="1.8.x forwards the header."),
        after,
    )
    cell(
        db,
        ops,
        case.id,
        corvid.organisation_id,
        VIEWER,
        Change(State.NOT_AFFECTED, "component_not_present", "Corvid does not make the viewer."),
        after,
    )
    # Aster's rollout needs two more weeks: the embargo moves, with a reason (kept).
    cases.change_embargo(
        db,
        ops,
        case.id,
        embargo + timedelta(days=14),
        "America/Chicago",
        "Aster: hospitals need two more weeks to roll out 4.2.1.",
        now - timedelta(hours=2),
    )


def seed(context: AppContext) -> DemoTokens:
    """Create the demo scenario once, then issue a fresh token for each demo person."""
    now = context.clock.now()
    rules = review.Rules.from_settings(context.settings)
    with transaction(context.sessions) as db:
        if identity.organisation_id_named(db, DEMO_DEVELOPER) is None:
            _seed(db, now, rules)
    with transaction(context.sessions) as db:
        # Apart, so that a data dir seeded before the clearinghouse's part gets it at start.
        if identity.organisation_id_named(db, DEMO_VENDOR) is None:
            settings = context.settings
            vault = Vault.local(settings.master_key_file, settings.blob_dir)
            _seed_clearinghouse(db, vault, now, rules)
    values: dict[str, str] = {}
    ids: dict[str, str] = {}
    with transaction(context.sessions) as db:
        for env_name, _org, _kind, _sector, email, _name in [*PEOPLE, *VENDORS]:
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
        ops = _actor(db, "ops@naivc.gov")
        for case in clearinghouse.list_cases(db, ops, PageRequest(limit=10)).rows:
            if DEMO_REPORT in clearinghouse.case_report_ids(db, case.id):
                ids["DEMO_CASE"] = case.id
        ids["DEMO_REPORT"] = DEMO_REPORT
        ids["DEMO_CLAIMED_REPORT"] = DEMO_CLAIMED_REPORT
        ids["DEMO_AGENCY_REPORT"] = DEMO_AGENCY_REPORT
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
