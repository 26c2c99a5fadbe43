"""Where a sample's tool call broke: template, model, parser, proxy, stream (client) or none.

:class:`Evidence` holds what one sample looked like at each layer: the prompt the server
rendered (vLLM's ``/tokenize`` with the messages and tools, detokenized) and its token count
against ``max_model_len``; the model's raw text (logprobs, ``/detokenize``); the server's
parsed answer asked directly; the same request through the proxy; and the same request
streamed through the proxy, reassembled as the OpenAI SDK does (:func:`reassemble`), and
streamed from the server directly (the server parser's streaming answer).
:func:`attribute` walks the layers in that order and names the first one where the evidence
parts, with one line saying why. It is a pure judgement: the extra requests that evidence needs
are made by :func:`~naptha_tui.backends.playground.explain.gather`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from naptha_tui.backends import toolcalls

from .judge import FAMILIES, check_calls
from .spec import Mode, Spec

Layer = Literal["template", "model", "parser", "proxy", "stream", "none"]
LAYERS: tuple[Layer, ...] = ("template", "model", "parser", "proxy", "stream", "none")


@dataclass(frozen=True)
class Answer:
    """One answer as a client sees it: content and OpenAI-shaped tool calls (or an error)."""

    content: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One sample at each layer; a part left None was not gathered and is not judged."""

    prompt: str | None = None
    """The prompt the server rendered for the request (messages and tools)."""
    prompt_tokens: int | None = None
    max_model_len: int | None = None
    max_tokens: int | None = None
    template_problems: tuple[str, ...] = ()
    """The project's render check of the preset's template (``presets check``)."""
    raw: str | None = None
    """The model's own text, before any parser."""
    finish_reason: str | None = None
    """Why the sample's generation stopped (``length``: it ran out of ``max_tokens``)."""
    server_parser: str | None = None
    direct: Answer | None = None
    """The server's answer, asked directly (its parser's ``tool_calls``)."""
    proxied: Answer | None = None
    streamed: Answer | None = None
    """Streamed through the proxy, the deltas reassembled as the OpenAI SDK does."""
    streamed_direct: Answer | None = None
    """Streamed from the server directly (its parser's streaming answer), reassembled so."""


@dataclass(frozen=True)
class Attribution:
    layer: Layer
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"layer": self.layer, "layer_reason": self.reason}


# -- reassembly ---------------------------------------------------------------------------------


def reassemble(chunks: Iterable[dict[str, Any]]) -> Answer:
    """A stream's chunks as the OpenAI SDK's ``ChatCompletionStreamState`` accumulates them.

    Tool-call deltas are keyed by ``index``; every string field of a call (``id``, ``name``,
    ``arguments``) is concatenated across deltas, ``type`` is set; content is concatenated.
    A proxy that repeats a name in each delta therefore yields a doubled name, as it does in
    the SDK. An ``error`` chunk ends the answer with that error.
    """
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk.get("error"):
            err = chunk["error"]
            msg = err.get("message", err) if isinstance(err, dict) else err
            return Answer("".join(content) or None, _ordered(calls), f"error in the stream: {msg}")
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                content.append(delta["content"])
            for d in delta.get("tool_calls") or []:
                call = calls.setdefault(d.get("index", 0), {"function": {}})
                for key in ("id", "type"):
                    if d.get(key) is not None:
                        call[key] = d[key] if key == "type" else call.get(key, "") + d[key]
                fn = d.get("function") or {}
                for key in ("name", "arguments"):
                    if fn.get(key) is not None:
                        call["function"][key] = call["function"].get(key, "") + fn[key]
    return Answer("".join(content) or None, _ordered(calls))


