"""A reporter's proof of concept as an attacker writes it: against the worker's queue, its
sandbox's output, the platform's services, and the verdict.

The queue tests need no sandbox (the release is not available offline, so nothing runs); the
others run the real bubblewrap sandbox on the task cache's PyYAML, on SQLite only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from prereview.clearinghouse.models import ReportPoc, Reproduction
from prereview.clearinghouse.reproduction import sandboxed, store, worker
from prereview.clearinghouse.reproduction.sources import NotAvailable, find, install_tree
from prereview.core.db import transaction
from prereview.evals.realworld.cache import verify
from prereview.vault.service import Vault
from support.factories import Platform
from support.factories.clearinghouse import report

needs_sandbox = pytest.mark.skipif(
    not Path("/usr/bin/bwrap").exists() or bool(verify()),
    reason="needs bubblewrap and the task cache (make task-cache)",
)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _reported_with_poc(platform: Platform, script: bytes, **params: str) -> str:
    body = report()
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    params = {"package": "pyyaml", "affected": "9.9.9"} | params  # 9.9.9: nothing runs
    platform.call(
        "agency",
        "POST",
        f"/clearinghouse/reports/{body['id']}/poc",
        201,
        params=params,
        content=script,
        headers={"Content-Type": "application/octet-stream"},
    )
    return str(body["id"])


def _row(platform: Platform) -> Reproduction:
    with transaction(platform.context.sessions) as db:
        (row,) = db.scalars(select(Reproduction)).all()
        db.expunge(row)
        return row


def _vault(platform: Platform) -> Vault:
    settings = platform.context.settings
    return Vault.local(settings.master_key_file, settings.blob_dir)


def test_a_worker_whose_lease_was_taken_over_records_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A claims, stalls past its lease, worker B takes the PoC over; A's verdict must
    not overwrite B's claim (A must know it holds attempt 1, not read B's 2 afterwards)."""
    _reported_with_poc(platform, b"print(1)\n")
    sessions, now = platform.context.sessions, platform.context.clock.now()
    real_job = worker._job

    def stalled(*args: Any) -> Any:
        assert worker.claim(sessions, now + worker.LEASE * 2) is not None  # B takes it over
        return real_job(*args)

    monkeypatch.setattr(worker, "_job", stalled)
    context = platform.context
    assert worker.run_one(context.sessions, _vault(platform), context.clock, None) is not None
    row = _row(platform)
    assert row.attempts == 2
    assert row.state == "running", "the worker that lost its lease recorded a verdict"
    assert row.verdict is None


def test_a_poc_whose_workers_keep_dying_is_given_up_not_claimed_forever(
    platform: Platform,
) -> None:
    _reported_with_poc(platform, b"print(1)\n")
    sessions, now = platform.context.sessions, platform.context.clock.now()
    for attempt in range(worker.MAX_ATTEMPTS):  # each worker dies: its lease runs out
        assert worker.claim(sessions, now + worker.LEASE * 2 * attempt) is not None
    assert worker.claim(sessions, now + worker.LEASE * 2 * worker.MAX_ATTEMPTS) is None
    row = _row(platform)
    assert row.state == "done" and row.verdict == "error" and row.rank == 2
    assert "did not finish" in row.detail


def _pyyaml() -> Any:
    return find("pyyaml", "5.3.1", None)


@needs_sandbox
def test_a_poc_flooding_its_output_is_drained_in_bounded_memory() -> None:
    """1.2 GiB on stdout: the sandbox keeps only the tail, it does not buffer it all (which
    ran the sandbox's helper out of its sample's memory, or the host's where no cgroup is)."""
    flood = textwrap.dedent(
        """
        import os
        chunk = b"x" * (1 << 20)
        for _ in range(1200):
            os.write(1, chunk)
        os.write(2, b"e" * (1 << 20) * 40)
        print("\\nFLOOD-THEN-MARKER")
        """
    ).encode()
    run = sandboxed.run_poc(flood, _pyyaml())
    assert run.error is None, run.error
    assert run.exit_status == 0 and not run.timed_out
    assert "FLOOD-THEN-MARKER" in run.stdout  # the tail is kept: the marker printed last
    assert len(run.stdout.encode()) < 2 * sandboxed.MAX_LOG_BYTES
    assert len(run.stderr.encode()) < 2 * sandboxed.MAX_LOG_BYTES


@pytest.fixture
def abstract_socket() -> Iterator[str]:
    """A listening abstract Unix socket of the host (no file: only the network namespace
    separates it), as a local service could hold."""
    name = f"prereview-repro-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(1)
    server.setblocking(False)
    yield name
    try:
        conn, _ = server.accept()
        conn.close()
        reached = True
    except BlockingIOError:
        reached = False
    server.close()
    assert not reached, "the PoC reached an abstract socket of the host"


@needs_sandbox
def test_a_poc_reaches_none_of_the_platforms_services(abstract_socket: str) -> None:
    probe = textwrap.dedent(
        f"""
        import os, socket
        leaks = []
        for port in (5432, 6379, 8000, 8080):  # PostgreSQL, Redis, the API
            for host in ("127.0.0.1", "::1"):
                try:
                    socket.create_connection((host, port), timeout=1).close()
                    leaks.append("tcp %s:%d" % (host, port))
                except OSError:
                    pass
        for path in ("\\0{abstract_socket}", "/var/run/postgresql/.s.PGSQL.5432",
                     "/run/postgresql/.s.PGSQL.5432", "/var/run/redis/redis-server.sock",
                     "/run/sandbox/supervisor.sock"):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                leaks.append("unix " + path)
            except OSError:
                pass
            s.close()
        for folder in ("/tmp", "/work", "/run"):
            for name in os.listdir(folder):
                if name.startswith(("prereview", "pt-", "sandbox")):
                    leaks.append("host folder " + folder + "/" + name)
        print("LEAKS:", leaks)
        """
    ).encode()
    run = sandboxed.run_poc(probe, _pyyaml())
    assert run.exit_status == 0, run
    assert "LEAKS: []" in run.stdout, run.stdout


