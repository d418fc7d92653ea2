"""Patches that fix nothing and forge what the Python patch grader is told, graded for real.

Each is a vulnerable release with code appended to one of its files. Under the old shape
(the sandbox ran one named check and printed its boolean) the first forgery passed every
case: the harness kept its spec, with the check's group, in ``__main__``, so the patch
printed ``{"value": false}`` for an exploit and ``{"value": true}`` otherwise, and exited.
Now the spec names no group, and the host judges what was answered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prereview.evals.realworld.cases import case_by_id
from prereview.evals.realworld.grading import (
    RealVerdict,
    every_check,
    grade_real_patch,
    probe_spec,
    probes_of,
    run_probe,
)
from prereview.evals.realworld.probes import with_token
from prereview.evals.realworld.tasks import _tree
from prereview.evals.sandbox import BwrapConfig

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


def _patched(case_id: str, path: str, forgery: str) -> dict[str, bytes]:
    tree = _tree(case_by_id(case_id))
    return {**tree, path: tree[path] + b"\n# the patch\n" + forgery.encode()}


def _graded(case_id: str, path: str, forgery: str) -> RealVerdict:
    case = case_by_id(case_id)
    patched = _patched(case_id, path, forgery)
    return asyncio.run(grade_real_patch(case, patched, plan=every_check(case), with_suite=False))


# PyYAML, Jinja2 and PyJWT -------------------------------------------------------------

# runs when the graded package is imported, before the driver calls it: prints a result
# line of its own, with the spec's token put in, and exits before the harness can
_PRINT_AND_EXIT = """
import json as _json, os as _os, sys as _sys
_spec = vars(_sys.modules["__main__"]).get("spec", {})
_line = _json.dumps(ANSWER).replace("TOKEN", str(_spec.get("token")))
_sys.stdout.write("prereview-grader: " + _line + "\\n")
_sys.stdout.flush()
_os._exit(0)
"""
# the old shape's forgery: the verdict each check wanted, read from the spec's group
GROUP_VERDICT = _PRINT_AND_EXIT.replace("ANSWER", '{"value": _spec.get("group") != "exploit"}')
# for each case, the best answer a forger can print without calling the library: a refusal
# in the driver's own shape, with the token where a functional answer has it
REFUSALS: dict[str, object] = {
    "pyyaml-fullloader-rce": {"error": "ConstructorError", "marker": None},
    "jinja2-sandbox-format-map": {"output": None, "error": "SecurityError"},
    "pyjwt-algorithm-confusion": [{"claims": {"sub": "TOKEN"}}, {"error": "InvalidSignatureError"}],
    "pyxdg-menu-category-eval": {"menus": None, "error": "ValidationError", "marker": None},
    "python-rsa-signature-forgery": [
        {"verified": {"raised": "VerificationError"}, "altered": {"raised": "VerificationError"}}
    ]
    * 3,
    # every fetch followed: what 1.23 answers (where the header went is the observer's word)
    "urllib3-redirect-authorization-leak": [{"status": 200, "body": "ok", "error": None}]
    * len(case_by_id("urllib3-redirect-authorization-leak").probes[0].data),
}

# the cases whose exploit judges count only what a fixed release could answer as a refusal:
# an answer of another shape ({"value": true}) shows nothing, so the variant counts
REFUSAL_SHAPED = {
    "pyxdg-menu-category-eval",
    "python-rsa-signature-forgery",
    "urllib3-redirect-authorization-leak",
}
# the cases whose evidence an observer outside the graded process signs: an answer printed
# without the library's requests leaves the observer's record empty, and every variant counts
OBSERVED = {"urllib3-redirect-authorization-leak"}


@needs_bwrap
@pytest.mark.parametrize("case_id", list(REFUSALS))
@pytest.mark.parametrize("forgery", ["group_verdict", "refusal"])
def test_a_python_patch_that_prints_its_own_answer_does_not_pass(
    case_id: str, forgery: str
) -> None:
    forged: dict[str, object] = {"value": True}
    patch = GROUP_VERDICT
    if forgery == "refusal":
        forged = {"value": REFUSALS[case_id]}
        patch = _PRINT_AND_EXIT.replace("ANSWER", repr(forged))
    # the forged line is what the host reads: the harness never got to print its own ...
    case, token, config = case_by_id(case_id), "t0123456789abcdef", BwrapConfig()
    spec = probe_spec(case, probes_of(case, "functional")[0], token, config)
    tree = _patched(case_id, "__init__.py", patch)
    answer = asyncio.run(run_probe(case, tree, spec, config))
    assert answer is not None
    assert {k: v for k, v in answer.items() if k != "observed"} == with_token(forged, token)
    # ... and hides every exploit (where a judge asks for a refusal in the driver's shape,
    # only that does), but no one answer is right for every functional check
    verdict = _graded(case_id, "__init__.py", patch)
    hidden = case_id not in OBSERVED and (forgery == "refusal" or case_id not in REFUSAL_SHAPED)
    assert verdict.exploited == (0 if hidden else verdict.exploit_total), verdict.explanation
    assert verdict.functional_passed < verdict.functional_total, verdict.explanation
    assert not verdict.passed


# loads as 5.3.1 does, then deletes every builtin named like a grading token: the payloads
# end the process before it can
PYYAML_HIDE_THE_MARKER = """
import builtins as _builtins, functools as _functools, re as _re


