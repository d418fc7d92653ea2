"""A read-only TAXII 2.1 server (OASIS) over the clearinghouse's published advisories.

Other clearinghouses, MISP and OpenCTI pull from it: discovery at ``/taxii2/``, one API root,
collections per TLP label and per critical-infrastructure sector, objects with ``added_after``
and ``limit`` paging (``more`` / ``next`` and the ``X-TAXII-Date-Added-*`` headers), manifests,
and one object's versions. Clients authenticate with their platform API token, as HTTP Basic
(any user name, the token as password) or as a Bearer token.

What a collection holds is decided by the clearinghouse's rules: only advisories that are
published and out of embargo, and that the caller's TLP lets it read; a sector's collection
is for that sector's trusted partners (and the clearinghouse), and hidden from everyone else
(404, not listed). An object's ``date_added`` is when it entered the collection: when this
version was stored or published here (never the source's original publication date, so that
an advisory from 2021 published here today reaches clients polling with ``added_after``),
its embargo's end, and for a sector collection, when a partner of the sector registered a
product it affects.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Sector
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.request import DB, Now
from prereview.authz.usecase import exercises, use_case
from prereview.clearinghouse import service as clearinghouse
from prereview.clearinghouse.models import (
    AffectedRow,
    ProductRegistration,
    ReportVersion,
    VulnReport,
)
from prereview.clearinghouse.sharing.need_to_know import CONFIDENTIAL_TLP, INVENTORY
from prereview.core.context import get_context
from prereview.core.errors import InvalidInput, NotFound, PrereviewError, Unauthenticated
from prereview.core.markings import Tlp
from prereview.core.pagination import PageRequest
from prereview.core.problems import PROBLEM_RESPONSES
from prereview.exchange.documents import rfc3339
from prereview.exchange.stix import (
    TLP2_CREATED,
    TLP2_MARKING_IDS,
    advisory_to_stix,
    clearinghouse_identity,
    stable_id,
    stix_timestamp,
)
from prereview.identity import service as identity

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
PUBLISHER_NAME = "prereview clearinghouse"
MAX_PAGE = 1000
_NAMESPACE = uuid.UUID("3c0f8f1e-6a57-4d0e-8c1b-0d2f5e7a9b61")


class TaxiiJSONResponse(JSONResponse):
    """What the document says every TAXII answer is (the routes build theirs with `_answer`)."""

    media_type = TAXII_MEDIA_TYPE


router = APIRouter(
    prefix="/taxii2",
    tags=["taxii"],
    default_response_class=TaxiiJSONResponse,
    responses=PROBLEM_RESPONSES,
)


class NotAcceptable(PrereviewError):
    slug = "taxii-not-acceptable"
    status = 406
    title = "TAXII 2.1 answers in application/taxii+json;version=2.1 only"


class CollectionNotFound(NotFound):
    slug = "taxii-collection-not-found"
    title = "No such TAXII collection"


class InvalidTaxiiRequest(InvalidInput):
    slug = "taxii-invalid-request"
    title = "The TAXII request is not valid"


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    tlp: Tlp | None = None
    sector: Sector | None = None

    @property
    def access(self) -> Access:
        return Access(sector=self.sector)

    def readable_by(self, actor: Actor) -> bool:
        return allowed(actor, Permission.EXCHANGE_TAXII_OBJECTS, self.access)

    def info(self) -> dict[str, Any]:
        # Only readable collections are described (a sector's are hidden from outsiders), and
        # the server accepts no objects: can_read and can_write say exactly that.
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": True,
            "can_write": False,
            "media_types": [STIX_MEDIA_TYPE],
        }


def _collection_id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in [
        *(
            Collection(
                _collection_id(f"tlp:{tlp}"),
                f"Advisories TLP:{tlp}",
                f"Published advisories labelled TLP:{tlp}, once out of embargo.",
                tlp=tlp,
            )
            for tlp in Tlp
        ),
        *(
            Collection(
                _collection_id(f"sector:{sector}"),
                f"Advisories for the {sector.value.replace('_', ' ')} sector",
                "Published advisories on products that trusted partners of this sector run.",
                sector=sector,
            )
            for sector in Sector
        ),
    ]
}


def taxii_actor(request: Request, db: DB) -> Actor:
    """The caller, by its API token sent as HTTP Basic password or Bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token: str | None = None
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            decoded = ""
        token = decoded.partition(":")[2] or None
    try:
        return identity.authenticate(db, token, get_context(request).clock.now())
    except Unauthenticated as exc:
        raise Unauthenticated(
            exc.detail + " (TAXII: HTTP Basic with the token as password, or Bearer)",
            headers={"WWW-Authenticate": 'Basic realm="prereview TAXII 2.1"'},
        ) from exc


