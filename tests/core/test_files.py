"""Data files are the platform user's alone (0600, folders 0700), and aborted uploads are swept."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from prereview.audit.service import load_signer
from prereview.cli import app as cli
from prereview.core import commands as core_commands
from prereview.core.clock import FixedClock
from prereview.core.db import make_engine
from prereview.core.files import (
    private_dir,
    replace_private,
    secure_sqlite_files,
    sweep_partials,
    write_new_private,
)
from prereview.core.settings import Settings
from prereview.vault.service import Vault, store_blob
from support.factories import Platform


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask (022), under which plain open() and mkdir() make 0644 and 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_sqlite_database_wal_and_shm_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    database = tmp_path / "var" / "data" / "prereview.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (secret TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('tlp-red')"))
        with engine.connect() as connection:  # WAL mode: -wal and -shm exist while connected
            connection.execute(text("SELECT * FROM t")).all()
            files = {p.name: mode(p) for p in database.parent.iterdir()}
    finally:
        engine.dispose()
    assert files == {"prereview.db": 0o600, "prereview.db-wal": 0o600, "prereview.db-shm": 0o600}
    assert mode(database.parent) == 0o700 and mode(database.parent.parent) == 0o700


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    for suffix in ("", "-wal"):
        Path(f"{database}{suffix}").write_bytes(b"")
        os.chmod(f"{database}{suffix}", 0o644)
    secure_sqlite_files(str(database))
    assert mode(database) == 0o600 and mode(Path(f"{database}-wal")) == 0o600


def test_private_dir_leaves_existing_folders_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700


def test_blobs_and_key_files_are_0600(platform: Platform, tmp_path: Path) -> None:
    sub = platform.submit()
    platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        201,
        params={"filename": "card.md", "kind": "model_card"},
        content=b"confidential card",
    )
    settings = platform.context.settings
    [blob] = list(Path(settings.blob_dir).rglob("*.prvs"))
    assert mode(blob) == 0o600
    assert mode(blob.parent) == 0o700 and mode(Path(settings.blob_dir)) == 0o700
    assert mode(settings.master_key_file) == 0o600

    fresh = Settings(
        database_url="sqlite://",
        audit_key_file=tmp_path / "keys" / "audit.key",
        master_key_file=tmp_path / "keys" / "master.keys",
        blob_dir=tmp_path / "blobs",
    )
    load_signer(fresh)
    assert mode(fresh.audit_key_file) == 0o600 and mode(fresh.audit_key_file.parent) == 0o700


def test_a_partial_blob_is_0600_while_it_is_written(tmp_path: Path, platform: Platform) -> None:
    vault = Vault.local(tmp_path / "master.keys", tmp_path / "blobs")
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b"first"
        [partial] = list((tmp_path / "blobs").rglob("*.partial"))
        seen.append(mode(partial))
        yield b"second"

    now = platform.context.clock.now()
    with platform.context.sessions() as db:
        store_blob(db, vault, "submission:sub_x", "mat_x", chunks(), now)
        db.rollback()
    assert seen == [0o600]


# -- sweeping aborted uploads -------------------------------------------------------------------

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def _partial(root: Path, name: str, written: datetime) -> Path:
    path = root / "submission_sub_1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"ciphertext")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def test_only_partials_older_than_the_grace_period_are_swept(tmp_path: Path) -> None:
    stale = _partial(tmp_path, "mat_old.partial", NOW - timedelta(hours=7))
    live = _partial(tmp_path, "mat_live.partial", NOW - timedelta(minutes=5))
    done = _partial(tmp_path, "mat_done.prvs", NOW - timedelta(days=30))
    assert sweep_partials(tmp_path, NOW, timedelta(hours=6)) == [stale]
    assert not stale.exists() and live.exists() and done.exists()
    assert sweep_partials(tmp_path / "missing", NOW, timedelta(hours=6)) == []


def test_the_sweep_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command reads the system clock; it is pinned to NOW so that ages are exact.
    monkeypatch.setattr(core_commands, "SystemClock", lambda: FixedClock(NOW))
    stale = _partial(tmp_path, "mat_old.partial", NOW - timedelta(days=2))
    live = _partial(tmp_path, "mat_live.partial", NOW)
    monkeypatch.setenv("PREREVIEW_BLOB_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["maintenance", "sweep"])
    assert result.exit_code == 0, result.output
    assert "swept 1" in result.output
    assert not stale.exists() and live.exists()


def test_a_new_private_file_is_0600_exclusive_and_never_clobbered(tmp_path: Path) -> None:
    key = tmp_path / "key"
    write_new_private(key, b"first")
    assert mode(key) == 0o600 and key.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_new_private(key, b"second")
    assert key.read_bytes() == b"first"


def test_a_replaced_private_file_is_whole_0600_and_leaves_no_temporary(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(b"old")
    os.chmod(state, 0o644)
    replace_private(state, b"new")
    assert state.read_bytes() == b"new" and mode(state) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_private_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        replace_private(tmp_path / "state.json", b"new")
    with pytest.raises(OSError, match="disk full"):
        write_new_private(tmp_path / "key", b"new")
    assert list(tmp_path.iterdir()) == []
