"""A patch task's hidden checks: what the graded process is told, and how the host judges.

The graded code is the model's: it runs in the same process as whatever calls it, so
anything that process decides or prints can be forged by it (a patch that fixes
nothing can print "passed" and exit). A check is therefore split in two:

- the **call**, run in the grading sandbox by the case's *driver* (``case.checks``, one
  function ``run(mode, data, token)`` in the case's language): it is given a mode, plain
  data and a token, and answers plain data (JSON). Every check of a case goes through
  the same driver, and every mode an exploit variant uses is also used by a functional
  check (``tests/evals/test_patch_probes.py`` holds every case to it), so the graded code
  can tell an exploit from a functional check only by the input itself, the way a real
  fix tells a malicious document from a benign one; it is never told which it is, nor
  which other checks exist.
- the **judgement** (``judge``), plain Python run by the host on that answer, from
  expectations the host computes with the token it drew. A forged answer is only data:
  to pass a functional check it must be the right output for a fresh input, which is
  what a working library produces.

An answer is ``{"value": V}`` (what ``run`` returned, made plain) or ``{"raised": name}``
(what it raised), or None when the sandbox answered nothing or more than one line (the
graded process ended, timed out, or printed a result line of its own): a functional
check then fails, and an exploit variant counts as succeeded, since the library did not
show that it refused the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Answer = dict[str, Any] | None

# What every JavaScript driver starts with, before it loads its library (a driver's
# ``require`` runs after these lines): the intrinsic its watch needs, taken before the
# graded code can replace it, the watch on the global a payload sets, and an error's name.
JS_DRIVER_HEAD = r"""
const defineProperty = Object.defineProperty;  // taken before the graded code loads

// The payloads set globalThis[token]. The setter is the driver's: the graded code can
// neither delete it (not configurable) nor reach what it recorded.
function watch(token) {
  let ran = false;
  defineProperty(globalThis, token, { configurable: false, get() {}, set() { ran = true; } });
  return () => ran;
}

function named(error) {
  try { return String((error && error.name) || error); } catch (e) { return "unnamed"; }
}
"""
TOKEN = "TOKEN"  # noqa: S105 - a placeholder: replaced in a probe's data by the drawn token


@dataclass(frozen=True)
class Probe:
    """One hidden check of a patch task."""

    name: str  # for the host only: never sent to the sandbox
    exploit: bool
    mode: str
    data: Any  # plain JSON data
    # (token, answer) -> for a functional check, whether it held; for an exploit
    # variant, whether the exploit worked. Runs on the host: never imports graded code.
    judge: Callable[[str, Answer], bool]


def with_token(data: Any, token: str) -> Any:
    """``data`` with :data:`TOKEN` replaced by ``token`` in every string (keys too)."""
    if isinstance(data, str):
        return data.replace(TOKEN, token)
    if isinstance(data, list):
        return [with_token(item, token) for item in data]
    if isinstance(data, dict):
        return {with_token(k, token): with_token(v, token) for k, v in data.items()}
    return data


def value(answer: Answer) -> tuple[bool, Any]:
    """(whether ``run`` returned, what it returned)."""
    if isinstance(answer, dict) and "value" in answer:
        return True, answer["value"]
    return False, None


def returns(expected: Any) -> Callable[[str, Answer], bool]:
    """A judge: ``run`` returned ``expected`` (with the token put in)."""

    def judge(token: str, answer: Answer) -> bool:
        returned, got = value(answer)
        return returned and got == with_token(expected, token)

    return judge
