"""CWE names, which CSAF 2.0 requires next to a CWE id and checks against MITRE's catalogue.

The names come from the MITRE CWE catalogue that the ``csaf`` validator package ships (the same
data its rule 6.1.11 checks against). Without that package the names are unknown and exporters
leave the ``cwe`` member out rather than guess a name.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def _catalogue() -> dict[str, str]:
    try:
        text = (
            resources.files("csaf")
            .joinpath("csaf", "v21", "cwe", "catalog.json")
            .read_text("utf-8")
        )
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return {}
    weaknesses = json.loads(text).get("weaknesses", {})
    return {
        f"CWE-{number}": str(entry["history"][-1][1])
        for number, entry in weaknesses.items()
        if entry.get("history")
    }


def cwe_name(cwe_id: str) -> str | None:
    """The current catalogue name of ``cwe_id`` ("CWE-79"), or None if it is not known here."""
    return _catalogue().get(cwe_id)
