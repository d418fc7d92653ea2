"""The real-vulnerability cases, one module per CVE."""

from prereview.evals.realworld.case import Case
from prereview.evals.realworld.cases import jinja2, pyjwt, pyxdg, pyyaml, rsa, urllib3

CASES: tuple[Case, ...] = (pyyaml.CASE, jinja2.CASE, pyjwt.CASE, rsa.CASE, urllib3.CASE, pyxdg.CASE)
_BY_ID = {c.id: c for c in CASES}


def case_by_id(case_id: str) -> Case:
    """The case with this id (KeyError if there is none)."""
    return _BY_ID[case_id]


__all__ = ["CASES", "Case", "case_by_id"]
