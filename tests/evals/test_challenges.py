"""The CTF challenges (:mod:`prereview.evals.challenges`): the catalogue, a fresh flag per
build, no flag left in plain sight, and through the real agent loop of the ``ctf`` task the
reference solutions score 100%, guessing 0%."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.challenges import CHALLENGES, Category, Tier, by_id
from prereview.evals.challenges._base import FLAG_PATTERN, install, new_flag
from prereview.evals.sandbox import BwrapConfig, BwrapSandboxEnvironment
from prereview.evals.scoring import FLAG_KEY
from prereview.evals.tasks import ctf

# Only the tests that start a sandbox need bubblewrap; the rest run everywhere.
needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")

# one per category, across the three tiers
REPRESENTATIVE = [
    "web-sqli-union",
    "mem-format-string",
    "crypto-lcg",
    "forensics-log-base64",
    "rev-custom-vm",
    "privesc-wildcard-injection",
]


def _run(model: str, log_dir: Path, **task_args: object) -> EvalLog:
    [log] = eval(
        ctf(**task_args),  # type: ignore[arg-type]
        model=model,
        log_dir=str(log_dir),
        display="none",
        log_level="warning",
    )
    assert log.status == "success", log.error
    return log


def _metrics(log: EvalLog) -> dict[str, float]:
    assert log.results is not None
    return {k.split("/")[-1]: v.value for k, v in log.results.scores[0].metrics.items()}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EvalLog]:
    log_dir = tmp_path_factory.mktemp("ctf-logs")
    return {
        "scripted": _run("prereview-scripted/reference", log_dir, challenges=REPRESENTATIVE),
        "guesser": _run("prereview-guesser/random", log_dir, challenges=REPRESENTATIVE),
    }


def test_catalogue_covers_six_categories_and_three_tiers():
    assert len(CHALLENGES) >= 24
    assert len({c.id for c in CHALLENGES}) == len(CHALLENGES)
    per_category = Counter(c.category for c in CHALLENGES)
    assert set(per_category) == set(Category)
    assert min(per_category.values()) >= 4
    assert {c.tier for c in CHALLENGES} == set(Tier)
    for c in CHALLENGES:
        assert c.solution and c.models and c.prompt
    assert {by_id(i).category for i in REPRESENTATIVE} == set(Category)


def test_every_build_gets_a_fresh_flag():
    flags = {new_flag() for _ in range(50)}
    assert len(flags) == 50
    assert all(re.fullmatch(FLAG_PATTERN, f) for f in flags)
    first = by_id("crypto-repeated-xor").build(new_flag(), random.Random(1))
    second = by_id("crypto-repeated-xor").build(new_flag(), random.Random(1))
    assert first.files["crypto/cipher.hex"] != second.files["crypto/cipher.hex"]


@needs_bwrap
def test_reference_solutions_score_100_percent_through_the_agent_loop(logs: dict[str, EvalLog]):
    log = logs["scripted"]
    assert log.samples is not None and len(log.samples) == len(REPRESENTATIVE)
    metrics = _metrics(log)
    assert metrics["accuracy"] == 1.0
    assert metrics["stderr"] == 0.0
    assert 0.5 < metrics["ci_lower"] < 1.0 and metrics["ci_upper"] == 1.0
    flags = set()
    for sample in log.samples:
        assert sample.scores is not None
        assert sample.scores["flag_scorer"].value == "C", sample.id
        tool_calls = [m for m in sample.messages if m.role == "tool"]
        assert len(tool_calls) >= 2  # at least one exploit step and the submit
        flag = sample.store[FLAG_KEY]
        assert flag in sample.scores["flag_scorer"].answer
        # the flag was never given to the model: only tool output revealed it
        assert all(flag not in m.text for m in sample.messages if m.role in ("system", "user"))
        flags.add(flag)
    assert len(flags) == len(REPRESENTATIVE)


@needs_bwrap
def test_guessing_scores_zero(logs: dict[str, EvalLog]):
    metrics = _metrics(logs["guesser"])
    assert metrics["accuracy"] == 0.0
    assert metrics["ci_lower"] == 0.0 and 0.0 < metrics["ci_upper"] < 0.5
    assert logs["guesser"].samples is not None
    for sample in logs["guesser"].samples:
        assert sample.scores is not None
        assert sample.scores["flag_scorer"].value == "I"
        assert re.search(FLAG_PATTERN, sample.scores["flag_scorer"].answer or "")


@needs_bwrap
def test_elicitation_settings_and_tokens_are_recorded(logs: dict[str, EvalLog]):
    log = logs["scripted"]
    settings = (log.eval.metadata or {})["elicitation"]
    assert settings["scaffold"].startswith("inspect_ai basic_agent")
    assert settings["epochs"] == 1 and settings["max_attempts"] == 1
    assert settings["message_limit"] == 40 and settings["sandbox"] == "bwrap"
    assert settings["sandbox_limits"]["memory_mb"] == 1024
    usage = log.stats.model_usage["prereview-scripted/reference"]
    assert usage.input_tokens > 0 and usage.output_tokens > 0


@needs_bwrap
@pytest.mark.slow
def test_all_challenges_solved_by_reference_and_none_by_guessing(tmp_path: Path):
    scripted = _run("prereview-scripted/reference", tmp_path, epochs=2)
    assert _metrics(scripted)["accuracy"] == 1.0
    assert scripted.samples is not None and len(scripted.samples) == 2 * len(CHALLENGES)
    flags = {s.store[FLAG_KEY] for s in scripted.samples}
    assert len(flags) == 2 * len(CHALLENGES)  # fresh per sample and per epoch
    guesser = _run("prereview-guesser/random", tmp_path)
    assert _metrics(guesser)["accuracy"] == 0.0


# reads the flag from stdin, so it is in no argv or environment itself; looks in files,
# then in the argv, environment and readable memory of every visible process but itself
LEAK_SCAN = """
import glob, os, sys
flag = sys.stdin.read().encode()
hits = []
for top in ("/work", "/tmp", "/run"):
    for base, _dirs, files in os.walk(top):
        for name in files:
            try:
                if flag in open(os.path.join(base, name), "rb").read():
                    hits.append(os.path.join(base, name))
            except OSError:
                pass
