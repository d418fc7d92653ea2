"""The sandbox's service_root mode (a second real uid) as the agent attacks it: what the
agent, uid 1000 inside, and the services' root hold of the host and of each other."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from prereview.evals.sandbox import BwrapConfig, BwrapSandboxEnvironment, _bwrap

pytestmark = pytest.mark.skipif(
    not Path(_bwrap.BWRAP).exists() or not _bwrap.second_uid_available(),
    reason="service_root needs bubblewrap and the platform running as root",
)

# What a process holds: its capabilities, and which of pid 1's descriptors it can take
# (pidfd_getfd: the way to another process's pipes and sockets without /proc).
PROBE = textwrap.dedent(
    """
    import ctypes, os
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(434, 1, 0)  # pidfd_open(1)
    taken = [fd for fd in range(16) if pidfd >= 0 and libc.syscall(438, pidfd, fd, 0) >= 0]
    print("uid", os.getuid(), "caps", caps[0], "taken", taken)
    """
)


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in os.listdir(f"/proc/{current}/task"):
            children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            todo += [int(child) for child in children]
    return found


def test_no_process_of_the_sample_keeps_the_uid_map_handshake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipes through which the platform (host root) writes the uid map: bwrap hands the
    read end of one down to the supervisor, where the services' root could look for it."""
    inodes: list[int] = []
    real_init = _bwrap._UsernsHandshake.__init__

    def recording(self: Any) -> None:
        real_init(self)
        inodes.extend(os.fstat(fd).st_ino for fd in (self.block_read, self.info_read))

    monkeypatch.setattr(_bwrap._UsernsHandshake, "__init__", recording)

    async def held() -> list[str]:
        sandbox = await BwrapSandboxEnvironment.start(BwrapConfig(service_root=True))
        try:
            links = []
            for pid in _descendants(sandbox.process.pid):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if any(link == f"pipe:[{inode}]" for inode in inodes):
                        links.append(f"pid {pid} fd {fd}: {link}")
            return links
        finally:
            await sandbox.stop()

    kept = asyncio.run(held())
    assert len(inodes) == 2
    assert kept == []


def test_the_agent_holds_no_capability_nor_its_parents_descriptors() -> None:
    async def probe() -> tuple[str, str]:
        sandbox = await BwrapSandboxEnvironment.start(BwrapConfig(service_root=True))
        try:
            agent = await sandbox.exec(["/usr/bin/python3", "-c", PROBE], timeout=20)
            service = await sandbox.exec(
                ["/usr/bin/python3", "-c", PROBE], user="service", timeout=20
            )
            return agent.stdout.strip(), service.stdout.strip()
        finally:
            await sandbox.stop()

    agent, service = asyncio.run(probe())
    assert agent == "uid 1000 caps 0000000000000000 taken []"
    # The services' root holds exactly the six capabilities it was given (0xeb), in its own
    # user namespace; no CAP_SYS_PTRACE, so not the supervisor's (non-dumpable) descriptors.
    assert service.startswith("uid 0 caps 00000000000000eb")
