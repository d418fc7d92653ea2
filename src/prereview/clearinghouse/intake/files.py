"""Report files packed into bulk requests, for ``prereview vuln import``.

A clone of an advisory database is a folder of thousands of files of one OSV record each. Sent
one request per file, every record paid for a whole request (authentication, a look-up, a
transaction, an answer): 31 records/s. Files that each hold one OSV record are packed instead,
up to :data:`FILES_PER_REQUEST` files or :data:`BYTES_PER_REQUEST` bytes a request, into one
payload that the server reads as it reads one file: JSON records as a JSON array, YAML records
as a stream of YAML documents. The server answers one item per record, in order, so each item
is still told against its own file. Every other file (JSON Lines, CSAF, a single report, a YAML
list or stream, anything that cannot be told at a glance) goes alone, as before.

The check never parses YAML (that would double the client's time): it reads the text for a
single document whose top level is a mapping. A packed request the server refuses as a whole
(one file not UTF-8, not YAML) is sent again one file at a time by the command, so each file
gets the answer it would have had alone; nothing of a refused payload was stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from prereview.core.client import API, ApiClient, errors, escape

FILES_PER_REQUEST = 500
BYTES_PER_REQUEST = 8 * 2**20
LINE_FORMATS = (".jsonl", ".ndjson")
YAML_SUFFIXES = (".yaml", ".yml")
_BOM = b"\xef\xbb\xbf"
# Top-level keys by which the server tells an OSV record from a report: intake.formats.OSV_KEYS,
# not imported, so that the command line does not load the server's parsers.
OSV_KEYS = frozenset(["schema_version", "modified"])
IMPORTS = "/clearinghouse/imports"
RAW = {"Content-Type": "application/octet-stream"}
# A top-level mapping key at the start of a line: ``id: PYSEC-2021-1``, ``"id": ...``.
_MAPPING_KEY = re.compile(rb"""^(?:[A-Za-z0-9_]|"[^"\n]*"|'[^'\n]*')[^\n#]*?:(?:[ \t]|$)""")


@dataclass(frozen=True)
class ImportRequest:
    """One request of an import: its files, the body to send and the format to ask for."""

    files: tuple[Path, ...]
    body: bytes
    intake_format: str | None
    packed: bool = False  # several one-record files: item ``i`` of the answer is ``files[i]``

    @property
    def params(self) -> dict[str, str]:
        """The query of the request (a lone file is named, so the server detects its format)."""
        params = {} if self.packed else {"filename": self.files[0].name}
        if self.intake_format:
            params["format"] = self.intake_format
        return params


def line_batches(data: bytes, lines_per_batch: int) -> list[bytes]:
    """A JSON Lines file cut into bodies of ``lines_per_batch`` lines."""
    lines = data.splitlines(keepends=True)
    return [
        b"".join(lines[start : start + lines_per_batch])
        for start in range(0, len(lines), lines_per_batch)
    ] or [data]


def _is_json_record(data: bytes, chosen: str | None) -> bool:
    """Whether a JSON file is one OSV record (an object) the server would read as OSV."""
    text = data.strip()
    if chosen not in (None, "osv") or not text.startswith(b"{"):
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    if chosen is None:
        # The server's format detection (intake.formats.detect_format) would read it so.
        head = text[:4096]
        if b'"csaf_version"' in head or b'"document"' in head[:200]:
            return False
        first, _, rest = text.partition(b"\n")
        if rest.strip() and _is_json_object(first):
            return False  # read as JSON Lines
        if OSV_KEYS.isdisjoint(value):
            return False  # read as a single report
    return True


def _is_json_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _is_yaml_record(data: bytes, chosen: str | None) -> bool:
    """Whether a YAML file is one document whose top level is a mapping, read from its text:
    no document marker or directive at the start of a line (but one ``---`` before any
    content), and a first line of content that is a mapping key at column 0."""
    if chosen not in (None, "osv"):
        return False
    first: bytes | None = None
    for line in data.split(b"\n"):
        line = line.rstrip()
        if line.startswith((b"...", b"%")):
            return False
        if line.startswith(b"---"):
            if first is not None or line != b"---":
                return False  # a second document, or content on the marker's line
            first = b""
            continue
        if not first and line and not line.startswith(b"#"):
            first = line
    return bool(first) and _MAPPING_KEY.match(first or b"") is not None


