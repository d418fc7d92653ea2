"""Appends, proofs and full verification of the audit log, on SQLite and on PostgreSQL.

Usage: ``.venv/bin/python benchmarks/audit.py [--entries N] [--batch B] [--proofs P]
[--db sqlite|postgresql ...]`` (default 1,000,000 entries, 10,000 per transaction, 100 proofs,
both databases).

For each database: a fresh migrated database (a temporary SQLite file; a scratch PostgreSQL
database ``prereview_bench_<random>`` on ``--pg``, trust auth, dropped afterwards); N entries
appended through :func:`prereview.audit.service.record_many`, B per transaction, each entry
like a real one (an actor, an action, a submission, a small detail); a signed checkpoint;
then, at size N, the mean time and size of P inclusion proofs of random entries and of P
consistency proofs from random sizes to N (each proof is checked, untimed, with
:mod:`prereview.audit.merkle`), and the time of :func:`prereview.audit.verify.verify_stored_log`,
the code path of ``prereview audit verify``. Prints one JSON line per database.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from prereview.audit import merkle, service
from prereview.audit.checkpoint import NoteSigner
from prereview.audit.verify import verify_stored_log
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade

ORIGIN = "bench.prereview.local/audit"
ACTIONS = (
    "review:material:read",
    "review:finding:create",
    "gateway:model:call",
    "review:grant:create",
)
START = datetime(2026, 6, 1, tzinfo=UTC)


def _actors() -> list[Actor]:
    kinds = (OrgKind.DEVELOPER, OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER)
    return [
        Actor(f"usr_{i:026d}", f"org_{i % 7:026d}", kinds[i % 3], Role.MEMBER) for i in range(20)
    ]


def entries(first: int, count: int, actors: list[Actor]) -> list[service.NewEntry]:
    """``count`` realistic entries numbered from ``first``."""
    return [
        service.NewEntry(
            actor=actors[i % len(actors)],
            action=ACTIONS[i % len(ACTIONS)],
            object_type="material",
            object_id=f"mat_{i % 5000:026d}",
            at=START + timedelta(milliseconds=i),
            submission_id=f"sub_{i % 300:026d}",
            detail={"bytes": 4096 + i % 1000, "purpose": "evaluation"},
        )
        for i in range(first, first + count)
    ]


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="prereview-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'audit.db'}"


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mean_ms(samples: list[float]) -> float:
    return round(statistics.fmean(samples) * 1000, 3)


def run(db: str, url: str, n: int, batch: int, proofs: int) -> dict[str, Any]:
    """Fill a fresh database with ``n`` entries and measure; the JSON line's fields."""
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    actors = _actors()
    try:
        started = time.perf_counter()
        for first in range(0, n, batch):
            items = entries(first, min(batch, n - first), actors)
            with transaction(sessions) as session:
                service.record_many(session, items)
            print(f"\r{db}: {first + len(items):,} / {n:,}", end="", file=sys.stderr)
        append_s = time.perf_counter() - started
        print(file=sys.stderr)

        signer = NoteSigner.generate(ORIGIN)
        with sessions() as session:
            checkpoint = service.sign_checkpoint_now(session, signer, ORIGIN, START)
        size, root = checkpoint.size, checkpoint.root
        if size != n:
            raise RuntimeError(f"the checkpoint covers {size} entries, not {n}")

        rng = random.Random(9162)
        inclusion_s: list[float] = []
        inclusion_bytes: list[int] = []
        consistency_s: list[float] = []
        for _ in range(proofs):
            seq = rng.randrange(n)
            with sessions() as session:
                t0 = time.perf_counter()
                proof = service.inclusion_proof(session, seq, size)
                inclusion_s.append(time.perf_counter() - t0)
            merkle.verify_inclusion(proof.leaf_hash, seq, size, proof.path, root)
            inclusion_bytes.append(merkle.HASH_SIZE * len(proof.path))

            first_size = rng.randrange(1, n) if n > 1 else n
            with sessions() as session:
                t0 = time.perf_counter()
                cproof = service.consistency_proof(session, first_size, size)
                consistency_s.append(time.perf_counter() - t0)
            merkle.verify_consistency(
                first_size, size, cproof.first_root, cproof.second_root, cproof.path
            )
            if cproof.second_root != root:
                raise RuntimeError("a consistency proof's new root is not the checkpoint's")

        with sessions() as session:
            t0 = time.perf_counter()
            verified = verify_stored_log(session, [signer.verifier])
            verify_s = time.perf_counter() - t0
        if verified.size != n or verified.root != root:
            raise RuntimeError("verify_stored_log disagrees with the signed checkpoint")
    finally:
        engine.dispose()
    return {
        "bench": "audit",
        "db": db,
        "entries": n,
        "appends_per_s": round(n / append_s),
        "inclusion_proof_bytes": round(statistics.fmean(inclusion_bytes)),
        "inclusion_proof_ms": _mean_ms(inclusion_s),
        "consistency_proof_ms": _mean_ms(consistency_s),
        "verify_all_s": round(verify_s, 2),
        "batch": batch,
        "log2_entries": round(math.log2(n), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="entries per transaction")
    parser.add_argument("--proofs", type=int, default=100, help="proofs of each kind to time")
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeat; default both"
    )
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin URL (creates and drops a scratch database)",
    )
    args = parser.parse_args()
    if args.entries < 1 or args.batch < 1:
        parser.error("--entries and --batch must be positive")
    for db in args.db or ["sqlite", "postgresql"]:
        database = sqlite_database() if db == "sqlite" else postgres_database(args.pg)
        with database as url:
            line = run(db, url, args.entries, args.batch, args.proofs)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
