"""How long the ``prereview`` command takes to start: ``--help`` and a simple command's help.

Usage: ``.venv/bin/python benchmarks/cli_startup.py [--runs N]`` (default 7).

Each command runs N times as a fresh process (the installed ``prereview`` next to this Python,
as a person would run it), after one untimed warm-up run that fills the file cache. Prints one
JSON line: the median and the fastest wall-clock seconds of each, the median CPU seconds (user
and system: steadier than the wall clock on a busy machine), and whether a run of
``import prereview.cli`` loaded any of the heavy parts that are meant to load only in the
commands that need them. A figure, not a test: a shared machine's load moves it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "help": ["--help"],
    "submission_list_help": ["submission", "list", "--help"],
}
HEAVY = ("inspect_ai", "sqlalchemy", "fastapi", "uvicorn", "alembic", "httpx", "aiohttp")


def _seconds(argv: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    prereview = str(Path(sys.executable).parent / "prereview")
    figures: dict[str, object] = {"runs": runs}
    for name, args in COMMANDS.items():
        _seconds([prereview, *args])  # warm-up: the file cache, .pyc files
        measured = [_seconds([prereview, *args]) for _ in range(runs)]
        walls = [wall for wall, _ in measured]
        figures[f"{name}_median_s"] = round(statistics.median(walls), 3)
        figures[f"{name}_min_s"] = round(min(walls), 3)
        figures[f"{name}_cpu_median_s"] = round(statistics.median(c for _, c in measured), 3)
    probe = "import sys, prereview.cli; print(' '.join(m for m in %r if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe % (HEAVY,)], check=True, capture_output=True, text=True
    )
    figures["heavy_loaded_by_import"] = loaded.stdout.split()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
