"""Playground sessions saved as YAML in the state dir, and samples copied as runnable code.

A session is a :class:`~.spec.Spec` in ``<state dir>/playground/NAME.yaml`` (0600: prompts may be
private), kept in a store of the runs' kind (``runs/store.py``) in its own format. A sample
copies as a curl command or an OpenAI SDK snippet that sends the same request to the proxy;
the key is read from the key file or ``$NAPTHA_API_KEY``, never written out.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import RunStore
from naptha_tui.backends.yamlfile import ConfigFileError, FileProblem, load_yaml, parse_model

from .spec import Spec

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
OPENAI_PARAMS = {
    "model",
    "messages",
    "temperature",
    "max_tokens",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "logprobs",
    "top_logprobs",
    "stream",
    "stream_options",
}
"""Request keys the OpenAI SDK takes as arguments; the rest (vLLM's) go in ``extra_body``."""


SESSIONS = RunStore("playground", "playground", suffix=".yaml")
"""Saved sessions: ``<state dir>/playground/NAME.yaml``, named by the operator."""
sessions_dir = SESSIONS.folder_of
list_sessions = SESSIONS.names


def session_file(paths: Paths, name: str) -> Path:
    if not NAME.fullmatch(name):
        raise NapthaError(f"session name {name!r}: use letters, digits, _ . - (up to 64)")
    return sessions_dir(paths) / f"{name}.yaml"


def save_session(paths: Paths, name: str, spec: Spec) -> Path:
    """Write ``spec`` as session ``name`` (replacing one of that name)."""
    session_file(paths, name)  # a name the folder takes
    doc = spec.model_dump(by_alias=True, exclude_defaults=True)
    return SESSIONS.write(paths, name, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def load_session(paths: Paths, name_or_file: str) -> Spec:
    """A saved session by name, or any session file by path.

    Raises:
        ConfigFileError: the file does not load (unreadable, empty, or each problem with its
            line and key).
        NapthaError: no session of that name.
    """
    path = Path(name_or_file)
    if "/" not in name_or_file and path.suffix not in (".yaml", ".yml"):
        path = session_file(paths, name_or_file)
        if not path.exists():
            known = ", ".join(list_sessions(paths)) or "none saved"
            raise NapthaError(f"no playground session {name_or_file!r} (sessions: {known})")
    doc = load_yaml(path)
    if doc.root is None:  # a saved session always holds a spec; an empty file is a wrong one
        raise ConfigFileError(path, [FileProblem(path, None, None, "empty: no session in it")])
    return parse_model(doc, Spec)


def _key_expr(key_file: str | None) -> str:
    return f"$(cat {shlex.quote(key_file)})" if key_file else "$NAPTHA_API_KEY"


def curl_command(proxy_url: str, body: dict[str, Any], key_file: str | None = None) -> str:
    """A curl command that sends ``body`` to the proxy's chat completions."""
    return (
        f"curl -s {shlex.quote(proxy_url + '/v1/chat/completions')} \\\n"
        f'  -H "Authorization: Bearer {_key_expr(key_file)}" \\\n'
        "  -H 'content-type: application/json' \\\n"
        f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}"
    )


def sdk_snippet(proxy_url: str, body: dict[str, Any], key_file: str | None = None) -> str:
    """Python with the OpenAI SDK that sends ``body`` to the proxy (vLLM extras in extra_body)."""
    args = {k: v for k, v in body.items() if k in OPENAI_PARAMS}
    extra = {k: v for k, v in body.items() if k not in OPENAI_PARAMS}
    key = f"open({key_file!r}).read().strip()" if key_file else 'os.environ["NAPTHA_API_KEY"]'
    lines = [
        "import os" if not key_file else "",
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={proxy_url + '/v1'!r}, api_key={key})",
        "response = client.chat.completions.create(",
    ]
    for k, v in args.items():
        lines.append(f"    {k}={_py(v)},")
    if extra:
        lines.append(f"    extra_body={_py(extra)},")
    lines.append(")")
    lines.append(
        "for chunk in response:\n    print(chunk)" if body.get("stream") else "print(response)"
    )
    return "\n".join(line for i, line in enumerate(lines) if line or i > 0)


def _py(value: Any) -> str:
    """A JSON value as Python source (``true`` → ``True``)."""
    return repr(json.loads(json.dumps(value)))
