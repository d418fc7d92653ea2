"""The public transparency report as a page: no sign-in, the same figures as the API.

``/web/transparency?period=2026Q4`` renders the report the public route answers (the same use
case), grouped for reading, with links to its JSON and CSV and to how an outsider recomputes
it. A bad period renders the same problem the API answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from prereview.authz.request import DB, Now
from prereview.transparency import service as transparency
from prereview.transparency.periods import period_of
from prereview.web.render import guarded, page

router = APIRouter(prefix="/web", include_in_schema=False)

_SECTIONS = (
    ("review", "Pre-release review"),
    ("review.findings", "Findings"),
    ("review.determinations", "Coverage determinations"),
    ("clearinghouse", "Clearinghouse funnel"),
)


def _grouped(entries: dict[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """The report's figures under their section's heading, the longest prefix winning."""
    groups: dict[str, list[tuple[str, Any]]] = {prefix: [] for prefix, _ in _SECTIONS}
    for name, entry in entries.items():
        prefix = max((p for p, _ in _SECTIONS if name.startswith(p + ".")), key=len)
        groups[prefix].append((name[len(prefix) + 1 :], entry))
    return [(title, groups[prefix]) for prefix, title in _SECTIONS if groups[prefix]]


@router.get("/transparency", response_model=None)
def report_page(
    request: Request,
    db: DB,
    at: Now,
    period: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    label = period if period is not None else period_of(at.now).label

    def build() -> Response:
        found = transparency.public_report(db, at.settings, label, at.now)
        return page(
            request,
            "transparency/report.html",
            report=found,
            figures=_grouped(found["figures"]),
            distributions=_grouped(found["distributions"]),
        )

    return guarded(request, build)
