"""Reproduction, not assertion: a report's proof of concept, run by the server in the sandbox.

The sandboxed runs are real (bubblewrap, the real PyYAML releases of the task cache); they run
on SQLite only, the queue and the access rules on both databases.
"""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

import prereview
from prereview.clearinghouse.models import Reproduction
from prereview.clearinghouse.reproduction import sandboxed, worker
from prereview.clearinghouse.reproduction.sources import NotAvailable, find
from prereview.core.db import transaction
from prereview.evals.realworld.cache import verify
from prereview.vault.service import Vault
from support.factories import Platform
from support.factories.clearinghouse import count, report
from support.scenario import verify_claims

needs_sandbox = pytest.mark.skipif(
    not Path("/usr/bin/bwrap").exists() or bool(verify()),
    reason="needs bubblewrap and the task cache (make task-cache)",
)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

TOO_LARGE = "urn:prereview:problem:payload-too-large"
INVALID = "urn:prereview:problem:clearinghouse-invalid-poc"

# CVE-2020-14343: FullLoader builds arbitrary objects before 5.4. The marker is computed inside
# the eval, so it is printed only if the payload ran (never by an error message quoting it).
PYYAML_POC = textwrap.dedent(
    """
    import yaml
    print("yaml", yaml.__version__, "from", yaml.__file__)
    payload = ("!!python/object/new:tuple [!!python/object/new:map [!!python/name:eval , "
               "[\\"__import__('sys').stdout.write('CODE-' + 'EXECUTED')\\"]]]")
    try:
        yaml.full_load(payload)
    except Exception as exc:
        print("refused:", type(exc).__name__)
    """
).encode()


def _reported(platform: Platform, who: str = "agency", **extra: Any) -> str:
    body = report(**extra)
    platform.call(who, "POST", "/clearinghouse/reports", 201, json=body)
    return str(body["id"])


def _attach(
    platform: Platform,
    report_id: str,
    script: bytes,
    who: str = "agency",
    expect: int = 201,
    **params: Any,
) -> Any:
    params = {"package": "pyyaml", "affected": "5.3.1", "fixed": "5.4"} | params
    params = {k: v for k, v in params.items() if v is not None}
    return platform.call(
        who,
        "POST",
        f"/clearinghouse/reports/{report_id}/poc",
        expect,
        params=params,
        content=script,
        headers={"Content-Type": "application/octet-stream"},
    ).json()


def _vault(platform: Platform) -> Vault:
    settings = platform.context.settings
    return Vault.local(settings.master_key_file, settings.blob_dir)


def _drain(platform: Platform, artefacts: Path | None = None) -> list[str]:
    context = platform.context
    return worker.drain(context.sessions, _vault(platform), context.clock, artefacts)


def _reproduction(platform: Platform, report_id: str, who: str = "clearinghouse") -> Any:
    path = f"/clearinghouse/reports/{report_id}/reproduction"
    return platform.call(who, "GET", path, 200).json()


@needs_sandbox
@sqlite_only
def test_the_real_pyyaml_cve_reproduces_and_the_same_poc_on_5_4_does_not(
    platform: Platform,
) -> None:
    fixed_known = _reported(platform)
    _attach(platform, fixed_known, PYYAML_POC, expect_stdout="CODE-EXECUTED")
    on_fixed = _reported(platform)
    _attach(
        platform, on_fixed, PYYAML_POC, affected="5.4", fixed=None, expect_stdout="CODE-EXECUTED"
    )
    claim = _reported(platform)  # the newest, with no PoC: a claim only
    assert len(_drain(platform)) == 2
    assert _drain(platform) == []  # idempotent: nothing is run twice

    seen = _reproduction(platform, fixed_known)
    assert seen["status"] == "reproduced" and not seen["claim_only"]
    (poc,) = seen["pocs"]
    assert poc["state"] == "done" and poc["verdict"] == "reproduced"
    affected, fixed = poc["runs"]
    # The release installed in the sandbox is the pinned one, not the host's PyYAML.
    assert "yaml 5.3.1 from /work/site/yaml/__init__.py" in affected["stdout"]
    assert "CODE-EXECUTED" in affected["stdout"]
    assert affected["sha256"] == "b8eac752c5e14d3eca0e6dd9199cd627518cb5ec06add0de9d32baeee6fe645d"
    assert "yaml 5.4 from /work/site/yaml/__init__.py" in fixed["stdout"]
    assert "refused: ConstructorError" in fixed["stdout"] and "CODE-EXECUTED" not in fixed["stdout"]
    assert affected["duration_s"] > 0 and fixed["origin"] == "task-cache"

    against_5_4 = _reproduction(platform, on_fixed)
    assert against_5_4["status"] == "not_reproduced"
    assert against_5_4["pocs"][0]["verdict"] == "not_reproduced"

    # The analyst's queue: reproduced first, then not reproduced, then the claims (newest
    # first otherwise), each with its status.
    queue = platform.call("clearinghouse", "GET", "/clearinghouse/triage/queue", 200).json()
    order = [item["id"] for item in queue["items"]]
    assert order[:3] == [fixed_known, on_fixed, claim]
    status = {item["id"]: item["reproduction"] for item in queue["items"]}
    assert status[fixed_known] == "reproduced" and status[claim] == "unknown"


