"""The command line's side of the API: an HTTP client and the way answers are printed.

Commands talk to a running server (``--server``, default ``PREREVIEW_SERVER`` or
http://127.0.0.1:8000) with the token in ``PREREVIEW_TOKEN``. The token is read from the
environment only, so that it never appears in a process list or shell history.

Everything the server sends is data, never markup: tables put each value in a plain
:class:`~rich.text.Text`, messages pass values through :func:`escape`, and the consoles do not
turn ``:name:`` into emoji (``gateway:key:create`` stays as it is). Tables fit the terminal
(:mod:`prereview.core.tables`) and name organisations rather than show their ids. ``httpx`` and
rich's tables and progress bars are imported when first used, so that ``prereview --help``
stays fast.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:
    import httpx
    from rich.progress import Progress

DEFAULT_SERVER = "http://127.0.0.1:8000"
API = "/api/v1"
TRANSFER_PIECE = 1 << 20  # uploads and downloads move in pieces of 1 MiB

console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

__all__ = ["escape"]  # re-exported: the commands escape the server's values in their messages

HOW_TO_AUTHENTICATE = (
    "no API token: set PREREVIEW_TOKEN (export PREREVIEW_TOKEN=prv_...). Get one from your "
    "organisation's administrator, or create one with `prereview token create` while signed "
    "in with another token; on the server, `prereview admin bootstrap` prints the first."
)

ServerOption = Annotated[
    str,
    typer.Option("--server", envvar="PREREVIEW_SERVER", help="Base URL of the prereview server."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do it without asking for confirmation.")
]


ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Only what this user or organisation (its id) did.")
]
ActionOption = Annotated[
    str | None,
    typer.Option(
        "--action", help="Only this action, or its family (review:grant: every grant action)."
    ),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only entries at or after this ISO 8601 instant.")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Only entries before this ISO 8601 instant.")
]
OldestFirstOption = Annotated[
    bool, typer.Option("--oldest-first", help="Oldest entries first (default: newest first).")
]


def audit_filters(
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    oldest_first: bool,
) -> dict[str, Any]:
    """The query parameters of an audit list's filters, as the commands' options give them."""
    return {
        "actor": actor,
        "action": action,
        "since": instant_option(since, "--since"),
        "until": instant_option(until, "--until"),
        "order": "oldest" if oldest_first else None,
    }


def instant_option(text: str | None, option: str) -> str | None:
    """An option's ISO 8601 instant, refused here when it has no time zone."""
    if text is None:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO 8601 date-time", param_hint=option
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"'{text}' has no time zone; add Z or an offset like +00:00", param_hint=option
        )
    return moment.isoformat()


class CommandFailed(typer.Exit):
    """A failed request, already explained to the person on standard error."""


