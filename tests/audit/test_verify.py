"""``prereview audit verify`` against a stored log, clean and tampered with raw SQL.

Each kind of tampering must make the command exit non-zero naming the first bad entry, on
SQLite and on PostgreSQL. The log is written through the single write path, ``record`` (the
HTTP flows that call it are in test_service.py), with a signed checkpoint part-way and one
at the end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from prereview.audit import merkle, service
from prereview.audit import verify as verify_module
from prereview.audit.checkpoint import NoteSigner, sign_checkpoint
from prereview.audit.commands import register
from prereview.audit.trust import LogTrust, SavedCheckpoint, TrustState, save_state
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.context import AppContext
from prereview.core.db import transaction

ENTRIES = 23
FIRST_CHECKPOINT = 13
ACTORS = [
    Actor("usr_dev", "org_dev", OrgKind.DEVELOPER, Role.ADMIN),
    Actor("usr_agency", "org_agency", OrgKind.AGENCY, Role.MEMBER),
    None,
]

cli = typer.Typer()
register(cli)


def write_log(context: AppContext, first: int, count: int) -> None:
    now = context.clock.now()
    with transaction(context.sessions) as db:
        for i in range(first, first + count):
            service.record(
                db,
                actor=ACTORS[i % 3],
                action="review:material:read" if i % 2 else "review:submission:update",
                object_type="material",
                object_id=f"mat_{i}",
                at=now + timedelta(seconds=i),
                submission_id=f"sub_{i % 4}",
                detail={"n": i, "note": "naïve ☃"},
            )


def sign(context: AppContext) -> None:
    settings = context.settings
    with context.sessions() as db:
        service.sign_checkpoint_now(
            db,
            service.load_signer(settings),
            settings.audit_origin,
            context.clock.now(),
            settings.audit_journal_path,
        )


@pytest.fixture
def log(context: AppContext) -> AppContext:
    """A log of 23 entries with checkpoints signed at sizes 13 and 23."""
    write_log(context, 0, FIRST_CHECKPOINT)
    sign(context)
    write_log(context, FIRST_CHECKPOINT, ENTRIES - FIRST_CHECKPOINT)
    sign(context)
    return context


def verify(context: AppContext, *args: str) -> Result:
    settings = context.settings
    env = {
        "PREREVIEW_DATABASE_URL": settings.database_url,
        "PREREVIEW_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "PREREVIEW_AUDIT_ORIGIN": settings.audit_origin,
    }
    return CliRunner().invoke(cli, ["audit", "verify", *args], env=env)


def tamper(context: AppContext, change: Callable[[Connection], object]) -> None:
    with context.engine.begin() as connection:
        change(connection)


def sql(statement: str, **params: object) -> Callable[[Connection], object]:
    return lambda c: c.execute(text(statement), params)


def leaf_of(connection: Connection, seq: int) -> str:
    return str(
        connection.execute(
            text("SELECT leaf FROM audit_entries WHERE seq = :s"), {"s": seq}
        ).scalar_one()
    )


def forge(connection: Connection, source: int, **changes: object) -> tuple[str, bytes]:
    """Entry ``source``'s text with ``changes``, and its (correct) leaf hash: a careful forger."""
    fields = json.loads(leaf_of(connection, source)) | changes
    leaf = service.canonical_leaf(fields)
    return leaf, service.leaf_hash(leaf)


def rewrite_entry(c: Connection, seq: int) -> None:
    leaf, digest = forge(c, seq, detail={"n": seq, "note": "nothing to see"})
    c.execute(
        text("UPDATE audit_entries SET leaf = :l, leaf_hash = :h WHERE seq = :s"),
        {"l": leaf, "h": digest, "s": seq},
    )


