"""The ``prereview`` command: the server's and the database's commands, then every capability's
(from :mod:`prereview.capabilities`)."""

from __future__ import annotations

import typer

from prereview.capabilities import command_registrars
from prereview.core import commands as core_commands
from prereview.server import commands as server_commands

app = typer.Typer(
    name="prereview",
    help="Voluntary pre-release review of frontier AI models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Not capabilities: serving the platform and its database come before what it does.
server_commands.register(app)
core_commands.register(app)
for register in command_registrars():
    register(app)


def main() -> None:
    app()
