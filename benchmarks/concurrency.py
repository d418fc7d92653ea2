"""No veto, and never a 500, under concurrent use: a real server on SQLite and PostgreSQL.

For each database, starts ``uvicorn prereview.api:create_app`` in its own process on
127.0.0.1 (nothing else is reached), populates a platform (a developer, a rival developer, two
agencies, the clearinghouse; a submission with a grant, a material and a gateway upstream),
then measures:

1. **release during an upload**: the rival developer releases fresh submissions one after
   another while the developer streams a ``--upload-mib`` MiB material (default 1 GiB);
2. **release during an import**: the same while the clearinghouse imports ``--import-reports``
   reports (default 20,000) in one request;
3. **mixed load** at each ``--concurrency`` (default 8 and 32) for ``--duration`` seconds
   (default 20): findings filed, vulnerability reports submitted, tokens created, gateway keys
   created, audited agency reads of the submission, audited material downloads, finding lists.

Prints one JSON line per database and concurrency: requests, 5xx, 4xx, p50/p99 ms, requests
per second, and the release latencies of phases 1 and 2 (p50/p99/max ms, count, 5xx).
Goal: 0 5xx everywhere; release p99 under 1 s during uploads and imports.

A quick run: ``python benchmarks/concurrency.py --duration 3 --concurrency 8 --upload-mib 64
--import-reports 2000``. The PostgreSQL run uses a scratch database on ``--pg`` (default
postgresql://postgres@127.0.0.1:5432), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from prereview.authz.kinds import OrgKind
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate

MIB = 1 << 20
TIMEOUT = httpx.Timeout(120.0)
SERVER_LIMIT_S = 3600  # the server process is killed after this, whatever happens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


# -- the platform ---------------------------------------------------------------------------


def people(url: str) -> dict[str, str]:
    """Organisations and a token for each, made directly in the database (as tests do)."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    with transaction(sessions) as db:
        _, _, issued = identity.bootstrap(
            db,
            OrganisationCreate(name="Clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="ops@clearinghouse.org", name="Ops"),
            now,
            timedelta(days=1),
        )
        tokens["clearinghouse"] = issued.plaintext
    for name, kind in [
        ("developer", OrgKind.DEVELOPER),
        ("rival", OrgKind.DEVELOPER),
        ("agency", OrgKind.AGENCY),
        ("other_agency", OrgKind.AGENCY),
    ]:
        with transaction(sessions) as db:
            org = identity._new_organisation(
                db, OrganisationCreate(name=f"{name} org", kind=kind), now
            )
            user = identity._new_user(
                db, org, UserCreate(email=f"{name}@{name.replace('_', '-')}.org", name=name), now
            )
            db.flush()
            tokens[name] = identity.issue_token_for(
                db, user, "bench", timedelta(days=1), now
            ).plaintext
    engine.dispose()
    return tokens


@dataclass
class Platform:
    base: str
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    fresh: list[str] = field(default_factory=list)  # the rival's submissions, to release

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(
        self, http: httpx.Client, who: str, method: str, path: str, **kw: Any
    ) -> httpx.Response:
        return http.request(method, f"{self.base}/api/v1{path}", headers=self.headers(who), **kw)


def populate(platform: Platform, fresh: int) -> None:
    def ok(response: httpx.Response) -> Any:
        if response.status_code >= 300:
            raise RuntimeError(f"setup failed: {response.status_code} {response.text[:300]}")
        return response.json()

    with httpx.Client(timeout=TIMEOUT) as http:
        body = {"model_name": "Atlas", "model_version": "1", "training_compute_flop": 3e25}
        sub = ok(platform.call(http, "developer", "POST", "/submissions", json=body))
        agency_org = ok(platform.call(http, "agency", "GET", "/me"))["organisation"]["id"]
        ok(
            platform.call(
                http,
                "developer",
                "POST",
                f"/submissions/{sub['id']}/grants",
                json={"agency_org_id": agency_org},
            )
        )
        material = ok(
            platform.call(
                http,
                "developer",
                "POST",
                f"/submissions/{sub['id']}/materials",
                params={"filename": "card.md", "kind": "model_card"},
                content=os.urandom(256 * 1024),
            )
        )
        ok(
            platform.call(
                http,
                "developer",
                "PUT",
                f"/submissions/{sub['id']}/gateway/upstream",
                json={
                    "base_url": "https://upstream.invalid/v1",
                    "upstream_model": "m",
                    "api_key": "sk-bench",
                },
            )
        )
        platform.ids.update(submission=sub["id"], material=material["id"])
        rival = {"model_name": "Rival", "model_version": "1"}
        for _ in range(fresh):
            made = ok(platform.call(http, "rival", "POST", "/submissions", json=rival))
            platform.fresh.append(made["id"])


# -- phases ---------------------------------------------------------------------------------


def release_while(platform: Platform, busy: threading.Thread, every: float) -> dict[str, Any]:
    """Release the rival's fresh submissions one by one until ``busy`` ends."""
    latencies: list[float] = []
    failures = 0
    with httpx.Client(timeout=TIMEOUT) as http:
        while busy.is_alive() and platform.fresh:
            sub_id = platform.fresh.pop()
            started = time.perf_counter()
            response = platform.call(http, "rival", "POST", f"/submissions/{sub_id}/release")
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status_code >= 500
            time.sleep(every)
    return {
        "n": len(latencies),
        "covered": not busy.is_alive(),  # False: the fresh submissions ran out first
        "5xx": failures,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def in_thread(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def release_during_upload(platform: Platform, mib: int, every: float) -> dict[str, Any]:
    block = os.urandom(MIB)
    outcome: dict[str, Any] = {}

    def body() -> Iterator[bytes]:
        for _ in range(mib):
            yield block

    def upload() -> None:
        started = time.perf_counter()
        with httpx.Client(timeout=TIMEOUT) as http:
            response = platform.call(
                http,
                "developer",
                "POST",
                f"/submissions/{platform.ids['submission']}/materials",
                params={"filename": "weights.bin", "kind": "weights"},
                content=body(),
            )
        outcome.update(upload_status=response.status_code, upload_s=time.perf_counter() - started)

    thread = in_thread(upload)
    releases = release_while(platform, thread, every)
    thread.join()
    return releases | {"upload_mib": mib} | {k: round(v, 2) for k, v in outcome.items()}


def reports_jsonl(count: int) -> bytes:
    tag = uuid.uuid4().hex[:8]
    lines = []
    for n in range(count):
        token = f"{tag}_{n}"
        lines.append(
            json.dumps(
                {
                    "id": f"BENCH-{tag}-{n}",
                    "title": f"Path traversal in handler_{token}",
                    "description": f"handler_{token}() in app/{token}.py joins the user's file "
                    "name to the upload root without normalising it.",
                    "affected": [{"purl": f"pkg:pypi/uploadkit-{n % 97}@1.{n % 10}.0"}],
                    "cwes": ["CWE-22"],
                }
            )
        )
    return "\n".join(lines).encode()


def release_during_import(platform: Platform, count: int, every: float) -> dict[str, Any]:
    payload = reports_jsonl(count)
    outcome: dict[str, Any] = {}

    def run_import() -> None:
        started = time.perf_counter()
        with httpx.Client(timeout=httpx.Timeout(1800.0)) as http:
            response = platform.call(
                http,
                "clearinghouse",
                "POST",
                "/clearinghouse/imports",
                params={"format": "jsonl"},
                content=payload,
            )
        outcome.update(import_status=response.status_code, import_s=time.perf_counter() - started)

    thread = in_thread(run_import)
    releases = release_while(platform, thread, every)
    thread.join()
    return releases | {"reports": count} | {k: round(v, 2) for k, v in outcome.items()}


def mixed_load(platform: Platform, concurrency: int, duration: float) -> dict[str, Any]:
    sub, material = platform.ids["submission"], platform.ids["material"]
    finding = {
        "title": "Advice",
        "description": "A finding is advice.",
        "severity": "high",
        "category": "cyber_offense_capability",
    }
    operations: list[tuple[str, str, str, Callable[[], dict[str, Any]]]] = [
        ("agency", "POST", f"/submissions/{sub}/findings", lambda: {"json": finding}),
        (
            "agency",
            "POST",
            "/clearinghouse/reports",
            lambda: {
                "json": {
                    "id": f"MIX-{uuid.uuid4().hex}",
                    "title": f"Overflow in parse_{uuid.uuid4().hex[:10]}",
                    "description": "parse() copies the header into a fixed buffer.",
                    "affected": [{"purl": "pkg:pypi/framekit@2.0.0"}],
                    "cwes": ["CWE-120"],
                }
            },
        ),
        ("developer", "POST", "/tokens", lambda: {"json": {"name": "bench"}}),
        ("agency", "POST", f"/submissions/{sub}/gateway/keys", lambda: {"json": {"name": "b"}}),
        ("agency", "GET", f"/submissions/{sub}", dict),
        ("agency", "GET", f"/materials/{material}/content", dict),
        ("other_agency", "GET", "/me", dict),
        ("developer", "GET", f"/submissions/{sub}/findings", dict),
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    guard = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=TIMEOUT) as http:
            while time.monotonic() < deadline:
                who, method, path, extra = rng.choice(operations)
                started = time.perf_counter()
                try:
                    status = platform.call(http, who, method, path, **extra()).status_code
                except httpx.HTTPError:
                    status = 599  # the connection failed: counted as a server error
                elapsed = (time.perf_counter() - started) * 1000
                with guard:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    threads = [in_thread(lambda n=n: worker(n)) for n in range(concurrency)]  # type: ignore[misc]
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "5xx": sum(n for s, n in statuses.items() if s >= 500),
        "4xx": sum(n for s, n in statuses.items() if 400 <= s < 500),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "rps": round(len(latencies) / wall, 1),
    }


# -- one database ---------------------------------------------------------------------------


def serve(url: str, work: Path, port: int, limit: dict[str, int]) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PREREVIEW_DATABASE_URL": url,
        "PREREVIEW_MASTER_KEY_FILE": str(work / "master.keys"),
        "PREREVIEW_AUDIT_KEY_FILE": str(work / "audit.key"),
        "PREREVIEW_BLOB_DIR": str(work / "blobs"),
        "PREREVIEW_MAX_MATERIAL_BYTES": str(limit["material"]),
        "PREREVIEW_MAX_IMPORT_BYTES": str(limit["import"]),
    }
    command = [
        "timeout",
        str(SERVER_LIMIT_S),
        sys.executable,
        "-m",
        "uvicorn",
        "prereview.api:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, env=env, cwd=work)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise RuntimeError("the server exited at start") from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start within 60 s")


def run(url: str, label: str, args: argparse.Namespace, work: Path) -> None:
    upgrade(url)
    tokens = people(url)
    port = free_port()
    limit = {"material": (args.upload_mib + 1) * MIB, "import": 4 * args.import_reports * 1024}
    server = serve(url, work, port, limit)
    try:
        platform = Platform(f"http://127.0.0.1:{port}", tokens)
        populate(platform, args.fresh)
        upload = release_during_upload(platform, args.upload_mib, args.release_every)
        bulk = release_during_import(platform, args.import_reports, args.release_every)
        for concurrency in args.concurrency:
            line = {"bench": "concurrency", "db": label, "concurrency": concurrency}
            line |= {"duration_s": args.duration} | mixed_load(platform, concurrency, args.duration)
            line |= {"release_during_upload": upload, "release_during_import": bulk}
            print(json.dumps(line))
            sys.stdout.flush()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per concurrency")
    parser.add_argument("--upload-mib", type=int, default=1024)
    parser.add_argument("--import-reports", type=int, default=20_000)
    parser.add_argument("--release-every", type=float, default=0.1, help="seconds between")
    parser.add_argument("--fresh", type=int, default=800, help="submissions made to release")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prereview-concurrency-") as scratch:
        if args.db in ("sqlite", "both"):
            work = Path(scratch) / "sqlite"
            work.mkdir()
            run(f"sqlite:///{work / 'bench.db'}", "sqlite", args, work)
        if args.db in ("postgresql", "both"):
            work = Path(scratch) / "postgresql"
            work.mkdir()
            name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
            admin_url = f"{args.pg}/postgres"
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
                run(url, "postgresql", args, work)
            finally:
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
