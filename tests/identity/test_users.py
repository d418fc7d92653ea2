"""Deactivating people: every token and session stops at once, by the organisation's own
administrators (or the platform operator on the server), audited, and reversible."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from prereview.audit.models import AuditEntry
from prereview.cli import app
from prereview.core.db import make_engine, transaction
from prereview.core.migrate import upgrade
from prereview.identity import service
from support.factories import Platform

SITE = {"origin": "http://testserver"}


def _member(platform: Platform, who: str = "developer") -> tuple[str, str]:
    """A new member of ``who``'s organisation and an API token of theirs."""
    org = platform[who].org_id
    user = platform.call(
        who,
        "POST",
        f"/organisations/{org}/users",
        201,
        json={"email": "leaver@example.org", "name": "Leaver"},
    ).json()
    with transaction(platform.context.sessions) as db:
        issued = service.issue_token_for(
            db,
            service.get_user(db, user["id"]),
            "laptop",
            timedelta(days=30),
            platform.context.clock.now(),
        )
    return user["id"], issued.plaintext


def _me(platform: Platform, token: str) -> tuple[int, str]:
    response = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("type", "")


def test_deactivation_stops_every_token_and_session_at_once(platform: Platform) -> None:
    """Attack: a person who left keeps using their tokens and signed-in browser."""
    user_id, token = _member(platform)
    second = platform.client.post(
        "/api/v1/tokens", json={"name": "second"}, headers={"Authorization": f"Bearer {token}"}
    ).json()["token"]
    browser = platform.client
    browser.cookies.clear()
    assert (
        browser.post(
            "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
        ).status_code
        == 303
    )
    assert browser.get("/web/", follow_redirects=False).status_code == 200
    assert _me(platform, token)[0] == 200

    out = platform.call("developer", "POST", f"/users/{user_id}/deactivate", 200).json()
    assert out["deactivated_at"] is not None
    for each in (token, second):
        assert _me(platform, each) == (401, "urn:prereview:problem:user-deactivated")
    page = browser.get("/web/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/web/login"
    assert (
        browser.post(
            "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
        ).status_code
        == 401
    )

    back = platform.call("developer", "POST", f"/users/{user_id}/reactivate", 200).json()
    assert back["deactivated_at"] is None
    assert _me(platform, token)[0] == 200
    # The browser signed in before stays signed out: deactivation revoked its session.
    assert browser.get("/web/", follow_redirects=False).status_code == 303
    with platform.context.sessions() as db:
        actions = list(
            db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == user_id)
                .order_by(AuditEntry.seq)
            )
        )
    assert actions[-2:] == ["identity:user:deactivate", "identity:user:reactivate"]


def test_only_the_users_own_administrators_deactivate(platform: Platform) -> None:
    """Attack: another organisation (the clearinghouse included: that would be a veto on a
    developer's release) switches a developer's people off, or learns they exist."""
    user_id, token = _member(platform)
    for outsider in ("other_developer", "agency", "clearinghouse"):
        refused = platform.call(outsider, "POST", f"/users/{user_id}/deactivate", 404).json()
        assert refused["type"].endswith("user-not-found")
    member = platform.client.post(
        f"/api/v1/users/{platform['developer'].user_id}/deactivate",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert member.status_code == 403
    own = platform.call(
        "developer", "POST", f"/users/{platform['developer'].user_id}/deactivate", 409
    ).json()
    assert own["type"].endswith("cannot-deactivate-self")
    assert _me(platform, token)[0] == 200
    assert _me(platform, platform["developer"].token)[0] == 200


def test_the_operator_deactivates_on_the_server(platform: Platform) -> None:
    user_id, token = _member(platform, "agency")
    settings = platform.context.settings
    env = {
        "PREREVIEW_DATABASE_URL": settings.database_url,
        "PREREVIEW_MASTER_KEY_FILE": str(settings.master_key_file),
        "PREREVIEW_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "PREREVIEW_BLOB_DIR": str(settings.blob_dir),
    }
    runner = CliRunner()
    done = runner.invoke(app, ["admin", "deactivate", user_id], env=env)
    assert done.exit_code == 0, done.output
    assert "deactivated" in done.output
    assert _me(platform, token) == (401, "urn:prereview:problem:user-deactivated")
    missing = runner.invoke(app, ["admin", "deactivate", "usr_nobody"], env=env)
    assert missing.exit_code == 1 and "no user" in missing.output
    assert runner.invoke(app, ["admin", "reactivate", user_id], env=env).exit_code == 0
    assert _me(platform, token)[0] == 200


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
