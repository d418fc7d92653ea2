"""``prereview audit verify`` against a stored log, clean and tampered with raw SQL.

Each kind of tampering must make the command exit non-zero naming the first bad entry, on
SQLite and on PostgreSQL. The log is written through the single write path, ``record`` (the
HTTP flows that call it are in test_audit_log.py), with a signed checkpoint part-way and one
at the end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import typer
from sqlalchemy import Connection, text
from typer.testing import CliRunner, Result

from prereview.audit import merkle, service
from prereview.audit.checkpoint import NoteSigner, sign_checkpoint
from prereview.audit.commands import register
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.identity.actor import Actor
from prereview.identity.kinds import OrgKind, Role

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
            db, service.load_signer(settings), settings.audit_origin, context.clock.now()
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
