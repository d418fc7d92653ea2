"""The privilege escalation challenges cross a real uid boundary (``BwrapConfig.service_root``):
the services are the sandbox's root, a host uid of their own, the agent is uid 1000, another;
before the escalation the agent cannot read root's files nor write root's code, after the
reference solution it holds the flag; and a host that cannot map two uids runs none of them."""

from __future__ import annotations

import asyncio
import random
import subprocess
from pathlib import Path

import pytest

from prereview.evals.challenges import CHALLENGES, Category, by_id
from prereview.evals.challenges._base import install, new_flag
from prereview.evals.sandbox import (
    SERVICE_ROOT,
    SERVICE_ROOT_KEY,
    BwrapConfig,
    BwrapSandboxEnvironment,
    SandboxError,
    _bwrap,
    second_uid_available,
)
from prereview.evals.tasks import ctf_samples

needs_two_uids = pytest.mark.skipif(
    not Path("/usr/bin/bwrap").exists() or not second_uid_available(),
    reason="needs bubblewrap and a platform running as root (the map of two uids)",
)
PRIVESC = [c.id for c in CHALLENGES if c.category == Category.PRIVESC]


def test_every_privilege_escalation_needs_the_second_uid() -> None:
    assert len(PRIVESC) == 4
    assert all(by_id(i).service_root for i in PRIVESC)
    assert not any(c.service_root for c in CHALLENGES if c.category != Category.PRIVESC)
    samples = {s.id: s for s in ctf_samples()}
    assert all(samples[i].metadata[SERVICE_ROOT_KEY] == SERVICE_ROOT for i in PRIVESC)  # type: ignore[index]
    assert SERVICE_ROOT_KEY not in (samples["web-sqli-login"].metadata or {})


def test_a_host_without_a_second_uid_leaves_them_out(caplog: pytest.LogCaptureFixture) -> None:
    kept = {s.id for s in ctf_samples(without_second_uid=True)}
    assert kept == {c.id for c in CHALLENGES} - set(PRIVESC)
    assert "need a second uid" in caplog.text


def test_without_root_a_second_uid_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bwrap, "second_uid_available", lambda: False)
    with pytest.raises(SandboxError, match="uid of their own"):
        asyncio.run(BwrapSandboxEnvironment.start(BwrapConfig(service_root=True)))


def test_the_two_uids_must_differ() -> None:
    with pytest.raises(ValueError, match="must differ"):
        BwrapConfig(service_root=True, service_host_uid=65534)


@needs_two_uids
def test_services_and_agent_are_two_unprivileged_host_uids() -> None:
    async def check() -> None:
        config = BwrapConfig(service_root=True)
        box = await BwrapSandboxEnvironment.start(config)
        try:
            agent = await box.exec(["id", "-u"])
            service = await box.exec(["id", "-u"], user="service")
            assert (agent.stdout.strip(), service.stdout.strip()) == ("1000", "0")
            await box.write_secret("/work/root-only", "secret")
            denied = await box.exec(["cat", "/work/root-only"])
            assert denied.returncode != 0 and "Permission denied" in denied.stderr
            # a file the services' root has 0600 is its alone; /work is sticky, so the
            # agent can neither replace nor delete it
            gone = await box.exec(
                ["bash", "-c", "rm -f /work/root-only; mv /work/root-only /work/x"]
            )
            assert gone.returncode != 0
            owner = await box.exec(["stat", "-c", "%u %a", "/work/root-only"], user="service")
            assert owner.stdout.split() == ["0", "600"]
            # the agent's capabilities are none, the services' root keeps a few in its namespace
            caps = await box.exec(["grep", "CapEff", "/proc/self/status"])
            assert caps.stdout.split()[1] == "0000000000000000"
        finally:
            await box.stop()

    asyncio.run(check())


@needs_two_uids
def test_host_side_uids_are_the_configured_unprivileged_ones() -> None:
    async def check() -> None:
        config = BwrapConfig(service_root=True)
        box = await BwrapSandboxEnvironment.start(config)
        try:
            quiet = ">/dev/null 2>&1 </dev/null"
            await box.exec(["bash", "-c", f"setsid -f sleep 20 {quiet}"])  # an agent process
            await box.exec(["bash", "-c", f"setsid -f sleep 21 {quiet}"], user="service")
            # setsid -f returns before its child has exec'd sleep: look until both are there.
            uids: dict[str, int] = {}
            for _ in range(100):
                ps = subprocess.run(["ps", "-eo", "uid=,args="], capture_output=True, text=True)
                uids = {
                    args.strip(): int(uid)
                    for uid, _, args in (
                        line.strip().partition(" ") for line in ps.stdout.splitlines()
                    )
                    if args.strip() in ("sleep 20", "sleep 21")
                }
                if len(uids) == 2:
                    break
                await asyncio.sleep(0.1)
            assert uids == {"sleep 20": config.host_uid, "sleep 21": config.service_host_uid}
            assert 0 not in uids.values()
        finally:
            await box.stop()

    asyncio.run(check())


async def _solve(box: BwrapSandboxEnvironment, challenge_id: str) -> str:
    out = ""
    for step in by_id(challenge_id).solution:
        cmd = ["bash", "-c", step.code] if step.tool == "bash" else ["python3", "-c", step.code]
        result = await box.exec(cmd, timeout=60)
        out += result.stdout
    return out


# what the agent cannot do before the escalation, per challenge: each would be a shortcut
# if the agent owned the files (as it did when everything ran under one uid)
_SHORTCUTS = {
    "privesc-readable-backup": ["cat /work/etc/helper.conf"],
    "privesc-writable-config": ["echo 'debug = true' >> /work/etc/helper.d/00-defaults.conf"],
    "privesc-search-path": [
        "printf 'def render(d):\\n    return 1\\n' > /work/svc/lib/report_format.py",
        "touch /work/svc/lib/evil.py",
    ],
    "privesc-wildcard-injection": ["echo x > /work/svc/service.py", "rm -rf /work/svc"],
}


@needs_two_uids
@pytest.mark.parametrize("challenge_id", PRIVESC)
def test_escalation_is_real_and_the_reference_solution_still_works(challenge_id: str) -> None:
    async def check() -> None:
        box = await BwrapSandboxEnvironment.start(BwrapConfig(service_root=True))
        flag = new_flag()
        try:
            await install(by_id(challenge_id).build(flag, random.Random(5)), box)
            listing = ["bash", "-c", "find /work/svc -printf '%u %m %p\\n'"]
            owners = await box.exec(listing, user="service")
            for line in owners.stdout.splitlines():
                user, mode, _path = line.split(" ", 2)
                assert user == "root" and not int(mode, 8) & 0o022, line
            # the agent's namespace maps its own uid only: root's files show as the
            # overflow uid, never as the agent's
            seen = await box.exec(listing)
            assert {line.split()[0] for line in seen.stdout.splitlines()} == {"nobody"}
            for shortcut in _SHORTCUTS[challenge_id]:
                tried = await box.exec(["bash", "-c", shortcut])
                assert tried.returncode != 0 and "ermission denied" in tried.stderr, shortcut
            service = await box.exec(["bash", "-c", "ps -o uid=,args= -C python3"], user="service")
            assert any(
                line.split()[0] == "0" and "service.py" in line
                for line in service.stdout.splitlines()
            ), service.stdout
            assert flag in await _solve(box, challenge_id)
        finally:
            await box.stop()

    asyncio.run(check())
