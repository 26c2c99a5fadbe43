"""What the operator asks the playground for, checked before anything is sent.

A :class:`Spec` is one playground session: model, conversation, tools, mode, temperatures and
samples. :func:`check` returns every problem at once, each naming its field, and nothing is
sent while there is one. :func:`request_body` builds the chat completion for one sample in
today's shapes: ``response_format`` and vLLM's ``structured_outputs``, never the removed
``guided_*`` fields (vLLM ≥ 0.12 accepts those with 200 and silently ignores them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from naptha_tui.backends.runs.fields import MAX_TEMPERATURE, Problem

from .defaults import MAX_TOKENS, SAMPLES, TEMPERATURES

ModeKind = Literal[
    "plain",
    "tools-auto",
    "tools-required",
    "tool",
    "json_object",
    "json_schema",
    "regex",
    "choice",
    "grammar",
]
MODE_KINDS: tuple[ModeKind, ...] = get_args(ModeKind)
MODE_NAMES = (*(k for k in MODE_KINDS if k != "tool"), "tool:NAME")
TOOL_MODES = ("tools-auto", "tools-required", "tool")
SESSION_KEYS = frozenset(
    {"model", "messages", "stream", "stream_options", "logprobs", "return_tokens_as_token_ids"}
)
"""Request keys ``extra_body`` may not override: the sweep and its raw text depend on them."""
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class Mode:
    """A mode name parsed: ``tool:get_weather`` is kind ``tool`` with tool ``get_weather``."""

    kind: ModeKind
    tool: str | None = None

    @classmethod
    def parse(cls, name: str) -> Mode:
        """``name`` as a Mode; ValueError naming the valid ones for anything else."""
        if name.startswith("tool:") and name[5:]:
            return cls("tool", name[5:])
        if name in MODE_KINDS and name != "tool":
            return cls(name)
        raise ValueError(f"unknown mode {name!r} (one of: {', '.join(MODE_NAMES)})")

    def __str__(self) -> str:
        return f"tool:{self.tool}" if self.kind == "tool" else self.kind

    @property
    def uses_tools(self) -> bool:
        return self.kind in TOOL_MODES


class Spec(BaseModel):
    """One playground session; saved as YAML with these keys."""

    model_config = ConfigDict(extra="forbid")

    model: str = ""
    system: str = ""
    prompt: str = ""
    """The last user message (after ``conversation``)."""
    conversation: list[dict[str, Any]] = []
    """Earlier turns the operator wrote (user, assistant with ``tool_calls``, ``tool`` results),
    to test multi-turn tool use; OpenAI message objects."""
    tools: list[dict[str, Any]] = []
    """OpenAI tools: ``{"type": "function", "function": {"name", "description", "parameters"}}``."""
    modes: list[str] = ["plain"]
    """One or more mode names (``MODE_NAMES``); the sweep runs each at each temperature."""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    regex: str | None = None
    choice: list[str] = []
    grammar: str | None = None
    strict: bool = False
    """``"strict": true`` on every tool (and on a json_schema): vLLM then guides the arguments."""
    parallel_tool_calls: bool | None = None
    temperatures: list[float] = list(TEMPERATURES)
    samples: int = SAMPLES
    max_tokens: int = MAX_TOKENS
    seed: int | None = None
    """Sample ``i`` is sent with seed ``seed + i``, so each can be reproduced alone."""
    stream: bool = False
    expect_tool: str | None = None
    """The tool a right answer calls: samples then also count as right or wrong tool."""
    extra_body: dict[str, Any] = {}
    """More request fields, merged last (``top_p``, ``chat_template_kwargs``, a
    ``structured_outputs`` regex that forces a tool mode's text into a parser's format)."""

    def messages(self) -> list[dict[str, Any]]:
        """The conversation as sent: system, the earlier turns, then the prompt."""
        out: list[dict[str, Any]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out += self.conversation
        if self.prompt:
            out.append({"role": "user", "content": self.prompt})
        return out

    def mode_list(self) -> list[Mode]:
        """The modes, parsed (call after :func:`check` found no problem)."""
        return [Mode.parse(m) for m in self.modes]

    def tool_names(self) -> list[str]:
        return [str(t.get("function", {}).get("name", "")) for t in self.tools]

    def tool_schema(self, name: str) -> dict[str, Any] | None:
        """The parameters schema of tool ``name`` (None when no tool has that name)."""
        for t in self.tools:
            fn = t.get("function", {})
            if fn.get("name") == name:
                params: dict[str, Any] = fn.get("parameters") or {"type": "object"}
                return params
        return None


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (its meta-schema says), or None."""
    if not isinstance(schema, dict):
        return "must be a JSON object (a JSON Schema)"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"not a valid JSON Schema: {exc.message}" + (f" (at {where})" if where else "")
    return None


