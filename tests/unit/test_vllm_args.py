from __future__ import annotations

import importlib.resources
import json
import sys
import tempfile
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import (
    Preset,
    PresetCatalog,
    load_preset_file,
    profile_files,
    shipped_profiles_dir,
)
from naptha_tui.backends.runtimes.models import hf_dir
from naptha_tui.backends.runtimes.runtime import Runtime, RuntimeProblem
from naptha_tui.backends.servers.vllm import (
    PresetProblem,
    plan_launch,
    render_args,
    shipped_plugin_path,
)
from naptha_tui.backends.vllm_options import BOOL_FLAGS, VllmOptions, option_flag
from tests.conftest import FAKE_VLLM, write_preset


def fake_prepared(paths: Paths, name: str = "smollm2-135m") -> None:
    folder = hf_dir(paths, name)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    marker = {"weights": [{"file": "model.safetensors", "size": 10, "sha256": "unused"}]}
    (folder.parent / "prepared.json").write_text(json.dumps(marker))


def ready_managed_runtime(paths: Paths, name: str = "cpu") -> Runtime:
    from naptha_tui.backends.runtimes.runtime import SPECS

    runtime = Runtime(name, paths.runtimes_dir / name)
    runtime.python.parent.mkdir(parents=True)
    runtime.python.write_text("")
    runtime.marker.write_text(json.dumps({"key": SPECS[name].key, "version": "0.32.0"}))
    return runtime


