"""Gateway overhead: direct to a fast local upstream, through prereview, through LiteLLM.

Starts, each in its own process on 127.0.0.1: the upstream simulator (uvicorn + uvloop), the
prereview gateway (the full engine: key check, window check, limits, batched audit written to a
file), and the LiteLLM proxy (its own virtual environment, pinned release, configured with a
master key and the same upstream). Then, for concurrency 1, 16 and 64, plain and streaming, it
sends the same chat completion through each path from one aiohttp load generator and prints one
JSON line per point:

    {"bench": "gateway", "path": "prereview", "mode": "plain", "concurrency": 1,
     "p50_ms": ..., "p99_ms": ..., "added_p50_ms": ..., "added_p99_ms": ...,
     "added_ttft_ms": ..., "rps": ..., "rps_ratio": ...}

``added_*`` are over the direct path at the same mode and concurrency; TTFT is the time to the
first body bytes (for a plain answer, the whole answer). Each point sends up to ``--requests``
requests or runs ``--seconds`` seconds, whichever ends first.

LiteLLM is installed (if missing) into ``$PREREVIEW_LITELLM_VENV`` (default
``/tmp/prereview-litellm-venv``) as ``litellm[proxy]==1.104.5``; releases 1.82.7 and 1.82.8 were
malicious and are never used. If it cannot be installed or started, its lines carry a
``reason`` instead of numbers.

    .venv/bin/python benchmarks/gateway.py [--requests 2000] [--seconds 8] [--skip-litellm]
                                           [--platform]

With ``--platform`` the prereview path is the whole platform app (``prereview.api.create_app``
on a fresh SQLite database seeded with the demo scenario): the gateway mounted at ``/gateway``,
keys resolved from the database, limits set through the service, and every call written to the
audit log (batched, one transaction per batch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

LITELLM_RELEASE = "1.104.5"
LITELLM_BANNED = {"1.82.7", "1.82.8"}
UPSTREAM_KEY = "sk-bench-upstream-key"
GATEWAY_KEY = "pgw-bench-key"
LITELLM_KEY = "sk-litellm-master-bench"
UPSTREAM_MODEL = "sim-model"
PUBLIC_MODEL = "preview"
PROMPT = "please summarise the following short note about the pre-release review window"
CONCURRENCIES = (1, 16, 64)
MODES = ("plain", "stream")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s")


@contextmanager
def _process(
    argv: Sequence[str], port: int, *, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            try:
                _wait_for_port(port, process, timeout)
            except RuntimeError as exc:
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{argv[0]} did not start: {exc}\n{tail}") from None
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


# -- the gateway under test, in its own process ----------------------------------------------


def serve_gateway(port: int, upstream_url: str, audit_path: str) -> None:
    """Run the full prereview engine on ``port`` (invoked as a subprocess)."""
    import uvicorn

    from prereview.gateway import (
        BatchingSink,
        GatewayApp,
        GatewayConfig,
        GrantLimits,
        InMemoryGrantResolver,
        MemoryLimiter,
        SecretHeaders,
    )
    from prereview.gateway.engine.interfaces import CallRecord
    from prereview.gateway.engine.upstreams import UpstreamGuard

    audit_file = open(audit_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the server

    def write(batch: Sequence[CallRecord]) -> None:
        lines = [
            json.dumps(
                {
                    "call": c.call_id,
                    "at": c.started_at.isoformat(),
                    "grant": c.access_id,
                    "key": c.key_id,
                    "model": c.model,
                    "status": c.status,
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "latency_ms": round(c.latency_ms, 3),
                }
            )
            for c in batch
        ]
        audit_file.write("\n".join(lines) + "\n")
        audit_file.flush()

    async def flush(batch: Sequence[CallRecord]) -> None:
        await asyncio.to_thread(write, batch)

    resolver = InMemoryGrantResolver()
    resolver.add(
        GATEWAY_KEY,
        access_id="grant-bench",
        upstream_base_url=upstream_url,
        upstream_model=UPSTREAM_MODEL,
        public_model=PUBLIC_MODEL,
        credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        # Limits high enough never to refuse, so that they are checked on every call.
        limits=GrantLimits(
            requests_per_minute=10**9, tokens_per_day=10**12, concurrent_streams=10_000
        ),
    )
    app = GatewayApp(
        resolver,
        BatchingSink(flush),
        limiter=MemoryLimiter(),
        config=GatewayConfig(path_prefix="/gateway"),
        upstreams=UpstreamGuard([upstream_url]),
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        backlog=4096,
        # Nothing sits in front of it here; X-Forwarded-* handling would be wasted work.
        proxy_headers=False,
    )


# -- the whole platform, with the gateway mounted ---------------------------------------------


def _platform_settings(workdir: str) -> Any:
    from prereview.core.settings import Settings

    root = Path(workdir)
    return Settings(
        database_url=f"sqlite:///{root / 'bench.db'}",
        master_key_file=root / "master.keys",
        blob_dir=root / "blobs",
        audit_key_file=root / "audit.key",
    )


def setup_platform(workdir: str, upstream_url: str) -> tuple[str, str]:
    """Migrate and seed a platform database; register the upstream; return (key, model)."""
    from sqlalchemy import select

    from prereview.core.context import AppContext
    from prereview.core.db import transaction
    from prereview.core.migrate import upgrade
    from prereview.demo import seed
    from prereview.gateway import service as gateway
    from prereview.gateway.engine.upstreams import UpstreamGuard
    from prereview.gateway.schemas import KeyCreate, LimitsSet, UpstreamSet
    from prereview.identity import service as identity
    from prereview.identity.models import User
    from prereview.review import service as review
    from prereview.vault.service import Vault

    settings = _platform_settings(workdir)
    upgrade(settings.database_url)
    context = AppContext.create(settings)
    tokens = seed(context)
    submission_id = tokens.ids["OPEN_SUBMISSION"]
    now = context.clock.now()
    rules = review.Rules.from_settings(settings)
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    with transaction(context.sessions) as db:

        def actor(email: str) -> Any:
            return identity.actor_for(db.scalars(select(User).where(User.email == email)).one())

        developer, caisi = actor("release@meridian-ai.com"), actor("reviewer@caisi.gov")
        upstream = UpstreamSet.model_validate(
            {
                "base_url": upstream_url,
                "upstream_model": UPSTREAM_MODEL,
                "public_model": PUBLIC_MODEL,
                "api_key": UPSTREAM_KEY,
            }
        )
        guard = UpstreamGuard([upstream_url])
        gateway.set_upstream(db, vault, developer, submission_id, upstream, now, rules, guard)
        _, grants = review.list_grants(db, caisi, submission_id, now, rules)
        # Limits high enough never to refuse, so that they are checked on every call.
        gateway.set_limits(
            db,
            developer,
            submission_id,
            "grant",
            grants[0].id,
            LimitsSet(requests_per_minute=10**6, tokens_per_day=10**12, concurrent_streams=10_000),
            now,
            rules,
        )
        _, key = gateway.create_key(db, caisi, submission_id, KeyCreate(name="bench"), now, rules)
    context.engine.dispose()
    return key, PUBLIC_MODEL


def serve_platform(port: int, workdir: str) -> None:
    """Run the platform app (gateway mounted) on ``port`` (invoked as a subprocess)."""
    import uvicorn

    from prereview.api import create_app

    uvicorn.run(
        create_app(_platform_settings(workdir)),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        backlog=4096,
        proxy_headers=False,
    )


def platform_audited(workdir: str) -> int:
    """How many gateway calls the platform's audit log holds."""
    from sqlalchemy import func, select

    from prereview.audit.models import AuditEntry
    from prereview.core.context import AppContext

    context = AppContext.create(_platform_settings(workdir))
    with context.sessions() as db:
        count = db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "gateway:call:complete")
        )
    context.engine.dispose()
    return int(count or 0)


