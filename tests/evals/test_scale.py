"""The suite at scale (:mod:`prereview.evals.runner`, ``prereview eval run``): Inspect's
``max_samples`` and ``max_sandboxes`` reach the eval, progress is reported per task and per
sample, and each task declares what it needs from the docker and k8s providers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from inspect_ai.log import read_eval_log
from inspect_ai.util import SandboxEnvironmentSpec
from inspect_ai.util._sandbox.compose import parse_compose_yaml

from prereview.evals.challenges import CHALLENGES
from prereview.evals.runner import Progress, build_tasks, run_suite
from prereview.evals.sandbox import BwrapConfig
from prereview.evals.sandbox.providers import DOCKER_COMPOSE, K8S_VALUES, sandbox_spec

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


@needs_bwrap
def test_parallelism_reaches_inspect_and_progress_counts_every_sample(tmp_path: Path) -> None:
    events: list[Progress] = []
    result = run_suite(
        "prereview-scripted/reference",
        tasks=["vuln_discovery", "ctf"],
        epochs=2,
        task_args={"vuln_discovery": {"pairs": 1}, "ctf": {"challenges": ["crypto-lcg"]}},
        log_dir=str(tmp_path),
        max_samples=3,
        max_sandboxes=2,
        progress=events.append,
    )
    assert [t.status for t in result.tasks] == ["success", "success"]
    for task in result.tasks:
        config = read_eval_log(task.log_path, header_only=True).eval.config
        assert (config.max_samples, config.max_sandboxes) == (3, 2)
    for task, total in (("vuln_discovery", 4), ("ctf", 2)):  # samples x epochs
        mine = [e for e in events if e.task == task]
        assert [e.kind for e in mine if e.kind.startswith("task")] == ["task_start", "task_end"]
        assert next(e.total for e in mine if e.kind == "task_start") == total
        assert sum(e.kind == "sample_start" for e in mine) == total
        assert sum(e.kind == "sample_end" and not e.failed for e in mine) == total
        assert len({e.eval_id for e in mine}) == 1
    from prereview.evals import runner

    assert runner._listener.get() is None  # the next run in this context hears nothing


def test_each_provider_gets_what_the_tasks_declare() -> None:
    config = BwrapConfig(memory_mb=256)
    assert sandbox_spec("bwrap", config) == SandboxEnvironmentSpec("bwrap", config)
    assert sandbox_spec("docker") == SandboxEnvironmentSpec("docker", str(DOCKER_COMPOSE))
    assert sandbox_spec("k8s") == SandboxEnvironmentSpec("k8s", str(K8S_VALUES))
    for name in ("ctf", "vuln_discovery", "patch"):
        [docker] = build_tasks([name], task_args={name: {"sandbox_name": "docker"}})
        assert docker.sandbox == SandboxEnvironmentSpec("docker", str(DOCKER_COMPOSE))
        [k8s] = build_tasks([name], task_args={name: {"sandbox_name": "k8s"}})
        assert k8s.sandbox == SandboxEnvironmentSpec("k8s", str(K8S_VALUES))
        [default] = build_tasks([name])
        assert default.sandbox is not None and default.sandbox.type == "bwrap"


def test_run_suite_names_the_provider_of_every_task(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    from prereview.evals import runner

    def fake_eval(tasks: list[object], *args: object) -> list[object]:
        seen.extend(t.sandbox for t in tasks)  # type: ignore[attr-defined]
        return []

    monkeypatch.setattr(runner, "_eval", fake_eval)
    run_suite("mockllm/model", tasks=["ctf", "patch"], sandbox="docker")
    assert seen == [SandboxEnvironmentSpec("docker", str(DOCKER_COMPOSE))] * 2


def test_the_compose_file_is_valid_and_closed() -> None:
    compose = parse_compose_yaml(str(DOCKER_COMPOSE), multiple_services=False)
    service = compose.services["default"]
    raw = yaml.safe_load(DOCKER_COMPOSE.read_text())["services"]["default"]
    assert raw["network_mode"] == "none" and raw["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in raw["security_opt"]
    assert raw["mem_limit"] and raw["pids_limit"] and service.image == "prereview-cyber:1"
    dockerfile = (DOCKER_COMPOSE.parent / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM " in dockerfile
    for tool in ("python3", "gcc", "curl", "procps", "util-linux"):  # what set-ups run
        assert tool in dockerfile
    values = yaml.safe_load(K8S_VALUES.read_text())
    assert values["services"]["default"]["image"] == "prereview-cyber:1"
    assert values["allowDomains"] == []  # no egress


def test_outside_bwrap_the_tasks_that_need_two_sides_are_left_out() -> None:
    [docker] = build_tasks(["ctf"], task_args={"ctf": {"sandbox_name": "docker"}})
    ids = {s.id for s in docker.dataset}
    assert ids == {c.id for c in CHALLENGES if not c.service_root}
    assert len(ids) == len(CHALLENGES) - 4