def plan_requests(
    files: Iterable[Path],
    chosen: str | None,
    lines_per_batch: int,
    *,
    files_per_request: int = FILES_PER_REQUEST,
    bytes_per_request: int = BYTES_PER_REQUEST,
) -> list[ImportRequest]:
    """The requests that import ``files``, in their order: runs of one-record JSON or YAML
    files packed, JSON Lines in batches of lines, every other file alone. The order is kept
    (two versions of one record in two files are applied as they come)."""
    requests: list[ImportRequest] = []
    pack: list[tuple[Path, bytes]] = []
    pack_kind = ""
    size = 0
    for path in files:
        raw = path.read_bytes()
        suffix = path.suffix.lower()
        # One BOM is allowed at the start of a payload only: a packed file is sent without.
        data = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
        kind = ""
        if suffix in YAML_SUFFIXES and _is_yaml_record(data, chosen):
            kind = "yaml"
        elif suffix == ".json" and _is_json_record(data, chosen):
            kind = "json"
        full = len(pack) >= files_per_request or size + len(data) > bytes_per_request
        if pack and (kind != pack_kind or full):
            requests.append(_packed(pack_kind, pack))
            pack, size = [], 0
        if kind:
            pack.append((path, data))
            pack_kind = kind
            size += len(data) + 8
        elif suffix in LINE_FORMATS:
            requests += [
                ImportRequest((path,), body, chosen or "jsonl")
                for body in line_batches(raw, lines_per_batch)
            ]
        else:
            requests.append(ImportRequest((path,), raw, chosen))
    if pack:
        requests.append(_packed(pack_kind, pack))
    return requests


def _packed(kind: str, pack: Sequence[tuple[Path, bytes]]) -> ImportRequest:
    files = tuple(path for path, _ in pack)
    if len(pack) == 1:
        return ImportRequest(files, files[0].read_bytes(), "osv")
    if kind == "json":
        body = b"[" + b",\n".join(data.strip() for _, data in pack) + b"]"
    else:
        # Each file's last line is ended before the next document's marker.
        body = b"".join(
            (data if data.endswith(b"\n") else data + b"\n") + b"---\n" for _, data in pack
        )
    return ImportRequest(files, body, "osv", packed=True)


def unpack_items(request: ImportRequest, items: list[dict[str, object]]) -> list[dict[str, object]]:
    """The answer's items, each as if its file had been sent alone (index 0, document 1)."""
    if not request.packed:
        return items
    if len(items) != len(request.files):
        raise ValueError(
            f"the server answered {len(items)} items for {len(request.files)} one-record files"
        )
    return [{**item, "index": 0, "location": "document 1"} for item in items]


Outcomes = tuple[dict[str, int], list[tuple[Path, dict[str, Any]]]]


def send(client: ApiClient, request: ImportRequest, recipients: list[str]) -> Outcomes:
    """Send one request of an import: its counts, and each item with the file it came from."""
    params: dict[str, Any] = request.params
    if recipients:
        params["recipients"] = recipients
    if not request.packed:
        result = client.request("POST", IMPORTS, content=request.body, params=params, headers=RAW)
        return result["counts"], [(request.files[0], item) for item in result["items"]]
    import httpx  # imported when first used: `prereview --help` stays fast

    try:
        response = client.http.post(API + IMPORTS, content=request.body, params=params, headers=RAW)
    except httpx.TransportError:
        response = None
    if response is None or response.status_code >= 400:
        # Refused as a whole (a payload that cannot be read stores nothing): each file alone
        # gets the answer, or the error explained, it would have had sent alone.
        counts: dict[str, int] = {}
        items: list[tuple[Path, dict[str, Any]]] = []
        for file in request.files:
            alone = ImportRequest((file,), file.read_bytes(), request.intake_format)
            answered, found = send(client, alone, recipients)
            for status, number in answered.items():
                counts[status] = counts.get(status, 0) + number
            items += found
        return counts, items
    result = response.json()
    try:
        unpacked = unpack_items(request, result["items"])
    except ValueError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}; import them with --batch-files 1")
        raise typer.Exit(1) from None
    return result["counts"], list(zip(request.files, unpacked, strict=True))
