"""The use case: a developer's participation attestation of one of its submissions.

Every figure comes from the audit log's entries about the submission
(:func:`prereview.attestation.figures.figures`), and those entries travel in the attestation
with their inclusion proofs against a checkpoint signed afterwards, so that the offline
verifier recomputes each figure from evidence it checks itself. The developer's request
chooses only whether reviewers are named and which digests name the model; a digest is
reported with whether an upload on record has it, never taken as checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from sqlalchemy.orm import Session

from prereview.attestation import figures as facts
from prereview.attestation.schema import schema_errors
from prereview.attestation.schemas import AttestationRequest
from prereview.attestation.signing import load_key
from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.usecase import use_case
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.review import service as review


def _leaves(db: Session, submission_id: str, digests: Mapping[str, str]) -> dict[int, str]:
    """The text of each entry the attestation rests on, by seq."""
    texts: dict[int, str] = {}
    for action in facts.ACTIONS:
        for entry in audit.entries_with_action(db, submission_id, action):
            if facts.relevant(json.loads(entry.leaf)):
                texts[entry.seq] = entry.leaf
    if digests:
        uploads = audit.entries_with_action(db, submission_id, facts.MATERIAL_CREATE)
        for digest in digests.values():
            for leaf in facts.digest_entries((json.loads(e.leaf) for e in uploads), digest):
                seq = int(leaf["seq"])
                texts[seq] = next(e.leaf for e in uploads if e.seq == seq)
    return dict(sorted(texts.items()))


def _integers(value: Any) -> Any:
    """Numbers back to integers: a protobuf ``Struct`` holds every number as a double, and every
    number in the predicate is a count, a seq or a length in seconds."""
    if isinstance(value, dict):
        return {key: _integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _statement(subjects: list[ResourceDescriptor], predicate: dict[str, Any]) -> bytes:
    """The in-toto Statement v1, validated by the in-toto library, as canonical JSON bytes."""
    statement = Statement([s.pb for s in subjects], facts.PREDICATE_TYPE, predicate)
    statement.validate()
    document = _integers(json_format.MessageToDict(statement.pb))
    problems = schema_errors(document["predicate"])
    if problems:  # a programming error: never sign what the published schema refuses
        raise RuntimeError(f"the predicate breaks its schema: {problems[0]}")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


@use_case(Permission.ATTESTATION_CREATE)
def attest_participation(
    db: Session,
    actor: Actor,
    submission_id: str,
    data: AttestationRequest,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """The signed DSSE envelope of the submission's participation attestation.

    Only the developer may ask (others who had access are told 403, everyone else 404). The
    request is audited first, then a checkpoint is signed that covers every entry carried.
    """
    submission = review.owned_submission(db, actor, submission_id, Permission.ATTESTATION_CREATE)
    declared = {
        of: digest
        for of, digest in (("weights", data.weights_digest), ("modelCard", data.model_card_digest))
        if digest is not None
    }
    texts = _leaves(db, submission.id, declared)
    leaves = [json.loads(text) for text in texts.values()]
    names: dict[str, str] | None = None
    if data.name_reviewers:
        orgs = {
            str(leaf["detail"][field])
            for leaf in leaves
            for field in ("agency_org_id", "partner_org_id")
            if leaf["detail"].get(field)
        }
        names = identity.organisation_names(db, orgs)
    stated = facts.figures(submission.id, leaves, declared_digests=declared, names=names)
    created = next(leaf["seq"] for leaf in leaves if leaf.get("action") == facts.SUBMISSION_CREATE)
    model = {"name": submission.model_name, "version": submission.model_version}
    commit_audited(
        db,
        actor,
        Permission.ATTESTATION_CREATE,
        object_type="attestation",
        object_id=None,
        submission_id=submission.id,
        at=now,
        detail={"entries": list(texts), "name_reviewers": data.name_reviewers} | declared,
    )
    checkpoint = audit.latest_checkpoint(
        db,
        audit.load_signer(settings),
        settings.audit_origin,
        now,
        journal=settings.audit_journal_path,
    )
    proofs = audit.inclusion_proofs(db, list(texts), checkpoint.size)
    predicate = {
        "issuedAt": now.isoformat(),
        "model": model,
        "submissionEntry": created,
        **stated,
        "evidence": {
            "log": {
                "origin": settings.audit_origin,
                "verifierKey": audit.verifier_of(db, checkpoint),
                "checkpoint": checkpoint.note,
            },
            "entries": [
                {
                    "seq": proof.seq,
                    "leaf": texts[proof.seq],
                    "proof": [base64.b64encode(h).decode("ascii") for h in proof.path],
                }
                for proof in proofs
            ],
        },
    }
    label = f"{submission.model_name} {submission.model_version}"
    subjects = [
        ResourceDescriptor(name=label, digest={"sha256": digest}, annotations={"of": of})
        for of, digest in sorted(declared.items())
    ] or [
        ResourceDescriptor(
            name=label,
            digest={"sha256": hashlib.sha256(texts[created].encode("utf-8")).hexdigest()},
            annotations={"of": "submissionEntry"},
        )
    ]
    db.commit()
    return load_key(settings).sign(_statement(subjects, predicate))
