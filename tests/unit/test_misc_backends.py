from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import install
from naptha_tui.backends.runtimes.models import find_gguf
from naptha_tui.backends.runtimes.runtime import SPECS, Runtime, RuntimeProblem, RuntimeSpec
from naptha_tui.backends.servers.logs import death_reason, tail
from naptha_tui.backends.telemetry import gpu
from naptha_tui.proxy.litellm.config import Deployment, dump_config, render_config

# recorded from vLLM 0.32 / torch logs (prefixes as vLLM prints them)
LOGS = {
    "port in use": "(APIServer pid=1) ERROR 11-24 14:24:22 [api_server.py:9] OSError: [Errno 98] "
    "error while attempting to bind on address ('127.0.0.1', 8100): address "
    "already in use",
    "out of memory": "(EngineCore pid=2) ERROR 11-24 14:24:22 [core.py:1] torch.OutOfMemoryError:"
    " CUDA out of memory. Tried to allocate 2.00 GiB",
    "unknown or invalid flag": "api_server.py: error: unrecognized arguments: "
    "--num-scheduler-steps 1",
}


@pytest.mark.parametrize("reason", sorted(LOGS))
def test_death_reasons(tmp_path: Path, reason: str) -> None:
    log = tmp_path / "s.log"
    log.write_text(
        "INFO starting\nTraceback (most recent call last):\n  File x\n"
        + LOGS[reason]
        + "\n\x1b[0m\n"
    )
    found = death_reason(log)
    assert found.startswith(f"{reason}: ")
    assert "(APIServer pid" not in found and "\x1b" not in found


def test_death_reason_falls_back_to_last_exception(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("INFO a\nValueError: max_model_len 99999 exceeds the model's 8192\nINFO bye\n")
    assert death_reason(log) == "ValueError: max_model_len 99999 exceeds the model's 8192"
    assert tail(tmp_path / "missing.log") == []


def test_nvml_missing_is_a_reason_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def no_library() -> None:
        raise pynvml.NVMLError_LibraryNotFound()

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    report = gpu.GpuReader().read()
    assert isinstance(report, gpu.GpuUnavailable)
    assert "no NVIDIA driver" in report.reason


@pytest.mark.gpu
def test_real_gpu_is_read() -> None:
    report = gpu.GpuReader().read()
    if isinstance(report, gpu.GpuUnavailable):
        pytest.skip(report.reason)
    assert report and report[0].memory_total and report[0].memory_used is not None


def test_render_config_groups_deployments_and_keeps_secrets_out() -> None:
    config = render_config(
        [
            Deployment("smol-1", "smollm2-135m", "http://127.0.0.1:8101/v1"),
            Deployment("smol-0", "smollm2-135m", "http://127.0.0.1:8100/v1"),
        ]
    )
    ids = [m["model_info"]["id"] for m in config["model_list"]]
    assert ids == ["smol-0", "smol-1"]
    assert {m["model_name"] for m in config["model_list"]} == {"smollm2-135m"}
    assert config["model_list"][0]["litellm_params"]["model"] == "openai/smollm2-135m"
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert yaml.safe_load(dump_config(config)) == config


def test_find_gguf_uses_the_file_list_without_importing(tmp_path: Path) -> None:
    pkg = tmp_path / "llm_fake"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise SystemExit('must not be imported')\n")
    (pkg / "tiny.Q4.gguf").write_bytes(b"GGUF")
    info = tmp_path / "llm_fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: llm-fake\nVersion: 1.0\n")
    (info / "RECORD").write_text("llm_fake/__init__.py,,\nllm_fake/tiny.Q4.gguf,,\n")
    assert find_gguf(tmp_path, "llm-fake") == pkg / "tiny.Q4.gguf"


def fake_spec(monkeypatch: pytest.MonkeyPatch, check: str) -> None:
    # "pip" is already in every new venv: installing it needs no network and takes seconds
    monkeypatch.setitem(SPECS, "tiny", RuntimeSpec("tiny", packages=("pip",), check=check))


def test_install_marks_ready_once_and_is_idempotent(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_spec(monkeypatch, "print('1.0')")
    runtime = Runtime("tiny", paths.runtimes_dir / "tiny")
    lines: list[str] = []
    info = install(runtime, lines.append)
    assert info.ready and info.version == "1.0"
    assert json.loads(runtime.marker.read_text())["key"] == SPECS["tiny"].key
    again: list[str] = []
    assert install(runtime, again.append).ready
    assert again == [f"runtime tiny is ready (1.0) at {runtime.root}"]  # nothing re-run


def test_failed_install_is_never_marked_ready(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_spec(monkeypatch, "import sys; sys.exit('smoke check failed')")
    runtime = Runtime("tiny", paths.runtimes_dir / "tiny")
    with pytest.raises(RuntimeProblem, match="failed with exit code 1"):
        install(runtime, lambda _: None)
    assert not runtime.marker.exists()
    assert not runtime.info().ready and runtime.info().detail == "not installed"


def test_spec_change_makes_runtime_outdated(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_spec(monkeypatch, "print('1.0')")
    runtime = Runtime("tiny", paths.runtimes_dir / "tiny")
    install(runtime, lambda _: None)
    fake_spec(monkeypatch, "print('2.0')")
    assert runtime.info().detail == "outdated (its spec changed)"


def test_template_renders_tools_calls_and_results() -> None:
    import jinja2

    root = Path(__file__).resolve().parents[2] / "templates"
    env = jinja2.Environment()
    env.filters["tojson"] = lambda v: json.dumps(v)
    template = env.from_string((root / "smollm2_tool_use.jinja").read_text())
    tool: dict[str, Any] = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    text = template.render(messages=messages, tools=[tool], add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert '<tools>\n{"name": "get_weather"' in text
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in text
    )
    assert "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert text.count("<|im_start|>system") == 1
    plain = template.render(
        messages=[{"role": "user", "content": "hi"}], tools=None, add_generation_prompt=False
    )
    assert "<tools>" not in plain and not plain.endswith("<|im_start|>assistant\n")
