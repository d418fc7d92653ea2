"""An import-linter contract for what the built-in ones cannot say: a capability reaches
another only through what that one publishes.

Across capability folders (``prereview.<capability>``) it forbids importing

* another capability's ``models`` (tables), ``routes`` (HTTP) or ``commands`` (CLI) modules, and
* any underscored name or module (``from prereview.review.service import _owned``).

The composition roots that assemble capabilities (``api``, ``cli``, ``capabilities``,
``models``, ``migrations``) are exempt. ``allow`` lists the imports still waiting to be moved
behind a published entry point, as ``importer -> imported``; it is meant to shrink to nothing.
"""

from __future__ import annotations

import re
from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output

_PUBLISHED_ONLY = {"models", "routes", "commands"}
_NAMES = re.compile(r"import\s+\(?([^)#]*)")


def _capability(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _private_names(line: str) -> list[str]:
    found = _NAMES.search(line)
    if found is None or not line.lstrip().startswith("from "):
        return []
    names = [name.strip().split(" as ")[0] for name in found.group(1).split(",")]
    return [name for name in names if name.startswith("_")]


class PublishedOnlyContract(Contract):
    type_name = "published only"

    root = fields.StringField()
    roots = fields.ListField(subfield=fields.StringField(), required=False)
    allow = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        roots = set(self.roots or [])
        allowed = {tuple(part.strip() for part in rule.split("->")) for rule in self.allow or []}
        broken: list[dict[str, Any]] = []
        used: set[tuple[str, ...]] = set()
        for importer in sorted(graph.modules):
            if not importer.startswith(self.root + ".") or _capability(importer) in roots:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if not imported.startswith(self.root + "."):
                    continue
                if _capability(imported) == _capability(importer):
                    continue
                tail = imported.split(".")[2:]
                details = graph.get_import_details(importer=importer, imported=imported)
                reasons = []
                if tail and tail[-1] in _PUBLISHED_ONLY:
                    reasons.append(f"its {tail[-1]} module is not published")
                if any(part.startswith("_") for part in tail):
                    reasons.append("an underscored module")
                for detail in details:
                    for name in _private_names(str(detail["line_contents"])):
                        reasons.append(f"the underscored name {name}")
                if not reasons:
                    continue
                if (importer, imported) in allowed:
                    used.add((importer, imported))
                    continue
                lines = sorted({int(detail["line_number"]) for detail in details})
                broken.append(
                    {"importer": importer, "imported": imported, "why": reasons, "lines": lines}
                )
        stale = sorted(" -> ".join(rule) for rule in allowed - used)
        return ContractCheck(
            kept=not broken,
            warnings=[f"allowed but no longer imported: {rule}" for rule in stale],
            metadata={"broken": broken},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(
                f"{item['importer']} -> {item['imported']} ({lines}): " + "; ".join(item["why"]),
                bold=False,
            )
        output.new_line()