class ApiClient:
    def __init__(self, server: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.token = token if token is not None else os.environ.get("PREREVIEW_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        import httpx

        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)
        self._names: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v1{path}``; print the problem and exit non-zero on an error answer."""
        import httpx

        try:
            response = self.http.request(method, f"{API}{path}", **kwargs)
        except httpx.TransportError as exc:
            errors.print(
                f"[red]error:[/] cannot reach {escape(self.server)} ({exc.__class__.__name__}); "
                "is `prereview serve` running, and is --server right?"
            )
            raise CommandFailed(2) from None
        if response.status_code >= 400:
            explain(response, self.token)
            raise CommandFailed(1)
        if not response.content:
            return None
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed call to ``/api/v1{path}``; an error answer is explained and exits."""
        import httpx

        try:
            with self.http.stream(method, f"{API}{path}", **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    explain(response, self.token)
                    raise CommandFailed(1)
                yield response
        except httpx.TransportError as exc:
            errors.print(
                f"[red]error:[/] transfer with {escape(self.server)} failed "
                f"({exc.__class__.__name__})"
            )
            raise CommandFailed(2) from None

    def upload_file(
        self, path: str, file: Path, *, params: Mapping[str, Any], content_type: str
    ) -> Any:
        """POST ``file``'s bytes to ``/api/v1{path}`` as a stream, with a progress bar, never
        whole in memory; the server's JSON answer."""
        size = file.stat().st_size
        with transfer_progress() as progress:
            task = progress.add_task(f"upload {file.name}", total=size)

            def body() -> Iterator[bytes]:
                with file.open("rb") as source:
                    while piece := source.read(TRANSFER_PIECE):
                        progress.advance(task, len(piece))
                        yield piece

            return self.request(
                "POST",
                path,
                params=dict(params),
                content=body(),
                headers={"content-type": content_type, "content-length": str(size)},
            )

    def download_verified(self, path: str, target: Path, *, size: int, sha256: str) -> int:
        """Stream ``/api/v1{path}`` into ``target`` through a ``.partial`` file and rename it
        into place only when its length and SHA-256 are the ones the server recorded; a
        short or damaged transfer leaves no file and exits 1. The bytes received."""
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        received = 0
        try:
            with self.stream("GET", path) as response, transfer_progress() as progress:
                task = progress.add_task(f"download {target.name}", total=size)
                with partial.open("wb") as sink:
                    for piece in response.iter_bytes(TRANSFER_PIECE):
                        sink.write(piece)
                        digest.update(piece)
                        received += len(piece)
                        progress.advance(task, len(piece))
            if received != size or not hmac.compare_digest(digest.hexdigest(), sha256):
                errors.print(
                    f"[red]error:[/] the transfer was incomplete or damaged ({received} of "
                    f"{size} bytes, or not the SHA-256 the server recorded); nothing was written"
                )
                raise CommandFailed(1)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return received

    def organisation_names(self, org_ids: Iterable[str]) -> dict[str, str]:
        """The directory's name for each of ``org_ids`` (one request per organisation not
        asked about before); one the directory does not answer for keeps its id."""
        import httpx

        wanted = set(org_ids)
        for org_id in sorted(wanted - self._names.keys()):
            self._names[org_id] = org_id
            try:
                response = self.http.get(f"{API}/organisations/{org_id}")
            except httpx.TransportError:
                continue  # the table is still worth printing, with the id
            found = response.json() if response.status_code == 200 else None
            if isinstance(found, dict) and isinstance(found.get("name"), str):
                self._names[org_id] = found["name"]
        return {org_id: self._names[org_id] for org_id in wanted}

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def get_all(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paginated list (``{items, total, limit, offset}``), page by page."""
        items: list[Any] = []
        while True:
            page = self.get(path, **params, limit=200, offset=len(items))
            items.extend(page["items"])
            if not page["items"] or len(items) >= page["total"]:
                return items

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=dict(body) if body is not None else None)


def transfer_progress() -> Progress:
    """The progress bar of uploads and downloads."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=errors,
    )


def explain(response: httpx.Response, token: str | None = None) -> None:
    """Print an error answer as a person would want to read it (``token``: the one sent, so
    that a refusal for want of one says how to give it)."""
    if response.status_code == 401 and not token:
        errors.print(f"[red]error:[/] {HOW_TO_AUTHENTICATE}")
        return
    try:
        problem = response.json()
    except ValueError:
        errors.print(f"[red]error:[/] HTTP {response.status_code}: {escape(response.text[:500])}")
        return
    if not isinstance(problem, dict):
        errors.print(f"[red]error:[/] HTTP {response.status_code}")
        return
    slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
    detail = escape(str(problem.get("detail", "")))
    errors.print(f"[red]error[/] ({response.status_code} {escape(slug)}): {detail}")
    for item in problem.get("errors", []) or []:
        where = ".".join(str(p) for p in item.get("location", item.get("path", [])))
        errors.print(f"  - {escape(where)}: {escape(str(item.get('message', '')))}")


def confirm(what: str, yes: bool) -> None:
    """Ask before an irreversible action, saying what will happen (``what``, markup allowed:
    escape the server's values in it); ``--yes`` skips the question. Without a terminal to ask
    on, refuse unless ``--yes`` was given, so that a script never does it by accident."""
    if yes:
        return
    if not sys.stdin.isatty():
        errors.print(what)
        errors.print(
            "[red]refused:[/] this cannot be undone and there is no terminal to confirm on; "
            "pass --yes (-y) to do it anyway"
        )
        raise CommandFailed(2)
    errors.print(f"[yellow]{what}[/]")
    if not typer.confirm("This cannot be undone. Continue?", default=False, err=True):
        errors.print("nothing done")
        raise CommandFailed(1)


Column = tuple[str, Callable[[Mapping[str, Any]], Any]]


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column that shows one (dotted) field of each row."""

    def get(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    return get


def show(
    data: Any,
    as_json: bool,
    columns: Sequence[Column] | None = None,
    title: str | None = None,
    names: ApiClient | None = None,
) -> None:
    """Print an answer: JSON with ``--json``, otherwise a table (one row, or one per item)
    laid out in the terminal's width (:mod:`prereview.core.tables`). With ``names``, the
    organisation columns (:func:`organisation`, and any ``*_org_id`` field shown) show the
    organisation's name, looked up in the directory; ``--json`` keeps the ids."""
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    rows: Iterable[Mapping[str, Any]]
    if isinstance(data, Mapping) and "items" in data and isinstance(data["items"], list):
        rows = data["items"]
        footer = f"{data.get('offset', 0) + len(data['items'])} of {data.get('total')}"
    elif isinstance(data, list):
        rows, footer = data, None
    else:
        _show_record(data if isinstance(data, Mapping) else {"value": data}, title)
        return
    from rich.table import Table

    from prereview.core.tables import fit, instant

    rows = list(rows)
    cols = list(columns or [(key, _auto(key)) for key in _keys(rows)])
    values = [[get(row) for _, get in cols] for row in rows]
    if names is not None:
        wanted = {v for index in _org_columns(cols) for v in _column(values, index) if v}
        found = names.organisation_names(wanted)
        for index in _org_columns(cols):
            for row_values in values:
                if isinstance(row_values[index], str):
                    row_values[index] = found.get(row_values[index], row_values[index])
    cells = [[instant(_cell(value)) for value in row_values] for row_values in values]
    layout = fit([name for name, _ in cols], cells, console.width)
    if layout.left_out:
        hidden = f"not shown at {console.width} columns: {', '.join(layout.left_out)} (--json)"
        footer = f"{footer}; {hidden}" if footer else hidden
    table = Table(title=title, caption=footer)
    for index, width in zip(layout.kept, layout.widths, strict=True):
        table.add_column(cols[index][0], width=width, overflow="fold")
    for row_cells in cells:
        # Text, not str: a value is shown as it is, never read as markup or emoji codes.
        table.add_row(*(Text(row_cells[index]) for index in layout.kept))
    console.print(table)


class OrganisationField:
    """A column that shows an organisation: its id in ``--json``, its name in a table."""

    def __init__(self, name: str) -> None:
        self.get = field(name)

    def __call__(self, row: Mapping[str, Any]) -> Any:
        return self.get(row)


def organisation(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column that shows the organisation whose id is in (dotted) field ``name`` (typed as
    any column, so that it sits in a list of columns with lambdas)."""
    return OrganisationField(name)


def _auto(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return organisation(key) if key.endswith("org_id") else field(key)


def _org_columns(cols: Sequence[Column]) -> list[int]:
    return [i for i, (_, get) in enumerate(cols) if isinstance(get, OrganisationField)]


def _column(values: Sequence[Sequence[Any]], index: int) -> Iterator[str]:
    for row_values in values:
        if isinstance(row_values[index], str):
            yield row_values[index]


def _keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    for row in rows:
        return [k for k, v in row.items() if not isinstance(v, (dict, list))]
    return []


def _show_record(record: Mapping[str, Any], title: str | None) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                table.add_row(Text(f"{key}.{sub}"), Text(_cell(inner)))
        else:
            table.add_row(Text(str(key)), Text(_cell(value)))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return (
            ", ".join(_cell(v) for v in value)
            if all(not isinstance(v, dict) for v in value)
            else json.dumps(value, default=str)
        )
    return str(value)