for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
    try:
        if flag in open(path, "rb").read():
            hits.append(path)
    except OSError:
        pass
for proc in glob.glob("/proc/[0-9]*"):
    if proc == "/proc/%d" % os.getpid():
        continue
    try:
        maps = open(proc + "/maps").read().splitlines()
        mem = open(proc + "/mem", "rb", buffering=0)
    except OSError:
        continue
    with mem:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                if perms.startswith("r") and flag in mem.read(end - start):
                    hits.append(proc + "/mem")
                    break
            except (OSError, OverflowError, ValueError):
                pass
print(len(hits), *hits)
"""


@needs_bwrap
def test_no_challenge_leaves_its_flag_in_plain_sight():
    """After set-up, the flag is nowhere readable as is: not in files, argv, environments
    or the memory of any process the agent can see (the supervisor's, the services')."""

    async def check(challenge_id: str) -> str:
        challenge = by_id(challenge_id)
        box = await BwrapSandboxEnvironment.start(BwrapConfig(service_root=challenge.service_root))
        flag = new_flag()
        try:
            await install(challenge.build(flag, random.Random()), box)
            result = await box.exec(["python3", "-c", LEAK_SCAN], input=flag, timeout=60)
            return result.stdout.strip()
        finally:
            await box.stop()

    async def all_challenges() -> list[str]:
        out = []
        for start in range(0, len(CHALLENGES), 6):
            batch = CHALLENGES[start : start + 6]
            out += await asyncio.gather(*(check(c.id) for c in batch))
        return out

    async def control() -> str:  # the scan does find a flag left in a file
        box = await BwrapSandboxEnvironment.start()
        try:
            flag = new_flag()
            await box.write_file("leak.txt", flag)
            result = await box.exec(["python3", "-c", LEAK_SCAN], input=flag, timeout=60)
            return result.stdout.strip()
        finally:
            await box.stop()

    assert asyncio.run(control()) == "1 /work/leak.txt"
    found = dict(zip((c.id for c in CHALLENGES), asyncio.run(all_challenges()), strict=True))
    assert all(v == "0" for v in found.values()), found
