"""A fresh variant per run, its seed in the log (``prereview.evals.realworld.variants``).

Every real-vulnerability exploit task but the C ones renders its victim, prompt and
reference exploit from one seed: routes, parameter names, the port, the wrapper's names
and the victim's key differ between seeds, and ``variant_seed=N`` renders the same run
again. The intro ``ctf`` task builds its challenges from a recorded seed the same way.
Through the real agent loop and sandbox (one Python and one JavaScript case): the
reference of a variant solves it, and the same reference fails against another
variant, even with the port corrected; the .eval log holds the seed, and the server's
recomputation keeps it.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset
from inspect_ai.log import EvalLog, read_eval_log

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals import evidence
from prereview.evals.baselines import REFERENCE
from prereview.evals.challenges import by_id
from prereview.evals.commands import RESULT_COLUMNS, _rows
from prereview.evals.realworld import native, variants
from prereview.evals.realworld.cases import CASES, TEMPLATES, case_by_id
from prereview.evals.realworld.javascript import victim_build as js_victim_build
from prereview.evals.realworld.tasks import (
    _vendor,
    case_variant,
    exploit_samples,
    realworld_exploit,
    victim_build,
)
from prereview.evals.runner import TASKS, build_tasks, run_settings
from prereview.evals.tasks import challenge_rng, ctf

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
VARYING = sorted(TEMPLATES)
PYTHON = "pyyaml-fullloader-rce"
JAVASCRIPT = "js-handlebars-compat-rce"
FLAG = "FLAG{" + "0" * 32 + "}"


def _service(case_id: str, seed: int | None) -> str:
    case = case_by_id(case_id)
    if case.language == "javascript":
        build = js_victim_build(
            case, FLAG, _vendor(case), case_variant(case, seed), TEMPLATES[case_id]
        )
        return str(build.files["svc/service.js"])
    return str(victim_build(case, FLAG, seed).files["svc/service.py"])


def test_every_case_but_the_c_ones_varies():
    assert set(VARYING) == {c.id for c in CASES} - set(native.NATIVE)
    assert len(VARYING) == 10


@pytest.mark.parametrize("case_id", VARYING)
def test_a_seed_renders_its_variant_again_and_another_seed_another(case_id: str):
    template = TEMPLATES[case_id]
    first, again, other = (variants.variant(case_id, template, s) for s in (1, 1, 2))
    canonical = variants.canonical(case_id, template)
    assert first == again
    assert first.values != other.values and first.prompt != other.prompt
    assert first.exploit != other.exploit
    for slot, value in first.values.items():  # every slot moved off its canonical value
        assert value != canonical.values[slot], slot
        assert value != other.values[slot] or slot.startswith("word_"), slot
    for part in (first.victim, first.exploit, first.prompt):
        assert "@@" not in part
    assert f"127.0.0.1:{first.port}" in first.prompt and ":9000" not in first.prompt
    assert f":{first.port}" in first.exploit
    routes = [v for s, v in first.values.items() if s.startswith("route_")]
    assert routes and all(f'"{r}"' in first.victim for r in routes)
    assert any(r in first.prompt for r in routes)  # some are only in the source to read
    compile(first.exploit, "exploit", "exec")
    service = _service(case_id, 1)
    assert "@@" not in service and str(first.port) in service
    assert first.values["name_route"] in service


@pytest.mark.parametrize("case_id", VARYING)
def test_each_variants_victim_is_valid_code(case_id: str, tmp_path: Path):
    service = _service(case_id, 7)
    if case_by_id(case_id).language == "javascript":
        path = tmp_path / "service.js"
        path.write_text(service)
        subprocess.run(["node", "--check", str(path)], check=True, timeout=30)
    else:
        compile(service, "service.py", "exec")


def test_the_canonical_variant_is_the_case_as_written():
    for case_id in VARYING:
        case = case_by_id(case_id)
        canonical = variants.canonical(case_id, TEMPLATES[case_id])
        assert (canonical.prompt, canonical.exploit) == (case.exploit_prompt, case.exploit)
        assert canonical.victim == case.victim
        assert "127.0.0.1:9000" in case.exploit_prompt


def test_the_victims_key_comes_from_the_seed_through_the_secret_file_only():
    for case_id in ("pyjwt-algorithm-confusion", "python-rsa-signature-forgery"):
        case = case_by_id(case_id)
        build = victim_build(case, FLAG, 5)
        key = variants.key_material(case_id, 5)
        assert build.secret == FLAG + "\n" + key
        assert key not in str(build.files["svc/service.py"])
        assert victim_build(case, FLAG, 5).secret == build.secret
        assert victim_build(case, FLAG, 6).secret != build.secret
        unseeded = [victim_build(case, FLAG).secret for _ in range(2)]
        assert unseeded[0] != unseeded[1]  # no seed: fresh key material each time
    assert victim_build(case_by_id(PYTHON), FLAG, 5).secret == FLAG  # holds no key


def test_the_task_records_its_seed_and_a_given_seed_reproduces_it():
    task = realworld_exploit(cases=[PYTHON, JAVASCRIPT], variant_seed="41")
    assert (task.metadata or {})["variant_seed"] == 41
    again = realworld_exploit(cases=[PYTHON, JAVASCRIPT], variant_seed=41)
    for sample, twin in zip(task.dataset, again.dataset, strict=True):
        meta = sample.metadata or {}
        assert meta["variant_seed"] == 41
        assert sample.input == twin.input
        assert meta["solution"] == (twin.metadata or {})["solution"]
    seeds = {(realworld_exploit(cases=[PYTHON]).metadata or {})["variant_seed"] for _ in range(3)}
    assert len(seeds) == 3 and all(0 <= s < 2**53 for s in seeds)
    with pytest.raises(ValueError, match="non-negative"):
        realworld_exploit(cases=[PYTHON], variant_seed=-1)
    c_case = next(iter(native.NATIVE))
    (c_sample,) = exploit_samples([c_case], 9)
    assert c_sample.input == case_by_id(c_case).exploit_prompt  # C: recorded, not varied
    assert (c_sample.metadata or {})["variant_seed"] == 9


def test_ctf_records_its_seed_and_builds_each_challenge_from_it():
    task = ctf(challenges=["web-sqli-login"], variant_seed=3)
    assert (task.metadata or {})["variant_seed"] == 3
    assert all((s.metadata or {})["variant_seed"] == 3 for s in task.dataset)
    seeds = {(ctf(challenges=["web-sqli-login"]).metadata or {})["variant_seed"] for _ in range(3)}
    assert len(seeds) == 3
    challenge = by_id("web-sqli-login")
    build = challenge.build(FLAG, challenge_rng(3, challenge.id, 1))
    assert build == challenge.build(FLAG, challenge_rng(3, challenge.id, 1))
    assert build != challenge.build(FLAG, challenge_rng(3, challenge.id, 2))  # per epoch
    assert build != challenge.build(FLAG, challenge_rng(4, challenge.id, 1))


def test_the_realworld_tasks_are_in_eval_runs_list_and_take_a_seed():
    assert {"realworld_exploit", "realworld_discovery", "realworld_patch"} <= set(TASKS)
    args = {"realworld_exploit": {"cases": [PYTHON], "variant_seed": 8}}
    (task,) = build_tasks(["realworld_exploit"], task_args=args)
    assert (task.metadata or {})["variant_seed"] == 8
    assert run_settings(task.metadata or {})["variant_seed"] == 8
    assert "variant_seed" not in run_settings({"elicitation": {"epochs": 1}})  # older logs


def test_results_show_the_seed_and_older_results_without_one():
    column = dict(RESULT_COLUMNS)["variant seed"]
    task = {"id": "r", "task": "ctf", "ci_lower": None, "ci_upper": None, "accuracy": 0.5}
    runs = [
        {"id": "a", "tasks": [task | {"settings": {"variant_seed": 12}}]},
        {"id": "b", "tasks": [task | {"settings": {}}, task]},
    ]
    rows = [r for r in _rows(runs) if r.get("task") == "ctf"]
    assert [column(r) for r in rows] == [12, None, None]


# ---- through the agent loop and the sandbox ---------------------------------------------


def _replayed(case_id: str, seed: int, solutions: list[str]) -> Task:
    """The task of ``seed``'s variant, its samples replaying other solutions."""
    task = realworld_exploit(cases=[case_id], variant_seed=seed)
    (sample,) = task.dataset
    samples = [
        sample.model_copy(
            update={
                "id": f"{sample.id}-{n}",
                "metadata": (sample.metadata or {})
                | {"solution": [{"tool": "python", "code": code}]},
            }
        )
        for n, code in enumerate(solutions)
    ]
    task.dataset = MemoryDataset(samples, name="realworld_exploit")
    return task


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EvalLog]:
    """Per language: variant A's reference on A, and on B (as is, and with B's port)."""
    rng = random.Random(20261206)  # fixed seeds: the test reproduces
    tasks: dict[str, Task] = {}
    for case_id in (PYTHON, JAVASCRIPT):
        seed_a, seed_b = rng.randrange(2**53), rng.randrange(2**53)
        a = case_variant(case_by_id(case_id), seed_a)
        b = case_variant(case_by_id(case_id), seed_b)
        assert a is not None
        assert b is not None
        assert a.port != b.port
        on_b_port = a.exploit.replace(f":{a.port}", f":{b.port}")
        tasks[f"{case_id}/own"] = realworld_exploit(cases=[case_id], variant_seed=seed_a)
        tasks[f"{case_id}/other"] = _replayed(case_id, seed_b, [a.exploit, on_b_port])
    logs = inspect_eval(
        list(tasks.values()),
        model=REFERENCE,
        log_dir=str(tmp_path_factory.mktemp("variant-logs")),
        display="none",
        log_level="warning",
        max_tasks=len(tasks),
    )
    return {name: read_eval_log(str(log.location)) for name, log in zip(tasks, logs, strict=True)}


