"""check_tree's quick pass must refuse exactly what the depth-first walk refuses, with its error.

The reference below is the walk check_tree used before it got a quick yes/no pass: every tree
it refuses must still be refused with the same problem and message, every other one accepted.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from prereview.core.errors import InvalidEncoding, InvalidInput, TooDeeplyNested
from prereview.core.parsing import check_tree, load_json


def _reference(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                raise TooDeeplyNested(f"x is nested more than {max_depth} levels deep")
            if isinstance(node, dict):
                for key, item in node.items():
                    if isinstance(key, str):
                        _text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            _text(node)


def _text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEncoding(
            "x holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
        ) from None


def _outcome(check: Any, value: Any, max_depth: int) -> tuple[str, str] | None:
    try:
        check(value, max_depth)
    except InvalidInput as exc:
        return type(exc).__name__, exc.detail
    return None


class _Text(str):
    """A str subclass (YAML and TOML loaders may hand them over)."""


def _tree(rnd: random.Random, depth: int) -> Any:
    leaves = ["a", "é", 1, None, 2.5, True, _Text("ü")]
    faults = ["\ud800", "x\udc00y", _Text("\udfff")]
    roll = rnd.random()
    if depth > 7 or roll < 0.4:
        return rnd.choice(faults if rnd.random() < 0.05 else leaves)
    if roll < 0.7:
        return [_tree(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    keys = ["k", "é", "\ud800k", _Text("\udfffz"), 7]
    return {
        (key + str(n) if isinstance(key, str) else n): _tree(rnd, depth + 1)
        for n, key in enumerate(rnd.choice(keys) for _ in range(rnd.randint(0, 4)))
    }


def test_random_trees_get_the_reference_walks_answer() -> None:
    rnd = random.Random(14)
    refused = 0
    for _ in range(3000):
        value, max_depth = _tree(rnd, 0), rnd.randint(0, 9)
        expected = _outcome(_reference, value, max_depth)
        got = _outcome(lambda v, d: check_tree(v, max_depth=d, what="x"), value, max_depth)
        assert got == expected, (value, max_depth)
        refused += expected is not None
    # Both kinds of fault, and sound trees, were drawn.
    assert 300 < refused < 2700


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ('{"a": [{"b": "\\ud800"}]}', InvalidEncoding),
        ('[{"\\udfff": 1}]', InvalidEncoding),
        ('"\\udc00"', InvalidEncoding),
        ("[" * 65 + "]" * 65, TooDeeplyNested),
    ],
)
def test_faults_deep_in_json_are_refused(document: str, problem: type[InvalidInput]) -> None:
    with pytest.raises(problem):
        load_json(document)


def test_json_at_the_depth_limit_and_paired_surrogates_are_accepted() -> None:
    assert load_json("[" * 64 + "]" * 64) is not None
    assert load_json('{"k\\ud83d\\ude00": ["\\u00e9"]}') == {"k\U0001f600": ["é"]}