# -- LiteLLM ------------------------------------------------------------------------------------


def _litellm_venv() -> Path:
    return Path(os.environ.get("PREREVIEW_LITELLM_VENV", "/tmp/prereview-litellm-venv"))


def ensure_litellm() -> tuple[Path | None, str]:
    """The LiteLLM executable in its own venv, installing it if needed; or None and why."""
    venv = _litellm_venv()
    executable = venv / "bin" / "litellm"
    python = venv / "bin" / "python"
    if not executable.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_RELEASE}"],
                check=True,
                timeout=900,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"could not install litellm[proxy]=={LITELLM_RELEASE}: {exc}"
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if version in LITELLM_BANNED:
        return None, f"litellm {version} is a known-malicious release; refusing to run it"
    return executable, version


@contextmanager
def litellm_proxy(executable: Path, port: int, upstream_url: str) -> Iterator[None]:
    """LiteLLM's proxy with a master key, one model, the same upstream."""
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115
    config.write(
        f"""model_list:
  - model_name: {PUBLIC_MODEL}
    litellm_params:
      model: openai/{UPSTREAM_MODEL}
      api_base: {upstream_url}
      api_key: {UPSTREAM_KEY}
general_settings:
  master_key: {LITELLM_KEY}
litellm_settings:
  telemetry: false
  drop_params: true
"""
    )
    config.close()
    env = dict(os.environ)
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
        LITELLM_TELEMETRY="False",
        DISABLE_SCHEMA_UPDATE="True",
    )
    argv = [
        str(executable),
        "--config",
        config.name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    try:
        with _process(argv, port, env=env, timeout=120):
            yield
    finally:
        os.unlink(config.name)


# -- load generation ----------------------------------------------------------------------------


async def _one(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes, stream: bool
) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {await response.text()}")
        if stream:
            async for _ in response.content.iter_any():
                if not first:
                    first = time.perf_counter()
        else:
            await response.read()
            first = time.perf_counter()
    return (time.perf_counter() - started) * 1000, (first - started) * 1000


async def measure(
    url: str, key: str, model: str, mode: str, concurrency: int, requests: int, seconds: float
) -> dict[str, float]:
    """Latency percentiles, TTFT and throughput of one path at one point."""
    stream = mode == "stream"
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
    }
    if stream:
        payload["stream"] = True
    body = json.dumps(payload).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    ttfts: list[float] = []
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm the connections (and the server's code paths) before timing.
        await asyncio.gather(
            *(_one(session, url, headers, body, stream) for _ in range(concurrency * 2))
        )
        remaining = requests
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                latency, ttft = await _one(session, url, headers, body, stream)
                latencies.append(latency)
                ttfts.append(ttft)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "ttft_ms": statistics.median(ttfts),
        "rps": len(latencies) / elapsed,
        "n": len(latencies),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per point at most")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per point at most")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--serve-gateway", nargs=3, metavar=("PORT", "UPSTREAM", "AUDIT"))
    parser.add_argument(
        "--platform", action="store_true", help="measure the whole platform app, not the engine"
    )
    parser.add_argument("--serve-platform", nargs=2, metavar=("PORT", "WORKDIR"))
    args = parser.parse_args(argv)
    if args.serve_gateway:
        port, upstream, audit = args.serve_gateway
        serve_gateway(int(port), upstream, audit)
        return
    if args.serve_platform:
        port, workdir = args.serve_platform
        serve_platform(int(port), workdir)
        return

    here = Path(__file__).resolve().parent
    python = sys.executable
    env = dict(os.environ)
    env["PYTHONPATH"] = str(here.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    upstream_port, gateway_port, litellm_port = _free_port(), _free_port(), _free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    # The simulator is on loopback, which the gateway refuses unless its origin is allowed.
    os.environ["PREREVIEW_GATEWAY_UPSTREAM_ALLOW"] = json.dumps([upstream_url])
    env["PREREVIEW_GATEWAY_UPSTREAM_ALLOW"] = os.environ["PREREVIEW_GATEWAY_UPSTREAM_ALLOW"]
    audit = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)  # noqa: SIM115
    audit.close()

    litellm_exe: Path | None = None
    litellm_note = "skipped (--skip-litellm)"
    if not args.skip_litellm:
        litellm_exe, litellm_note = ensure_litellm()

    paths: dict[str, tuple[str, str, str]] = {
        "direct": (upstream_url + "/chat/completions", UPSTREAM_KEY, UPSTREAM_MODEL),
        "prereview": (
            f"http://127.0.0.1:{gateway_port}/gateway/v1/chat/completions",
            GATEWAY_KEY,
            PUBLIC_MODEL,
        ),
        "litellm": (
            f"http://127.0.0.1:{litellm_port}/v1/chat/completions",
            LITELLM_KEY,
            PUBLIC_MODEL,
        ),
    }
    upstream_argv = [
        python,
        "-c",
        "import uvicorn; from prereview.gateway.testing.upstream_sim import SimUpstream; "
        f"uvicorn.run(SimUpstream({UPSTREAM_KEY!r}), host='127.0.0.1', port={upstream_port}, "
        "loop='uvloop', http='httptools', access_log=False, log_level='warning', "
        "lifespan='off', backlog=4096)",
    ]
    gateway_argv = [
        python,
        __file__,
        "--serve-gateway",
        str(gateway_port),
        upstream_url,
        audit.name,
    ]
    workdir = tempfile.mkdtemp(prefix="prereview-bench-")
    if args.platform:
        key, model = setup_platform(workdir, upstream_url)
        paths["prereview"] = (paths["prereview"][0], key, model)
        gateway_argv = [python, __file__, "--serve-platform", str(gateway_port), workdir]
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    with ExitStack() as running:
        running.enter_context(_process(upstream_argv, upstream_port, env=env))
        running.enter_context(_process(gateway_argv, gateway_port, env=env))
        if litellm_exe is not None:
            try:
                running.enter_context(litellm_proxy(litellm_exe, litellm_port, upstream_url))
            except RuntimeError as exc:
                litellm_exe = None
                litellm_note = f"LiteLLM proxy did not start: {str(exc)[:300]}"
        for mode in MODES:
            for concurrency in CONCURRENCIES:
                for path, (url, key, model) in paths.items():
                    if path == "litellm" and litellm_exe is None:
                        _print_point(results, path, mode, concurrency, litellm_note)
                        continue
                    results[(path, mode, concurrency)] = asyncio.run(
                        measure(url, key, model, mode, concurrency, args.requests, args.seconds)
                    )
                    _print_point(results, path, mode, concurrency, litellm_note)
    with open(audit.name, encoding="utf-8") as audit_lines:
        audited = sum(1 for _ in audit_lines)
    os.unlink(audit.name)
    if args.platform:
        audited = platform_audited(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps({"bench": "gateway", "note": "audit records written", "count": audited}),
        file=sys.stderr,
    )