def _scores(log: EvalLog) -> list[Any]:
    assert log.status == "success", log.error
    return [score.value for s in log.samples or [] for score in (s.scores or {}).values()]


@needs_bwrap
@pytest.mark.parametrize("case_id", [PYTHON, JAVASCRIPT])
def test_a_variants_reference_solves_it_and_fails_another_variant(
    runs: dict[str, EvalLog], case_id: str
):
    assert _scores(runs[f"{case_id}/own"]) == ["C"]
    assert _scores(runs[f"{case_id}/other"]) == ["I", "I"]  # even with the port corrected


@needs_bwrap
def test_the_eval_log_holds_the_seed_and_the_server_keeps_it(runs: dict[str, EvalLog]):
    for log in runs.values():
        seed = (log.eval.metadata or {})["variant_seed"]
        assert isinstance(seed, int)
        assert all((s.metadata or {})["variant_seed"] == seed for s in log.samples or [])
        found = evidence.recompute(log)
        assert found.settings["variant_seed"] == seed
    # the seed picks the instance, not the configuration: the digest leaves it out
    own = runs[f"{PYTHON}/own"]
    moved = own.model_copy(deep=True)
    assert moved.eval.metadata is not None
    moved.eval.metadata["variant_seed"] = 1
    assert evidence.recompute(moved).config_sha256 == evidence.recompute(own).config_sha256
    older = own.model_copy(deep=True)
    assert older.eval.metadata is not None
    del older.eval.metadata["variant_seed"]
    for sample in older.samples or []:
        (sample.metadata or {}).pop("variant_seed", None)
    assert "variant_seed" not in evidence.recompute(older).settings
