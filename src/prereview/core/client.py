"""The command line's side of the API: an HTTP client and the way answers are printed.

Commands talk to a running server (``--server``, default ``PREREVIEW_SERVER`` or
http://127.0.0.1:8000) with the token in ``PREREVIEW_TOKEN``. The token is read from the
environment only, so that it never appears in a process list or shell history.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

DEFAULT_SERVER = "http://127.0.0.1:8000"
API = "/api/v1"

console = Console()
errors = Console(stderr=True)

ServerOption = Annotated[
    str,
    typer.Option("--server", envvar="PREREVIEW_SERVER", help="Base URL of the prereview server."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")]


class CommandFailed(typer.Exit):
    """A failed request, already explained to the person on standard error."""


class ApiClient:
    def __init__(self, server: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.token = token if token is not None else os.environ.get("PREREVIEW_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v1{path}``; print the problem and exit non-zero on an error answer."""
        try:
            response = self.http.request(method, f"{API}{path}", **kwargs)
        except httpx.TransportError as exc:
            errors.print(
                f"[red]error:[/] cannot reach {self.server} ({exc.__class__.__name__}); "
                "is `prereview serve` running, and is --server right?"
            )
            raise CommandFailed(2) from None
        if response.status_code >= 400:
            explain(response)
            raise CommandFailed(1)
        if not response.content:
            return None
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed call to ``/api/v1{path}``; an error answer is explained and exits."""
        try:
            with self.http.stream(method, f"{API}{path}", **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    explain(response)
                    raise CommandFailed(1)
                yield response
        except httpx.TransportError as exc:
            errors.print(
                f"[red]error:[/] transfer with {self.server} failed ({exc.__class__.__name__})"
            )
            raise CommandFailed(2) from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=dict(body) if body is not None else None)


def transfer_progress() -> Progress:
    """The progress bar of uploads and downloads."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=errors,
    )


def explain(response: httpx.Response) -> None:
    """Print an error answer as a person would want to read it."""
    try:
        problem = response.json()
    except ValueError:
        errors.print(f"[red]error:[/] HTTP {response.status_code}: {response.text[:500]}")
        return
    if not isinstance(problem, dict):
        errors.print(f"[red]error:[/] HTTP {response.status_code}")
        return
    slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
    errors.print(f"[red]error[/] ({response.status_code} {slug}): {problem.get('detail', '')}")
    for item in problem.get("errors", []) or []:
        where = ".".join(str(p) for p in item.get("location", item.get("path", [])))
        errors.print(f"  - {where}: {item.get('message', '')}")


Column = tuple[str, Callable[[Mapping[str, Any]], Any]]
_ID = re.compile(r"^[a-z]{3}_[0-9a-z]{26}$")


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column that shows one (dotted) field of each row."""

    def get(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    return get


def show(
    data: Any, as_json: bool, columns: Sequence[Column] | None = None, title: str | None = None
) -> None:
    """Print an answer: JSON with ``--json``, otherwise a table (one row, or one per item)."""
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
    rows = list(rows)
    cols = list(columns or [(key, field(key)) for key in _keys(rows)])
    cells = [[_cell(get(row)) for _, get in cols] for row in rows]
    table = Table(title=title, caption=footer)
    for index, (name, _) in enumerate(cols):
        # Identifiers are for copying into the next command: never cut them short.
        ids = [row[index] for row in cells if _ID.match(row[index])]
        table.add_column(
            name, min_width=max((len(i) for i in ids), default=None), no_wrap=bool(ids)
        )
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)


def _keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    for row in rows:
        return [k for k, v in row.items() if not isinstance(v, (dict, list))]
    return []


def _show_record(record: Mapping[str, Any], title: str | None) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                table.add_row(f"{key}.{sub}", _cell(inner))
        else:
            table.add_row(key, _cell(value))
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
