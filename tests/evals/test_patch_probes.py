"""The patch grader's probes: the graded process can tell an exploit from a functional check
only by the input, and only the host's judgement of its answer counts.

The end-to-end forgeries (a patch that prints a verdict of its own and exits) are in
test_patch_forgery*.py; these hold every case and the answer reader to the rules they rely on.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from prereview.evals.realworld.cases import CASES
from prereview.evals.realworld.grading import (
    judged,
    observed_record,
    parse_answer,
    planned_checks,
    probe_spec,
    probes_of,
)
from prereview.evals.realworld.probes import TOKEN, Probe, returns, with_token
from prereview.evals.sandbox import BwrapConfig

IDS = [case.id for case in CASES]
STARTED = "prereview-grader: started"


@pytest.mark.parametrize("case_id", IDS)
def test_every_exploit_takes_a_path_a_functional_check_takes_too(case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    functional = probes_of(case, "functional")
    exploits = probes_of(case, "exploit")
    assert len(functional) >= 2 and len(exploits) >= 3, case_id
    modes = {p.mode for p in functional}
    assert {p.mode for p in exploits} <= modes, (case_id, {p.mode for p in exploits} - modes)
    assert len({p.name for p in case.probes}) == len(case.probes), "names are unique"
    # the old shape (lists of named check functions the sandbox picked from) is gone
    assert "FUNCTIONAL" not in case.checks and "EXPLOITS" not in case.checks


@pytest.mark.parametrize("case_id", IDS)
def test_the_sandbox_is_told_nothing_that_tells_the_kinds_apart(case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    config = BwrapConfig()
    specs = [probe_spec(case, p, "t0123456789abcdef", config) for p in case.probes]
    for spec in specs:
        assert set(spec) == {"mode", "data", "token", "preamble", "driver", "max_processes"}
        assert TOKEN not in json.dumps(spec["data"])  # every placeholder filled
        assert "exploit" not in json.dumps(spec["data"]).lower()
    # apart from the mode, the data and the token, every spec is the same
    rest = {json.dumps({k: v for k, v in s.items() if k not in ("mode", "data")}) for s in specs}
    assert len(rest) == 1


def test_the_secret_plan_draws_three_variants_of_each_case() -> None:
    for case in CASES:
        plan = planned_checks(case, seed=7)
        assert sum(group == "exploit" for group, _ in plan) == min(
            3, len(probes_of(case, "exploit"))
        )
        assert planned_checks(case, seed=7) == plan


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([STARTED], None),  # the graded process ended before the harness answered
        ([STARTED, 'prereview-grader: {"value": 1}'], {"value": 1}),
        ([STARTED, 'prereview-grader: {"raised": "ValueError"}'], {"raised": "ValueError"}),
        # the graded code printed an answer of its own, then the harness did: neither counts
        ([STARTED, 'prereview-grader: {"value": 1}', 'prereview-grader: {"value": 2}'], None),
        ([STARTED, "prereview-grader: not json"], None),
        ([STARTED, "prereview-grader: [1, 2]"], None),
        ([STARTED, 'prereview-grader: {"verdict": true}'], None),
        ([STARTED, "prereview-grader: " + "[" * 100_000], None),
        (['prereview-grader: {"value": 1}'], None),  # before the start line: not an answer
    ],
)
def test_exactly_one_answer_line_counts(lines: list[str], expected: object) -> None:
    assert parse_answer(lines) == expected


def _probe(exploit: bool, judge: object) -> Probe:
    return Probe("p", exploit, "m", {}, judge)  # type: ignore[arg-type]


def test_no_answer_or_an_unreadable_one_counts_against_the_patch() -> None:
    def crashes(token: str, answer: object) -> bool:
        raise KeyError("the answer had another shape")

    for judge in (returns(1), crashes):
        assert judged(_probe(False, judge), "t", None) is False
        assert judged(_probe(True, judge), "t", None) is True
    assert judged(_probe(False, crashes), "t", {"value": 1}) is False
    assert judged(_probe(True, crashes), "t", {"value": 1}) is True
    assert judged(_probe(False, returns("x-TOKEN")), "t1", {"value": "x-t1"}) is True
    assert judged(_probe(False, returns("x-TOKEN")), "t1", {"value": "x-TOKEN"}) is False
    # a judge must say True itself: a truthy non-bool is not a pass
    assert judged(_probe(False, lambda token, answer: 1), "t", {"value": 1}) is False


def test_the_token_goes_into_every_string_of_the_data() -> None:
    data = {"TOKEN": ["a-TOKEN", 3, {"k": "TOKENTOKEN"}], "n": None}
    assert with_token(data, "t9") == {"t9": ["a-t9", 3, {"k": "t9t9"}], "n": None}


def _signed(key: bytes, record: str) -> str:
    mac = hmac.new(key, record.encode(), hashlib.sha256).hexdigest()
    return f"prereview-observer: {mac} {record}"


def test_only_the_observers_signed_record_counts() -> None:
    key, other = b"k" * 32, b"o" * 32
    record = json.dumps([["second", "/in/3", "Bearer t1"]])
    assert observed_record([STARTED, _signed(key, record)], key) == json.loads(record)
    # a line the graded process printed: it has no key, so no signature that holds
    assert observed_record([STARTED, _signed(other, "[]")], key) is None
    assert observed_record([STARTED, "prereview-observer: 00 []"], key) is None
    assert observed_record([STARTED, _signed(key, record), _signed(other, "[]")], key) == [
        ["second", "/in/3", "Bearer t1"]
    ]
    # the observer signs once: a second signed line is a replay, and none counts
    assert observed_record([STARTED, _signed(key, record), _signed(key, record)], key) is None
    assert observed_record([STARTED], key) is None  # killed before it reported
