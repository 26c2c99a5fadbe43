"""One real node for the playground, the load test, the evaluation and our tool parsers.

Started once for this package by the headless ``naptha-tui up`` (about two minutes on two
cores) and stopped after its last test, before the other integration modules start their own:

- ``embedded``: the shipped embedded preset (``smollm2-cpu``: the embedded model with its
  Hermes tool-calling setup, ``naptha_hermes``, and its ``tools:`` notes), with
  ``--enable-log-requests`` at DEBUG level so its log holds the JSON body of every request it
  received (the agent test reads them);
- ``tools-functionary`` and ``tools-minicpm3``: the embedded model again, each running another
  of our parsers (``test_tool_parsers.py``); idle while the other modules' tests run.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator

import pytest
import yaml

from tests.integration.common import install_node, node_env, run_cli

PROXY_PORT = 4126
PORT_BASE = 18700
SERVER = "embedded"
MODEL = "smollm2-135m"  # the shipped preset's served name
PARSER_SERVERS = {"tools-functionary": "naptha_functionary", "tools-minicpm3": "naptha_minicpm3"}
"""Servers that run another of our parsers, by name (each serves its own name)."""
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
  VLLM_CPU_OMP_THREADS_BIND: "{core}"
"""


def logged_preset() -> str:
    """The shipped ``smollm2-cpu`` preset, its requests logged."""
    shipped = importlib.resources.files("naptha_tui.presets") / "smollm2-cpu.yaml"
    doc = yaml.safe_load(shipped.read_text())
    doc["extra_args"] = [*doc.get("extra_args", []), "--enable-log-requests"]
    doc["env"] = {**doc.get("env", {}), "VLLM_LOGGING_LEVEL": "DEBUG"}
    text: str = yaml.safe_dump(doc, sort_keys=False)
    return text


@pytest.fixture(scope="package")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("embedded")
    environ = node_env(root, PROXY_PORT, PORT_BASE)
    install_node(environ)
    presets = root / "config" / "presets"
    presets.mkdir(parents=True)
    (presets / f"{SERVER}.yaml").write_text(logged_preset())
    for core, (name, parser) in enumerate(sorted(PARSER_SERVERS.items())):
        text = PARSER_PRESET.format(name=name, parser=parser, core=1 - core % 2)
        (presets / f"{name}.yaml").write_text(text)
    done = run_cli(environ, "eval", "setup", timeout=600)  # bfcl-eval into the data dir, once
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_cli(environ, "up", SERVER, *sorted(PARSER_SERVERS), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the headless path waits until the server and the proxy are ready, and says where to go
    assert f"endpoint: http://127.0.0.1:{PROXY_PORT}/v1" in done.stdout, done.stdout
    yield environ
    run_cli(environ, "down", timeout=120)
