"""The library's own test suite grades a real-vulnerability patch (testsuites.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prereview.evals.realworld import testsuites
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.cases import case_by_id
from prereview.evals.realworld.grading import every_check, grade_real_patch
from prereview.evals.realworld.tasks import patch_samples
from prereview.evals.sandbox import BwrapConfig

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")

# makes yaml.load refuse every document: the exploits are blocked, the library is not
REFUSE_ALL = b"""

def _refuse_everything(self, node):
    raise ConstructorError(None, None, "refused", node.start_mark)

BaseConstructor.construct_document = _refuse_everything
"""
# a quieter break the exploits never touch: timestamps come back as plain strings
NO_TIMESTAMPS = b"""

SafeConstructor.add_constructor(
    'tag:yaml.org,2002:timestamp', SafeConstructor.construct_yaml_str)
FullConstructor.add_constructor(
    'tag:yaml.org,2002:timestamp', SafeConstructor.construct_yaml_str)
"""

# PyJWT breaks that no hidden check sees (their tokens carry no exp claim and no extra
# header): expired tokens are accepted, and jwt.encode drops the caller's headers
NO_EXP_CHECK = b"""

def _skip_exp(self, payload, now, leeway):
    pass


PyJWT._validate_exp = _skip_exp
"""
NO_EXTRA_HEADERS = b"""

_encode_with_headers = PyJWS.encode


def _encode(self, payload, key, algorithm="HS256", headers=None, json_encoder=None):
    return _encode_with_headers(self, payload, key, algorithm, None, json_encoder)


PyJWS.encode = _encode
encode = _jws_global_obj.encode  # the module's own encode, which jwt.encode calls
"""
# a urllib3 break the redirect checks never see: Retry's backoff_factor is ignored
NO_BACKOFF = b"""

def _no_backoff(self):
    return 0


Retry.get_backoff_time = _no_backoff
"""


def _trees(case: Case) -> tuple[dict[str, bytes], dict[str, bytes]]:
    vulnerable = source_tree(case.package, case.vulnerable, case.vulnerable_root)
    fixed = source_tree(case.package, case.fixed, case.fixed_root)
    return vulnerable, {**vulnerable, **{p: fixed[p] for p in case.patch_paths}}


def test_patch_samples_say_whether_a_suite_runs_and_how_many_tests() -> None:
    meta = {s.id: (s.metadata or {})["test_suite"] for s in patch_samples()}
    yaml_suite = meta["pyyaml-fullloader-rce-patch"]
    assert yaml_suite["used"] is True
    assert yaml_suite["tests"] == testsuites.SUITES["pyyaml-fullloader-rce"].tests > 1000
    assert meta["python-rsa-signature-forgery-patch"]["tests"] > 0
    js = [m for sid, m in meta.items() if sid.startswith("js-")]
    assert js and all(m["used"] is False and m["why"] for m in js)


@needs_bwrap
@pytest.mark.parametrize(
    "case_id",
    [
        "pyyaml-fullloader-rce",
        "python-rsa-signature-forgery",
        "jinja2-sandbox-format-map",
        "pyjwt-algorithm-confusion",
        "urllib3-redirect-authorization-leak",
    ],
)
def test_the_reference_patch_keeps_the_suite_passing(case_id: str) -> None:
    case = case_by_id(case_id)
    _, patched = _trees(case)
    verdict = asyncio.run(testsuites.grade_suite(case, patched, BwrapConfig()))
    assert verdict is not None and verdict.finished
    assert verdict.broken == ()
    # the recorded count (sample metadata) is what the baseline really runs
    assert verdict.tests == testsuites.SUITES[case_id].tests


@needs_bwrap
@pytest.mark.parametrize(
    ("breakage", "expected"),
    [(REFUSE_ALL, "test_constructor"), (NO_TIMESTAMPS, "construct-timestamp")],
)
def test_a_patch_that_blocks_the_exploits_but_breaks_yaml_scores_zero(
    breakage: bytes, expected: str
) -> None:
    case = case_by_id("pyyaml-fullloader-rce")
    _, patched = _trees(case)
    broken = {**patched, "constructor.py": patched["constructor.py"] + breakage}
    exploits_only = [("exploit", i) for i in range(3)]
    verdict = asyncio.run(grade_real_patch(case, broken, plan=exploits_only))
    assert verdict.exploited == 0  # the exploits are blocked ...
    assert verdict.suite is not None and verdict.suite.broken  # ... the library is not
    assert not verdict.passed
    assert expected in verdict.explanation
    assert "that passed on the vulnerable release fail" in verdict.explanation


@needs_bwrap
@pytest.mark.skipif(not testsuites.SYSTEM_PYTEST.is_dir(), reason="needs python3-pytest")
@pytest.mark.parametrize(
    ("case_id", "path", "breakage", "expected"),
    [
        ("pyjwt-algorithm-confusion", "api_jwt.py", NO_EXP_CHECK, "test_decode_with_expiration"),
        (
            "pyjwt-algorithm-confusion",
            "api_jws.py",
            NO_EXTRA_HEADERS,
            "test_encode_headers_parameter_adds_headers",
        ),
        ("urllib3-redirect-authorization-leak", "util/retry.py", NO_BACKOFF, "test_backoff"),
    ],
    ids=["pyjwt-no-exp-check", "pyjwt-no-extra-headers", "urllib3-no-backoff"],
)
def test_a_patch_that_passes_every_hidden_check_but_breaks_the_library_scores_zero(
    case_id: str, path: str, breakage: bytes, expected: str
) -> None:
    case = case_by_id(case_id)
    _, patched = _trees(case)
    broken = {**patched, path: patched[path] + breakage}
    verdict = asyncio.run(grade_real_patch(case, broken, plan=every_check(case)))
    # every functional check and every exploit variant passes it ...
    assert verdict.functional_passed == verdict.functional_total > 0
    assert verdict.exploited == 0 and verdict.exploit_total > 0
    assert verdict.suite is not None and verdict.suite.broken  # ... the suite does not
    assert not verdict.passed
    assert expected in verdict.explanation


@needs_bwrap
def test_the_suite_runs_with_the_network_and_the_tree_closed() -> None:
    # a "test" that writes into the graded tree or opens a socket fails in the sandbox
    case = case_by_id("pyyaml-fullloader-rce")
    _, patched = _trees(case)
    probe = b"""
import socket as _socket
def test_probe(verbose=False):
    try:
        open('/grade/src/yaml/owned', 'w')
    except OSError:
        pass
    else:
        raise AssertionError('the tree is writable')
    try:
        _socket.create_connection(('1.1.1.1', 53), timeout=2)
    except OSError:
        pass
    else:
        raise AssertionError('the network is open')
test_probe.unittest = None
"""
    tree = {**patched, "test_probe.py": probe}  # imported from the graded directory
    suite = testsuites.Suite(
        root="PyYAML-5.3.1/tests",
        dest="tests",
        runner="pyyaml",
        files=("tests/lib3/test_probe.py",),
        path=("/grade/suite/tests/lib3", "/grade/src/yaml"),
    )
    run = asyncio.run(testsuites.run_suite(case, suite, tree, BwrapConfig()))
    assert run.passed == frozenset({"test_probe()"})
