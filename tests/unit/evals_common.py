"""What the evaluation tests share: bfcl-eval installed once, right answers, an oracle proxy.

bfcl-eval is installed by the product's own ``eval setup`` code into the real data dir
(``tests/conftest.py`` REAL_DATA_DIR), as the runtimes are, so a machine downloads the 1.9 MB
wheel once (pip reaches PyPI) and every later session finds it ready in milliseconds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.endpoints import Target
from naptha_tui.backends.evals.cases import Case, load_cases
from naptha_tui.backends.evals.checker import Checker
from naptha_tui.backends.evals.convert import sent_name
from naptha_tui.backends.evals.setup import BfclInstall, install
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.proxy.litellm.process import ProxyManager
from tests.conftest import REAL_DATA_DIR
from tests.fakes.fake_proxy import PROXY_KEY, FakeProxy, Reply

UNANSWERABLE = {
    # BFCL's own data: the possible answers contradict the function document (a required
    # parameter whose answers are all "" or a list of lists, or an answer for a parameter the
    # function does not have), so no answer passes the leaderboard's checker
    "live_simple_106-63-0",
    "live_simple_112-68-0",
    "live_multiple_507-149-4",
    "live_multiple_862-181-3",
    "live_multiple_964-207-0",
}


@functools.cache
def installed() -> BfclInstall:
    """bfcl-eval in the real data dir, installed by ``eval setup``'s code when missing."""
    scratch = REAL_DATA_DIR / "evals" / ".tests"
    paths = Paths(
        config_dir=scratch / "config",
        data_dir=REAL_DATA_DIR,
        state_dir=scratch / "state",
        log_dir=scratch / "logs",
    )
    found = install(paths, lambda line: None)
    assert found.ready, found
    return found


@functools.cache
def checker() -> Checker:
    return Checker(installed().location)


def cases(category: str, limit: int | None = None) -> list[Case]:
    return load_cases(installed().data_dir, category, limit)


def _right_value(accepted: list[Any], schema: dict[str, Any]) -> Any:
    """The first accepted value ("" means "may be left out"); a dict's own keys likewise."""
    real = [v for v in accepted if v != ""]
    if not real:
        return ...
    value = real[0]
    items = schema.get("items") or {}

    def one(d: dict[str, list[Any]]) -> dict[str, Any]:
        return {k: vs[0] for k, vs in d.items() if vs and vs[0] != ""}

    if schema.get("type") == "dict" and isinstance(value, dict):
        return one(value)
    if schema.get("type") == "array" and items.get("type") == "dict" and isinstance(value, list):
        return [one(d) if isinstance(d, dict) else d for d in value]
    return value


def right_arguments(case: Case) -> list[tuple[str, dict[str, Any]]]:
    """A right answer built from the case's possible answers: (BFCL name, arguments) per call."""
    assert case.answers is not None
    docs = {f["name"]: f for f in case.functions}
    out = []
    for answer in case.answers:
        [(name, params)] = answer.items()
        schema = docs[name]["parameters"]
        props, required = schema.get("properties", {}), schema.get("required", [])
        args = {}
        for param, accepted in params.items():
            if "" in accepted and (param not in required or param not in props):
                continue  # may be left out (and where the document lacks it, must be)
            value = _right_value(accepted, props.get(param, {}))
            if value is not ...:
                args[param] = value
        out.append((name, args))
    return out


def tool_call(name: str, arguments: Any, index: int = 0) -> dict[str, Any]:
    """An OpenAI tool call as vLLM returns it; ``arguments`` as JSON text unless a string."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": f"chatcmpl-tool-{index:04d}",
        "type": "function",
        "function": {"name": name, "arguments": text},
    }


def openai_calls(calls: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Calls under the names they are sent as (``math.factorial`` as ``math_factorial``)."""
    return [tool_call(sent_name(n), a, i) for i, (n, a) in enumerate(calls)]


class Oracle:
    """A fake model that answers every case right (or as ``wrong`` says), by its question."""

    def __init__(self, all_cases: Sequence[Case], wrong: set[str] | None = None) -> None:
        self.by_messages = {json.dumps(c.messages): c for c in all_cases}
        self.wrong = wrong or set()
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.bodies.append(body)
        case = self.by_messages[json.dumps(body["messages"])]
        if case.kind == "irrelevance" or (case.id in self.wrong and case.kind == "relevance"):
            text = "I cannot do that with these tools."
            return Reply(tokens=(text, "<|im_end|>"), content=text)
        if case.kind == "relevance":
            calls = [tool_call(body["tools"][0]["function"]["name"], {})]
        else:
            args = right_arguments(case)
            if case.id in self.wrong:  # a parameter the function does not have
                name, first = args[0]
                args[0] = (name, {**first, "__changed__": 1})
            calls = openai_calls(args)
        raw = json.dumps([c["function"] for c in calls])
        return Reply(tokens=(raw, "<|im_end|>"), content=None, tool_calls=tuple(calls))


@pytest.fixture
def node_proxy(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxy]:
    """A fake proxy on the node's proxy port, its key in the node's key file, serving ``m``;
    the real data dir (with bfcl-eval) as the data dir."""
    installed()
    monkeypatch.setenv("NAPTHA_TUI_DATA_DIR", str(REAL_DATA_DIR))
    with FakeProxy(models=["m"]) as fake:
        monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", str(fake.port))
        manager = ProxyManager(paths, load_settings(paths))
        manager.key_file.parent.mkdir(parents=True, exist_ok=True)
        manager.key_file.write_text(PROXY_KEY)
        yield fake


def target(fake: FakeProxy) -> Target:
    return Target(fake.url, PROXY_KEY)


def data_dir() -> Path:
    return installed().data_dir
