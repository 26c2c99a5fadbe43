"""One real node for the playground, the load test and the evaluation: started once, shared.

The shipped embedded preset (``smollm2-cpu``: the embedded model with its Hermes tool-calling
setup and its ``tools:`` notes), started by the headless ``naptha-tui up`` as server
``embedded``, with ``--enable-log-requests`` at DEBUG level so its log holds the JSON body of
every request it received (the agent test reads them). It starts once for this package
(about a minute) and stops after its last test, before the other integration modules start
their own servers.
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
    done = run_cli(environ, "eval", "setup", timeout=600)  # bfcl-eval into the data dir, once
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_cli(environ, "up", SERVER, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the headless path waits until the server and the proxy are ready, and says where to go
    assert f"endpoint: http://127.0.0.1:{PROXY_PORT}/v1" in done.stdout, done.stdout
    yield environ
    run_cli(environ, "down", timeout=120)
