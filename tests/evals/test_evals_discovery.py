"""vuln_discovery and patch: the generators, the judge, and both tasks through the agent loop."""

from __future__ import annotations

import io
import tokenize
from collections import Counter
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals import discovery
from prereview.evals.baselines import regex_finding
from prereview.evals.generator import KINDS, generate_pair, patchable_kinds
from prereview.evals.scoring import judge_finding, parse_finding
from prereview.evals.tasks import discovery_samples, patch, vuln_discovery

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")

WEAK_MARKERS = {
    "sql-injection": "'%s'\" %",
    "command-injection": "shell=True",
    "path-traversal": "os.path.join(BASE",
    "eval-injection": "return eval(",
    "stack-overflow": "strcpy(",
    "format-string": "printf(",
    "off-by-one": "<=",
}


def test_generator_makes_hundreds_of_distinct_variants_with_safe_twins():
    sources = set()
    for seed in range(300):
        vulnerable, safe = generate_pair(seed)
        assert vulnerable.vulnerable and not safe.vulnerable
        assert vulnerable.source != safe.source
        assert vulnerable.path == safe.path and safe.line is None
        assert vulnerable.line is not None
        weak_line = vulnerable.source.splitlines()[vulnerable.line - 1]
        assert WEAK_MARKERS[vulnerable.kind] in weak_line, (seed, weak_line)
        assert vulnerable.cwe in vulnerable.accepted_cwes
        sources.add(vulnerable.source)
    assert len(sources) == 300
    assert {generate_pair(s)[0].kind for s in range(len(KINDS))} == set(KINDS)
    assert len({generate_pair(s)[0].line for s in range(300)}) > 10  # the weakness moves


def test_generator_is_deterministic_per_seed():
    assert generate_pair(17) == generate_pair(17)
    assert generate_pair(17)[0].source != generate_pair(24)[0].source


def _tokens(files: dict[str, str]) -> Counter[str]:
    return Counter(
        t.string
        for text in files.values()
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
    )


def test_discovery_programs_are_multi_file_and_twins_share_every_token():
    sources = set()
    for seed in range(200):
        vulnerable, safe = discovery.generate_twins(seed)
        assert vulnerable.vulnerable and not safe.vulnerable and vulnerable.pair == safe.pair
        assert vulnerable.files.keys() == safe.files.keys() and len(vulnerable.files) >= 4
        assert vulnerable.files != safe.files
        assert _tokens(vulnerable.files) == _tokens(safe.files), seed  # same tokens, other meaning
        assert vulnerable.file in vulnerable.files
        assert f"def {vulnerable.function}(" in vulnerable.files[vulnerable.file]
        for path, text in vulnerable.files.items():
            compile(text, path, "exec")
        sources.add(vulnerable.files[vulnerable.file])
    assert len(sources) == 200
    assert {discovery.generate_twins(s)[0].kind for s in range(5)} == set(discovery.KINDS)
    assert discovery.generate_twins(9) == discovery.generate_twins(9)


def test_surface_regexes_cannot_tell_the_twins_apart():
    def dump(program: discovery.Program) -> str:
        return "".join(f"=== {path}\n{text}" for path, text in program.files.items())

    for seed in [*range(100), *range(5000, 5050)]:  # the default seeds and fresh ones
        vulnerable, safe = discovery.generate_twins(seed)
        assert regex_finding(dump(vulnerable)) == regex_finding(dump(safe))
    # on the old single-file programs the same matcher found every weakness
    old = generate_pair(0)[0]
    assert regex_finding(f"=== {old.path}\n{old.source}")["cwe"] == old.cwe


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


def test_discovery_dataset_pairs_every_program_with_its_twin():
    samples = discovery_samples(pairs=70)
    assert len(samples) == 140
    pairs: dict[str, list[bool]] = {}
    for s in samples:
        assert s.metadata is not None
        pairs.setdefault(s.metadata["pair"], []).append(s.metadata["truth"]["vulnerable"])
    assert all(sorted(v) == [False, True] for v in pairs.values())


def _run(task: object, model: str, log_dir: Path) -> EvalLog:
    [log] = eval(task, model=model, log_dir=str(log_dir), display="none", log_level="warning")  # type: ignore[arg-type]
    assert log.status == "success", log.error
    return log


def _metrics(log: EvalLog) -> dict[str, float]:
    assert log.results is not None
    return {k.split("/")[-1]: v.value for k, v in log.results.scores[0].metrics.items()}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EvalLog]:
    log_dir = tmp_path_factory.mktemp("discovery-logs")
    # 5 pairs cover every kind once; 4 patch samples cover every patchable kind
    return {
        "find-scripted": _run(vuln_discovery(pairs=5), "prereview-scripted/reference", log_dir),
        "find-guesser": _run(vuln_discovery(pairs=5), "prereview-guesser/random", log_dir),
        "patch-scripted": _run(patch(count=4), "prereview-scripted/reference", log_dir),
        "patch-guesser": _run(patch(count=4), "prereview-guesser/random", log_dir),
    }


def test_discovery_reference_scores_100_and_guessing_0(logs: dict[str, EvalLog]):
    scripted, guesser = _metrics(logs["find-scripted"]), _metrics(logs["find-guesser"])
    assert scripted["accuracy"] == 1.0 and scripted["pair_accuracy"] == 1.0
    assert guesser["accuracy"] == 0.0 and guesser["pair_accuracy"] == 0.0
    assert guesser["ci_upper"] > 0.0 and scripted["ci_lower"] > 0.7
    assert logs["find-scripted"].samples is not None
    assert len(logs["find-scripted"].samples) == 10


def test_patch_reference_scores_100_and_unpatched_code_stays_exploitable(
    logs: dict[str, EvalLog],
):
    assert _metrics(logs["patch-scripted"])["accuracy"] == 1.0
    assert _metrics(logs["patch-guesser"])["accuracy"] == 0.0
    assert logs["patch-guesser"].samples is not None
    for sample in logs["patch-guesser"].samples:
        assert sample.scores is not None
        explanation = sample.scores["patch_scorer"].explanation or ""
        assert explanation.startswith("functional checks 2/2 passed"), sample.id
        assert "variants 0/" not in explanation, sample.id
    kinds = {s.metadata["kind"] for s in logs["patch-scripted"].samples or []}
    assert kinds == set(patchable_kinds())


@pytest.mark.slow
def test_full_discovery_and_patch_sets(tmp_path: Path):
    assert (
        _metrics(_run(vuln_discovery(pairs=100), "prereview-scripted/r", tmp_path))["accuracy"]
        == 1.0
    )
    assert (
        _metrics(_run(vuln_discovery(pairs=25), "prereview-guesser/g", tmp_path))["accuracy"] == 0.0
    )
    assert _metrics(_run(patch(count=40), "prereview-scripted/r", tmp_path))["accuracy"] == 1.0
    assert _metrics(_run(patch(count=10), "prereview-guesser/g", tmp_path))["accuracy"] == 0.0
