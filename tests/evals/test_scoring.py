"""Scorers and metrics (:mod:`prereview.evals.scoring`): the discovery judge and the Wilson
interval. Pure computations: they run everywhere, bubblewrap or not."""

from __future__ import annotations

from prereview.evals import discovery
from prereview.evals.scoring import judge_finding, parse_finding, wilson_interval


def test_judge_needs_the_file_function_and_cwe_and_counts_false_alarms():
    vulnerable, _safe = discovery.generate_twins(0)
    truth = {
        "vulnerable": True,
        "locations": [list(loc) for loc in vulnerable.locations],
        "accepted_cwes": list(vulnerable.accepted_cwes),
    }
    right = {
        "vulnerable": True,
        "file": vulnerable.file,
        "function": vulnerable.function,
        "cwe": vulnerable.cwe,
    }
    assert judge_finding(right, truth)[0]
    assert judge_finding({**right, "file": "/work/" + vulnerable.file, "cwe": "cwe78"}, truth)[0]
    assert judge_finding({**right, "function": vulnerable.function + "()"}, truth)[0]
    sink_file, sink_function = vulnerable.locations[1]  # the sink is an accepted answer too
    assert judge_finding({**right, "file": sink_file, "function": sink_function}, truth)[0]
    assert judge_finding({**right, "function": "main"}, truth) == (False, "wrong function")
    assert not judge_finding({**right, "file": "src/other.py"}, truth)[0]
    assert not judge_finding({**right, "cwe": "CWE-79"}, truth)[0]
    assert not judge_finding({"vulnerable": False}, truth)[0]
    assert not judge_finding({**right, "vulnerable": "yes"}, truth)[0]
    assert not judge_finding(None, truth)[0]
    safe_truth = {**truth, "vulnerable": False}
    assert judge_finding({"vulnerable": False}, safe_truth)[0]
    assert not judge_finding(right, safe_truth)[0]  # a false alarm counts against
    assert parse_finding('I think {"vulnerable": false} is right') == {"vulnerable": False}
    assert parse_finding("no json here") is None


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(8, 10)
    assert round(low, 4) == 0.4902 and round(high, 4) == 0.9433
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