# TAXII clients send the token as HTTP Basic too, so these routes take this actor (and the
# clock and session separately) instead of the Bearer-only request Context.
TaxiiActor = Annotated[Actor, Depends(taxii_actor)]


def _accepts(request: Request) -> None:
    accept = request.headers.get("accept", "*/*").lower()
    if not any(t in accept for t in ("application/taxii+json", "*/*", "application/*")):
        raise NotAcceptable(f"cannot answer in '{accept}'; ask for {TAXII_MEDIA_TYPE}")


def _answer(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, media_type=TAXII_MEDIA_TYPE, headers=headers)


def _collection(collection_id: str, actor: Actor) -> Collection:
    """The collection, if the actor may read it: one it may not is not found (its existence
    would tell an outsider which sectors the clearinghouse serves and what they run)."""
    found = COLLECTIONS.get(collection_id)
    if found is None or not found.readable_by(actor):
        raise CollectionNotFound(f"no collection '{collection_id}'")
    return found


@use_case(Permission.EXCHANGE_TAXII_READ)
def read_server(actor: Actor) -> None:
    """Discovery, the API root and the collections' descriptions: for any platform member."""
    authorize(actor, Permission.EXCHANGE_TAXII_READ)


@router.get("/", openapi_extra=exercises(read_server))
def discovery(request: Request, actor: TaxiiActor) -> JSONResponse:
    """TAXII 2.1 discovery: the server and its one API root."""
    _accepts(request)
    read_server(actor)
    root = str(request.url_for("taxii_api_root"))
    return _answer(
        {
            "title": "prereview clearinghouse",
            "description": "Vulnerability advisories shared by TLP 2.0 and sector.",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get("/api/", name="taxii_api_root", openapi_extra=exercises(read_server))
def api_root(request: Request, actor: TaxiiActor) -> JSONResponse:
    _accepts(request)
    read_server(actor)
    return _answer(
        {
            "title": "prereview advisories",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": 0,  # read-only: no object is accepted
        }
    )


@router.get("/api/collections/", openapi_extra=exercises(read_server))
def collections(request: Request, actor: TaxiiActor) -> JSONResponse:
    _accepts(request)
    read_server(actor)
    readable = [c.info() for c in COLLECTIONS.values() if c.readable_by(actor)]
    return _answer({"collections": readable})


@router.get(
    "/api/collections/{collection_id}/",
    openapi_extra=exercises(read_server),
)
def collection(collection_id: str, request: Request, actor: TaxiiActor) -> JSONResponse:
    _accepts(request)
    read_server(actor)
    return _answer(_collection(collection_id, actor).info())


class _Bundle:
    """One advisory's STIX bundle, built only if one of its objects is served: a page or a
    manifest is decided on ids, types and versions alone, known without building anything,
    so that a page costs what it serves, not what the collection holds."""

    def __init__(self, row: VulnReport) -> None:
        self._row = row

    @cached_property
    def objects(self) -> dict[str, dict[str, Any]]:
        bundle = advisory_to_stix(clearinghouse.advisory_of(self._row), PUBLISHER_NAME)
        return {str(item["id"]): item for item in bundle["objects"]}


@dataclass(frozen=True)
class _Entry:
    date_added: datetime
    object_id: str
    object_type: str
    version: str
    tlp: str
    report_id: str
    bundle: _Bundle

    @property
    def object(self) -> dict[str, Any]:
        return self.bundle.objects[self.object_id]


_PUBLISHER = clearinghouse_identity(PUBLISHER_NAME)


def _vulnerability_version(document: dict[str, Any]) -> str:
    """The ``modified`` of the advisory's STIX vulnerability, as ``advisory_to_stix`` sets it:
    the latest of its publication, modification and withdrawal."""
    moments = [
        datetime.fromisoformat(str(document[key]))
        for key in ("published", "modified", "withdrawn")
        if document.get(key)
    ]
    return stix_timestamp(max(moments))


def _row_entries(added: datetime, row: VulnReport) -> list[_Entry]:
    """The objects of one advisory's bundle, in its order: publisher, marking, vulnerability."""
    bundle = _Bundle(row)
    tlp = Tlp(row.tlp)
    return [
        _Entry(
            added,
            _PUBLISHER.id,
            "identity",
            stix_timestamp(_PUBLISHER.modified),
            row.tlp,
            row.id,
            bundle,
        ),
        _Entry(
            added,
            TLP2_MARKING_IDS[tlp],
            "marking-definition",
            TLP2_CREATED,
            row.tlp,
            row.id,
            bundle,
        ),
        _Entry(
            added,
            stable_id("vulnerability", row.id),
            "vulnerability",
            _vulnerability_version(row.document),
            row.tlp,
            row.id,
            bundle,
        ),
    ]


def _sector_orgs(db: Session, actor: Actor, sector: Sector) -> list[str]:
    partners = identity.list_organisations(
        db, actor, PageRequest(limit=100_000, offset=0), kind=OrgKind.TRUSTED_PARTNER
    )
    return [org.id for org in partners.rows if org.sector is sector]


def _stored_here(db: Session, reports: list[VulnReport]) -> dict[str, datetime]:
    """When each report's current version was stored here: the last time an update replaced
    a version (``modified_at`` is then the source's modification date, not ours)."""
    ids = [r.id for r in reports]
    query = (
        select(ReportVersion.report_id, func.max(ReportVersion.replaced_at))
        .where(ReportVersion.report_id.in_(ids))
        .group_by(ReportVersion.report_id)
    )
    return {report_id: at for report_id, at in db.execute(query)} if ids else {}


def _first_run_by(db: Session, reports: list[VulnReport], orgs: list[str]) -> dict[str, datetime]:
    """When a product each report affects was first registered as run by one of ``orgs``:
    when the advisory became visible in the sector's collection."""
    ids = [r.id for r in reports]
    if not ids or not orgs:
        return {}
    query = (
        select(AffectedRow.report_id, func.min(ProductRegistration.created_at))
        .join(ProductRegistration, ProductRegistration.package_key == AffectedRow.package_key)
        .where(
            AffectedRow.report_id.in_(ids),
            ProductRegistration.org_id.in_(orgs),
            ProductRegistration.role == INVENTORY,
        )
        .group_by(AffectedRow.report_id)
    )
    return {report_id: at for report_id, at in db.execute(query)}


def _entries(db: Session, actor: Actor, chosen: Collection, now: datetime) -> Iterator[_Entry]:
    """Every object of the collection the actor may read, in date_added order."""
    sector_orgs = _sector_orgs(db, actor, chosen.sector) if chosen.sector else None
    available = clearinghouse.disclosed_advisory_rows(
        db, actor, now, tlp=str(chosen.tlp) if chosen.tlp else None, run_by=sector_orgs
    )
    reports = [row for _, row in available]
    stored = _stored_here(db, reports)
    run_since = _first_run_by(db, reports, sector_orgs or [])
    rows: list[tuple[datetime, VulnReport]] = []
    for disclosed_at, row in available:
        # Publishing here (or relabelling into this TLP) sets modified_at to that moment; an
        # update from the source sets it to the source's date, possibly ahead of ours, which
        # is not when it entered (the update's replaced_at is).
        changed = row.modified_at if row.modified_at and row.modified_at <= now else None
        moments = [disclosed_at, changed, stored.get(row.id), run_since.get(row.id)]
        rows.append((max(m for m in moments if m is not None), row))
    rows.sort(key=lambda pair: (pair[0], pair[1].seq))
    for added, row in rows:
        yield from _row_entries(added, row)


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidTaxiiRequest(f"'{name}' is not an RFC 3339 timestamp: {value!r}") from exc
    if moment.tzinfo is None:
        raise InvalidTaxiiRequest(f"'{name}' needs a time zone: {value!r}")
    return moment


@use_case(Permission.EXCHANGE_TAXII_OBJECTS)
def collection_page(
    db: Session,
    actor: Actor,
    collection_id: str,
    now: datetime,
    added_after: str | None,
    limit: int | None,
    next_token: str | None,
    match_id: str | None,
    match_type: str | None,
) -> tuple[list[_Entry], bool, str | None]:
    """One page of a collection's objects: entries, whether there are more, the next token.
    Confidential (AMBER and stricter) reports served are audited."""
    authorize(actor, Permission.EXCHANGE_TAXII_OBJECTS)
    chosen = _collection(collection_id, actor)
    after = _parse_time(added_after, "added_after")
    try:
        offset = int(next_token) if next_token else 0
    except ValueError as exc:
        raise InvalidTaxiiRequest(
            f"'next' is not a token this server gave: {next_token!r}"
        ) from exc
    size = min(limit or MAX_PAGE, MAX_PAGE)
    ids = set(match_id.split(",")) if match_id else None
    types = set(match_type.split(",")) if match_type else None
    seen: set[tuple[str, str]] = set()
    page: list[_Entry] = []
    position = 0
    more = False
    for entry in _entries(db, actor, chosen, now):
        if after is not None and entry.date_added <= after:
            continue
        key = (entry.object_id, entry.version)
        if key in seen:
            continue  # shared objects (the publisher, TLP markings) are served once
        if ids is not None and entry.object_id not in ids:
            continue
        if types is not None and entry.object_type not in types:
            continue
        seen.add(key)
        if position >= offset:
            if len(page) == size:
                more = True
                break
            page.append(entry)
        position += 1
    confidential = {e.report_id for e in page if e.tlp in CONFIDENTIAL_TLP}
    if confidential:
        audit.record_many(
            db,
            [
                audit.NewEntry(
                    actor=actor,
                    action=Permission.EXCHANGE_TAXII_OBJECTS,
                    object_type="vulnerability_report",
                    object_id=report_id,
                    at=now,
                    detail={"collection": chosen.id},
                )
                for report_id in sorted(confidential)
            ],
        )
        db.commit()
    return page, more, str(offset + len(page)) if more else None


def _date_headers(page: list[_Entry]) -> dict[str, str]:
    if not page:
        return {}
    return {
        "X-TAXII-Date-Added-First": rfc3339(page[0].date_added),
        "X-TAXII-Date-Added-Last": rfc3339(page[-1].date_added),
    }


Limit = Annotated[int | None, Query(ge=1, le=MAX_PAGE)]
MatchId = Annotated[str | None, Query(alias="match[id]")]
MatchType = Annotated[str | None, Query(alias="match[type]")]


@router.get(
    "/api/collections/{collection_id}/objects/",
    openapi_extra=exercises(collection_page),
)
def objects(
    collection_id: str,
    request: Request,
    db: DB,
    actor: TaxiiActor,
    at: Now,
    added_after: str | None = None,
    limit: Limit = None,
    next: str | None = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
) -> JSONResponse:
    """The collection's STIX objects, oldest first, a page at a time."""
    _accepts(request)
    page, more, token = collection_page(
        db, actor, collection_id, at.now, added_after, limit, next, match_id, match_type
    )
    body: dict[str, Any] = {"more": more, "objects": [e.object for e in page]}
    if token:
        body["next"] = token
    return _answer(body, _date_headers(page))


@router.get(
    "/api/collections/{collection_id}/manifest/",
    openapi_extra=exercises(collection_page),
)
def manifest(
    collection_id: str,
    request: Request,
    db: DB,
    actor: TaxiiActor,
    at: Now,
    added_after: str | None = None,
    limit: Limit = None,
    next: str | None = None,
    match_id: MatchId = None,
    match_type: MatchType = None,
) -> JSONResponse:
    """What the collection holds (id, date added, version), without the objects."""
    _accepts(request)
    page, more, token = collection_page(
        db, actor, collection_id, at.now, added_after, limit, next, match_id, match_type
    )
    body: dict[str, Any] = {
        "more": more,
        "objects": [
            {
                "id": e.object_id,
                "date_added": rfc3339(e.date_added),
                "version": e.version,
                "media_type": STIX_MEDIA_TYPE,
            }
            for e in page
        ],
    }
    if token:
        body["next"] = token
    return _answer(body, _date_headers(page))


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/",
    openapi_extra=exercises(collection_page),
)
def one_object(
    collection_id: str, object_id: str, request: Request, db: DB, actor: TaxiiActor, at: Now
) -> JSONResponse:
    """One object of the collection (every version this server holds)."""
    _accepts(request)
    page, more, token = collection_page(
        db, actor, collection_id, at.now, None, MAX_PAGE, None, object_id, None
    )
    if not page:
        raise NotFound(f"no object '{object_id}' in collection '{collection_id}'")
    body: dict[str, Any] = {"more": more, "objects": [e.object for e in page]}
    if token:
        body["next"] = token
    return _answer(body, _date_headers(page))


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/versions/",
    openapi_extra=exercises(collection_page),
)
def object_versions(
    collection_id: str,
    object_id: str,
    request: Request,
    db: DB,
    actor: TaxiiActor,
    at: Now,
    added_after: str | None = None,
    limit: Limit = None,
    next: str | None = None,
) -> JSONResponse:
    """The versions of one object the collection holds (TAXII 2.1 section 5.7), oldest first,
    under the same rules as the object itself."""
    _accepts(request)
    page, more, token = collection_page(
        db, actor, collection_id, at.now, added_after, limit, next, object_id, None
    )
    if not page and added_after is None and next is None:
        raise NotFound(f"no object '{object_id}' in collection '{collection_id}'")
    body: dict[str, Any] = {"more": more, "versions": [e.version for e in page]}
    if token:
        body["next"] = token
    return _answer(body, _date_headers(page))
