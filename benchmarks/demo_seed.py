"""How long the demo's seeding takes (``prereview serve --demo`` waits for it before serving),
on a fresh SQLite database, and again on the seeded one (a restart). One JSON line.

    .venv/bin/python benchmarks/demo_seed.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    # The settings' default paths are under ./var: a fresh folder of its own, never the repo's.
    folder = Path(tempfile.mkdtemp(prefix="prereview-demo-seed-"))
    os.chdir(folder)
    (folder / "var").mkdir()
    from prereview import demo
    from prereview.core.context import AppContext
    from prereview.core.migrate import upgrade
    from prereview.core.settings import load_settings
    from prereview.demo import seed

    # The clearinghouse's part timed apart (seed() looks it up in the module at each call).
    parts: dict[str, float] = {}
    inner = demo._seed_clearinghouse

    def timed(*args: Any) -> None:
        started = time.perf_counter()
        inner(*args)
        parts["clearinghouse_s"] = time.perf_counter() - started

    demo._seed_clearinghouse = timed

    settings = load_settings()
    upgrade(settings.database_url)
    context = AppContext.create(settings)
    started = time.perf_counter()
    tokens = seed(context)
    first = time.perf_counter() - started
    started = time.perf_counter()
    seed(context)
    again = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "demo_seed",
                "database": "sqlite",
                "first_seed_s": round(first, 2),
                "clearinghouse_part_s": round(parts["clearinghouse_s"], 2),
                "reseed_s": round(again, 2),
                "ids": len(tokens.ids),
            }
        )
    )


if __name__ == "__main__":
    main()
