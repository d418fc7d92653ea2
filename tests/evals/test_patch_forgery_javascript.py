"""Patches that fix nothing and forge what the JavaScript patch grader sees, graded for real.

Each is a vulnerable release (ejs 3.1.6, handlebars 4.7.6) with code appended to a file
``require`` loads, so that it runs inside every check. Under the old shape (the sandbox
ran one named check function and printed its boolean) the first one passed: the call
stack named the check (``exploit_view_options``), so the patch printed
``{"value": false}`` for an exploit and ``{"value": true}`` otherwise, and exited. Now
the stack names only the driver's ``run``, and the host judges what was answered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prereview.evals.realworld.cases import case_by_id
from prereview.evals.realworld.grading import (
    RealVerdict,
    every_check,
    grade_real_patch,
    probes_of,
)
from prereview.evals.realworld.tasks import _tree

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
EJS = ("js-ejs-view-options-rce", "lib/ejs.js")
HANDLEBARS = ("js-handlebars-compat-rce", "lib/index.js")  # `handlebars` is the instance

# prints a result line of its own from inside the library and exits before the harness can
_PRINT_AND_EXIT = """
function forge(line) {
  require("fs").writeSync(1, "prereview-grader: " + line + "\\n");
  process.exit(0);
}
for (const name of ["render", "renderFile", "compile"]) {
  exports[name] = function () { forge(ANSWER); };
}
"""
# the old shape's forgery: the verdict each check wanted, told apart by the call stack
STACK_VERDICT = _PRINT_AND_EXIT.replace(
    "ANSWER",
    """/exploit_/.test(String(new Error().stack)) ? '{"value": false}' : '{"value": true}'""",
)
# the best answer a forger can print without rendering: an ejs refusal, in both modes' shapes
REFUSAL = _PRINT_AND_EXIT.replace(
    "ANSWER",
    """'{"value": {"results": [{"html": null, "error": "Error"}], "html": null,'"""
    """ + ' "error": "Error", "ran": false}}'""",
)
# renders as 4.7.6 does, then deletes every global named like a grading token
HIDE_THE_GLOBAL = """
function hide() {
  for (const key of Object.getOwnPropertyNames(globalThis)) {
    try { if (/^t[0-9a-f]{16}$/.test(key)) delete globalThis[key]; } catch (error) { /* kept */ }
  }
}
for (const env of [handlebars, handlebars.create()]) {
  const realCompile = env.compile;
  env.compile = function (...args) {
    const template = realCompile.apply(this, args);
    return function (...data) {
      try { return template.apply(this, data); } finally { hide(); }
    };
  };
}
"""
# renders as the release does; rewrites every answer line to say that no payload ran
REWRITE_THE_ANSWER = """
const realWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) =>
  realWrite(String(chunk).replace(/"ran":true/g, '"ran":false'), ...rest);
"""
# makes the harness await a plain answer, then rewrites it through a `then` that is gone
# by the time the harness looks for one
AWAITED_THEN = """
Object.defineProperty(Promise, Symbol.hasInstance, { value: () => true });
Object.defineProperty(Object.prototype, "then", {
  configurable: true,
  get() {
    delete Object.prototype.then;
    if (!this || this.ran !== true) return undefined;
    const answer = this;
    return (resolve) => resolve(Object.assign({}, answer, { ran: false }));
  },
});
"""
# blinds the harness's look for a toJSON (it calls prototypes.some), then rewrites with one
BLIND_TOJSON = """
Array.prototype.some = function () { return false; };
Object.defineProperty(Object.prototype, "toJSON", {
  configurable: true,
  writable: true,
  value: function () { return this.ran === true ? Object.assign({}, this, { ran: false }) : this; },
});
"""


def _graded(
    target: tuple[str, str], forgery: str, plan: list[tuple[str, int]] | None = None
) -> RealVerdict:
    case_id, source = target
    case = case_by_id(case_id)
    tree = _tree(case)
    patched = {**tree, source: tree[source] + b"\n// the patch\n" + forgery.encode()}
    plan = every_check(case) if plan is None else plan
    return asyncio.run(grade_real_patch(case, patched, plan=plan, with_suite=False))


@needs_bwrap
@pytest.mark.parametrize("forgery", [STACK_VERDICT, REFUSAL], ids=["stack_verdict", "refusal"])
def test_a_patch_that_prints_its_own_answer_does_not_pass(forgery: str) -> None:
    verdict = _graded(EJS, forgery)
    assert not verdict.passed, verdict.explanation
    # no answer it can print without rendering is the right output for a fresh token
    assert verdict.functional_passed == 0, verdict.explanation


@needs_bwrap
def test_deleting_the_payloads_global_does_not_hide_that_it_ran() -> None:
    # helper_argument's payload shows only in the global (#if renders no value of it)
    verdict = _graded(HANDLEBARS, HIDE_THE_GLOBAL)
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total == 4, verdict.explanation


@needs_bwrap
def test_rewriting_the_answers_flag_does_not_hide_a_payload_in_the_output() -> None:
    # every ejs payload also writes the token reversed into what it renders
    verdict = _graded(EJS, REWRITE_THE_ANSWER)
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total, verdict.explanation


def _only_in_the_flag() -> list[tuple[str, int]]:
    """Both functional checks of the handlebars case and the one exploit variant whose
    payload shows only in the driver's ``ran`` flag (``#if`` renders no value of it)."""
    exploits = [p.name for p in probes_of(case_by_id(HANDLEBARS[0]), "exploit")]
    return [("functional", 0), ("functional", 1), ("exploit", exploits.index("helper_argument"))]


@needs_bwrap
def test_rewriting_process_stdout_does_not_reach_the_answer() -> None:
    verdict = _graded(HANDLEBARS, REWRITE_THE_ANSWER, _only_in_the_flag())
    assert verdict.functional_passed == verdict.functional_total, verdict.explanation
    assert verdict.exploited == verdict.exploit_total == 1, verdict.explanation


@needs_bwrap
@pytest.mark.parametrize("forgery", [AWAITED_THEN, BLIND_TOJSON], ids=["awaited_then", "toJSON"])
def test_rewriting_every_answer_through_the_harness_does_not_pass(forgery: str) -> None:
    # the harness takes its writer, promise test and serialiser's intrinsics before the
    # library loads and calls no prototype method: these rewrites reach nothing of the answer
    verdict = _graded(HANDLEBARS, forgery, _only_in_the_flag())
    assert not verdict.passed, verdict.explanation
