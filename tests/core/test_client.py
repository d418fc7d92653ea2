"""The command line's HTTP client and printer: data is shown as text, errors say what to do,
irreversible actions confirm, and loading the command line does not load the platform."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from prereview.core import client
from prereview.core.client import CommandFailed, confirm, explain, show

TRICKY = "gateway:key:create [red]not red[/red] :thumbs_up:"
HEAVY = ("inspect_ai", "sqlalchemy", "fastapi", "uvicorn", "alembic", "httpx", "aiohttp")


def test_tables_show_the_servers_text_as_it_is() -> None:
    with client.console.capture() as captured:
        show([{"id": "x", "action": TRICKY}], False)
        show({"action": TRICKY}, False)
    out = captured.get()
    assert out.count(TRICKY) == 2
    assert "🔑" not in out and "👍" not in out


def test_problems_are_printed_as_text() -> None:
    problem = {"type": "urn:prereview:problem:x", "detail": TRICKY}
    with client.errors.capture() as captured:
        explain(httpx.Response(409, json=problem), "prv_token")
    assert TRICKY in " ".join(captured.get().split())


def test_a_missing_token_says_to_set_prereview_token() -> None:
    problem = {"type": "urn:prereview:problem:token-missing", "detail": "no Authorization header"}
    with client.errors.capture() as captured:
        explain(httpx.Response(401, json=problem), None)
    out = " ".join(captured.get().split())  # as read, whatever the terminal's width
    assert "PREREVIEW_TOKEN" in out and "prereview token create" in out
    assert "header" not in out


def test_without_a_terminal_an_irreversible_action_needs_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with client.errors.capture() as captured, pytest.raises(CommandFailed) as refused:
        confirm("Releasing sub_x ends every grant.", yes=False)
    assert refused.value.exit_code == 2
    said = " ".join(captured.get().split())
    assert "--yes" in said and "Releasing sub_x" in said
    confirm("Releasing sub_x ends every grant.", yes=True)  # --yes: no question


@pytest.mark.parametrize(("answer", "goes_ahead"), [(True, True), (False, False)])
def test_at_a_terminal_the_person_is_asked(
    monkeypatch: pytest.MonkeyPatch, answer: bool, goes_ahead: bool
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(client.typer, "confirm", lambda text, **_: asked.append(text) or answer)
    with client.errors.capture():
        if goes_ahead:
            confirm("Withdrawing sub_x shreds its materials.", yes=False)
        else:
            with pytest.raises(CommandFailed) as stopped:
                confirm("Withdrawing sub_x shreds its materials.", yes=False)
            assert stopped.value.exit_code == 1
    assert len(asked) == 1


@pytest.mark.parametrize(
    "argv", [["--help"], ["submission", "list", "--help"], ["whoami", "--help"]]
)
def test_the_command_line_loads_no_heavy_part_for_help(argv: list[str]) -> None:
    """`prereview --help` and a simple command's help import neither the app, the database,
    Inspect AI nor the HTTP client (what makes the command line slow to start)."""
    script = (
        "import sys\n"
        f"sys.argv = ['prereview', *{argv!r}]\n"
        "from prereview.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert "LOADED []" in done.stdout, done.stdout[-2000:]