def tools_problems(tools: Any, field: str = "tools") -> list[Problem]:
    """What is wrong with a tools list, each problem naming the tool and key."""
    if not isinstance(tools, list):
        return [Problem(field, "must be a JSON list of tools")]
    out: list[Problem] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        at = f"{field}[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            out.append(Problem(at, 'must be {"type": "function", "function": {...}}'))
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict):
            out.append(Problem(f"{at}.function", "missing or not an object"))
            continue
        name = fn.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            out.append(Problem(f"{at}.function.name", "1-64 letters, digits, _ . or -"))
        elif name in seen:
            out.append(Problem(f"{at}.function.name", f"{name!r} is defined twice"))
        else:
            seen.add(name)
            at = f"{field}[{name}]"
        if "parameters" in fn:
            why = schema_problem(fn["parameters"])
            if why:
                out.append(Problem(f"{at}.function.parameters", why))
    return out


def parse_tools(text: str, field: str = "tools") -> tuple[list[dict[str, Any]], list[Problem]]:
    """Tools from JSON text (the editor, a ``--tools`` file); a bare function is wrapped."""
    if not text.strip():
        return [], []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [Problem(field, f"not JSON: {exc.msg} at line {exc.lineno} col {exc.colno}")]
    if isinstance(doc, dict):
        doc = [doc]
    if isinstance(doc, list):
        doc = [
            {"type": "function", "function": t}
            if isinstance(t, dict) and "name" in t and "type" not in t
            else t
            for t in doc
        ]
    problems = tools_problems(doc, field)
    return (doc if not problems else []), problems


def check(spec: Spec, served: list[str] | None = None) -> list[Problem]:
    """Every problem with ``spec`` (empty: ready to send).

    Args:
        spec: the session.
        served: the models the proxy serves; None skips that check (nothing to ask).
    """
    out: list[Problem] = []
    if not spec.model:
        out.append(Problem("model", "required"))
    elif served is not None and spec.model not in served:
        out.append(
            Problem(
                "model",
                f"{spec.model!r} is not served by the proxy "
                f"(it serves: {', '.join(served) or 'nothing yet'})",
            )
        )
    if not spec.messages():
        out.append(Problem("prompt", "required (or a conversation)"))
    for i, m in enumerate(spec.conversation):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "tool", "system"):
            out.append(Problem(f"conversation[{i}]", "a message with role user/assistant/tool"))
        elif m["role"] == "tool" and not m.get("tool_call_id"):
            out.append(Problem(f"conversation[{i}].tool_call_id", "a tool result needs it"))
    out += tools_problems(spec.tools)
    if not spec.modes:
        out.append(Problem("mode", "at least one"))
    for name in {m for m in spec.modes if spec.modes.count(m) > 1}:
        out.append(Problem("mode", f"{name} given twice"))
    for name in dict.fromkeys(spec.modes):
        try:
            out += _mode_problems(spec, Mode.parse(name))
        except ValueError as exc:
            out.append(Problem("mode", str(exc)))
    if spec.expect_tool and spec.expect_tool not in spec.tool_names():
        out.append(
            Problem(
                "expect_tool",
                f"no tool named {spec.expect_tool!r} (tools: {', '.join(spec.tool_names())})",
            )
        )
    if not spec.temperatures:
        out.append(Problem("temperatures", "at least one"))
    for t in spec.temperatures:
        if not 0 <= t <= MAX_TEMPERATURE:
            out.append(Problem("temperatures", f"{t:g} is out of range [0, {MAX_TEMPERATURE:g}]"))
    if not 1 <= spec.samples <= MAX_SAMPLES:
        out.append(Problem("samples", f"{spec.samples} is out of range [1, {MAX_SAMPLES}]"))
    if spec.max_tokens < 1:
        out.append(Problem("max_tokens", "at least 1"))
    if spec.seed is not None and spec.seed < 0:
        out.append(Problem("seed", "0 or more"))
    for key in spec.extra_body:
        if key in SESSION_KEYS:
            out.append(
                Problem(f"extra_body.{key}", "set by the session itself (use its own field)")
            )
        elif key.startswith("guided_"):
            out.append(
                Problem(
                    f"extra_body.{key}",
                    "removed in vLLM 0.12 (accepted and silently ignored): use "
                    "structured_outputs or response_format",
                )
            )
    return out