def rewrite_entry_and_tree(c: Connection, seq: int) -> None:
    """Change an entry and rebuild every stored hash and the head from the entries: only the
    signed checkpoints can tell."""
    rewrite_entry(c, seq)
    leaves = [
        bytes(r[0]) for r in c.execute(text("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
    ]
    tree = merkle.TreeAppender()
    nodes = tree.extend(leaves)
    c.execute(text("DELETE FROM audit_nodes"))
    c.execute(
        text('INSERT INTO audit_nodes (level, "index", hash) VALUES (:l, :i, :h)'),
        [{"l": lv, "i": ix, "h": h} for lv, ix, h in nodes],
    )
    c.execute(text("UPDATE audit_head SET right_edge = :e"), {"e": tree.packed_right_edge})


def swap(c: Connection, a: int, b: int) -> None:
    c.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = :a"), {"a": a})
    c.execute(text("UPDATE audit_entries SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
    c.execute(text("UPDATE audit_entries SET seq = :b WHERE seq = -1"), {"b": b})


def insert_entry(c: Connection, seq: int, shift: bool) -> None:
    """Insert a well-formed entry at ``seq``, moving the later ones up if ``shift``."""
    leaf, digest = forge(c, seq - 1, seq=seq, object_id="mat_forged")
    if shift:
        c.execute(text("UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= :s"), {"s": seq})
        c.execute(text("UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1000"))
    fields = json.loads(leaf)
    c.execute(
        text(
            "INSERT INTO audit_entries (seq, at, actor_user_id, actor_org_id, action, object_type,"
            " object_id, submission_id, leaf, leaf_hash) SELECT :s, at, actor_user_id,"
            " actor_org_id, action, object_type, :o, submission_id, :l, :h FROM audit_entries"
            " WHERE seq = :src"
        ),
        {"s": seq, "o": fields["object_id"], "l": leaf, "h": digest, "src": seq - 1},
    )


def truncate(c: Connection, size: int) -> None:
    """Drop the entries from ``size`` on, with their nodes, and wind the head back to match."""
    c.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": size})
    for level in range(ENTRIES.bit_length()):
        c.execute(
            text('DELETE FROM audit_nodes WHERE level = :l AND "index" >= :i'),
            {"l": level, "i": size >> level},
        )
    leaves = [
        bytes(r[0]) for r in c.execute(text("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
    ]
    tree = merkle.TreeAppender()
    tree.extend(leaves)
    c.execute(
        text("UPDATE audit_head SET size = :s, right_edge = :e"),
        {"s": size, "e": tree.packed_right_edge},
    )


TAMPERING: dict[str, tuple[Callable[[Connection], object], int]] = {
    # name: (the change, the first bad seq that verify must name)
    "leaf text edited": (
        sql("UPDATE audit_entries SET leaf = replace(leaf, 'mat_7', 'mat_9') WHERE seq = 7"),
        7,
    ),
    "leaf hash changed": (
        sql(
            "UPDATE audit_entries SET leaf_hash = :h WHERE seq = 4",
            h=hashlib.sha256(b"forged").digest(),
        ),
        4,
    ),
    "text and leaf hash changed together": (lambda c: rewrite_entry(c, 9), 9),
    "entry, tree and head rewritten consistently": (lambda c: rewrite_entry_and_tree(c, 17), 13),
    "column changed to hide an entry": (
        sql("UPDATE audit_entries SET submission_id = 'sub_0' WHERE seq = 6"),
        6,
    ),
    "time column changed": (
        sql(
            "UPDATE audit_entries SET at = (SELECT at FROM audit_entries WHERE seq = 0) WHERE seq = 5"
        ),
        5,
    ),
    "row deleted": (sql("DELETE FROM audit_entries WHERE seq = 11"), 11),
    "first row deleted": (sql("DELETE FROM audit_entries WHERE seq = 0"), 0),
    "rows swapped": (lambda c: swap(c, 15, 3), 3),
    "adjacent rows swapped": (lambda c: swap(c, 20, 21), 20),
    "row inserted in the middle": (lambda c: insert_entry(c, 8, shift=True), 8),
    "row inserted before the log": (
        sql(
            "INSERT INTO audit_entries (seq, at, action, object_type, leaf, leaf_hash)"
            " SELECT -1, at, action, object_type, leaf, leaf_hash FROM audit_entries WHERE seq = 0"
        ),
        0,
    ),
    "row appended past the head": (lambda c: insert_entry(c, ENTRIES, shift=False), ENTRIES),
    "tail truncated after a checkpoint": (lambda c: truncate(c, 19), 19),
}


def first_bad(result: Result) -> int:
    found = re.search(r"first bad entry: seq (\d+)", result.output)
    assert found, result.output
    return int(found.group(1))


def test_a_clean_log_verifies(log: AppContext) -> None:
    result = verify(log)
    assert result.exit_code == 0, result.output
    tree = merkle.TreeAppender()
    with log.sessions() as db:
        tree.extend(service.inclusion_proof(db, i, ENTRIES).leaf_hash for i in range(ENTRIES))
    root = base64.b64encode(tree.root()).decode()
    assert f"log verified: {ENTRIES} entries, root {root}" in " ".join(result.output.split())


def test_an_empty_log_verifies(context: AppContext) -> None:
    result = verify(context)
    assert result.exit_code == 0, result.output
    assert "log verified: 0 entries" in result.output


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected_naming_the_first_bad_entry(log: AppContext, kind: str) -> None:
    change, bad = TAMPERING[kind]
    tamper(log, change)
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "log NOT verified" in result.output
    assert first_bad(result) == bad, result.output


def test_a_changed_checkpoint_is_detected(log: AppContext) -> None:
    tamper(log, sql("UPDATE audit_checkpoints SET root = :r WHERE size = 13", r=b"\x00" * 32))
    result = verify(log)
    assert result.exit_code == 1 and "checkpoint row at size 13" in " ".join(result.output.split())


def test_a_checkpoint_signed_by_another_key_is_refused(log: AppContext) -> None:
    forged = merkle.TreeAppender().root()
    other = NoteSigner.generate(log.settings.audit_origin)
    note = sign_checkpoint(log.settings.audit_origin, 0, forged, other)
    tamper(log, sql("UPDATE audit_checkpoints SET note = :n WHERE size = 13", n=note))
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "does not verify" in result.output


def test_an_explicit_verifier_key_is_used(log: AppContext) -> None:
    trusted = str(service.load_signer(log.settings).verifier)
    assert verify(log, "--verifier-key", trusted).exit_code == 0
    stranger = str(NoteSigner.generate(log.settings.audit_origin).verifier)
    log.settings.audit_key_file.unlink()
    result = verify(log, "--verifier-key", stranger)
    assert result.exit_code == 1 and "does not verify" in result.output


# --- A rebuilt log, against the checkpoints published outside its tables ----------------------


def delete_checkpoint_rows(c: Connection) -> None:
    c.execute(text("DELETE FROM audit_checkpoints"))


def drop_published_guard(c: Connection) -> None:
    """What a forger must do first to empty the append-only table: get past its triggers.

    On PostgreSQL a superuser turns triggers off for the transaction (the test database is
    shared by the session's tests, so the triggers themselves must stay)."""
    if c.dialect.name == "postgresql":
        c.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        c.execute(text("DROP TRIGGER audit_published_no_delete"))
        c.execute(text("DROP TRIGGER audit_published_no_update"))
    c.execute(text("DELETE FROM audit_published_checkpoints"))


def rebuild_without_checkpoints(c: Connection) -> None:
    """Entry 17 rewritten, every stored hash and the head rebuilt, the checkpoint rows deleted:
    the log's own tables are consistent again."""
    rewrite_entry_and_tree(c, 17)
    delete_checkpoint_rows(c)


def test_a_rebuilt_log_with_its_checkpoint_rows_deleted_is_detected(log: AppContext) -> None:
    tamper(log, rebuild_without_checkpoints)
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "audit_published_checkpoints" in result.output
    assert first_bad(result) == 13, result.output


def test_a_rebuild_is_detected_without_the_signing_key_file_too(log: AppContext) -> None:
    """Without a trusted key, the published rows are checked with the key stored beside them."""
    tamper(log, rebuild_without_checkpoints)
    log.settings.audit_key_file.unlink()
    result = verify(log)
    assert result.exit_code == 1 and "trusting the verifier keys" in result.output, result.output
    assert first_bad(result) == 13, result.output


def test_an_edited_journal_line_is_detected(log: AppContext) -> None:
    journal = log.settings.audit_journal_path
    lines = journal.read_text().splitlines()
    record = json.loads(lines[0]) | {"root": base64.b64encode(b"\1" * 32).decode()}
    journal.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "line 1 differs from its signed note" in " ".join(result.output.split())


def test_published_checkpoints_are_append_only(log: AppContext) -> None:
    for statement in (
        "DELETE FROM audit_published_checkpoints",
        "UPDATE audit_published_checkpoints SET note = 'forged'",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            tamper(log, sql(statement))
    with log.sessions() as db:
        assert db.scalar(text("SELECT count(*) FROM audit_published_checkpoints")) == 2


def test_a_rebuild_that_also_empties_the_published_table_fails_on_the_journal(
    log: AppContext,
) -> None:
    journal = log.settings.audit_journal_path
    assert journal.exists() and stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert len(journal.read_text().splitlines()) == 2
    tamper(log, lambda c: (rebuild_without_checkpoints(c), drop_published_guard(c)))
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "journal audit-checkpoints.jsonl line 2" in " ".join(result.output.split())
    assert first_bad(result) == 13, result.output


def witness_of(context: AppContext, path: Path) -> Path:
    """A client's saved state for this log, built as the CLI builds it, exported to ``path``."""
    with context.sessions() as db:
        cp = service.latest_stored_checkpoint(db)
        assert cp is not None
        served = {"note": cp.note, "verifier_key": service.verifier_of(db, cp)}

        def consistency(first: int, second: int) -> dict[str, object]:
            proof = service.consistency_proof(db, first, second)
            return {"proof": [base64.b64encode(h).decode() for h in proof.path]}

        trust = LogTrust(path, "https://prereview.example")
        trust.accept(served, consistency)
    return path


def test_a_rebuild_that_leaves_no_trace_on_the_server_fails_on_a_witness(
    log: AppContext, tmp_path: Path
) -> None:
    witness = witness_of(log, tmp_path / "witness.json")
    tamper(log, lambda c: (rebuild_without_checkpoints(c), drop_published_guard(c)))
    log.settings.audit_journal_path.unlink()
    assert verify(log).exit_code == 0  # nothing left on the server to tell

    result = verify(log, "--witness", str(witness))
    assert result.exit_code == 1, result.output
    assert "witness witness.json" in " ".join(result.output.split())
    assert first_bad(result) == 0, result.output


def test_a_log_truncated_below_a_published_size_is_detected(log: AppContext) -> None:
    tamper(log, lambda c: (truncate(c, 19), delete_checkpoint_rows(c)))
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "signed at size 23" in " ".join(result.output.split())
    assert first_bad(result) == 19, result.output


def test_deleted_checkpoint_rows_alone_are_detected(log: AppContext) -> None:
    tamper(log, delete_checkpoint_rows)
    result = verify(log)
    assert result.exit_code == 1, result.output
    assert "checkpoint rows were deleted" in " ".join(result.output.split())


def test_a_clean_log_matches_its_witness_and_journal(log: AppContext, tmp_path: Path) -> None:
    witness = witness_of(log, tmp_path / "witness.json")
    result = verify(log, "--witness", str(witness))
    assert result.exit_code == 0, result.output
    # 2 sizes: the table, the journal and the witness name the same two checkpoints
    assert "2 published checkpoints matched" in " ".join(result.output.split())


def test_a_witness_of_another_log_is_refused(log: AppContext, tmp_path: Path) -> None:
    other = NoteSigner.generate("other.example/audit")
    note = sign_checkpoint(other.name, 0, merkle.EMPTY_ROOT, other)
    witness = tmp_path / "other.json"
    save_state(
        witness,
        TrustState(
            "https://other.example",
            other.name,
            str(other.verifier),
            [SavedCheckpoint(0, merkle.EMPTY_ROOT, note)],
        ),
    )
    result = verify(log, "--witness", str(witness))
    # rich wraps the message at the terminal width: compare it with the line breaks undone
    assert result.exit_code == 2 and "is for the log" in " ".join(result.output.split())


# --- Verify while the server writes -----------------------------------------------------------


@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot", "bounded-by-head"])
def test_verify_while_entries_are_appended_reports_no_tampering(
    log: AppContext, monkeypatch: pytest.MonkeyPatch, snapshot: bool
) -> None:
    """Another thread appends entries and signs a checkpoint between verify's chunks.

    Without the snapshot too (``bounded-by-head``): verify reads only up to the head it read
    first, and checks for rows beyond the head against a head read after them.
    """
    if not snapshot:
        monkeypatch.setattr(verify_module, "begin_snapshot", lambda db: None)
    appended: list[int] = []

    def append_concurrently(done: int) -> None:
        if appended:
            return

        def writer() -> None:
            write_log(log, ENTRIES, 7)
            sign(log)
            appended.append(7)

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        assert appended, "the writer thread failed"

    with log.sessions() as db:
        result = verify_module.verify_stored_log(
            db,
            [service.load_signer(log.settings).verifier],
            progress=append_concurrently,
            chunk=5,
            journal=log.settings.audit_journal_path,
        )
    assert appended == [7]
    assert result.size == ENTRIES
    assert verify(log).exit_code == 0
    assert "log verified: 30 entries" in verify(log).output
