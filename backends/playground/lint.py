"""Warnings before a sweep, from the preset's tool-calling notes and the rendered prompt.

The lore (small models call tools reliably only at low temperature, with few tools, and tiny
ones only with guided decoding) is in each family preset's ``tools:`` block; these checks hold
a playground session against it. They warn and never block: the operator may want to measure
exactly what the lore says will fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from naptha_tui.backends.presets import ToolCapabilities

from .spec import Spec

CONTEXT_SHARE_WARN = 0.25
"""Warn when the tools take more than this share of the context window."""


@dataclass(frozen=True)
class PromptTokens:
    """The rendered prompt's size on the server (vLLM ``/tokenize`` with the chat template)."""

    with_tools: int
    without_tools: int
    max_model_len: int | None

    @property
    def tools(self) -> int:
        return self.with_tools - self.without_tools


def lint(
    spec: Spec,
    caps: ToolCapabilities | None,
    tokens: PromptTokens | None = None,
    preset: str | None = None,
) -> list[str]:
    """What the session does that the model's notes or its context window advise against."""
    out: list[str] = []
    who = f"preset {preset}" if preset else "the model's preset"
    modes = spec.mode_list()
    with_tools = [m for m in modes if m.uses_tools]
    if caps is not None and with_tools:
        if len(spec.tools) > caps.tool_soft_cap:
            out.append(
                f"{len(spec.tools)} tools offered; {who} calls reliably with up to "
                f"{caps.tool_soft_cap}"
            )
        lo, hi = caps.temperature
        off = [t for t in spec.temperatures if not lo <= t <= hi]
        if off:
            out.append(
                f"temperature {', '.join(f'{t:g}' for t in off)} is outside {who}'s reliable "
                f"range [{lo:g}, {hi:g}] for tool calls"
            )
        if spec.parallel_tool_calls is not False and not caps.parallel_calls:
            out.append(
                f"parallel tool calls asked of a family without them ({who}); vLLM's default "
                "is parallel_tool_calls true: send false"
            )
        if not caps.multi_turn_tool_results and any(
            m.get("role") == "tool" for m in spec.conversation
        ):
            out.append(
                f"tool results sent to an action-only model ({who}: no multi-turn tool results)"
            )
        if caps.needs_guided_decoding and any(m.kind == "tools-auto" for m in modes):
            out.append(
                f"{who} needs guided decoding: expect few valid calls with tools-auto "
                "(use tools-required, a named tool, or --strict)"
            )
    if tokens is not None and tokens.max_model_len:
        share = tokens.tools / tokens.max_model_len
        if spec.tools and share > CONTEXT_SHARE_WARN:
            out.append(
                f"the tools take {tokens.tools} tokens, {share:.0%} of the "
                f"{tokens.max_model_len}-token context window"
            )
        if tokens.with_tools + spec.max_tokens > tokens.max_model_len:
            out.append(
                f"prompt ({tokens.with_tools} tokens) plus max_tokens ({spec.max_tokens}) "
                f"exceeds max_model_len {tokens.max_model_len}"
            )
    return out