def _mode_problems(spec: Spec, mode: Mode) -> list[Problem]:
    out: list[Problem] = []
    if mode.uses_tools and not spec.tools:
        out.append(Problem("tools", f"mode {mode} needs at least one tool"))
    if mode.kind == "tool" and spec.tools and mode.tool not in spec.tool_names():
        out.append(
            Problem("mode", f"no tool named {mode.tool!r} (tools: {', '.join(spec.tool_names())})")
        )
    if mode.kind == "json_schema":
        why = "required for mode json_schema" if spec.schema_ is None else None
        why = why or schema_problem(spec.schema_)
        if why:
            out.append(Problem("schema", why))
    if mode.kind == "regex":
        if not spec.regex:
            out.append(Problem("regex", "required for mode regex"))
        else:
            try:
                re.compile(spec.regex)
            except re.error as exc:
                out.append(Problem("regex", f"invalid: {exc}"))
    if mode.kind == "choice" and not [c for c in spec.choice if c]:
        out.append(Problem("choice", "needs at least one non-empty choice"))
    if mode.kind == "grammar" and not (spec.grammar or "").strip():
        out.append(Problem("grammar", "required for mode grammar"))
    return out


def parse_temperatures(text: str) -> list[float]:
    """``"0, 0.7"`` as numbers; ValueError naming the piece that is not one."""
    out = []
    for piece in text.replace(" ", "").split(","):
        if not piece:
            continue
        try:
            out.append(float(piece))
        except ValueError:
            raise ValueError(f"{piece!r} is not a number") from None
    return out


def sample_seed(spec: Spec, index: int) -> int | None:
    return None if spec.seed is None else spec.seed + index


def request_body(
    spec: Spec, mode: Mode, temperature: float, index: int = 0, raw_ids: bool = False
) -> dict[str, Any]:
    """The chat completion for sample ``index`` of ``mode`` at ``temperature``.

    Args:
        spec: the session.
        mode: one of its modes.
        temperature: one of its temperatures.
        index: the sample's number (its seed is the session's seed plus this).
        raw_ids: ask for the generated tokens as ids (``return_tokens_as_token_ids``, a vLLM
            extra) to detokenize exactly on the server; else as the strings vLLM decoded.
    """
    body: dict[str, Any] = {
        "model": spec.model,
        "messages": spec.messages(),
        "temperature": temperature,
        "max_tokens": spec.max_tokens,
        # the generated tokens themselves, before any parser: the sample's raw text
        "logprobs": True,
    }
    if raw_ids:
        body["return_tokens_as_token_ids"] = True
    seed = sample_seed(spec, index)
    if seed is not None:
        body["seed"] = seed
    if spec.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if mode.uses_tools:
        tools = [
            {**t, "function": {**t["function"], "strict": True}} if spec.strict else t
            for t in spec.tools
        ]
        body["tools"] = tools
        if mode.kind == "tools-auto":
            body["tool_choice"] = "auto"
        elif mode.kind == "tools-required":
            body["tool_choice"] = "required"
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": mode.tool}}
        if spec.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = spec.parallel_tool_calls
    if mode.kind == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif mode.kind == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "playground", "schema": spec.schema_, "strict": spec.strict},
        }
    elif mode.kind == "regex":
        body["structured_outputs"] = {"regex": spec.regex}
    elif mode.kind == "choice":
        body["structured_outputs"] = {"choice": [c for c in spec.choice if c]}
    elif mode.kind == "grammar":
        body["structured_outputs"] = {"grammar": spec.grammar}
    return body | spec.extra_body
