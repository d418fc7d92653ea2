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
the code path of ``prereview audit verify``. Then the offline verifier's speed:
:func:`prereview.audit.merkle.verify_inclusion` (what ``prereview audit proof`` and the
client's checks run) over V inclusion proofs of random entries taken from the log, timed as
``benchmarks/attestation.py`` times the attestation verifier (goal: 10,000 proofs/s); and tile
serving (:mod:`prereview.audit.tiles_routes`, C2SP tlog-tiles): T random tiles of the tree of
size N fetched through the app in process, tiles per second (client included) and the server
time's p50 and p95 (``benchmarks/server_timing.py``). Prints one JSON line per database.
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
from fastapi.testclient import TestClient
from server_timing import Timed, ms

from prereview.api import create_app
from prereview.audit import merkle, service, tiles
from prereview.audit.checkpoint import NoteSigner
from prereview.audit.verify import verify_stored_log
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind, Role
from prereview.core.context import AppContext
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings

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


def verifier_speed(sessions: Any, size: int, root: bytes, count: int) -> dict[str, Any]:
    """Inclusion proofs verified per second by the offline verifier, on proofs from the log."""
    rng = random.Random(6962)
    seqs = [rng.randrange(size) for _ in range(count)]
    cases: list[tuple[bytes, int, list[bytes]]] = []
    with sessions() as session:
        for start in range(0, count, 500):  # one node query per 500 proofs
            for p in service.inclusion_proofs(session, seqs[start : start + 500], size):
                cases.append((p.leaf_hash, p.seq, p.path))
    began = time.perf_counter()
    for leaf, seq, path in cases:
        merkle.verify_inclusion(leaf, seq, size, path, root)
    elapsed = time.perf_counter() - began
    return {"verifier_proofs": count, "verifier_proofs_per_s": round(count / elapsed)}


def tile_serving(url: str, size: int, count: int) -> dict[str, Any]:
    """Random tiles of the tree of ``size`` through the app: tiles per second, server time."""
    rng = random.Random(8192)
    every = tiles.tiles_of(size)
    picked = [every[rng.randrange(len(every))] for _ in range(count)]
    with tempfile.TemporaryDirectory(prefix="prereview-bench-tiles-") as folder:
        here = Path(folder)
        settings = Settings(
            database_url=url,
            master_key_file=here / "master.keys",
            audit_key_file=here / "audit.key",
            blob_dir=here / "blobs",
        )
        context = AppContext.create(settings)
        # Migrated by this script a moment ago: no second look at the schema.
        timed = Timed(create_app(context=context, check_schema=False))
        server: list[float] = []
        try:
            with TestClient(timed) as client:
                began = time.perf_counter()
                for tile in picked:
                    answer = client.get(f"/audit/log/{tile.path}")
                    if answer.status_code != 200 or len(answer.content) != 32 * tile.width:
                        raise RuntimeError(f"{tile.path}: {answer.status_code}")
                    server.append(timed.last)
                elapsed = time.perf_counter() - began
        finally:
            context.engine.dispose()
    timing = ms(server)
    return {
        "tiles_fetched": count,
        "tiles_per_s": round(count / elapsed),
        "tile_p50_ms": timing["p50_ms"],
        "tile_p95_ms": timing["p95_ms"],
    }


def witnessed_latency(
    sessions: Any, signer: NoteSigner, first: int, rounds: int, actors: list[Actor]
) -> dict[str, Any]:
    """Checkpoint-to-cosigned latency with two witnesses on loopback (real servers, each with
    its own key and SQLite state): per round, 10 entries appended, then the time from signing
    the checkpoint to both cosignatures checked and stored, the code path of a checkpoint read
    (:class:`prereview.audit.witnessing.WitnessPublisher`)."""
    from prereview.audit.witnessing import WitnessPublisher, cosignature_lines
    from prereview.core.clock import SystemClock
    from prereview.core.settings import WitnessEndpoint
    from prereview.witness.local import LocalWitness

    with tempfile.TemporaryDirectory(prefix="prereview-witness-") as folder:
        logs = {ORIGIN: [signer.verifier]}
        pair = [LocalWitness(f"bench.example/w{i}", Path(folder) / f"w{i}", logs) for i in (1, 2)]
        for witness in pair:
            witness.start()
        settings = Settings(
            audit_witnesses=[WitnessEndpoint(url=w.url, key=w.verifier_key) for w in pair]
        )
        publisher = WitnessPublisher(sessions, settings, SystemClock())
        samples: list[float] = []
        try:
            for number in range(rounds):
                with transaction(sessions) as session:
                    service.record_many(session, entries(first + 10 * number, 10, actors))
                t0 = time.perf_counter()
                with sessions() as session:
                    size = service.sign_checkpoint_now(session, signer, ORIGIN, START).size
                publisher.cosign_now()
                samples.append(time.perf_counter() - t0)
                with sessions() as session:
                    if len(cosignature_lines(session, size)) != 2:
                        raise RuntimeError(f"the checkpoint of size {size} lacks a cosignature")
        finally:
            publisher.close()
            for witness in pair:
                witness.stop()
    samples.sort()
    return {
        "cosigned_rounds": rounds,
        "checkpoint_to_cosigned_p50_ms": round(statistics.median(samples) * 1000, 2),
        "checkpoint_to_cosigned_p95_ms": round(
            samples[max(0, math.ceil(0.95 * rounds) - 1)] * 1000, 2
        ),
    }


def run(
    db: str,
    url: str,
    n: int,
    batch: int,
    proofs: int,
    verify_proofs: int,
    tile_reads: int,
    witness_rounds: int = 50,
) -> dict[str, Any]:
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
        offline = verifier_speed(sessions, size, root, verify_proofs)
        served = tile_serving(url, size, tile_reads)
        witnessed = witnessed_latency(sessions, signer, n, witness_rounds, actors)
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
        **offline,
        "goal_verifier_proofs_per_s": 10_000,
        **served,
        **witnessed,
        "batch": batch,
        "log2_entries": round(math.log2(n), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="entries per transaction")
    parser.add_argument("--proofs", type=int, default=100, help="proofs of each kind to time")
    parser.add_argument(
        "--verify-proofs", type=int, default=20_000, help="proofs for the verifier's speed"
    )
    parser.add_argument("--tiles", type=int, default=2_000, help="tile reads to time")
    parser.add_argument(
        "--witness-rounds", type=int, default=50, help="checkpoints cosigned by two witnesses"
    )
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
            line = run(
                db,
                url,
                args.entries,
                args.batch,
                args.proofs,
                args.verify_proofs,
                args.tiles,
                args.witness_rounds,
            )
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
