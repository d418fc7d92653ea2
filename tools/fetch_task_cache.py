"""Fill and check the task cache of the real-vulnerability tasks (``make task-cache``).

    python tools/fetch_task_cache.py fetch    # download what is missing, hash-checked
    python tools/fetch_task_cache.py verify   # re-hash every cached release

Both exit non-zero on any missing or tampered file.
"""

from __future__ import annotations

import sys

from prereview.evals.realworld import cache


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "verify"
    if command == "fetch":
        fetched = cache.fetch()
        print(f"task cache: fetched {len(fetched)} file(s) into {cache.cache_dir()}")
    elif command != "verify":
        print("usage: fetch_task_cache.py fetch|verify", file=sys.stderr)
        return 2
    problems = cache.verify()
    for problem in problems:
        print(f"task cache: {problem}", file=sys.stderr)
    if not problems:
        print(f"task cache: {len(cache.releases())} release(s) verified in {cache.cache_dir()}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
