"""``prereview serve``'s demo hint: the lines it prints work in a fresh shell."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from prereview.demo import DemoTokens, write_env
from prereview.server.commands import demo_hint


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_demo_hint_works_in_a_fresh_shell(tmp_path: Path) -> None:
    env_file = tmp_path / "var with space" / "demo-tokens.env"
    write_env(
        DemoTokens(values={"DEV_TOKEN": "prv_dev"}, ids={"GATEWAY_BASE_URL": "http://x/v1"}),
        env_file,
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "prereview"  # stands for the real one: what matters is that it is found
    fake.write_text('#!/bin/sh\necho "$PREREVIEW_TOKEN $GATEWAY_BASE_URL $*"\n')
    fake.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            "/usr/bin/env",
            "-i",
            "PATH=/usr/bin:/bin",
            "bash",
            "--norc",
            "-e",
            "-c",
            "\n".join(demo_hint(env_file, bin_dir)),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "prv_dev http://x/v1 submission list"
