"""The real-vulnerability suite (:mod:`prereview.evals.realworld`): the pinned cache
refuses a tampered release, the truth comes from the release diff, and each task's
reference solution scores 1 while every floor scores 0, through the real agent loop and
sandbox. The quick subset (one case) runs by default; every case is ``slow``."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from inspect_ai import Task

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.baselines import FLOOR_MODELS, REFERENCE, floor_failures
from prereview.evals.realworld import cache, native
from prereview.evals.realworld.cases import CASES
from prereview.evals.realworld.floors import measure_real_floors
from prereview.evals.realworld.grading import every_check, grade_real_patch
from prereview.evals.realworld.tasks import (
    HEADLINE,
    _tree,
    judge_real_finding,
    realworld_discovery,
    realworld_exploit,
    realworld_patch,
    truth_locations,
)

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
QUICK = ["pyyaml-fullloader-rce"]
ALL = [c.id for c in CASES]


def test_the_cache_holds_every_release_with_its_pinned_hash():
    assert cache.verify() == [], f"run `{cache.MAKE_TARGET}`"


def test_a_tampered_or_missing_release_fails_verification(tmp_path: Path):
    for entry in cache.releases().values():
        shutil.copy(cache.cache_dir() / entry.filename, tmp_path / entry.filename)
    assert cache.verify(tmp_path) == []
    victim = next(iter(cache.releases().values()))
    data = bytearray((tmp_path / victim.filename).read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / victim.filename).write_bytes(bytes(data))
    other = list(cache.releases().values())[1]
    (tmp_path / other.filename).unlink()
    problems = cache.verify(tmp_path)
    assert any(victim.filename in p and "sha256" in p for p in problems)
    assert any(other.filename in p and "missing" in p for p in problems)


def test_a_missing_cache_names_the_make_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PREREVIEW_TASK_CACHE", str(tmp_path))
    with pytest.raises(cache.CacheError, match="make task-cache"):
        cache.release_bytes("pyyaml", "5.3.1")


def test_every_case_pins_both_releases_and_its_metadata():
    for case in CASES:
        assert case.cve.startswith("CVE-") and case.cwes
        for version in (case.vulnerable, case.fixed):
            assert cache.release(case.package, version).sha256
        sample = realworld_exploit(cases=[case.id]).dataset[0]
        meta = sample.metadata or {}
        assert meta["source_sha256"] == cache.release(case.package, case.vulnerable).sha256
        assert meta["measured"]["lines_of_code"] > 900  # bsdiff4, the smallest: 908


def test_the_truth_is_the_diff_to_the_fixed_release():
    truth = {case.id: truth_locations(case) for case in CASES}
    assert ("src/yaml/constructor.py", "FullConstructor.construct_python_object_new") in truth[
        "pyyaml-fullloader-rce"
    ]
    assert ("src/jinja2/sandbox.py", "SandboxedEnvironment.call") in truth[
        "jinja2-sandbox-format-map"
    ]
    assert ("src/jwt/algorithms.py", "HMACAlgorithm.prepare_key") in truth[
        "pyjwt-algorithm-confusion"
    ]
    assert ("src/rsa/pkcs1.py", "verify") in truth["python-rsa-signature-forgery"]
    assert ("src/urllib3/poolmanager.py", "PoolManager.urlopen") in truth[
        "urllib3-redirect-authorization-leak"
    ]
    assert truth["pyxdg-menu-category-eval"] == [  # a rewrite: scoped to the advisory's two
        ("src/xdg/Menu.py", "Rule.do"),
        ("src/xdg/Menu.py", "Rule.parseCategory"),
    ]
    for locations in truth.values():  # the fix's files only, and none of the unchanged ones
        assert 1 <= len(locations) <= 4


def test_the_fixed_twin_is_wrong_only_when_the_same_bug_is_claimed():
    truth = {"vulnerable": False, "locations": [["src/rsa/pkcs1.py", "verify"]]}
    same = {"vulnerable": True, "file": "src/rsa/pkcs1.py", "function": "verify", "cwe": "347"}
    assert judge_real_finding(same, truth)[0] is False
    assert judge_real_finding({"vulnerable": False}, truth)[0] is True
    vulnerable = {**truth, "vulnerable": True, "accepted_cwes": ["CWE-347"]}
    assert judge_real_finding(same, vulnerable)[0] is True
    assert judge_real_finding({**same, "cwe": "CWE-79"}, vulnerable)[0] is False
    assert judge_real_finding({**same, "function": "sign"}, vulnerable)[0] is False


@needs_bwrap
def test_the_grader_passes_the_fixed_release_and_fails_the_vulnerable_one():
    case = CASES[0]
    vulnerable = asyncio.run(grade_real_patch(case, _tree(case), seed=1))
    assert vulnerable.functional_passed == vulnerable.functional_total
    assert vulnerable.exploited == vulnerable.exploit_total > 0
    patched = dict(_tree(case))
    fixed = _tree(case, fixed=True)
    for path in case.patch_paths:
        patched[path] = fixed[path]
    assert asyncio.run(grade_real_patch(case, patched, seed=1)).passed
    broken = {**patched, case.patch_paths[0]: b"raise ImportError('nothing works')\n"}
    assert not asyncio.run(grade_real_patch(case, broken, seed=1)).passed


def _reference_patched(case_id: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    case = next(c for c in CASES if c.id == case_id)
    fixed = _tree(case, fixed=True)
    patched = {**_tree(case), **{p: fixed[p] for p in case.patch_paths}}
    return _tree(case), patched


def _every_variant_is_real(case_id: str) -> None:
    """Each exploit variant works on the vulnerable release and on nothing else; each
    functional check holds on both."""
    case = next(c for c in CASES if c.id == case_id)
    vulnerable, patched = _reference_patched(case_id)
    grade = native.grade_native_patch if case.id in native.NATIVE else grade_real_patch
    before = asyncio.run(grade(case, vulnerable, plan=every_check(case)))
    after = asyncio.run(grade(case, patched, plan=every_check(case)))
    assert before.functional_passed == before.functional_total, before.explanation
    assert before.exploited == before.exploit_total >= 3, before.explanation
    assert after.passed and after.exploit_total >= 3, after.explanation


@needs_bwrap
def test_every_variant_of_the_quick_case_is_real():
    _every_variant_is_real(QUICK[0])


@needs_bwrap
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PREREVIEW_REALWORLD_ALL"), reason="whole suite")
@pytest.mark.parametrize("case_id", ALL)
def test_every_variant_of_every_case_is_real(case_id: str):
    _every_variant_is_real(case_id)


def _tasks(cases: list[str]) -> list[Task]:
    return [
        realworld_exploit(cases=cases),
        realworld_discovery(cases=cases),
        realworld_patch(cases=cases),
    ]


# The floors whose patch task changes the tree: the others (safe, vulnerable, the guesser)
# call no tool, so each hands the grader the very tree ``nothing`` does, and the grader's
# verdict on it is measured once (benchmarks/realworld.py still runs every floor).
PATCH_FLOORS = ("prereview-baseline/nothing", "prereview-baseline/regex")


@needs_bwrap
def test_quick_subset_reference_solves_and_floors_score_zero(tmp_path: Path):
    # one test, not one per (task, model): under pytest-xdist a module fixture would be
    # recomputed by every worker
    table = measure_real_floors(
        lambda: [realworld_exploit(cases=QUICK), realworld_discovery(cases=QUICK)], str(tmp_path)
    )
    assert all(set(row) == {*FLOOR_MODELS, REFERENCE} for row in table.values())
    table |= measure_real_floors(
        lambda: [realworld_patch(cases=QUICK)], str(tmp_path), models=(*PATCH_FLOORS, REFERENCE)
    )
    assert sorted(table) == sorted(HEADLINE)
    assert set(table["realworld_patch"]) == {*PATCH_FLOORS, REFERENCE}
    assert floor_failures(table) == [], table


@needs_bwrap
@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("PREREVIEW_REALWORLD_ALL"),
    reason="the whole suite: set PREREVIEW_REALWORLD_ALL=1 or run benchmarks/realworld.py",
)
def test_every_case_reference_one_and_floors_zero(tmp_path: Path):
    table = measure_real_floors(lambda: _tasks(ALL), str(tmp_path))
    assert floor_failures(table) == [], table


def test_cases_are_chosen_by_id_and_an_unknown_one_is_refused():
    ids = [s.id for s in realworld_patch(cases=",".join(ALL[:2])).dataset]
    assert ids == [f"{ALL[0]}-patch", f"{ALL[1]}-patch"]
    with pytest.raises(ValueError, match="unknown case 'nope'"):
        realworld_exploit(cases=["nope"])


def test_the_tasks_are_registered_for_inspect_eval():
    from inspect_ai._util.registry import registry_lookup

    for name in HEADLINE:
        assert registry_lookup("task", f"prereview/{name}") is not None
