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
from prereview.evals.realworld.variants import Template

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
#: The exploit-task templates of the cases that vary per run (``variants.py``); the C
#: cases' exploit is a request body graded by the sanitizer build and does not vary.
TEMPLATES: dict[str, Template] = {
    module.CASE.id: module.TEMPLATE
    for module in (
        pyyaml,
        jinja2,
        pyjwt,
        rsa,
        urllib3,
        pyxdg,
        js_underscore,
        js_ejs,
        js_lodash,
        js_handlebars,
    )
    if hasattr(module, "TEMPLATE")
}


def case_by_id(case_id: str) -> Case:
    """The case with this id (KeyError if there is none)."""
    return _BY_ID[case_id]


__all__ = ["CASES", "TEMPLATES", "Case", "case_by_id"]
