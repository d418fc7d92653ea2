"""Use cases of private task packs: upload, list, read, download, share and unshare; and what
the evals use cases ask of packs (may this agency use the pack, the stamp a result carries,
what the developer may see of a pack's results).

A pack's bytes are encrypted as they stream in, under the owning agency's data key (the
vault context :func:`pack_key_context`), never a submission's: no developer action (a
withdrawal, a retention sweep) touches it, and nothing the developer may read is encrypted
under it. Only the owner's members, and those of the agencies it shares the pack with while
the share lasts, may learn the pack exists (everyone else gets the 404 of a missing pack);
every read, download, share and unshare is audited.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.usecase import use_case
from prereview.core.filenames import clean_filename
from prereview.core.ids import new_id
from prereview.evals.packs import archive
from prereview.evals.packs.archive import LOG_METADATA_KEY, SUITE_PACK, Manifest
from prereview.evals.packs.errors import (
    PackEmpty,
    PackExists,
    PackInvalid,
    PackMismatch,
    PackNotFound,
    PackShareInvalid,
    PackShareNotFound,
    PackTooLarge,
)
from prereview.evals.packs.models import TaskPack, TaskPackShare
from prereview.identity import service as identity
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import StoredBlob, Vault

GZIP_MAGIC = b"\x1f\x8b"
#: What of a private pack's result anyone who may not read the pack sees of its metrics.
HEADLINE_METRICS = frozenset({"accuracy", "stderr", "ci_lower", "ci_upper"})
WITHHELD = "withheld: the task belongs to a private task pack"

__all__ = ["LOG_METADATA_KEY", "PackStamp", "TaskPack"]


def pack_key_context(org_id: str) -> str:
    """The vault context of an agency's packs: one data key per owning agency."""
    return f"pack-owner:{org_id}"


@dataclass(frozen=True)
class PackPlan:
    """A pack upload that was authorized and is about to stream."""

    pack_id: str
    owner_org_id: str
    context: str
    filename: str


@dataclass(frozen=True)
class PackStamp:
    """The pack a task result came from, as the server checked it."""

    pack_id: str | None
    name: str
    version: str | None
    sha256: str | None


def _live_share(db: Session, pack_id: str, org_id: str, now: datetime) -> TaskPackShare | None:
    shares = db.scalars(
        select(TaskPackShare).where(
            TaskPackShare.pack_id == pack_id,
            TaskPackShare.agency_org_id == org_id,
            TaskPackShare.revoked_at.is_(None),
        )
    ).all()
    return next((s for s in shares if s.live(now)), None)


def _relation(db: Session, actor: Actor, now: datetime) -> Callable[[TaskPack], Access]:
    """The actor's relation to a pack: its owner's member, or a member of an agency the
    owner shares it with now (verified from the share rows, never claimed)."""

    def relation(pack: TaskPack) -> Access:
        return Access(
            same_org=pack.owner_org_id == actor.organisation_id,
            shared_with=_live_share(db, pack.id, actor.organisation_id, now) is not None,
        )

    return relation


def _knows(access: Access) -> bool:
    return access.same_org or access.shared_with


def _reach_pack(
    db: Session, actor: Actor, pack_id: str, permission: Permission, now: datetime
) -> TaskPack:
    pack, _ = reach(
        actor,
        permission,
        db.get(TaskPack, pack_id),
        _relation(db, actor, now),
        hidden=lambda: PackNotFound(f"no task pack '{pack_id}'"),
        knows=_knows,
    )
    return pack


# -- upload: authorize, stream into the vault, read the manifest back, record -----------------


@use_case(Permission.EVAL_PACK_CREATE)
def plan_pack_upload(db: Session, actor: Actor, filename: str, now: datetime) -> PackPlan:
    """Authorize a pack upload before any byte is read: agencies only."""
    authorize(actor, Permission.EVAL_PACK_CREATE, Access(same_org=True))
    if not filename.endswith(archive.SUFFIX):
        raise PackInvalid(f"a task pack is a gzip-compressed tar file named *{archive.SUFFIX}")
    db.commit()  # end the read: nothing may stay open while the body streams
    return PackPlan(
        pack_id=new_id("pck"),
        owner_org_id=actor.organisation_id,
        context=pack_key_context(actor.organisation_id),
        filename=clean_filename(filename),
    )


