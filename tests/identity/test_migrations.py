"""Identity's migrations: upgrading a populated SQLite database keeps people and every
reference to them (migration 0007 rebuilds ``users``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from prereview.core.db import make_engine
from prereview.core.migrate import upgrade


def test_upgrading_a_populated_sqlite_database_keeps_people_and_references(
    tmp_path: Path,
) -> None:
    """Migration 0007 rebuilds ``users`` on SQLite (emails become unique per organisation),
    which other tables reference: the rows and every reference survive, and it downgrades."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    engine = make_engine(url)
    stamp = "2026-01-01 00:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisations (id, name, kind, created_at) "
                "VALUES ('org_a', 'A', 'developer', :at), ('org_b', 'B', 'agency', :at)"
            ),
            {"at": stamp},
        )
        connection.execute(
            text(
                "INSERT INTO users (id, organisation_id, email, name, role, created_at) "
                "VALUES ('usr_a', 'org_a', 'same@example.org', 'A', 'admin', :at)"
            ),
            {"at": stamp},
        )
        connection.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, display_prefix, "
                "created_at, expires_at) VALUES ('tok_a', 'usr_a', 't', 'h', 'p', :at, :at)"
            ),
            {"at": stamp},
        )
    upgrade(url)
    with engine.begin() as connection:
        # The same email in another organisation is allowed now, and in the same one is not.
        connection.execute(
            text(
                "INSERT INTO users (id, organisation_id, email, name, role, created_at) "
                "VALUES ('usr_b', 'org_b', 'same@example.org', 'B', 'admin', :at)"
            ),
            {"at": stamp},
        )
        assert connection.execute(text("SELECT user_id FROM api_tokens")).scalar() == "usr_a"
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, organisation_id, email, name, role, created_at) "
                "VALUES ('usr_c', 'org_a', 'same@example.org', 'C', 'member', :at)"
            ),
            {"at": stamp},
        )
    engine.dispose()
