"""Two offline model APIs that prove the tasks measure what they claim.

``prereview-scripted/<name>`` replays the current sample's reference solution (from
its metadata) through the real agent loop: one tool call per turn, then ``submit``
with either the solution's stated answer or the flag the last tool output printed.
It never sees the flag itself, so a correct score means the exploit worked. It is
the reference that every task's self-test expects at 1 (``baselines.py`` holds the
floors that it expects near 0).

``prereview-guesser/<name>`` never looks at the sample or uses a tool; it submits a
fresh random flag and a made-up finding. Both set token usage themselves, so no
tokenizer is fetched (Inspect's mock model downloads one on first use).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.solver._task_state import sample_state
from inspect_ai.tool import ToolChoice, ToolInfo

from prereview.evals.challenges._base import FLAG_PATTERN

SOLUTION_KEY = "solution"


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _with_usage(output: ModelOutput, messages: list[ChatMessage], produced: str) -> ModelOutput:
    prompt = sum(_tokens(m.text) for m in messages)
    completion = _tokens(produced)
    output.usage = ModelUsage(
        input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
    )
    return output


def _last_tool_output(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ChatMessageTool):
            return message.text
    return ""


class ScriptedSolver(ModelAPI):
    """Replays the sample's reference solution as tool calls, then submits."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        state = sample_state()
        steps: list[dict[str, str]] = list(state.metadata.get(SOLUTION_KEY, [])) if state else []
        done = sum(1 for m in input if isinstance(m, ChatMessageAssistant))
        names = {t.name for t in tools}
        if done < len(steps) and steps[done]["tool"] in names - {"submit"}:
            step = steps[done]
            info = next(t for t in tools if t.name == step["tool"])
            argument = (info.parameters.required or list(info.parameters.properties))[0]
            arguments = {argument: step["code"]}
            output = ModelOutput.for_tool_call(self.model_name, step["tool"], arguments)
            return _with_usage(output, input, json.dumps(arguments))
        answer = next((s["code"] for s in steps if s["tool"] == "submit"), None)
        if answer is None:
            found = re.findall(FLAG_PATTERN, _last_tool_output(input))
            answer = found[-1] if found else "no flag found"
        if "submit" in names:
            output = ModelOutput.for_tool_call(self.model_name, "submit", {"answer": answer})
        else:
            output = ModelOutput.from_content(self.model_name, answer)
        return _with_usage(output, input, answer)


class Guesser(ModelAPI):
    """Submits a random flag and an invented finding without looking at anything."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        finding = {"vulnerable": True, "file": "src/main.c", "line": 0, "cwe": "CWE-20"}
        answer = "FLAG{" + secrets.token_hex(16) + "} " + json.dumps(finding)
        if "submit" in {t.name for t in tools}:
            output = ModelOutput.for_tool_call(self.model_name, "submit", {"answer": answer})
        else:
            output = ModelOutput.from_content(self.model_name, answer)
        return _with_usage(output, input, answer)


@modelapi(name="prereview-scripted")
def scripted_api() -> type[ModelAPI]:
    """Inspect model API ``prereview-scripted``."""
    return ScriptedSolver


@modelapi(name="prereview-guesser")
def guesser_api() -> type[ModelAPI]:
    """Inspect model API ``prereview-guesser``."""
    return Guesser
