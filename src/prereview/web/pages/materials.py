"""Materials' pages: a submission's materials listed, uploaded, downloaded, and who downloaded.

The pages ask review's materials service, as the API's routes do, so the policy decides and
every download is audited before its first byte leaves. An upload is a plain HTML form
(``multipart/form-data``, so it works without JavaScript; with it, htmx sends the same form and
the page's script draws the upload's progress). The form is parsed as it arrives and the file's
bytes stream straight into the vault's encryptor, as the API's raw upload does: a weights file
never sits in memory, nor on disk in the clear (a stock form parser would spool it to a
temporary file first). The form's fields come before its file, as the page lays them out, so
the upload is authorized before any byte of the file is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from prereview.audit.filters import EntryFilter
from prereview.authz.permissions import Permission
from prereview.authz.request import RequestContext
from prereview.core.errors import InvalidInput, PrereviewError
from prereview.core.filenames import content_disposition
from prereview.core.markings import TLP, Marking
from prereview.core.pagination import PageRequest
from prereview.core.streaming import body_pieces
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.review.kinds import MaterialKind
from prereview.review.materials import service as materials
from prereview.vault import service as vault_service
from prereview.vault.deps import VaultDep
from prereview.web.render import guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)

DOWNLOAD_ACTION = Permission.MATERIAL_DOWNLOAD.value  # the audit action of every download
MAX_FIELD_BYTES = 1024  # a kind, a TLP label or a marking: short words
MAX_FIELDS = 20
DOWNLOADS_SHOWN = 200  # the newest; the audit page filters and pages through all of them


class FormInvalid(InvalidInput):
    slug = "upload-form-invalid"
    title = "The upload form is not valid"


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


# --- the streamed form ------------------------------------------------------------------------


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class StreamedForm:
    """A ``multipart/form-data`` body read piece by piece: the fields before the file part
    (:meth:`fields`), then the file's bytes as they arrive (:meth:`file_chunks`)."""

    def __init__(self, pieces: Iterator[bytes], boundary: bytes) -> None:
        self._pieces = pieces
        self._fields: list[tuple[str, str]] = []
        self._part: _Part | None = None
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._file: _Part | None = None  # the file part, once its headers are read
        self._file_done = False
        self._ended = False
        self.late_fields: list[str] = []  # fields sent after the file, which are not read
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    # parser callbacks
    def _part_begin(self) -> None:
        self._part = _Part()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        assert self._part is not None
        self._part.headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        part = self._part
        assert part is not None
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            if self._file is not None or self._file_done:
                raise FormInvalid("the form holds more than one file; send one at a time")
            part.filename = options[b"filename"].decode("utf-8", "replace")
            self._file = part

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        if self._file_done and part.filename is None:
            return  # fields after the file are not read: the upload was planned without them
        part.data += data[start:end]
        if part.filename is None and len(part.data) > MAX_FIELD_BYTES:
            raise FormInvalid(f"the form field '{part.name}' is over {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        part = self._part
        if part is None:
            return
        if part is self._file:
            self._file_done = True
        elif self._file_done:
            self.late_fields.append(part.name)
        else:
            if len(self._fields) >= MAX_FIELDS:
                raise FormInvalid(f"the form has more than {MAX_FIELDS} fields")
            self._fields.append((part.name, part.data.decode("utf-8", "replace")))
        self._part = None

    def _end(self) -> None:
        self._ended = True

    # reading
    def _feed(self) -> bool:
        """Feed the parser one more piece of the body; false at its end."""
        piece = next(self._pieces, None)
        if piece is None:
            if not self._ended:
                raise FormInvalid("the form ended before its last boundary")
            return False
        try:
            self._parser.write(piece)
        except MultipartParseError as exc:
            raise FormInvalid(f"the upload is not a valid multipart form: {exc}") from None
        return True

    def fields(self) -> tuple[list[tuple[str, str]], str, str]:
        """The fields before the file, and the file's name and type, once its part begins."""
        while self._file is None:
            if not self._feed():
                raise FormInvalid("the form holds no file: choose the file to upload")
        assert self._file.filename is not None
        kind = self._file.headers.get(b"content-type", b"application/octet-stream")
        return list(self._fields), self._file.filename, kind.decode("latin-1")[:120]

    def file_chunks(self) -> Iterator[bytes]:
        """The file's bytes, as the body brings them."""
        file = self._file
        assert file is not None
        while True:
            if file.data:
                chunk = bytes(file.data)
                file.data.clear()
                yield chunk
            if self._file_done:
                return
            if not self._feed():
                raise FormInvalid("the form ended inside its file")

    def finish(self) -> None:
        """Read the rest of the body (fields after the file are not taken)."""
        while self._feed():
            pass


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormInvalid("send the upload form as multipart/form-data (the page's form does)")
    return boundary


def _choice(fields: list[tuple[str, str]], name: str, default: str) -> str:
    values = [value for key, value in fields if key == name]
    return values[-1] if values else default


def _enum(kind: type[Any], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise FormInvalid(f"'{value}' is not a {what}: one of {allowed}") from None


# --- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """One audited download of a material: who, from which organisation, and when."""

    at: datetime
    material_id: str | None
    filename: str
    person: str
    organisation: str


def _downloads(ctx: RequestContext, submission_id: str) -> list[Download]:
    """Who downloaded the submission's materials, newest first, from its audit trail (the
    developer's only: the API's audit route's use case)."""
    entries = review.audit_trail(
        ctx.db,
        ctx.actor,
        submission_id,
        PageRequest(limit=DOWNLOADS_SHOWN),
        ctx.now,
        _rules(ctx),
        EntryFilter(action=DOWNLOAD_ACTION),
    ).rows
    orgs = identity.organisation_names(ctx.db, {e.actor_org_id for e in entries if e.actor_org_id})
    people: dict[str, str] = {}
    for user_id in {e.actor_user_id for e in entries if e.actor_user_id}:
        people[user_id] = identity.get_user(ctx.db, user_id).name
    return [
        Download(
            at=e.at,
            material_id=e.object_id,
            filename=str(json.loads(e.leaf).get("detail", {}).get("filename", "")),
            person=people.get(e.actor_user_id or "", e.actor_user_id or "the platform"),
            organisation=orgs.get(e.actor_org_id or "", e.actor_org_id or ""),
        )
        for e in entries
    ]


@router.get("/submissions/{submission_id}/materials", response_model=None)
def materials_page(request: Request, submission_id: str, ctx: PageContext) -> Response:
    """The materials the caller may see; for the developer also the upload form and who
    downloaded what."""

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        submission = review.get_submission(db, actor, submission_id, now, rules)
        found = materials.list_materials(db, actor, submission_id, now, rules)
        owner = submission.developer_org_id == actor.organisation_id
        return page(
            request,
            "materials/list.html",
            submission=submission,
            materials=found,
            owner=owner,
            downloads=_downloads(ctx, submission_id) if owner else [],
            withdrawn=submission.withdrawn_at is not None,
            kinds=list(MaterialKind),
            labels=list(TLP),
            markings=list(Marking),
            limit=ctx.settings.max_material_bytes,
        )

    return guarded(request, build)


@router.post("/submissions/{submission_id}/materials", response_model=None)
async def upload_material(
    request: Request, submission_id: str, ctx: PageContext, vault: VaultDep
) -> Response:
    """Upload one material from the page's form, encrypted into the vault as it streams."""
    same_origin(request)

    def work() -> None:
        form = StreamedForm(body_pieces(request), _boundary(request))
        fields, filename, content_type = form.fields()
        plan = materials.plan_upload(
            ctx.db,
            ctx.actor,
            submission_id,
            kind=_enum(MaterialKind, _choice(fields, "kind", MaterialKind.OTHER.value), "kind"),
            filename=filename,
            content_type=content_type,
            tlp=_enum(TLP, _choice(fields, "tlp", TLP.AMBER_STRICT.value), "TLP label"),
            markings=[_enum(Marking, v, "marking") for k, v in fields if k == "marking"],
            now=ctx.now,
        )
        limit = ctx.settings.max_material_bytes
        stored = materials.stream_upload(ctx.db, vault, plan, form.file_chunks(), limit, ctx.now)
        form.finish()
        if form.late_fields:
            # Planned without them (a TLP label after the file would be silently ignored).
            vault_service.delete_blob(vault, plan.context, plan.material_id)
            late = ", ".join(form.late_fields)
            raise FormInvalid(f"the fields {late} come after the file: send them before it")
        materials.finish_upload(ctx.db, vault, ctx.actor, plan, stored, ctx.now)

    try:
        await to_thread.run_sync(work)
    except PrereviewError as error:
        return page(request, "error.html", error.status, error=error)
    target = f"/web/submissions/{submission_id}/materials"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/materials/{material_id}/download", response_model=None)
def download_material(
    request: Request, material_id: str, ctx: PageContext, vault: VaultDep
) -> Response:
    """The material's bytes, by the API's own path: authorized, audited, then streamed."""

    def build() -> Response:
        retention = timedelta(days=ctx.settings.retention_days)
        material, chunks = materials.open_material(
            ctx.db, vault, ctx.actor, material_id, ctx.now, _rules(ctx), retention
        )
        return StreamingResponse(
            chunks,
            media_type="application/octet-stream",
            headers={
                "content-length": str(material.size),
                "content-disposition": content_disposition(material.filename),
                "x-content-sha256": material.sha256,
            },
        )

    return guarded(request, build)