def stream_pack(
    db: Session, vault: Vault, plan: PackPlan, chunks: Iterable[bytes], limit: int, now: datetime
) -> StoredBlob:
    """Encrypt the pack into the vault as it arrives; refuse it past ``limit`` bytes while
    reading (the partial ciphertext is removed: nothing half-written stays)."""

    def bounded() -> Iterator[bytes]:
        seen = 0
        for chunk in chunks:
            if seen == 0 and chunk and not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                raise PackInvalid(f"'{plan.filename}' does not start like a gzip file")
            seen += len(chunk)
            if seen > limit:
                raise PackTooLarge(f"task packs are limited to {limit} bytes on this server")
            yield chunk

    stored = vault_service.stream_blob(db, vault, plan.context, plan.pack_id, bounded(), now)
    if stored.size == 0:
        vault_service.delete_blob(vault, plan.context, plan.pack_id)
        raise PackEmpty("the upload was empty; send the pack file's bytes as the body")
    return stored


def read_stored_pack(db: Session, vault: Vault, plan: PackPlan, now: datetime) -> Manifest:
    """Read the stored pack back (decrypted to a private temporary file) and check its layout
    and manifest; nothing of it is imported. If it is not a pack, the blob goes (422)."""
    try:
        with tempfile.TemporaryDirectory(prefix="prereview-pack-") as folder:
            path = Path(folder) / ("pack" + archive.SUFFIX)
            chunks = vault_service.open_blob(db, vault, plan.context, plan.pack_id, now)
            db.rollback()  # the data key is read; nothing stays open while it is checked
            with path.open("wb") as sink:
                for chunk in chunks:
                    sink.write(chunk)
            return archive.read_manifest(path)
    except BaseException:
        db.rollback()
        vault_service.delete_blob(vault, plan.context, plan.pack_id)
        raise


def finish_pack_upload(
    db: Session,
    vault: Vault,
    actor: Actor,
    plan: PackPlan,
    stored: StoredBlob,
    manifest: Manifest,
    now: datetime,
) -> TaskPack:
    """Record the pack with its SHA-256 and its audit entry in one short transaction; if that
    fails (the same name and version exists: 409), the blob goes too."""
    with vault_service.recording_blob(db, vault, plan.context, plan.pack_id):
        if not vault_service.key_is_live(db, plan.context):
            raise KeyShredded("this agency's pack key was destroyed; packs can't be stored")
        taken = db.scalar(
            select(TaskPack.id).where(
                TaskPack.owner_org_id == plan.owner_org_id,
                TaskPack.name == manifest.name,
                TaskPack.version == manifest.version,
            )
        )
        if taken is not None:
            raise PackExists(
                f"your agency already has {manifest.reference} ({taken}); a pack is never "
                "replaced: raise the version in pack.toml"
            )
        pack = TaskPack(
            id=plan.pack_id,
            owner_org_id=plan.owner_org_id,
            uploaded_by=actor.user_id,
            name=manifest.name,
            version=manifest.version,
            description=manifest.description,
            package=manifest.package,
            tasks=list(manifest.tasks),
            manifest=manifest.as_dict(),
            filename=plan.filename,
            size=stored.size,
            sha256=stored.sha256,
            created_at=now,
        )
        db.add(pack)
        try:
            db.flush()
        except IntegrityError:  # the same version, uploaded at the same moment
            raise PackExists(f"your agency already has {manifest.reference}") from None
        commit_audited(
            db,
            actor,
            Permission.EVAL_PACK_CREATE,
            object_type="eval_pack",
            object_id=pack.id,
            at=now,
            detail={
                "name": pack.name,
                "version": pack.version,
                "size": pack.size,
                "sha256": pack.sha256,
            },
        )
    return pack


# -- reads ------------------------------------------------------------------------------------


@use_case(Permission.EVAL_PACK_LIST, also=(Permission.EVAL_PACK_READ,))
def list_packs(
    db: Session,
    actor: Actor,
    now: datetime,
    name: str | None = None,
    version: str | None = None,
) -> list[TaskPack]:
    """The packs the actor's agency owns or is shared now, by name and version; audited."""
    authorize(actor, Permission.EVAL_PACK_LIST)
    shared = select(TaskPackShare.pack_id).where(
        TaskPackShare.agency_org_id == actor.organisation_id,
        TaskPackShare.revoked_at.is_(None),
    )
    query = select(TaskPack).where(
        or_(TaskPack.owner_org_id == actor.organisation_id, TaskPack.id.in_(shared))
    )
    if name is not None:
        query = query.where(TaskPack.name == name)
    if version is not None:
        query = query.where(TaskPack.version == version)
    relation = _relation(db, actor, now)
    rows = db.scalars(query.order_by(TaskPack.name, TaskPack.created_at, TaskPack.id)).all()
    visible = [p for p in rows if allowed(actor, Permission.EVAL_PACK_READ, relation(p))]
    if visible:
        commit_audited(
            db,
            actor,
            Permission.EVAL_PACK_LIST,
            object_type="eval_pack",
            object_id=None,
            at=now,
            detail={"pack_ids": [p.id for p in visible]},
        )
    return visible