# CVE-2019-10744: defaultsDeep copies a "constructor.prototype" source into Object.prototype
# before 4.17.12. The marker is built at run time, so only a polluted prototype prints it.
LODASH_POC = textwrap.dedent(
    """
    const _ = require("lodash");
    console.log("lodash", _.VERSION, "from", require.resolve("lodash"));
    _.defaultsDeep({}, JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}'));
    console.log({}.polluted === "yes" ? "PROTOTYPE-" + "POLLUTED" : "prototype intact");
    """
).encode()


@needs_sandbox
@sqlite_only
def test_the_real_lodash_cve_reproduces_on_4_17_11_and_not_on_4_17_12(
    platform: Platform,
) -> None:
    report_id = _reported_with_poc(
        platform,
        LODASH_POC,
        package="lodash",
        affected="4.17.11",
        fixed="4.17.12",
        language="node",
        ecosystem="npm",
        expect_stdout="PROTOTYPE-POLLUTED",
    )
    context = platform.context
    assert worker.drain(context.sessions, _vault(platform), context.clock, None)
    path = f"/clearinghouse/reports/{report_id}/reproduction"
    seen = platform.call("clearinghouse", "GET", path, 200).json()
    (poc,) = seen["pocs"]
    assert poc["verdict"] == "reproduced" and seen["status"] == "reproduced", poc
    affected, fixed = poc["runs"]
    # The pinned npm tarballs, installed in the sandbox's own node_modules.
    assert "lodash 4.17.11 from /tmp/node_modules/lodash/lodash.js" in affected["stdout"]
    assert "PROTOTYPE-POLLUTED" in affected["stdout"] and fixed["exit_status"] == 0
    assert "lodash 4.17.12 from /tmp/node_modules/lodash/lodash.js" in fixed["stdout"]
    assert "prototype intact" in fixed["stdout"] and affected["origin"] == "task-cache"


def test_a_poc_in_the_wrong_language_for_its_ecosystem_is_refused(platform: Platform) -> None:
    body = report()
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    for params in (
        {"ecosystem": "npm"},  # a Python PoC for an npm release
        {"language": "node"},  # a node PoC for a PyPI release
        {"language": "node", "ecosystem": "cargo"},
    ):
        refused = platform.call(
            "agency",
            "POST",
            f"/clearinghouse/reports/{body['id']}/poc",
            422,
            params={"package": "lodash", "affected": "4.17.11"} | params,
            content=b"console.log(1)\n",
            headers={"Content-Type": "application/octet-stream"},
        ).json()
        assert refused["type"] == "urn:prereview:problem:clearinghouse-invalid-poc", params
    platform.call("agency", "GET", f"/clearinghouse/reports/{body['id']}/poc", 404)  # none stored


def test_an_npm_release_is_found_only_as_npm_and_installed_as_node_modules() -> None:
    with pytest.raises(NotAvailable):
        find("lodash", "4.17.11", None)  # not a PyPI release
    artefact = find("lodash", "4.17.11", None, "npm")
    tree = install_tree(artefact)
    assert "lodash/package.json" in tree and "lodash/lodash.js" in tree
    assert all(path.startswith("lodash/") and ".." not in path for path in tree)


@needs_sandbox
def test_a_poc_exhausting_its_sandbox_ends_as_a_timeout_not_a_stuck_worker() -> None:
    """Fills its disks, forks to its limit, and leaves a child of its own session holding its
    output open, never exiting: the run ends at its timeout (the worker goes on)."""
    hog = textwrap.dedent(
        """
        import os, subprocess
        subprocess.Popen(["sleep", "1000"], start_new_session=True)  # keeps stdout open
        for folder in ("/tmp", "/work"):
            try:
                with open(folder + "/fill", "wb") as handle:
                    while True:
                        handle.write(b"x" * (1 << 20))
            except OSError as exc:
                print(folder, "full:", type(exc).__name__)
        children = 0
        try:
            while children < 500:
                if os.fork() == 0:
                    os.execv("/usr/bin/sleep", ["sleep", "1000"])
                children += 1
        except OSError:
            print("forks refused after", children)
        print("HOGGED")
        """
    ).encode()
    run = sandboxed.run_poc(hog, _pyyaml(), sandboxed.Limits(timeout_s=5))
    assert run.error is None, run.error
    assert run.timed_out and run.exit_status is None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_pocs_attached_at_once_get_two_versions_not_a_500(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = report()
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    both_read = threading.Barrier(2)
    real_new_id = store.new_id

    def after_reading_the_version(prefix: str) -> str:
        # Both attaches have read the highest version before either writes, unless the
        # second is made to wait: then the first goes on alone once this times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(2)
        return real_new_id(prefix)

    monkeypatch.setattr(store, "new_id", after_reading_the_version)
    answers: list[int] = []

    def attach(n: int) -> None:
        answer = platform.call(
            "agency",
            "POST",
            f"/clearinghouse/reports/{body['id']}/poc",
            params={"package": "pyyaml", "affected": "9.9.9"},
            content=f"print({n})\n".encode(),
            headers={"Content-Type": "application/octet-stream"},
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=attach, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [201, 201]
    with transaction(platform.context.sessions) as db:
        versions = db.scalars(select(ReportPoc.version).order_by(ReportPoc.version)).all()
    assert versions == [1, 2]
