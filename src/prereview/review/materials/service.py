"""Materials: documents and weights a developer shares, encrypted in the vault.

Uploads stream straight into the vault's encryptor, so a weights file of many GB never sits in
memory or on disk in the clear. Every download is authorized, then audited before its first
byte leaves. A withdrawn submission's materials, and those past the retention period after the
window closed, are crypto-shredded: their descriptions stay, their bytes are unreadable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access
from prereview.authz.usecase import use_case
from prereview.core.errors import InvalidInput, NotFound
from prereview.core.filenames import clean_filename
from prereview.core.ids import new_id
from prereview.core.markings import TLP, Marking
from prereview.review import errors
from prereview.review.kinds import MaterialKind
from prereview.review.models import Material, Submission
from prereview.review.submissions import (
    Rules,
    access_to,
    knows_of,
    load_submission,
    owned_submission,
    reach_submission,
    window,
)
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import Vault, submission_key_context


class MaterialNotFound(NotFound):
    slug = "material-not-found"


class EmptyMaterial(InvalidInput):
    slug = "material-empty"


class MaterialTooLarge(InvalidInput):
    slug = "material-too-large"
    status = 413


@dataclass(frozen=True)
class MaterialPlan:
    """An upload that was authorized and is about to stream."""

    material_id: str
    submission_id: str
    context: str
    kind: MaterialKind
    filename: str
    content_type: str
    tlp: TLP
    markings: tuple[Marking, ...]


@use_case(Permission.MATERIAL_CREATE)
def plan_upload(
    db: Session,
    actor: Actor,
    submission_id: str,
    *,
    kind: MaterialKind,
    filename: str,
    content_type: str,
    tlp: TLP,
    markings: Sequence[Marking],
    now: datetime,
) -> MaterialPlan:
    """Authorize an upload before any byte is read."""
    submission = owned_submission(db, actor, submission_id, Permission.MATERIAL_CREATE)
    context = submission_key_context(submission.id)
    if submission.withdrawn_at is not None or vault_service.is_shredded(db, context):
        raise errors.WindowClosed("the submission was withdrawn; it takes no more materials")
    db.commit()  # end the read: nothing may stay open while the body streams
    return MaterialPlan(
        material_id=new_id("mat"),
        submission_id=submission.id,
        context=context,
        kind=kind,
        filename=clean_filename(filename),  # NFC; control characters refused
        content_type=content_type,
        tlp=tlp,
        markings=tuple(dict.fromkeys(markings)),
    )


def stream_upload(
    db: Session,
    vault: Vault,
    plan: MaterialPlan,
    chunks: Iterable[bytes],
    limit: int,
    now: datetime,
) -> vault_service.StoredBlob:
    """Encrypt the upload into the vault as it arrives; refuse it past ``limit`` bytes.

    No transaction is held while the body streams (a slow upload must not stop anyone
    else's writes, a release above all); :func:`finish_upload` records it afterwards."""

    def bounded() -> Iterator[bytes]:
        seen = 0
        for chunk in chunks:
            seen += len(chunk)
            if seen > limit:
                raise MaterialTooLarge(f"materials are limited to {limit} bytes on this server")
            yield chunk

    stored = vault_service.stream_blob(db, vault, plan.context, plan.material_id, bounded(), now)
    if stored.size == 0:
        vault_service.delete_blob(vault, plan.context, plan.material_id)
        raise EmptyMaterial("the upload was empty; send the file's bytes as the request body")
    return stored


def finish_upload(
    db: Session,
    vault: Vault,
    actor: Actor,
    plan: MaterialPlan,
    stored: vault_service.StoredBlob,
    now: datetime,
) -> Material:
    """Record the material and its audit entry in one short transaction; if that fails, the
    blob goes too. A withdrawal that committed while the body streamed wins: the blob is
    deleted and the upload refused."""
    with vault_service.recording_blob(db, vault, plan.context, plan.material_id):
        if not vault_service.key_is_live(db, plan.context):
            raise errors.WindowClosed("the submission was withdrawn; it takes no more materials")
        material = Material(
            id=plan.material_id,
            submission_id=plan.submission_id,
            uploaded_by=actor.user_id,
            kind=plan.kind,
            filename=plan.filename,
            content_type=plan.content_type,
            size=stored.size,
            sha256=stored.sha256,
            tlp=plan.tlp,
            markings=[m.value for m in plan.markings],
            created_at=now,
        )
        db.add(material)
        db.flush()
        commit_audited(
            db,
            actor,
            Permission.MATERIAL_CREATE,
            object_type="material",
            object_id=material.id,
            submission_id=plan.submission_id,
            at=now,
            detail={"filename": plan.filename, "size": stored.size, "sha256": stored.sha256},
        )
    return material


def _visible_materials(
    db: Session, actor: Actor, submission: Submission, access: Access
) -> list[Material]:
    rows = db.scalars(
        select(Material)
        .where(Material.submission_id == submission.id)
        .order_by(Material.created_at, Material.id)
    ).all()
    if access.owner or access.granted_agency:
        return list(rows)
    return [m for m in rows if m.tlp.shareable_with_partners]


@use_case(Permission.MATERIAL_LIST)
def list_materials(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> list[Material]:
    """Materials the actor may see now: all for the developer and granted agencies, those
    marked shareable for consented partners."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.MATERIAL_LIST, now, rules
    )
    return _visible_materials(db, actor, submission, access)


def _authorized(
    db: Session, actor: Actor, material_id: str, permission: Permission, now: datetime, rules: Rules
) -> tuple[Material, Submission]:
    """A material with its submission, hidden like the submission, and authorized with the
    submission's access plus whether the material's TLP lets it reach partners."""

    def relation(material: Material) -> Access:
        access = access_to(db, actor, load_submission(db, material.submission_id), now, rules)
        return Access(
            owner=access.owner,
            granted_agency=access.granted_agency,
            consented_partner=access.consented_partner,
            had_access=access.had_access,
            shareable=material.tlp.shareable_with_partners,
        )

    material, _ = reach(
        actor,
        permission,
        db.get(Material, material_id),
        relation,
        hidden=lambda: MaterialNotFound(f"no material '{material_id}'"),
        knows=knows_of,
    )
    return material, load_submission(db, material.submission_id)


@use_case(Permission.MATERIAL_READ)
def get_material(
    db: Session, actor: Actor, material_id: str, now: datetime, rules: Rules
) -> Material:
    material, _ = _authorized(db, actor, material_id, Permission.MATERIAL_READ, now, rules)
    return material


def retention_ended(
    submission: Submission, now: datetime, rules: Rules, retention: timedelta
) -> bool:
    """Whether the materials' retention period after the window closed is over."""
    current = window(submission, now, rules)
    return bool(
        current.state.is_closed and current.closes_at and current.closes_at + retention <= now
    )


@use_case(Permission.MATERIAL_DOWNLOAD)
def open_material(
    db: Session,
    vault: Vault,
    actor: Actor,
    material_id: str,
    now: datetime,
    rules: Rules,
    retention: timedelta,
) -> tuple[Material, Iterator[bytes]]:
    """Authorize, shred if the retention period is over, audit, then hand out the bytes."""
    material, submission = _authorized(
        db, actor, material_id, Permission.MATERIAL_DOWNLOAD, now, rules
    )
    context = submission_key_context(submission.id)
    if retention_ended(submission, now, rules, retention) and _shred(db, submission, now):
        db.commit()
    chunks = vault_service.open_blob(db, vault, context, material.id, now)
    commit_audited(
        db,
        actor,
        Permission.MATERIAL_DOWNLOAD,
        object_type="material",
        object_id=material.id,
        submission_id=submission.id,
        at=now,
        detail={"filename": material.filename, "sha256": material.sha256},
    )
    return material, chunks


def _shred(db: Session, submission: Submission, now: datetime) -> bool:
    """Destroy the submission's data key for retention, with its audit entry, once.

    It does not commit: the sweep of :func:`shred_expired` commits all its shreds at once."""
    if not vault_service.shred(db, submission_key_context(submission.id), now):
        return False
    audit.record(
        db,
        actor=None,
        action="vault:key:shred",
        object_type="submission",
        object_id=submission.id,
        submission_id=submission.id,
        at=now,
        detail={"reason": "retention period ended"},
    )
    return True


def shred_expired(db: Session, now: datetime, rules: Rules, retention: timedelta) -> list[str]:
    """Shred every submission whose retention period is over; returns their ids.

    Reads shred on their own when they find the period over; this sweep makes the keys go
    even for submissions that nobody reads again."""
    shredded = [
        submission.id
        for submission in db.scalars(select(Submission)).all()
        if retention_ended(submission, now, rules, retention) and _shred(db, submission, now)
    ]
    db.commit()
    return shredded


__all__ = ["KeyShredded", "MaterialPlan"]