def _ordered(calls: dict[int, dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(calls[i] for i in sorted(calls))


# -- attribution --------------------------------------------------------------------------------


def _args(arguments: Any) -> Any:
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return arguments


def _key(calls: Sequence[dict[str, Any]]) -> list[tuple[Any, str]]:
    """Calls compared by name and parsed arguments (ids and JSON spacing differ freely)."""
    out = []
    for c in calls:
        fn = c.get("function") or {}
        out.append((fn.get("name"), json.dumps(_args(fn.get("arguments")), sort_keys=True)))
    return out


def _text(calls: Sequence[dict[str, Any]] | Sequence[tuple[Any, str]]) -> str:
    if not calls:
        return "no call"
    pairs = calls if isinstance(calls[0], tuple) else _key(calls)  # type: ignore[arg-type]
    return ", ".join(f"{n}({a})" for n, a in pairs)


def _same(a: Answer, b: Answer) -> str | None:
    """Why two answers differ (None when they agree)."""
    if _key(a.tool_calls) != _key(b.tool_calls):
        return f"{_text(a.tool_calls)} against {_text(b.tool_calls)}"
    if (a.content or "").strip() != (b.content or "").strip():
        return f"content {json.dumps(a.content)[:80]} against {json.dumps(b.content)[:80]}"
    return None


@dataclass(frozen=True)
class RawCalls:
    family: str
    parser: str
    """The parser (ours where one reads it) whose reading is reported."""
    parsers: tuple[str, ...]
    calls: tuple[tuple[str, str], ...]


def raw_calls(raw: str) -> RawCalls | None:
    """The calls in the raw text in the first family format that our parsers read."""
    for family in FAMILIES:
        if not family.marker.search(raw):
            continue
        for name in family.parsers:
            if name in toolcalls.FORMATS:
                text = raw.split("[TOOL_CALLS]", 1)[-1]
                got = toolcalls.parse(name, text).calls
                if got:
                    calls = tuple((c.name, c.arguments) for c in got)
                    return RawCalls(family.name, name, family.parsers, calls)
    return None


def _template(spec: Spec, mode: Mode, ev: Evidence) -> str | None:
    if ev.template_problems:
        return f"the preset's template fails the render check: {ev.template_problems[0]}"
    if ev.prompt_tokens is not None and ev.max_model_len:
        room = ev.max_model_len - ev.prompt_tokens
        if room <= 0 or (ev.max_tokens is not None and room < ev.max_tokens):
            return (
                f"the rendered prompt is {ev.prompt_tokens} tokens of max_model_len "
                f"{ev.max_model_len}: {max(room, 0)} left for max_tokens {ev.max_tokens}"
            )
    if ev.prompt is None or not mode.uses_tools:
        return None
    for tool in spec.tools:
        fn = tool.get("function") or {}
        name = fn.get("name", "")
        if name not in ev.prompt:
            return f"the rendered prompt does not hold tool {name!r}: the template dropped tools"
        params = ((fn.get("parameters") or {}).get("properties") or {}).keys()
        missing = [p for p in params if p not in ev.prompt]
        if missing:
            return (
                f"the rendered prompt holds {name!r} but not its parameter(s) "
                f"{', '.join(missing)}: the template renders tools incompletely"
            )
    return None


def attribute(spec: Spec, mode: Mode, ev: Evidence) -> Attribution:
    """The first layer where the evidence parts, with one line saying why."""
    why = _template(spec, mode, ev)
    if why:
        return Attribution("template", why)
    direct = ev.direct if ev.direct is not None and not ev.direct.error else ev.proxied
    found = raw_calls(ev.raw) if ev.raw is not None else None
    if mode.uses_tools and ev.raw is not None and found is None:
        if ev.finish_reason == "length":
            return Attribution(
                "model",
                f"the model ran out of max_tokens ({ev.max_tokens}) before its call was "
                f"complete; raise max_tokens ({json.dumps(ev.raw)[:60]})",
            )
        return Attribution(
            "model",
            f"the raw text holds no call in any known format ({json.dumps(ev.raw)[:80]})",
        )
    if found is not None and mode.uses_tools:
        calls = [
            {"function": {"name": n, "arguments": a}, "type": "function"} for n, a in found.calls
        ]
        checked = check_calls(spec, mode, calls)
        if direct is not None and _key(direct.tool_calls) != _key(calls):
            runs = ev.server_parser
            reads = None if runs is None else runs in found.parsers
            if runs in toolcalls.FORMATS:
                reads = bool(toolcalls.parse(runs, ev.raw or "").calls)
            server = (
                "the server's parser is not known here"
                if runs is None
                else f"the server runs {runs}"
                + ("" if reads else f", which does not read {found.family} calls")
            )
            what = "lack" if not direct.tool_calls else f"differ from ({_text(direct.tool_calls)})"
            return Attribution(
                "parser",
                f"the raw text holds a {found.family} call {_text(found.calls)} that the "
                f"server's tool_calls {what}; {found.parser} reads it; {server}",
            )
        if not checked.valid:
            return Attribution(
                "model", f"the model's call does not validate: {'; '.join(checked.problems)}"
            )
    ok_direct = ev.direct is not None and not ev.direct.error
    if ok_direct and ev.streamed_direct is not None and ev.direct is not None:
        diff = ev.streamed_direct.error or _same(ev.direct, ev.streamed_direct)
        if diff:
            runs = ev.server_parser or "a parser not known here"
            return Attribution(
                "parser",
                f"the server's parser ({runs}) answers differently streamed: {diff}",
            )
    if ev.direct is not None and not ev.direct.error and ev.proxied is not None:
        diff = _same(ev.direct, ev.proxied)
        if ev.proxied.error:
            diff = f"the proxy answered an error: {ev.proxied.error}"
        if diff:
            return Attribution("proxy", f"the server directly and the proxy differ: {diff}")
    if ev.proxied is not None and ev.streamed is not None:
        diff = _same(ev.proxied, ev.streamed)
        if ev.streamed.error:
            diff = ev.streamed.error
        if diff:
            where = (
                "; streamed from the server directly it agrees: the proxy's stream translation"
                if ok_direct and ev.streamed_direct is not None
                else ""
            )
            return Attribution(
                "stream",
                "streamed through the proxy (deltas reassembled as the OpenAI SDK does) and "
                f"non-streamed answers differ: {diff}{where}",
            )
    answer = ev.proxied or ev.direct
    if mode.uses_tools and answer is not None:
        checked = check_calls(spec, mode, answer.tool_calls)
        if not checked.valid:
            return Attribution("model", "; ".join(checked.problems))
        return Attribution("none", "every layer agrees and the call validates")
    return Attribution("none", "every layer gathered agrees")


__all__ = [
    "LAYERS",
    "Answer",
    "Attribution",
    "Evidence",
    "Layer",
    "attribute",
    "raw_calls",
    "reassemble",
]
