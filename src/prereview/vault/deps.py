"""The vault as a FastAPI dependency: one per app, opened on first use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from prereview.core.context import get_context
from prereview.vault.service import Vault


def get_vault(request: Request) -> Vault:
    state = request.app.state
    vault: Vault | None = getattr(state, "vault", None)
    if vault is None:
        settings = get_context(request).settings
        vault = Vault.local(settings.master_key_file, settings.blob_dir)
        state.vault = vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]
