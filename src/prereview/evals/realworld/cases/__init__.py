"""The real-vulnerability cases, one module per CVE."""

from prereview.evals.realworld.case import Case
from prereview.evals.realworld.cases import (
    c_bsdiff4,
    c_ujson,
    jinja2,
    js_ejs,
    js_handlebars,
    js_lodash,
    js_underscore,
    pyjwt,
    pyxdg,
    pyyaml,
    rsa,
    urllib3,
)

CASES: tuple[Case, ...] = (
    pyyaml.CASE,
    jinja2.CASE,
    pyjwt.CASE,
    rsa.CASE,
    urllib3.CASE,
    pyxdg.CASE,
    c_bsdiff4.CASE,
    c_ujson.CASE,
    js_underscore.CASE,
    js_ejs.CASE,
    js_lodash.CASE,
    js_handlebars.CASE,
)
_BY_ID = {c.id: c for c in CASES}


def case_by_id(case_id: str) -> Case:
    """The case with this id (KeyError if there is none)."""
    return _BY_ID[case_id]


__all__ = ["CASES", "Case", "case_by_id"]