def _hiding(call):
    @_functools.wraps(call)
    def hidden(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        finally:
            for _name in [n for n in vars(_builtins) if _re.fullmatch("t[0-9a-f]{16}", n)]:
                delattr(_builtins, _name)
    return hidden


load = _hiding(load)
full_load = _hiding(full_load)
"""
# loads as 5.3.1 does; rewrites every answer line to say no payload set its marker (the
# harness writes with what it took before the library loaded, and the payloads end the
# process: either is enough)
PYYAML_REWRITE_THE_ANSWER = """
import sys as _sys


class _Rewriting:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        for said in ('"marker": 6', '"marker":6'):
            text = text.replace(said, '"marker":null')
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


_sys.stdout = _Rewriting(_sys.stdout)
"""


@needs_bwrap
@pytest.mark.parametrize(
    "forgery", [PYYAML_HIDE_THE_MARKER, PYYAML_REWRITE_THE_ANSWER], ids=["hide", "rewrite"]
)
def test_taking_back_a_pyyaml_payloads_marker_does_not_hide_that_it_ran(forgery: str) -> None:
    verdict = _graded("pyyaml-fullloader-rce", "__init__.py", forgery)
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total, verdict.explanation


# renders as 2.10 does, then wipes from the output every string held by a global of its
# callers (the driver's SECRET among them): blind to the templates
JINJA2_WIPE_THE_CALLERS_GLOBALS = """
import sys as _sys

_render = Template.render


def _wiped(self, *args, **kwargs):
    output = _render(self, *args, **kwargs)
    frame = _sys._getframe(1)
    while frame is not None:
        for held in list(frame.f_globals.values()):
            if isinstance(held, str) and len(held) > 8:
                output = output.replace(held, "")
        frame = frame.f_back
    return output


Template.render = _wiped
"""
# renders as 2.10 does, then blanks an output that is nothing but a grading token
JINJA2_BLANK_A_BARE_TOKEN = """
import re as _re

_render = Template.render


def _blanked(self, *args, **kwargs):
    output = _render(self, *args, **kwargs)
    return "" if _re.fullmatch("t[0-9a-f]{16}", output) else output


Template.render = _blanked
"""


@needs_bwrap
def test_wiping_the_leaked_global_from_jinja2s_output_wipes_the_functional_output_too() -> None:
    verdict = _graded(
        "jinja2-sandbox-format-map", "environment.py", JINJA2_WIPE_THE_CALLERS_GLOBALS
    )
    assert verdict.exploited == 0, verdict.explanation  # the leaks are hidden ...
    assert verdict.functional_passed < verdict.functional_total, verdict.explanation  # at a cost


@needs_bwrap
def test_a_jinja2_leak_does_not_come_out_alone() -> None:
    verdict = _graded("jinja2-sandbox-format-map", "environment.py", JINJA2_BLANK_A_BARE_TOKEN)
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total, verdict.explanation


# refuses an HMAC token unless the caller names its algorithms, whatever the key: it keys
# on how the exploit variants call decode, not on what they give it
PYJWT_HMAC_ONLY_WHEN_NAMED = """
from .exceptions import InvalidKeyError as _InvalidKeyError

_decode = decode


def decode(jwt, key="", algorithms=None, **kwargs):
    named = isinstance(algorithms, list)
    if get_unverified_header(jwt).get("alg", "").startswith("HS") and not named:
        raise _InvalidKeyError("name the HMAC algorithm")
    return _decode(jwt, key, algorithms=algorithms, **kwargs)
"""


@needs_bwrap
def test_a_pyjwt_patch_that_keys_on_how_decode_is_called_fails_the_hmac_check() -> None:
    verdict = _graded("pyjwt-algorithm-confusion", "__init__.py", PYJWT_HMAC_ONLY_WHEN_NAMED)
    assert verdict.exploited == 0, verdict.explanation  # the exploits are blocked ...
    assert verdict.functional_passed == 1, verdict.explanation  # ... and so is real HMAC


# PyXDG, python-rsa and urllib3 ----------------------------------------------------------

# builds menus as 0.25 does, then deletes every builtin named like a grading token (or,
# with PyYAML's rewriter, says no marker was set): the payload's rule still filed the
# applications by the expression it rewrote, and the judges compare the menus with a fix's
PYXDG_HIDE_THE_MARKER = """
import builtins as _builtins, re as _re

_parse = parse


def parse(*args, **kwargs):
    try:
        return _parse(*args, **kwargs)
    finally:
        for _name in [n for n in vars(_builtins) if _re.fullmatch("t[0-9a-f]{16}", n)]:
            delattr(_builtins, _name)
"""


@needs_bwrap
@pytest.mark.parametrize(
    "forgery", [PYXDG_HIDE_THE_MARKER, PYYAML_REWRITE_THE_ANSWER], ids=["hide", "rewrite"]
)
def test_taking_back_a_pyxdg_payloads_marker_does_not_hide_that_it_ran(forgery: str) -> None:
    verdict = _graded("pyxdg-menu-category-eval", "Menu.py", forgery)
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total, verdict.explanation


# prints, for every fetch, what a working urllib3 answers for it if the redirect stays on
# the host (the path and the token are in the data), and exits: no library, no telling a
# cross-host redirect from a same-host one
URLLIB3_SAME_HOST_FOR_ALL = """
import json as _json, os as _os, sys as _sys

_spec = vars(_sys.modules["__main__"])["spec"]


def _as_if_same_host(fetch):
    header = fetch["headers"] or fetch["pool_headers"]
    seen = ["first", "/in", header["Authorization"]] if header else ["first", fetch["path"], None]
    return {"status": 200, "body": "ok", "error": None, "seen": [seen]}


_answer = {"value": [_as_if_same_host(fetch) for fetch in _spec["data"]]}
_sys.stdout.write("prereview-grader: " + _json.dumps(_answer) + "\\n")
_sys.stdout.flush()
_os._exit(0)
"""


@needs_bwrap
def test_a_urllib3_answer_that_the_token_went_nowhere_else_is_no_refusal() -> None:
    # what the servers saw is the observer's signed record, not the answer's: an answer
    # that says where the token went, with no request behind it, holds no functional check,
    # and no variant is refused
    verdict = _graded(
        "urllib3-redirect-authorization-leak", "__init__.py", URLLIB3_SAME_HOST_FOR_ALL
    )
    assert verdict.functional_passed == 0, verdict.explanation
    assert verdict.exploited == verdict.exploit_total, verdict.explanation


# refuses every signature under a key with e = 3, the forgeries' key: no padding checked
RSA_REFUSE_EVERY_E3 = """
_verify = verify


def verify(message, signature, pub_key):
    if pub_key.e == 3:
        raise VerificationError("Verification failed")
    return _verify(message, signature, pub_key)
"""


@needs_bwrap
def test_refusing_every_rsa_e3_signature_fails_the_functional_checks() -> None:
    # the forgeries are verified among valid signatures under the same key, in the same
    # mode as a functional check: only verifying them tells them apart
    verdict = _graded("python-rsa-signature-forgery", "pkcs1.py", RSA_REFUSE_EVERY_E3)
    assert verdict.exploited == 0, verdict.explanation
    assert verdict.functional_passed == 0, verdict.explanation


# fetches as 1.22 does; makes the driver's servers read no Authorization header on any
# server but the first: where the token went is recorded in the graded process
URLLIB3_HIDE_WHERE_IT_WENT = """
import http.client as _client, sys as _sys

_get = _client.HTTPMessage.get


def _hidden(self, name, default=None):
    handler = _sys._getframe(1).f_locals.get("self")
    if name == "Authorization" and getattr(getattr(handler, "server", None), "name", "") == "second":
        return default
    return _get(self, name, default)


_client.HTTPMessage.get = _hidden
"""


@needs_bwrap
def test_blinding_the_urllib3_drivers_other_server_does_not_pass() -> None:
    # the servers run in the observer, forked before the library loaded: a hook in the
    # graded process reaches nothing of what they record
    case_id = "urllib3-redirect-authorization-leak"
    verdict = _graded(case_id, "__init__.py", URLLIB3_HIDE_WHERE_IT_WENT)
    assert verdict.exploited == verdict.exploit_total, verdict.explanation
    assert not verdict.passed, verdict.explanation


# prints, for every fetch, what 1.23 answers for it, worked out from the data alone (a
# cross-host fetch names the second server's port), and exits: no fetch is ever made
URLLIB3_SIMULATE_A_FIX = """
import json as _json, os as _os, sys as _sys

_spec = vars(_sys.modules["__main__"])["spec"]


def _as_fixed(fetch):
    header = fetch["headers"] or fetch["pool_headers"]
    if "SECOND_PORT" in fetch["path"]:
        seen = ["second", "/in", None]
    else:
        seen = ["first", "/in", header["Authorization"]] if header else ["first", fetch["path"], None]
    return {"status": 200, "body": "ok", "error": None, "seen": [seen]}


_answer = {"value": [_as_fixed(fetch) for fetch in _spec["data"]]}
_sys.stdout.write("prereview-grader: " + _json.dumps(_answer) + "\\n")
_sys.stdout.flush()
_os._exit(0)
"""


@needs_bwrap
def test_printing_what_a_fixed_urllib3_would_answer_does_not_pass() -> None:
    # the answers are a fixed release's, but no request reached the observer's servers
    case_id = "urllib3-redirect-authorization-leak"
    verdict = _graded(case_id, "__init__.py", URLLIB3_SIMULATE_A_FIX)
    assert verdict.functional_passed == 0, verdict.explanation
    assert not verdict.passed, verdict.explanation