@use_case(Permission.EVAL_PACK_READ)
def get_pack(db: Session, actor: Actor, pack_id: str, now: datetime) -> TaskPack:
    """One pack's description (manifest, hash; its shares for the owner); audited."""
    pack = _reach_pack(db, actor, pack_id, Permission.EVAL_PACK_READ, now)
    commit_audited(
        db,
        actor,
        Permission.EVAL_PACK_READ,
        object_type="eval_pack",
        object_id=pack.id,
        at=now,
        detail={"name": pack.name, "version": pack.version, "sha256": pack.sha256},
    )
    return pack


def shares_of(pack: TaskPack, actor: Actor) -> list[TaskPackShare]:
    """The shares of a pack the actor has read: all for its owner, none for anyone else (an
    agency is not told whom else the owner shares with)."""
    return list(pack.shares) if pack.owner_org_id == actor.organisation_id else []


@use_case(Permission.EVAL_PACK_DOWNLOAD)
def open_pack(
    db: Session, vault: Vault, actor: Actor, pack_id: str, now: datetime
) -> tuple[TaskPack, Iterator[bytes]]:
    """Authorize, audit, then hand out the decrypted pack, verified chunk by chunk."""
    pack = _reach_pack(db, actor, pack_id, Permission.EVAL_PACK_DOWNLOAD, now)
    chunks = vault_service.open_blob(db, vault, pack_key_context(pack.owner_org_id), pack.id, now)
    commit_audited(
        db,
        actor,
        Permission.EVAL_PACK_DOWNLOAD,
        object_type="eval_pack",
        object_id=pack.id,
        at=now,
        detail={"name": pack.name, "version": pack.version, "sha256": pack.sha256},
    )
    return pack, chunks


# -- sharing ----------------------------------------------------------------------------------


@use_case(Permission.EVAL_PACK_SHARE, also=(Permission.ORG_READ,))
def share_pack(
    db: Session,
    actor: Actor,
    pack_id: str,
    agency_org_id: str,
    ends_at: datetime | None,
    now: datetime,
) -> TaskPackShare:
    """The owner shares its pack with another agency (until ``ends_at``, if given). Sharing
    again while a share is live moves its end."""
    pack = _reach_pack(db, actor, pack_id, Permission.EVAL_PACK_SHARE, now)
    target = identity.get_organisation(db, actor, agency_org_id)
    if target.kind is not OrgKind.AGENCY:
        raise PackShareInvalid("task packs are shared with agencies only")
    if target.id == pack.owner_org_id:
        raise PackShareInvalid("your agency owns this pack; share it with another agency")
    if ends_at is not None and ends_at <= now:
        raise PackShareInvalid("a share's end must lie in the future")
    share = _live_share(db, pack.id, target.id, now)
    if share is None:
        share = TaskPackShare(
            id=new_id("pks"),
            pack_id=pack.id,
            agency_org_id=target.id,
            shared_by=actor.user_id,
            created_at=now,
            ends_at=ends_at,
            revoked_at=None,
            revoked_by=None,
        )
        db.add(share)
    else:
        share.ends_at = ends_at
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.EVAL_PACK_SHARE,
        object_type="eval_pack",
        object_id=pack.id,
        at=now,
        detail={
            "agency_org_id": target.id,
            "share_id": share.id,
            "ends_at": ends_at.isoformat() if ends_at else None,
        },
    )
    return share


@use_case(Permission.EVAL_PACK_UNSHARE)
def unshare_pack(
    db: Session, actor: Actor, pack_id: str, agency_org_id: str, now: datetime
) -> TaskPackShare:
    """The owner ends its share with an agency at once."""
    pack = _reach_pack(db, actor, pack_id, Permission.EVAL_PACK_UNSHARE, now)
    share = _live_share(db, pack.id, agency_org_id, now)
    if share is None:
        raise PackShareNotFound(f"this pack is not shared with '{agency_org_id}' now")
    share.revoked_at = now
    share.revoked_by = actor.user_id
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.EVAL_PACK_UNSHARE,
        object_type="eval_pack",
        object_id=pack.id,
        at=now,
        detail={"agency_org_id": agency_org_id, "share_id": share.id},
    )
    return share


# -- what the evals use cases ask of packs ----------------------------------------------------