def test_embedded_preset_argv(paths: Paths) -> None:
    fake_prepared(paths)
    runtime = ready_managed_runtime(paths)
    preset = PresetCatalog(None).get("smollm2-cpu")
    plan = plan_launch(preset, runtime, paths, "smollm2-cpu", 8123)
    assert plan.argv[:5] == [
        str(runtime.python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(hf_dir(paths, "smollm2-135m")),
    ]
    args = plan.argv[5:]
    assert args[:6] == [
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--served-model-name",
        "smollm2-135m",
    ]
    assert args[args.index("--max-model-len") + 1] == "2048"
    assert "--enforce-eager" in args and "--enable-auto-tool-choice" in args
    assert args[args.index("--tool-call-parser") + 1] == "naptha_hermes"
    plugin = Path(args[args.index("--tool-parser-plugin") + 1])
    assert plugin.name == "naptha_vllm_plugin.py" and plugin.is_file()
    # the guard: the key on every route vLLM serves but the probes; extra_args stay last
    assert args[args.index("--middleware") + 1] == "naptha_vllm_guard.NapthaGuard"
    assert args[-1] == "--disable-uvicorn-access-log"
    assert plan.env["PYTHONPATH"].split(":")[0] == str(paths.state_dir / "vllm-guard")
    template = Path(args[args.index("--chat-template") + 1])
    assert template.name == "smollm2_tool_use.jinja" and template.is_file()
    assert plan.env["HF_HUB_OFFLINE"] == "1"
    assert plan.env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert plan.env["VLLM_CACHE_ROOT"].startswith(str(paths.state_dir))


def test_false_booleans_render_no_flags(tmp_path: Path) -> None:
    preset = load_preset_file(
        write_preset(
            tmp_path,
            "p",
            (
                "model: a/b\nenable_prefix_caching: false\nenforce_eager: true\n"
                "gpu_memory_utilization: 0.9\nextra_args: ['--trust-remote-code']\n"
            ),
        )
    )
    args = render_args(preset, host="127.0.0.1", port=9000, served_name="a/b")
    assert "--no-enable-prefix-caching" in args and "--enforce-eager" in args
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.9"
    assert args[-1] == "--trust-remote-code"
    assert "--max-model-len" not in args  # unset options keep vLLM's defaults


def test_external_runtime_uses_vllm_serve(paths: Paths, tmp_path: Path) -> None:
    preset = load_preset_file(write_preset(tmp_path, "q", "model: Qwen/Qwen2.5-7B-Instruct\n"))
    plan = plan_launch(preset, Runtime("mine", tmp_path, FAKE_VLLM), paths, "q", 9001)
    assert plan.argv[:3] == [str(FAKE_VLLM), "serve", "Qwen/Qwen2.5-7B-Instruct"]
    assert plan.served_model_name == "Qwen/Qwen2.5-7B-Instruct"


def test_instance_placeholder_in_env(paths: Paths, tmp_path: Path) -> None:
    preset = load_preset_file(
        write_preset(
            tmp_path,
            "two",
            ("model: a/b\ninstances: 2\nenv: {VLLM_CPU_OMP_THREADS_BIND: '{instance}'}\n"),
        )
    )
    plan = plan_launch(preset, Runtime("x", tmp_path, FAKE_VLLM), paths, "two-1", 9002, 1)
    assert plan.env["VLLM_CPU_OMP_THREADS_BIND"] == "1"


def test_model_not_prepared(paths: Paths) -> None:
    runtime = ready_managed_runtime(paths)
    preset = PresetCatalog(None).get("smollm2-cpu")
    with pytest.raises(PresetProblem) as info:
        plan_launch(preset, runtime, paths, "smollm2-cpu", 8123)
    message = str(info.value)
    assert "smollm2-cpu.yaml: model:" in message
    assert "naptha-tui model prepare smollm2-135m" in message


def test_model_path_missing(paths: Paths, tmp_path: Path) -> None:
    path = write_preset(tmp_path, "local", "model: /nonexistent/models/llama\n")
    preset = load_preset_file(path)
    with pytest.raises(
        PresetProblem,
        match=rf"{path}: model: model path "
        r"/nonexistent/models/llama does not exist",
    ):
        plan_launch(preset, Runtime("x", tmp_path, FAKE_VLLM), paths, "local", 9003)


def test_runtime_not_installed(paths: Paths) -> None:
    fake_prepared(paths)
    preset = PresetCatalog(None).get("smollm2-cpu")
    with pytest.raises(
        RuntimeProblem,
        match=r"runtime 'cpu' is not installed: run "
        r"`naptha-tui runtime install cpu`",
    ):
        plan_launch(preset, Runtime("cpu", paths.runtimes_dir / "cpu"), paths, "s", 8123)


def test_missing_template_file(paths: Paths, tmp_path: Path) -> None:
    path = write_preset(tmp_path, "t", "model: a/b\nchat_template: nothere.jinja\n")
    with pytest.raises(PresetProblem, match=r"t.yaml: chat_template: file 'nothere.jinja'"):
        plan_launch(load_preset_file(path), Runtime("x", tmp_path, FAKE_VLLM), paths, "t", 9004)


def test_shipped_parser_plugin_renders_its_file(tmp_path: Path) -> None:
    """``tool_parser_plugin: naptha`` is the plugin file shipped in the package, not a path."""
    preset = load_preset_file(
        write_preset(
            tmp_path,
            "fn",
            "model: org/m\ntool_parser_plugin: naptha\ntool_call_parser: naptha_functionary\n",
        )
    )
    args = render_args(preset, host="127.0.0.1", port=8000, served_name="fn")
    plugin = Path(args[args.index("--tool-parser-plugin") + 1])
    assert plugin.name == "naptha_vllm_plugin.py" and plugin.is_file()
    assert (plugin.parent / "__init__.py").is_file()  # the core it loads beside itself
    assert args[args.index("--tool-call-parser") + 1] == "naptha_functionary"


def test_parsing_core_imports_nothing_from_vllm() -> None:
    """Only the adapter may import vLLM: the core must load in the panel's own environment."""
    import ast

    folder = Path(__file__).resolve().parents[2] / "backends" / "toolcalls"
    for source in sorted(folder.glob("*.py")):
        if source.name == "naptha_vllm_plugin.py":
            continue
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            bad = [n for n in names if n.split(".")[0] in {"vllm", "torch", "naptha_tui"}]
            assert not bad, f"{source.name} imports {bad}"


GOLDEN_ARGV = Path(__file__).parents[1] / "fixtures" / "vllm_args.json"
"""The flags each shipped preset and profile renders; after changing one on purpose, regenerate
with ``.venv/bin/python -m tests.unit.test_vllm_args`` and read the diff."""

EVERY_OPTION = """\
model: a/b
max_model_len: 10
gpu_memory_utilization: 0.5
max_num_seqs: 3
max_num_batched_tokens: 4
enable_prefix_caching: false
enable_chunked_prefill: true
tensor_parallel_size: 2
pipeline_parallel_size: 3
distributed_executor_backend: mp
dtype: half
enforce_eager: false
enable_auto_tool_choice: true
tool_call_parser: hermes
tool_parser_plugin: naptha
chat_template: smollm2_tool_use.jinja
extra_args: [--x]
sleep_mode: true
"""


def golden_cases(folder: Path) -> dict[str, Preset]:
    """Every shipped preset, each shipped profile under a bare preset, and every typed key."""
    cases = {p.name: p for p in PresetCatalog(None).load_all()[0]}
    for name in profile_files([shipped_profiles_dir()]):
        path = write_preset(folder, f"with-{name}", f"model: a/b\nprofile: {name}\n")
        cases[f"profile {name}"] = load_preset_file(path)
    cases["every option"] = load_preset_file(write_preset(folder, "every", EVERY_OPTION))
    return cases


def golden_argv(preset: Preset) -> list[str]:
    """``render_args`` with the shipped files' folders written as ``{templates}``/``{plugin}``."""
    templates = str(Path(str(importlib.resources.files("naptha_tui.templates"))))
    plugin = str(shipped_plugin_path())
    args = render_args(preset, host="127.0.0.1", port=8000, served_name="served")
    return [a.replace(plugin, "{plugin}").replace(templates, "{templates}") for a in args]


def test_shipped_presets_render_the_argv_they_always_did(tmp_path: Path) -> None:
    expected = json.loads(GOLDEN_ARGV.read_text())
    cases = golden_cases(tmp_path)
    assert set(cases) == set(expected)
    for name, preset in cases.items():
        assert golden_argv(preset) == expected[name], name


def test_every_vllm_option_renders_its_flag(tmp_path: Path) -> None:
    preset = load_preset_file(write_preset(tmp_path, "every", EVERY_OPTION))
    args = render_args(preset, host="127.0.0.1", port=8000, served_name="served")
    for key in VllmOptions.model_fields:
        assert getattr(preset, key) is not None, f"EVERY_OPTION lacks {key}"
        assert option_flag(key) in args or option_flag(f"no_{key}") in args, key
    switches = tuple(k for k in VllmOptions.model_fields if isinstance(getattr(preset, k), bool))
    assert switches == BOOL_FLAGS


if __name__ == "__main__" and sys.argv[1:] in ([], ["--update"]):
    with tempfile.TemporaryDirectory() as tmp:
        found = {name: golden_argv(p) for name, p in golden_cases(Path(tmp)).items()}
    GOLDEN_ARGV.write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {GOLDEN_ARGV} ({len(found)} cases)")


def test_the_startup_timeout_and_url_are_resolved_once_in_the_plan(paths: Paths) -> None:
    fake_prepared(paths)
    runtime = ready_managed_runtime(paths)
    shipped = PresetCatalog(None).get("smollm2-cpu")
    assert shipped.startup_timeout == 300  # the preset's own value wins over the settings'
    plan = plan_launch(shipped, runtime, paths, "s", 8123, startup_timeout=999.0)
    assert plan.startup_timeout == 300
    assert plan.api_url == "http://127.0.0.1:8123/v1"
    bare = shipped.model_copy(update={"startup_timeout": None})
    plan = plan_launch(bare, runtime, paths, "s", 8123, startup_timeout=999.0)
    assert plan.startup_timeout == 999.0
