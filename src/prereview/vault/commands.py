"""Command line of the vault, run on the server machine: master-key rotation.

Retiring a master key cannot be undone (the key is gone from the keyring file, and with it
every backup of a data key wrapped under it), so ``vault retire`` asks first, like every
irreversible command (``--yes`` skips the question; without a terminal it needs ``--yes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from prereview.core.client import YesOption, confirm, console, errors, escape

if TYPE_CHECKING:
    from prereview.core.context import AppContext
    from prereview.vault import service
    from prereview.vault.keyring import LocalKeyProvider

# The database and the vault are imported inside each command, so that `prereview --help`
# and the commands that only talk to a server do not load them.

vault = typer.Typer(help="The vault's master keys (run on the server).", no_args_is_help=True)


def _open() -> tuple[AppContext, LocalKeyProvider, service.Vault]:
    from prereview.core.context import AppContext
    from prereview.core.settings import load_settings
    from prereview.vault import service
    from prereview.vault.keyring import LocalKeyProvider

    settings = load_settings()
    context = AppContext.create(settings)
    provider = LocalKeyProvider.generate(settings.master_key_file)
    return context, provider, service.Vault(provider, settings.blob_dir)


@vault.command("rotate-master-key")
def rotate() -> None:
    """Add a new current master key and re-wrap every data key under it; no data is
    re-encrypted. Retire the old key afterwards with `prereview vault retire`."""
    from prereview.core.db import transaction
    from prereview.vault import service

    context, provider, store = _open()
    try:
        old = provider.current_key_id
        new = provider.rotate()
        with transaction(context.sessions) as db:
            moved = service.rewrap_all(db, store, context.clock.now())
    finally:
        context.engine.dispose()
    console.print(f"master key {old} -> {new}; {moved} data key(s) re-wrapped", markup=False)


@vault.command("retire")
def retire(
    key_id: Annotated[str, typer.Argument(help="The master key to remove.")],
    yes: YesOption = False,
) -> None:
    """Remove an old master key once no data key uses it (completes shredding in backups;
    asks first, --yes skips)."""
    from prereview.core.errors import PrereviewError
    from prereview.vault import service

    context, provider, _ = _open()
    try:
        with context.sessions() as db:
            in_use = service.keys_using(db, key_id)
        if key_id in provider.key_ids and key_id != provider.current_key_id and not in_use:
            # Only a retirement that would go ahead is asked about; the keyring explains a
            # refusal (unknown, current or still in use) below.
            confirm(
                f"Retiring master key {escape(key_id)} deletes it from the keyring file for "
                "good: every copy of a data key wrapped under it, in any database backup, can "
                "never be unwrapped again.",
                yes,
            )
        provider.retire(key_id, still_in_use=in_use)
    except PrereviewError as exc:
        errors.print(f"[red]error:[/] {escape(exc.detail)}")
        raise typer.Exit(1) from None
    finally:
        context.engine.dispose()
    console.print(f"master key {key_id} retired", markup=False)


@vault.command("status")
def status() -> None:
    """The master keys and how many data keys each wraps."""
    from prereview.vault import service

    context, provider, _ = _open()
    try:
        with context.sessions() as db:
            for key_id in provider.key_ids:
                mark = " (current)" if key_id == provider.current_key_id else ""
                console.print(
                    f"{key_id}{mark}: {service.keys_using(db, key_id)} data key(s)", markup=False
                )
    finally:
        context.engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(vault, name="vault")
