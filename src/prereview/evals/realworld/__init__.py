"""Real-vulnerability tasks: released libraries with documented CVEs, from a pinned cache.

Each case (``cases/``) is one CVE in one PyPI release, with the release that fixed it;
``tasks.py`` makes the ``realworld_exploit``, ``realworld_discovery`` and
``realworld_patch`` Inspect tasks from them. The releases come from the task cache
(``cache.py``, filled by ``make task-cache``), never from the network at run time.
"""
