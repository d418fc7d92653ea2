"""Bulk ingest of real advisories: PyPA OSV records through the bulk API and through
``prereview vuln import``, into fresh SQLite and PostgreSQL databases.

The records are real: by default the 300 of ``tests/data/osv-pypa/vulns`` sent ``--copies``
times, each copy's ids suffixed (``PYSEC-2021-1-c2``) so that every copy is new records with
the real shape (the same texts, ranges, references and shared aliases; a copy is a likely
duplicate of its original, which the duplicate finder then has to weigh). With ``--mirror``, a
clone of the PyPA advisory database (``git clone https://github.com/pypa/advisory-database``,
or its bare git directory) gives every record of its ``vulns/`` folder at HEAD instead, once:
distinct real records, no copies.

For each database the app runs as a real server (``uvicorn prereview.api:create_app``, its own
process), on a database of its own for each path:

- ``api_yaml``: ``POST /api/v1/clearinghouse/imports`` with payloads of ``--batch`` records,
  YAML documents as the database publishes them;
- ``api_json``: the same records as OSV JSON (what OSV.dev serves), JSON arrays of ``--batch``;
- ``cli_yaml`` / ``cli_json``: ``prereview vuln import DIR`` (its own process, start-up
  included) with DIR holding one file per record, as a clone of the database does.

Everything runs: authentication, parsing, OSV schema validation, the duplicate finder, storing,
audit. Prints one JSON line: for each database and path the stored reports, the wall-clock
seconds, ``reports_per_s`` (stored reports per wall-clock second), the server's CPU seconds and
``reports_per_server_cpu_s`` (which moves less with machine load; PostgreSQL's own processes
are not counted), and the load average and CPU count of the machine around the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from prereview.authz.kinds import OrgKind
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade
from prereview.exchange.documents import load_documents
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "osv-pypa" / "vulns"
PATHS = ("api_yaml", "api_json", "cli_yaml", "cli_json")
_ID_LINE = re.compile(rb"^id: (\S+)$", re.MULTILINE)
_TICKS = os.sysconf("SC_CLK_TCK")


# -- the records ----------------------------------------------------------------------------


def shipped(copies: int) -> list[tuple[str, bytes]]:
    """Every shipped record, ``copies`` times, each copy under ids of its own."""
    originals = [
        (str(path.relative_to(DATA)), path.read_bytes()) for path in sorted(DATA.rglob("*.yaml"))
    ]
    found: list[tuple[str, bytes]] = []
    for copy in range(1, copies + 1):
        suffix = b"" if copy == 1 else f"-c{copy}".encode()
        for name, doc in originals:
            renamed = name if copy == 1 else name.replace(".yaml", f"-c{copy}.yaml")
            found.append((renamed, _ID_LINE.sub(rb"id: \1" + suffix, doc)))
    return found


def mirrored(git_dir: Path) -> list[tuple[str, bytes]]:
    """Every ``vulns/**.yaml`` record of an advisory-database clone at HEAD."""
    names = subprocess.run(
        ["git", "-C", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD", "vulns"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    names = sorted(name for name in names if name.endswith(".yaml"))
    batch = subprocess.run(
        ["git", "-C", str(git_dir), "cat-file", "--batch"],
        input="".join(f"HEAD:{name}\n" for name in names).encode(),
        check=True,
        capture_output=True,
    ).stdout
    found: list[tuple[str, bytes]] = []
    at = 0
    for name in names:
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        found.append((name.removeprefix("vulns/"), batch[header_end + 1 : header_end + 1 + size]))
        at = header_end + 1 + size + 1
    return found


def as_json(records: list[tuple[str, bytes]]) -> list[bytes]:
    """Each YAML record as OSV JSON (converted once, before anything is timed)."""
    return [json.dumps(load_documents(doc)[0]).encode() for _, doc in records]


# -- a server on a fresh database ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(kind: str, work: Path, pg: str) -> Iterator[str]:
    """A fresh, migrated database URL of ``kind``, dropped afterwards (PostgreSQL)."""
    if kind == "sqlite":
        url = f"sqlite:///{work / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(f"{pg}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def importer_token(url: str) -> str:
    """A clearinghouse organisation and a user with a token, seeded straight in the database."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with transaction(session_factory(engine)) as db:
        _, user = identity.seed_organisation(
            db,
            OrganisationCreate(name="PyPA mirror", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="bench@pypa-mirror.org", name="Bench"),
            now,
        )
        db.flush()
        token = identity.issue_token_for(db, user, "bench", timedelta(days=1), now).plaintext
    engine.dispose()
    return token


@contextmanager
def server(url: str, work: Path) -> Iterator[tuple[str, int]]:
    """The app served by uvicorn in a process of its own; yields its base URL and pid."""
    port = free_port()
    env = os.environ | {
        "PREREVIEW_DATABASE_URL": url,
        "PREREVIEW_MASTER_KEY_FILE": str(work / "master.keys"),
        "PREREVIEW_AUDIT_KEY_FILE": str(work / "audit.key"),
        "PREREVIEW_BLOB_DIR": str(work / "blobs"),
    }
    command = [sys.executable, "-m", "uvicorn", "prereview.api:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen([*command, "--no-access-log"], env=env, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded machine imports the app slowly
        while True:
            try:
                httpx.get(f"{base}/api/v1/me", timeout=5)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


# -- the paths ------------------------------------------------------------------------------


def post_payloads(base: str, token: str, payloads: list[bytes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=600) as client:
        for payload in payloads:
            answer = client.post(
                "/api/v1/clearinghouse/imports",
                content=payload,
                params={"format": "osv"},
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/octet-stream",
                },
            )
            answer.raise_for_status()
            for status, number in answer.json()["counts"].items():
                counts[status] = counts.get(status, 0) + number
    return counts


def run_cli(base: str, token: str, folder: Path) -> dict[str, int]:
    env = os.environ | {"PREREVIEW_SERVER": base, "PREREVIEW_TOKEN": token}
    prereview = str(Path(sys.executable).with_name("prereview"))  # the installed command
    command = [prereview, "vuln", "import", str(folder), "--json"]
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    if done.returncode not in (0, 1):  # 1: some records were rejected, as they should be
        raise RuntimeError(f"prereview vuln import failed: {done.stderr.decode()[-2000:]}")
    return dict(json.loads(done.stdout)["counts"])


def write_folder(folder: Path, names: list[str], bodies: list[bytes], suffix: str) -> None:
    for name, body in zip(names, bodies, strict=True):
        target = folder / name.replace(".yaml", suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def run_path(
    path: str, kind: str, work: Path, args: argparse.Namespace, data: Any
) -> dict[str, Any]:
    names, yaml_docs, json_docs = data
    with database(kind, work, args.pg) as url:
        token = importer_token(url)
        with server(url, work) as (base, pid):
            folder = work / f"{path}-{kind}"
            if path.startswith("cli"):
                bodies = yaml_docs if path == "cli_yaml" else json_docs
                write_folder(folder, names, bodies, ".yaml" if path == "cli_yaml" else ".json")
            else:
                docs = yaml_docs if path == "api_yaml" else json_docs
                chunks = [docs[i : i + args.batch] for i in range(0, len(docs), args.batch)]
                if path == "api_yaml":
                    payloads = [b"".join(d.rstrip(b"\n") + b"\n---\n" for d in c) for c in chunks]
                else:
                    payloads = [b"[" + b",".join(c) + b"]" for c in chunks]
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            if path.startswith("cli"):
                counts = run_cli(base, token, folder)
            else:
                counts = post_payloads(base, token, payloads)
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
    stored = counts.get("accepted", 0)
    return {
        "reports": stored,
        "seconds": round(elapsed, 2),
        "reports_per_s": round(stored / elapsed, 1),
        "server_cpu_s": round(cpu, 2),
        "reports_per_server_cpu_s": round(stored / cpu, 1) if cpu else None,
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the shipped 300")
    parser.add_argument("--mirror", type=Path, help="an advisory-database clone or git dir")
    parser.add_argument("--batch", type=int, default=500, help="records per API request")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    records = mirrored(args.mirror) if args.mirror else shipped(args.copies)
    names = [name for name, _ in records]
    data = (names, [doc for _, doc in records], as_json(records))
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="prereview-ingest-real-") as scratch:
        for kind in kinds:
            for path in args.paths:
                results[f"{kind}_{path}"] = run_path(path, kind, Path(scratch), args, data)
                print(f"{kind} {path}: {results[f'{kind}_{path}']}", file=sys.stderr)
    line = {
        "bench": "ingest_real",
        "source": str(args.mirror) if args.mirror else f"tests/data/osv-pypa x{args.copies}",
        "records": len(records),
        "batch": args.batch,
        "reports_per_s": {key: value["reports_per_s"] for key, value in results.items()},
        "runs": results,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
