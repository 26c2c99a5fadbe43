"""One real node for the node's own checks, the playground, the load test, the evaluation and
our tool parsers.

Started once for this package by the panel itself, as a person launches it: ``naptha-tui
--up ...`` in tmux (about a minute and a half on two cores), its rows read ``loading N s`` and
then ``ready``, never a connection error. The panel is then killed with SIGKILL: the servers
keep serving and every later command re-attaches through the state file (``test_node.py``).
The package ends with the person's run in tmux (which swaps ``SERVER`` for ``SWAP_TO``) and
``down`` (``LAST``, moved there by ``pytest_collection_modifyitems`` below), before the other
integration modules start their own nodes:

- ``embedded``: the shipped embedded preset (``smollm2-cpu``: the embedded model with its
  Hermes tool-calling setup, ``naptha_hermes``, and its ``tools:`` notes), with
  ``--enable-log-requests`` at DEBUG level so its log holds the JSON body of every request it
  received (the agent test reads them);
- ``tools-functionary`` and ``tools-minicpm3``: the embedded model again, each running another
  of our parsers (``test_tool_parsers.py``); idle while the other modules' tests run.
"""

from __future__ import annotations

import importlib.resources
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.common import TmuxPanel, install_node, node_env, run_cli, status

PROXY_PORT = 4126
PORT_BASE = 18700
SERVER = "embedded"
MODEL = "smollm2-135m"  # the shipped preset's served name
PARSER_SERVERS = {"tools-functionary": "naptha_functionary", "tools-minicpm3": "naptha_minicpm3"}
"""Servers that run another of our parsers, by name (each serves its own name)."""
# vLLM's worker inside its engine process (the `uni` executor, allowed on CPU only with
# VLLM_ENABLE_V1_MULTIPROCESSING=0): one Python start of torch and vLLM fewer, so ready in
# about 25 s against 43 s here. vLLM's CPU platform binds OpenMP threads only for its `mp`
# executor, so these servers name no core; they answer a request or a few at a time. The
# shipped presets (the embedded server, smollm2-cpu-x2) keep `mp` and their binding
PARSER_PRESET = """\
model: smollm2-135m
runtime: cpu
served_model_name: {name}
max_model_len: 2048
dtype: auto
enforce_eager: true
enable_auto_tool_choice: true
tool_parser_plugin: naptha
tool_call_parser: {parser}
chat_template: smollm2_tool_use.jinja
startup_timeout: 600
startup_stall_timeout: 120
extra_args: ["--disable-uvicorn-access-log"]
env:
  VLLM_CPU_KVCACHE_SPACE: "1"
  VLLM_ENABLE_V1_MULTIPROCESSING: "0"
"""


def logged_preset() -> str:
    """The shipped ``smollm2-cpu`` preset, its requests logged."""
    shipped = importlib.resources.files("naptha_tui.presets") / "smollm2-cpu.yaml"
    doc = yaml.safe_load(shipped.read_text())
    doc["extra_args"] = [*doc.get("extra_args", []), "--enable-log-requests"]
    doc["env"] = {**doc.get("env", {}), "VLLM_LOGGING_LEVEL": "DEBUG"}
    text: str = yaml.safe_dump(doc, sort_keys=False)
    return text


LAST = (
    "embedded/test_panel_in_tmux.py::test_a_persons_run_of_the_panel_in_tmux",
    "embedded/test_node.py::test_down_leaves_nothing",
)
"""The package's last tests, in this order: the person's run swaps ``SERVER`` for
``SWAP_TO``, then ``down`` stops the node."""
SWAP_TO = "embedded-b"
"""A second preset of the embedded model (one of our parsers' presets, so a quick start), that
the person's run in tmux swaps in for ``SERVER``; not started with the package."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move ``LAST`` after the package's other tests (still inside the package, so its node is
    not stopped and started again)."""
    last = [i for name in LAST for i in items if i.nodeid.endswith(name)]
    for item in last:
        items.remove(item)
    ours = [n for n, i in enumerate(items) if "integration/embedded/" in i.nodeid]
    at = ours[-1] + 1 if ours else len(items)
    items[at:at] = last


START_TIMEOUT = 900
"""Three servers starting at once on two cores: about 100 s here."""


def node_ready(doc: dict[str, Any]) -> bool:
    ready = {s["name"] for s in doc["servers"] if s["status"] == "ready"}
    return {SERVER, *PARSER_SERVERS} <= ready and doc["proxy"]["status"] == "ready"


@pytest.fixture(scope="package")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The panel starts the servers and the proxy, in tmux; then it is killed with SIGKILL."""
    root = tmp_path_factory.mktemp("embedded")
    environ = node_env(root, PROXY_PORT, PORT_BASE)
    install_node(environ)
    presets = root / "config" / "presets"
    presets.mkdir(parents=True)
    (presets / f"{SERVER}.yaml").write_text(logged_preset())
    for name, parser in sorted({**PARSER_SERVERS, SWAP_TO: "naptha_hermes"}.items()):
        text = PARSER_PRESET.format(name=name, parser=parser)
        (presets / f"{name}.yaml").write_text(text)
    done = run_cli(environ, "eval", "setup", timeout=600)  # bfcl-eval into the data dir, once
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # launched as a person launches it, in tmux: each row reads `loading N s` while its server
    # starts, then `ready`, and never the probe's refused connection
    panel = TmuxPanel(environ, root, "--up", SERVER, *sorted(PARSER_SERVERS))
    try:
        panel.wait_for(rf"│ {SERVER}\s.*\sstarting\s.*\sloading \d+ s", timeout=START_TIMEOUT)
        for name in (SERVER, *PARSER_SERVERS):
            panel.wait_for(rf"│ {name}\s.*\sready\s", timeout=START_TIMEOUT)
        deadline = time.monotonic() + 120
        doc = status(environ)
        while not node_ready(doc):  # the proxy too, with every model
            assert time.monotonic() < deadline, f"the proxy is not ready: {doc}"
            time.sleep(2)
            doc = status(environ)
        assert not panel.ever("ConnectError"), [s for s in panel.seen if "ConnectError" in s]
        panel_pid = panel.kill9()
    except BaseException:
        run_cli(environ, "down", timeout=120)  # a node left up would slow every later module
        raise
    finally:
        panel.close()
    yield {"env": environ, "panel_pid": panel_pid, "before": doc}
    run_cli(environ, "down", timeout=120)  # whatever a failed test left behind


@pytest.fixture(scope="package")
def env(started: dict[str, Any]) -> dict[str, str]:
    environ: dict[str, str] = started["env"]
    return environ
