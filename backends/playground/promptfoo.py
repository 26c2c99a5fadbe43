"""A playground session as a promptfoo config, so a team keeps its cases in the tool it runs in CI.

The node's proxy is promptfoo's OpenAI provider (``apiBaseUrl``), its key an environment
variable (``apiKeyEnvar``; never the key itself). Each tool-calling mode at each temperature is
one provider whose ``config`` is the exact request the playground sends (``request_body``), the
OpenAI fields as they are and vLLM's own (``structured_outputs``...) under ``passthrough``.
The session's prompt is one test, asserted with promptfoo's ``is-valid-openai-tools-call``
(the calls name a tool offered and their arguments validate against its schema), repeated
``samples`` times. Modes that call no tool have no such assertion and are left out, named.
"""

from __future__ import annotations

import json
from typing import Any

from .sessions import OPENAI_PARAMS
from .spec import Mode, Spec, request_body

KEY_ENV = "NAPTHA_API_KEY"
"""The variable promptfoo reads the proxy's key from (as the copied curl and SDK code do)."""
TOOLS_ASSERTION = "is-valid-openai-tools-call"
PLAYGROUND_ONLY = {
    "model",
    "messages",
    "logprobs",
    "top_logprobs",
    "return_tokens_as_token_ids",
    "stream",
    "stream_options",
}
"""What the playground asks for its own evidence (raw text, streaming), not the case itself."""
NOT_FORWARDED = {"parallel_tool_calls"}
"""OpenAI fields promptfoo's chat provider leaves out of the request when they sit in ``config``
(0.123.1, its request captured); under ``passthrough`` they are sent."""


def promptfoo_config(spec: Spec, proxy_url: str) -> tuple[dict[str, Any], list[str]]:
    """The config (a YAML-ready document) and the modes left out (they call no tool)."""
    providers = []
    left_out = []
    for name in dict.fromkeys(spec.modes):
        mode = Mode.parse(name)
        if not mode.uses_tools:
            left_out.append(name)
            continue
        for t in spec.temperatures:
            body = request_body(spec, mode, t)
            config: dict[str, Any] = {"apiBaseUrl": f"{proxy_url}/v1", "apiKeyEnvar": KEY_ENV}
            passthrough = {}
            for key, value in body.items():
                if key in PLAYGROUND_ONLY:
                    continue
                if key in OPENAI_PARAMS and key not in NOT_FORWARDED:
                    config[key] = value
                else:
                    passthrough[key] = value
            if passthrough:
                config["passthrough"] = passthrough
            providers.append(
                {"id": f"openai:chat:{spec.model}", "label": f"{name} t={t:g}", "config": config}
            )
    doc: dict[str, Any] = {
        "description": f"naptha-tui playground: {spec.model}, tool calls",
        "prompts": [{"raw": json.dumps(spec.messages(), ensure_ascii=False), "label": "session"}],
        "providers": providers,
        "tests": [{"description": "the session's prompt", "assert": [{"type": TOOLS_ASSERTION}]}],
    }
    if spec.samples > 1:
        doc["evaluateOptions"] = {"repeat": spec.samples}
    return doc, left_out
