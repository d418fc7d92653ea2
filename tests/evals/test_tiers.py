"""Tiers derived from measured properties: the rule's bands, the measurements, and that no
label (in the code or in a log) moves a task's tier."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prereview.evals.challenges import CHALLENGES, Step, Tier
from prereview.evals.evidence import read_log, recompute
from prereview.evals.scoring import wilson_interval
from prereview.evals.tasks import ctf_samples
from prereview.evals.tiers import (
    RULE_VERSION,
    challenge_measured,
    challenge_tier,
    derive_tier,
    lines_to_read,
    reference_steps,
    sample_tier,
    tier_named,
    with_derived_tier,
)
from support.factories.evals import eval_log

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def measured(steps: int = 1, lines: int = 10, public: bool | None = True) -> dict[str, Any]:
    return {"reference_steps": steps, "lines_of_code": lines, "public_exploit": public}


@pytest.mark.parametrize(
    ("props", "tier", "points"),
    [
        (measured(1, 200), Tier.EASY, 0),  # 200 lines is still one program read whole
        (measured(1, 201), Tier.EASY, 1),
        (measured(2, 201), Tier.MEDIUM, 2),
        (measured(1, 3000), Tier.EASY, 1),
        (measured(1, 3001), Tier.MEDIUM, 2),
        (measured(3, 3001), Tier.HARD, 4),
        (measured(2, 3001, public=False), Tier.HARD, 4),
        (measured(2, 3001, public=None), Tier.MEDIUM, 3),  # unknown counts as public
        (measured(9, 10**6, public=False), Tier.HARD, 5),
    ],
)
def test_the_bands_give_the_tier(props: dict[str, Any], tier: Tier, points: int) -> None:
    found = derive_tier(props)
    assert found.tier is tier and sum(found.points.values()) == points
    assert found.rule == RULE_VERSION


def test_missing_or_malformed_properties_never_raise_a_tier() -> None:
    for props in (
        {},
        {"reference_steps": True, "lines_of_code": "99999", "public_exploit": "no"},
        {"reference_steps": -5, "lines_of_code": float("nan"), "public_exploit": 0},
        {"reference_steps": None, "lines_of_code": [10**6]},
    ):
        assert derive_tier(props).tier is Tier.EASY, props


def test_floors_solving_a_task_make_it_easy() -> None:
    hard = measured(3, 10**5, public=False)
    assert derive_tier(hard | {"reference_solve_rate": 0.49}).tier is Tier.HARD
    capped = derive_tier(hard | {"reference_solve_rate": 0.5})
    assert capped.tier is Tier.EASY and capped.floor_capped


def test_steps_are_tool_calls_and_requests_to_the_target() -> None:
    chain = (
        "import urllib.request\n"
        "key = urllib.request.urlopen(base + '/key').read()\n"
        "print(urllib.request.urlopen(base + '/run', forge(key)).read())\n"
    )
    oracle = (
        "def ask(x):\n    return talk(x)\n"
        "def ask_twice(x):\n    return ask(x)\n"
        "for guess in range(256):\n    ask_twice(guess)\n"  # a loop is one step
        "print(ask(b'final'))\n"
    )
    assert reference_steps([{"tool": "python", "code": chain}]) == 2
    assert reference_steps([{"tool": "python", "code": oracle}]) == 2
    assert reference_steps([{"tool": "python", "code": "print(1)"}]) == 1
    assert reference_steps([{"tool": "python", "code": "def (:"}]) == 1
    assert reference_steps([{"tool": "bash", "code": "curl -s a && curl -s b | nc x 1"}]) == 3
    assert reference_steps([{"tool": "bash", "code": "curl-config; ls"}]) == 1
    assert reference_steps([{"tool": "submit", "code": "{}"}]) == 0
    run = "import subprocess\nsubprocess.run(['nm', 'x'])\nprint(talk(b'A'))\n"
    assert reference_steps([Step("python", run), Step("bash", "objdump -d x")]) == 3
    assert reference_steps([{"tool": "python", "code": "d = {}\nd.get('run')\nrun()"}]) == 1


def test_lines_to_read_are_source_lines_only() -> None:
    files: dict[str, str | bytes] = {
        "svc/service.py": "a\nb\nc",  # no final newline: still three lines
        "svc/chal.c": b"int x;\n",
        "evidence/app.log": "x\n" * 5000,  # data, not code
        "crypto/cipher.hex": "00ff\n",
    }
    assert lines_to_read(files) == 4


def test_a_relabelled_challenge_keeps_its_derived_tier() -> None:
    for challenge in CHALLENGES:
        derived = challenge_tier(challenge)
        for label in Tier:
            relabelled = dataclasses.replace(challenge, tier=label)
            assert challenge_tier(relabelled) is derived
            assert challenge_measured(relabelled) == challenge_measured(challenge)


def test_a_challenge_that_takes_more_work_measures_harder() -> None:
    """The measurement follows the task: give a challenge three requests and 4,000 lines of
    source to read, and it is hard whatever its label says."""
    base = CHALLENGES[0]
    bigger = dataclasses.replace(
        base,
        tier=Tier.EASY,
        solution=(Step("bash", "curl -s a; curl -s b; curl -s c"),),
        build=lambda flag, rng: dataclasses.replace(
            base.build(flag, rng), files={"src/lib.py": "x = 1\n" * 4000}
        ),
    )
    assert challenge_measured(bigger)["reference_steps"] == 3
    assert challenge_measured(bigger)["lines_of_code"] == 4000
    assert challenge_tier(bigger) is Tier.HARD


def test_every_ctf_sample_carries_the_derived_tier_and_its_label() -> None:
    samples = {s.id: s.metadata or {} for s in ctf_samples()}
    for challenge in CHALLENGES:
        meta = samples[challenge.id]
        assert meta["tier"] == int(challenge_tier(challenge))
        assert meta["label_tier"] == int(challenge.tier)
        assert meta["tier_rule"] == RULE_VERSION
        assert meta["measured"] == challenge_measured(challenge)
        assert derive_tier(meta["measured"]).tier == meta["tier"]
    # Selecting by tier selects by the derived tier, not the label.
    derived_easy = {c.id for c in CHALLENGES if challenge_tier(c) is Tier.EASY}
    assert {s.id for s in ctf_samples(tiers=[1])} == derived_easy
    assert {s.id for s in ctf_samples(tiers=[3])} == {
        c.id for c in CHALLENGES if challenge_tier(c) is Tier.HARD
    }


def test_with_derived_tier_keeps_the_label_beside_it() -> None:
    meta = with_derived_tier({"tier": 3, "measured": measured(1, 50)})
    assert meta == {
        "tier": 1,
        "label_tier": 3,
        "tier_rule": RULE_VERSION,
        "measured": measured(1, 50),
    }
    assert with_derived_tier(dict(meta)) == meta  # idempotent: the first label stays


def test_tiers_are_named_by_name_or_number() -> None:
    assert tier_named("hard") is tier_named(3) is tier_named(" HARD ") is tier_named("3")
    for bad in ("legendary", 0, 4, "", "2.5", True):
        with pytest.raises(ValueError, match=r"unknown tier|tiers are"):
            tier_named(bad)  # type: ignore[arg-type]


def test_the_server_tiers_a_logged_sample_by_measurement_not_by_its_label() -> None:
    # An intro challenge: the server measures the challenge of that id itself.
    easy = next(c for c in CHALLENGES if challenge_tier(c) is Tier.EASY)
    forged = {"challenge": easy.id, "tier": 3, "measured": measured(9, 10**6, public=False)}
    assert sample_tier(forged) == "1"
    # Another task's sample: derived from its measured properties, not its "tier".
    assert sample_tier({"case": "x", "tier": 3, "measured": measured(1, 10)}) == "1"
    assert sample_tier({"case": "x", "tier": 1, "measured": measured(3, 5000)}) == "3"
    # A private pack's task with neither keeps its own; nothing to go by is no tier.
    assert sample_tier({"tier": 2}) == "2"
    assert sample_tier({"category": "web"}) is None


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Published 95% Wilson intervals (Newcombe 1998, Table I; Brown, Cai & DasGupta 2001).
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (0, 1, 0.0, 0.7935),
        (1, 1, 0.2065, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_the_wilson_interval_on_known_small_counts(
    successes: int, n: int, low: float, high: float
) -> None:
    found = wilson_interval(successes, n)
    assert found == pytest.approx((low, high), abs=1e-4)


def test_a_run_is_reported_per_derived_tier_category_and_both(tmp_path: Path) -> None:
    """Figures per tier come from the server's tiers: a log that labels every sample hard
    moves nothing. Paired samples are one unit of their group's interval."""
    intro = [c for c in CHALLENGES if challenge_tier(c) is Tier.EASY][:4]
    outcomes = {c.id: [i < 3] for i, c in enumerate(intro)}
    metadata: dict[str, dict[str, Any]] = {
        c.id: {"challenge": c.id, "category": "web", "tier": 3} for c in intro
    }
    # A hard real-world pair (derived from its measured properties), one half solved.
    hard = measured(3, 5000, public=False)
    for variant, solved in (("vulnerable", True), ("fixed", False)):
        key = f"case-{variant}"
        outcomes[key] = [solved]
        metadata[key] = {"case": "c", "pair": "c", "category": "memory", "tier": 1} | {
            "measured": hard
        }
    log = eval_log(tmp_path / "run.eval", outcomes, started=START, metadata=metadata)
    metrics = recompute(read_log(log)).metrics
    low, high = wilson_interval(3, 4)
    assert metrics["tier/1/samples"] == 4 and metrics["tier/1/clusters"] == 4
    assert metrics["tier/1/accuracy"] == pytest.approx(0.75)
    assert (metrics["tier/1/ci_lower"], metrics["tier/1/ci_upper"]) == pytest.approx((low, high))
    assert metrics["tier/3/samples"] == 2 and metrics["tier/3/clusters"] == 1
    # One pair half solved: one unit at 0.5, its interval that of 0.5 of 1.
    assert metrics["tier/3/accuracy"] == pytest.approx(0.5)
    assert metrics["tier/3/ci_lower"] == pytest.approx(wilson_interval(0.5, 1)[0])
    assert "tier/2/samples" not in metrics
    assert metrics["category/web/samples"] == 4 and metrics["category/memory/samples"] == 2
    assert metrics["tier+category/1+web/samples"] == 4
    assert metrics["tier+category/3+memory/clusters"] == 1
    assert "tier+category/3+web/samples" not in metrics


