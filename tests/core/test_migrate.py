"""The app refuses an un-migrated database and says how to fix it; health reports the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prereview.api import create_app
from prereview.core.migrate import DatabaseNotMigrated, upgrade
from prereview.core.settings import Settings


def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
    with pytest.raises(DatabaseNotMigrated) as refused:
        create_app(settings)
    assert "prereview db upgrade" in refused.value.detail
    upgrade(settings.database_url)
    app = create_app(settings)
    with TestClient(app) as client:
        health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
