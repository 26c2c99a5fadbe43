"""Ollama's wire format as the fake daemon sends it: recorded bodies and Go's encodings.

Every body the fake sends is built from :data:`EXAMPLES` (one place), each example copied from the
section of ``ollama:docs/api.md`` named next to it, with the fields the docs leave out taken from
the Go structs (``ollama:api/types.go``) and the statuses and error texts from the handlers
(``ollama:server/routes.go``, ``server/images.go``, ``server/download.go``), read at
ollama/ollama fb30760 (2026-08-21). Times and durations are written and read as Go does.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any

VERSION = "0.13.5"
DOC_ZONE = timezone(timedelta(hours=-7))
"""The docs' timestamps carry the daemon's local zone (``-07:00``); Go marshals it as is."""
FOREVER = timedelta(microseconds=(2**63 - 1) // 1000)
"""``keep_alive: -1`` becomes ``time.Duration(math.MaxInt64)`` (api/types.go Duration), so the
expiry lands ~292 years ahead; ``ollama ps`` shows "Forever" past 20 years."""
DEFAULT_KEEP_ALIVE = timedelta(minutes=5)


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


EXAMPLES: dict[str, Any] = {
    # docs/api.md "Version" (routes.go: gin.H{"version": version.Version})
    "version": {"version": VERSION},
    # docs/api.md "List Local Models": one entry of models[] (api/types.go ListModelResponse)
    "tags_model": {
        "name": "llama3.2:latest",
        "model": "llama3.2:latest",
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    },
    # docs/api.md "List Running Models": one entry of models[]; context_length from
    # api/types.go ProcessModelResponse (set by PsHandler), not in the docs' example
    "ps_model": {
        "name": "mistral:latest",
        "model": "mistral:latest",
        "size": 5137025024,
        "digest": "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "7.2B",
            "quantization_level": "Q4_0",
        },
        "expires_at": "2024-06-04T14:38:31.83753-07:00",
        "size_vram": 5137025024,
        "context_length": 4096,
    },
    # docs/api.md "Pull a Model", in the order server/images.go PullModel sends them; a layer's
    # status is "pulling " + digest[7:19] (server/download.go), "completed" is omitted until the
    # first byte (omitempty); "removing unused layers" only when an older copy left layers
    "pull_manifest": {"status": "pulling manifest"},
    "pull_layer": {
        "status": "pulling digestname",
        "digest": "digestname",
        "total": 2142590208,
        "completed": 241970,
    },
    "pull_tail": [
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ],
    # server/images.go PullModel: fmt.Errorf("pull model manifest: %s", err) for a name the
    # registry lacks (cmd/cloud_suggest.go quotes it); streamResponse has already written the
    # manifest line, so it arrives as a last NDJSON line with HTTP 200
    "pull_unknown_error": {"error": "pull model manifest: file does not exist"},
    # docs/api.md "Generate a completion" > "Load a model"; done_reason "load" from routes.go
    # GenerateHandler (api.GenerateResponse: response has no omitempty, done_reason has)
    "load": {
        "model": "llama3.2",
        "created_at": "2023-12-18T19:52:07.071755Z",
        "response": "",
        "done": True,
        "done_reason": "load",
    },
    # docs/api.md "Generate a completion" > "Unload a model"
    "unload": {
        "model": "llama3.2",
        "created_at": "2024-09-12T03:54:03.516566Z",
        "response": "",
        "done": True,
        "done_reason": "unload",
    },
    # docs/api.md "Generate a completion" > "Request (No streaming)", metrics shortened
    "generate": {
        "model": "llama3.2",
        "created_at": "2023-08-04T19:22:45.499127Z",
        "response": "The sky is blue because it is the color of the sky.",
        "done": True,
        "done_reason": "stop",
        "total_duration": 5043500667,
        "load_duration": 5025959,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 325953000,
        "eval_count": 290,
        "eval_duration": 4709213000,
    },
    # docs/api.md "Generate a chat completion" > "Chat request (No streaming)"
    "chat": {
        "model": "llama3.2",
        "created_at": "2023-12-12T14:13:43.416799Z",
        "message": {"role": "assistant", "content": "Hello! How are you today?"},
        "done": True,
        "done_reason": "stop",
        "total_duration": 5191566416,
        "load_duration": 2154458,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 383809000,
        "eval_count": 298,
        "eval_duration": 4799921000,
    },
    # docs/api.md "Chat request (No streaming, with tools)"; the call's "id" and
    # function.index from api/types.go ToolCall / ToolCallFunction (routes.go toolCallId)
    "chat_tool_calls": {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:32:53.844124Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_k3h7q2x9",
                    "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}},
                }
            ],
        },
        "done_reason": "stop",
        "done": True,
        "total_duration": 3244883583,
        "load_duration": 2969184542,
        "prompt_eval_count": 169,
        "prompt_eval_duration": 141656333,
        "eval_count": 18,
        "eval_duration": 133293625,
    },
    # docs/api.md "Chat request" > "Load a model" / "Unload a model" (messages: [])
    "chat_load": {
        "model": "llama3.2",
        "created_at": "2024-09-12T21:17:29.110811Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "load",
        "done": True,
    },
    # routes.go GenerateHandler / ChatHandler: http.StatusNotFound,
    # gin.H{"error": fmt.Sprintf("model '%s' not found", req.Model)}
    "not_found": {"error": "model '%s' not found"},
}
"""Every body the fake sends, shaped after the section cited above it."""


def full_name(name: str) -> str:
    """``model`` -> ``model:latest`` (docs/api.md "Model names": the tag defaults to latest)."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def go_time(t: datetime) -> str:
    """RFC 3339 with nanoseconds, as Go marshals a time.Time."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}123".rstrip("0")
    offset = t.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{base}.{frac}{zone}" if frac else f"{base}{zone}"


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def keep_alive(value: Any) -> timedelta | None:
    """api/types.go Duration.UnmarshalJSON: seconds or a Go duration; negative: forever.

    Returns None for "forever"; raises ValueError with Go's message for a bad string.
    """
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, int | float):
        return None if value < 0 else timedelta(seconds=value)
    text = str(value)
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
    parts = _GO_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        hint = "missing unit in duration" if re.fullmatch(r"\d+", body) else "invalid duration"
        raise ValueError(f'time: {hint} "{text}"')
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return None if sign < 0 else timedelta(seconds=seconds)