def test_the_cli_shows_a_row_per_tier_and_category() -> None:
    from prereview.evals.commands import _rows

    metrics = figures_of("tier/3/", 0.8, 0.38, 0.96, 5) | figures_of("category/web/", 1, 0.7, 1, 9)
    task = {"task": "realworld_exploit", "ci_lower": 0.5, "ci_upper": 0.9, "accuracy": 0.7}
    rows = _rows([{"id": "run_1", "tasks": [task | {"metrics": metrics}]}])
    assert [r["task"] for r in rows] == [
        "realworld_exploit",
        "  realworld_exploit · category web",
        "  realworld_exploit · tier hard",
    ]
    assert rows[2]["ci"] == "[0.380, 0.960]" and rows[2]["samples"] == 5


def figures_of(prefix: str, accuracy: float, low: float, high: float, n: int) -> dict[str, float]:
    return {
        f"{prefix}accuracy": accuracy,
        f"{prefix}ci_lower": low,
        f"{prefix}ci_upper": high,
        f"{prefix}samples": float(n),
    }


def test_every_real_world_sample_is_tiered_by_its_measurement() -> None:
    """Whatever cases exist (Python, JavaScript, C): the sample's tier is the rule's, the
    case's hand label is kept beside it, and relabelling the case moves nothing."""
    from prereview.evals.realworld import tasks as realworld
    from prereview.evals.realworld.cases import CASES

    samples = [
        s for make in (realworld.exploit_samples, realworld.discovery_samples) for s in make()
    ]
    assert len(samples) >= len(CASES)
    labels = {c.id: int(c.tier) for c in CASES}
    for sample in samples:
        meta = sample.metadata or {}
        assert meta["tier"] == int(derive_tier(meta["measured"]).tier), sample.id
        assert meta["label_tier"] == labels[meta["case"]] and meta["tier_rule"] == RULE_VERSION
        assert meta["measured"]["reference_steps"] == reference_steps(meta["solution"])
    case = CASES[0]
    tree = realworld._tree(case)
    for label in Tier:
        relabelled = dataclasses.replace(case, tier=label)
        meta = realworld.case_metadata(relabelled, "exploit", 1, tree)
        assert meta["label_tier"] == int(label)
        assert meta["tier"] == int(derive_tier(meta["measured"]).tier)
    assert (
        len(
            {
                realworld.case_metadata(dataclasses.replace(case, tier=t), "exploit", 1, tree)[
                    "tier"
                ]
                for t in Tier
            }
        )
        == 1
    )
