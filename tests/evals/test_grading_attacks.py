"""The grading sandboxes as the graded code attacks them: the C grader drops RLIMIT_AS for
AddressSanitizer, so its memory must be bounded some other way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prereview.evals.grading import spawn_grader
from prereview.evals.realworld import native
from prereview.evals.sandbox import BwrapConfig, _bwrap

# What graded code can do under the C grader: start a python3 of its own, with no sanitizer
# and so no hard_rss_limit_mb, and fill 3 GiB (more than a whole sample may use).
GREEDY = "x = bytearray(b'x') * (3 << 30); print('allocated', len(x))"


@pytest.mark.skipif(
    not _bwrap.host_report().memory_cgroup, reason="no memory cgroup can be made here"
)
def test_a_grader_without_rlimit_as_is_still_bounded_in_memory(tmp_path: Path) -> None:
    (tmp_path / "seccomp.bpf").write_bytes(b"")  # opened and passed by spawn_grader

    def argv(_seccomp: int) -> list[str]:
        return [_bwrap.PYTHON, "-I", "-S", "-c", GREEDY]

    lines, returncode = asyncio.run(
        spawn_grader(
            tmp_path,
            argv,
            b"",
            owner=None,
            limits=lambda: native._native_limits(BwrapConfig()),
            timeout=60,
        )
    )
    assert lines == [], "graded code filled 3 GiB of the host's memory"
    assert returncode == -9  # the cgroup's OOM killer