@needs_sandbox
@sqlite_only
def test_a_poc_that_succeeds_on_both_versions_is_not_a_reproduction_of_the_fix(
    platform: Platform,
) -> None:
    report_id = _reported(platform)
    _attach(platform, report_id, b"import yaml\nprint('parsed', yaml.full_load('a: 1'))\n")
    _drain(platform)
    seen = _reproduction(platform, report_id)
    assert seen["pocs"][0]["verdict"] == "not_a_reproduction_of_this_fix"
    assert seen["status"] == "not_reproduced"
    assert "not a reproduction of this fix" in seen["pocs"][0]["verdict_label"]


@needs_sandbox
@sqlite_only
def test_without_a_fixed_version_it_is_reproduced_on_affected_only(platform: Platform) -> None:
    report_id = _reported(platform)
    _attach(platform, report_id, PYYAML_POC, fixed=None, expect_stdout="CODE-EXECUTED")
    _drain(platform)
    (poc,) = _reproduction(platform, report_id)["pocs"]
    assert poc["verdict"] == "reproduced_fixed_not_checked" and len(poc["runs"]) == 1
    assert poc["verdict_label"].startswith("reproduced on affected, fixed not checked")


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server of the host on loopback, as the platform's own services are."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"PLATFORM-SECRET\n")
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()
    assert not accepted, "the PoC reached a socket of the host"


