"""The ``prereview`` command: one line per capability's commands."""

from __future__ import annotations

import typer

from prereview.audit import commands as audit_commands
from prereview.clearinghouse import commands as clearinghouse_commands
from prereview.core import commands as core_commands
from prereview.coverage import commands as coverage_commands
from prereview.evals import commands as evals_commands
from prereview.gateway import commands as gateway_commands
from prereview.identity import commands as identity_commands
from prereview.review import commands as review_commands
from prereview.review import material_commands
from prereview.server import commands as server_commands
from prereview.vault import commands as vault_commands

app = typer.Typer(
    name="prereview",
    help="Voluntary pre-release review of frontier AI models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
server_commands.register(app)
core_commands.register(app)
audit_commands.register(app)
identity_commands.register(app)
review_commands.register(app)
material_commands.register(app)
vault_commands.register(app)
clearinghouse_commands.register(app)
evals_commands.register(app)
coverage_commands.register(app)
gateway_commands.register(app)


def main() -> None:
    app()