def usable_pack(db: Session, actor: Actor, pack_id: str, now: datetime) -> TaskPack:
    """The pack a run says it ran, if the actor's agency may read it now (else 404 or 403).

    Called inside evals' use cases that declare ``also=(Permission.EVAL_PACK_READ,)``."""
    return _reach_pack(db, actor, pack_id, Permission.EVAL_PACK_READ, now)


def suite_version(log_suite_version: str | None) -> str | None:
    """The built-in suite's version as a log names it (``prereview <version>``)."""
    if log_suite_version and log_suite_version.startswith("prereview "):
        return log_suite_version.removeprefix("prereview ")[:40]
    return None


def stamp_for_log(
    db: Session,
    actor: Actor,
    pack_id: str | None,
    claim: dict[str, Any] | None,
    log_suite_version: str | None,
    now: datetime,
) -> PackStamp:
    """The pack a log's task came from: the pack its run named (``pack_id``), which the log
    must name too with the same name, version and SHA-256, and which the uploading agency
    may still read; or, for a run that named none, the built-in suite (a log that claims a
    private pack then is refused)."""
    claimed_id = claim.get("id") if isinstance(claim, dict) else None
    if pack_id is None:
        if claimed_id is not None:
            raise PackMismatch(
                "the log is of a private task pack, but its run named none; record the run "
                "with the task's pack_id (prereview eval run --pack does)"
            )
        if isinstance(claim, dict) and claim.get("name") == SUITE_PACK:
            # The suite's version and source digest as the reviewer's runner named them.
            named_version, digest = claim.get("version"), claim.get("sha256")
            return PackStamp(
                None,
                SUITE_PACK,
                str(named_version)[:40] if named_version else suite_version(log_suite_version),
                str(digest)[:64] if digest else None,
            )
        return PackStamp(None, SUITE_PACK, suite_version(log_suite_version), None)
    pack = db.get(TaskPack, pack_id)
    if pack is None or not allowed(
        actor, Permission.EVAL_PACK_READ, _relation(db, actor, now)(pack)
    ):
        raise PackMismatch("the run names a task pack your agency may not use now")
    named = (
        (claim.get("id"), claim.get("name"), claim.get("version"), claim.get("sha256"))
        if isinstance(claim, dict)
        else None
    )
    if named != (pack.id, pack.name, pack.version, pack.sha256):
        raise PackMismatch(
            f"the log does not name the pack its run names ({pack.name}@{pack.version}, "
            f"sha256 {pack.sha256}); upload the log that `prereview eval run --pack` wrote"
        )
    return PackStamp(pack.id, pack.name, pack.version, pack.sha256)


def hidden_pack_results(
    db: Session, actor: Actor, results: Sequence[Any], now: datetime
) -> set[str]:
    """The ids of the ``results`` (task result rows) whose private pack the actor may not
    read: of those it may see the pack's name and the scores, never its tasks' names or
    details (the developer, an agency the pack is not shared with)."""
    relation = _relation(db, actor, now)
    readable: dict[str, bool] = {}
    hidden: set[str] = set()
    for result in results:
        pack_id = getattr(result, "pack_id", None)
        if pack_id is None:
            continue
        if pack_id not in readable:
            pack = db.get(TaskPack, pack_id)
            readable[pack_id] = pack is not None and allowed(
                actor, Permission.EVAL_PACK_READ, relation(pack)
            )
        if not readable[pack_id]:
            hidden.add(result.id)
    return hidden


def _columns(row: Any) -> dict[str, Any]:
    return {a.key: getattr(row, a.key) for a in sa_inspect(type(row)).column_attrs}


def _withheld(result: Any) -> Any:
    """A copy of a private pack's result showing the pack's name and the scores: the task's
    name, its other metrics, settings, error and log file name (Inspect names the file after
    the task) are withheld."""
    copy = type(result)(**_columns(result))
    name = result.pack_name or "private-pack"
    copy.task = name
    copy.metrics = {k: v for k, v in result.metrics.items() if k in HEADLINE_METRICS}
    copy.settings = {}
    copy.suite_version = f"{name}@{result.pack_version}"
    copy.error = WITHHELD if result.error else None
    if result.log_filename:
        copy.log_filename = f"{name}.eval"
    return copy


def withhold_details(runs: Sequence[Any], hidden: set[str]) -> list[Any]:
    """The runs as the actor may see them: a run holding ``hidden`` results is replaced by a
    copy (never added to the session, so nothing of it can be written back) whose hidden
    results are :func:`_withheld`."""
    shown = []
    for run in runs:
        if not any(r.id in hidden for r in run.results):
            shown.append(run)
            continue
        results = [_withheld(r) if r.id in hidden else type(r)(**_columns(r)) for r in run.results]
        shown.append(type(run)(**_columns(run), results=results))
    return shown