@needs_sandbox
@sqlite_only
def test_a_poc_gets_nothing_of_the_platform(
    platform: Platform, listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREREVIEW_REPRO_CANARY", "canary-s3cret")
    settings = platform.context.settings
    database = settings.database_url.removeprefix("sqlite:///")
    paths = [
        database,
        str(settings.master_key_file),
        str(settings.audit_key_file),
        prereview.__file__,
        "/etc/shadow",
        "/root/.ssh/id_rsa",
    ]
    probe = textwrap.dedent(
        f"""
        import glob, os, socket
        leaks = []
        everything = repr(dict(os.environ))
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    everything += open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace")
                except OSError:
                    pass
        if "canary-s3cret" in everything or "PREREVIEW" in everything:
            leaks.append("environment")
        for path in {paths!r}:
            try:
                open(path, "rb").read(1)
                leaks.append("file " + path)
            except OSError:
                pass
        if glob.glob("/work/main*") or glob.glob("/home/*/.*"):
            leaks.append("host folders")
        for address in [("127.0.0.1", {listener}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
            try:
                socket.create_connection(address, timeout=2).close()
                leaks.append("socket %s" % (address,))
            except OSError:
                pass
        try:
            socket.getaddrinfo("pypi.org", 443)
            leaks.append("dns")
        except OSError:
            pass
        print("LEAKS:", leaks)
        print("PROBED" if not leaks else "LEAKED")
        """
    ).encode()
    report_id = _reported(platform)
    _attach(platform, report_id, probe, fixed=None, expect_stdout="PROBED")
    _drain(platform)
    (poc,) = _reproduction(platform, report_id)["pocs"]
    (run,) = poc["runs"]
    assert "LEAKS: []" in run["stdout"], run
    assert poc["verdict"] == "reproduced_fixed_not_checked"


@needs_sandbox
@sqlite_only
def test_no_database_connection_is_held_while_the_sandbox_runs(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = platform.context.engine
    held: list[int] = []
    real = worker.run_poc

    def watched(script: bytes, artefact: Any, limits: Any = None) -> sandboxed.RunResult:
        held.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        return real(script, artefact, limits)

    monkeypatch.setattr(worker, "run_poc", watched)
    report_id = _reported(platform)
    _attach(platform, report_id, b"print('hello')\n", fixed=None)
    _drain(platform)
    assert held == [0]


def test_an_unknown_release_is_not_available_offline_and_never_fetched(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a reproduction tried to download")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    report_id = _reported(platform)
    _attach(platform, report_id, b"print('x')\n", affected="9.9.9", fixed=None)
    _drain(platform, tmp_path)
    seen = _reproduction(platform, report_id)
    (poc,) = seen["pocs"]
    assert poc["verdict"] == "unavailable" and seen["status"] == "unknown"
    assert "cannot reproduce here: package not available offline" in poc["detail"]
    assert poc["runs"] == []


def test_an_artefact_whose_file_does_not_match_its_pin_is_not_available(tmp_path: Path) -> None:
    (tmp_path / "demo-1.0.tar.gz").write_bytes(b"not the pinned file")
    (tmp_path / "pins.toml").write_text(
        '[[release]]\nname = "demo"\nversion = "1.0"\nfilename = "demo-1.0.tar.gz"\n'
        f'size = 19\nsha256 = "{"0" * 64}"\n'
    )
    with pytest.raises(NotAvailable, match="does not match its pinned sha256"):
        find("demo", "1.0", tmp_path)
    (tmp_path / "pins.toml").write_text(
        '[[release]]\nname = "demo"\nversion = "1.0"\nfilename = "../etc/passwd"\n'
        f'size = 19\nsha256 = "{"0" * 64}"\n'
    )
    with pytest.raises(NotAvailable, match="not a file name"):
        find("demo", "1.0", tmp_path)


def test_a_huge_poc_is_refused_while_it_is_read(platform: Platform) -> None:
    report_id = _reported(platform)
    limit = platform.context.settings.max_poc_bytes
    declared = _attach(platform, report_id, b"#" * (limit + 1), expect=413)
    assert declared["type"] == TOO_LARGE

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for _ in range(limit // 1024 + 2):
            yield b"#" * 1024

    streamed = platform.call(
        "agency",
        "POST",
        f"/clearinghouse/reports/{report_id}/poc",
        413,
        params={"package": "pyyaml", "affected": "5.3.1"},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert streamed.headers["content-type"].startswith("application/problem+json")
    assert count(platform, "ch_report_pocs") == 0 and count(platform, "ch_reproductions") == 0


INVALID_POCS: list[tuple[dict[str, str], bytes]] = [
    ({"language": "ruby"}, b"puts 1"),
    ({"ecosystem": "npm"}, b"print(1)"),
    ({"affected": "5.4", "fixed": "5.4"}, b"print(1)"),
    ({"package": "../../etc"}, b"print(1)"),
    ({"affected": "5.4; rm -rf /"}, b"print(1)"),
    ({}, b"   \n"),
    ({}, b"\xff\xfe not utf-8"),
    ({}, b"print(1)\x00"),
]


def test_a_poc_the_sandbox_cannot_run_is_refused_and_nothing_is_stored(
    platform: Platform,
) -> None:
    report_id = _reported(platform)
    for params, script in INVALID_POCS:
        refused = _attach(platform, report_id, script, expect=422, **params)
        assert refused["type"] == INVALID, (params, script)
    assert count(platform, "ch_report_pocs") == 0 and count(platform, "ch_reproductions") == 0


def test_only_the_reporter_attaches_and_only_need_to_know_readers_read(
    platform: Platform,
) -> None:
    product = {"identifiers": ["pkg:pypi/uploadkit"]}
    platform.call("developer", "POST", "/clearinghouse/products", 201, json=product)
    verify_claims(platform, "developer")  # a verified vendor of the affected product
    report_id = _reported(platform)  # AMBER, by the agency
    script = b"print('poc')\n"
    # The vendor and the clearinghouse may read the report, but the PoC is the reporter's.
    assert _attach(platform, report_id, script, who="developer", expect=403)["status"] == 403
    assert _attach(platform, report_id, script, who="clearinghouse", expect=403)["status"] == 403
    _attach(platform, report_id, script, who="other_agency", expect=404)
    _attach(platform, report_id, script, expect=201)
    _attach(platform, report_id, script + b"# v2\n", expect=201)

    path = f"/clearinghouse/reports/{report_id}/poc"
    reads_before = _reads(platform)
    for who in ("agency", "clearinghouse", "developer"):
        latest = platform.call(who, "GET", path, 200).json()
        assert latest["version"] == 2 and latest["script"] == "print('poc')\n# v2\n"
        first = platform.call(who, "GET", path, 200, params={"version": 1}).json()
        assert first["script"] == "print('poc')\n"
        platform.call(who, "GET", f"{path.removesuffix('/poc')}/reproduction", 200)
    assert _reads(platform) == reads_before + 9  # every read of the PoC or its log, audited
    for who in ("other_agency", "other_developer", "partner", "other_partner"):
        platform.call(who, "GET", path, 404)
        platform.call(who, "GET", f"{path.removesuffix('/poc')}/reproduction", 404)
    platform.call(None, "GET", path, 401)
    assert _reads(platform) == reads_before + 9


def _reads(platform: Platform) -> int:
    with transaction(platform.context.sessions) as db:
        query = "SELECT count(*) FROM audit_entries WHERE action = 'clearinghouse:report-poc:read'"
        return int(db.scalar(text(query)) or 0)


def test_a_report_without_a_poc_is_a_claim_only(platform: Platform) -> None:
    report_id = _reported(platform)
    seen = _reproduction(platform, report_id)
    assert seen == {"report_id": report_id, "status": "unknown", "claim_only": True, "pocs": []}
    missing = platform.call("agency", "GET", f"/clearinghouse/reports/{report_id}/poc", 404)
    assert missing.json()["type"] == "urn:prereview:problem:clearinghouse-poc-not-found"


def test_a_poc_is_claimed_by_one_worker_once(platform: Platform) -> None:
    report_id = _reported(platform)
    _attach(platform, report_id, b"print(1)\n")
    sessions, now = platform.context.sessions, platform.context.clock.now()
    first = worker.claim(sessions, now)
    assert first is not None
    assert worker.claim(sessions, now) is None  # taken: a second worker gets nothing
    # A worker that died leaves a lease that runs out; the PoC is claimed again then.
    assert worker.claim(sessions, now + worker.LEASE * 2) == first
    with transaction(sessions) as db:
        (row,) = db.scalars(select(Reproduction)).all()
        assert row.state == "running" and row.attempts == 2


@needs_sandbox
@sqlite_only
def test_the_vendors_pace_lets_reproduced_reports_out_first(platform: Platform) -> None:
    product = {"identifiers": ["pkg:pypi/uploadkit"]}
    platform.call("developer", "POST", "/clearinghouse/products", 201, json=product)
    verify_claims(platform, "developer")
    capacity = f"/clearinghouse/vendors/{platform['developer'].org_id}/capacity"
    platform.call("developer", "PUT", capacity, 200, json={"per_week": 0})
    claim = _reported(platform)  # older, equally (un)scored: only the reproduction differs
    reproduced = _reported(platform)
    _attach(platform, reproduced, b"import yaml\nprint('ran')\n", fixed=None, expect_stdout="ran")
    assert _drain(platform)
    shown = platform.call("clearinghouse", "GET", capacity, 200).json()
    assert [s["report_id"] for s in shown["schedule"]] == [reproduced, claim]
    platform.call("developer", "PUT", capacity, 200, json={"per_week": 1})
    told = platform.call("developer", "GET", "/clearinghouse/notifications", 200).json()
    assert [n["report_id"] for n in told["items"]] == [reproduced]