def _print_point(
    results: dict[tuple[str, str, int], dict[str, float]],
    path: str,
    mode: str,
    concurrency: int,
    litellm_note: str,
) -> None:
    line: dict[str, Any] = {
        "bench": "gateway",
        "path": path,
        "mode": mode,
        "concurrency": concurrency,
    }
    point = results.get((path, mode, concurrency))
    direct = results[("direct", mode, concurrency)]
    if point is None:
        line.update(
            p50_ms=None,
            p99_ms=None,
            added_p50_ms=None,
            added_p99_ms=None,
            added_ttft_ms=None,
            rps=None,
            rps_ratio=None,
            reason=litellm_note,
        )
    else:
        line.update(
            p50_ms=round(point["p50_ms"], 3),
            p99_ms=round(point["p99_ms"], 3),
            added_p50_ms=round(point["p50_ms"] - direct["p50_ms"], 3),
            added_p99_ms=round(point["p99_ms"] - direct["p99_ms"], 3),
            added_ttft_ms=round(point["ttft_ms"] - direct["ttft_ms"], 3),
            rps=round(point["rps"], 1),
            rps_ratio=round(point["rps"] / direct["rps"], 3),
            requests=int(point["n"]),
        )
        if path == "litellm":
            line["litellm_version"] = litellm_note
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
