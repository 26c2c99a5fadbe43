from __future__ import annotations

from pathlib import Path

import pytest

from naptha_tui.backends.presets import (
    Preset,
    PresetCatalog,
    PresetError,
    Profile,
    load_preset_file,
    load_profile_file,
    profile_files,
    shipped_profiles_dir,
)
from naptha_tui.backends.servers.vllm import render_args
from naptha_tui.backends.vllm_options import PROFILE_OPTIONS, VllmOptions
from naptha_tui.backends.yamlfile import ConfigFileError, FileProblem, load_yaml
from tests.conftest import write_preset


def test_shipped_presets_all_load() -> None:
    presets, errors = PresetCatalog(None).load_all()
    assert errors == []
    names = {p.name for p in presets}
    assert "smollm2-cpu" in names
    smol = next(p for p in presets if p.name == "smollm2-cpu")
    assert smol.runtime == "cpu" and smol.enforce_eager is True and smol.model == "smollm2-135m"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path, "bad", "model: Qwen/Qwen2.5-7B-Instruct\nruntime: cuda\nmax_num_seq: 256\n"
    )
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert str(info.value) == f"{path}:3: max_num_seq: unknown key"


def test_wrong_type_names_the_line(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "bad", "model: x/y\n\nenv:\n  A: 1\nmax_model_len: lots\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    message = str(info.value)
    assert f"{path}:5: max_model_len:" in message
    assert "integer" in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "broken", "model: x/y\nenv: {A: 1\nport: 9000\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert str(info.value).startswith(f"{path}:")
    assert "invalid YAML" in str(info.value)


def test_missing_required_model(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "nomodel", "runtime: cpu\n")
    with pytest.raises(ConfigFileError, match=r"nomodel.yaml(:\d+)?: model: required"):
        load_preset_file(path)


def test_port_range_and_nested_env_key(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "p", "model: a/b\nport: 70000\n")
    with pytest.raises(ConfigFileError, match=r":2: port"):
        load_preset_file(path)


def test_name_key_is_rejected(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "p", "name: other\nmodel: a/b\n")
    with pytest.raises(ConfigFileError, match=r":1: name: unknown key"):
        load_preset_file(path)


def test_user_preset_wins_by_name(tmp_path: Path) -> None:
    write_preset(tmp_path, "smollm2-cpu", "model: smollm2-135m\nruntime: cpu\nmax_model_len: 512\n")
    catalog = PresetCatalog(tmp_path)
    preset = catalog.get("smollm2-cpu")
    assert preset.max_model_len == 512
    assert preset.source == tmp_path / "smollm2-cpu.yaml"


def test_unknown_preset_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match=r"unknown preset 'nope' \(known: .*smollm2-cpu"):
        PresetCatalog(tmp_path).get("nope")


def test_instances_name_servers(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "multi", "model: a/b\ninstances: 2\n")
    assert load_preset_file(path).instance_names() == ["multi-0", "multi-1"]


# --- family presets, capability notes, profiles ---------------------------------------------

FAMILY = {
    "qwen2.5-7b": ("Qwen/Qwen2.5-7B-Instruct", "naptha_hermes"),
    "hermes3-llama3.1-8b": ("NousResearch/Hermes-3-Llama-3.1-8B", "naptha_hermes"),
    "llama3.1-8b": ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json"),
    "llama3.2-3b": ("meta-llama/Llama-3.2-3B-Instruct", "llama3_json"),
    "mistral-7b-v0.3": ("mistralai/Mistral-7B-Instruct-v0.3", "mistral"),
    "toolace-8b": ("Team-ACE/ToolACE-8B", "pythonic"),
    "functionary-small-v3.1": ("meetkai/functionary-small-v3.1", "naptha_functionary"),
    "minicpm3-4b": ("openbmb/MiniCPM3-4B", "naptha_minicpm3"),
    "granite-3.1-8b": ("ibm-granite/granite-3.1-8b-instruct", "granite"),
    "internlm2.5-7b": ("internlm/internlm2_5-7b-chat", "internlm"),
    "xlam": ("Salesforce/Llama-xLAM-2-8b-fc-r", "xlam"),
    "qwen3-8b": ("Qwen/Qwen3-8B", "naptha_hermes"),
}


def test_family_presets_load_with_tools_and_profile() -> None:
    catalog = PresetCatalog(None)
    for name, (model, parser) in FAMILY.items():
        preset = catalog.get(name)
        assert (preset.model, preset.tool_call_parser) == (model, parser), name
        assert preset.runtime == "cuda" and preset.port == "auto", name
        assert preset.enable_auto_tool_choice is True, name
        assert preset.tools is not None and preset.profile == "agents-h100", name
        # the profile's values arrive in the preset itself
        assert preset.max_num_seqs == 1024 and preset.max_num_batched_tokens == 8192, name
        assert preset.enable_chunked_prefill is True, name
    # a preset's own value wins over its profile's
    assert catalog.get("functionary-small-v3.1").enable_prefix_caching is False
    assert catalog.get("qwen2.5-7b").enable_prefix_caching is True
    llama = catalog.get("llama3.1-8b")
    assert llama.tools is not None and llama.tools.parallel_calls is False
    assert catalog.get("llama3.2-3b").tools.needs_guided_decoding is True  # type: ignore[union-attr]
    mistral = catalog.get("mistral-7b-v0.3")
    assert mistral.default_params == {"temperature": 0}
    assert mistral.tools is not None and mistral.tools.temperature == (0.0, 0.1)
    assert mistral.extra_args == [
        "--tokenizer-mode", "hf", "--config-format", "hf", "--load-format", "hf",
    ]  # fmt: skip
    assert catalog.get("qwen3-8b").extra_args == ["--reasoning-parser", "qwen3"]
    assert "--trust-remote-code" in catalog.get("minicpm3-4b").extra_args
    assert catalog.get("internlm2.5-7b").max_model_len == 65536


def test_capability_notes_include_parser_and_template() -> None:
    catalog = PresetCatalog(None)
    notes = catalog.get("llama3.1-8b").capability_notes()
    assert notes[:2] == ["parser: llama3_json", "chat template: llama3.1_json.jinja"]
    assert "parallel tool calls: no" in notes
    assert "reliable temperature: 0 to 0.6" in notes
    assert "tools per request: up to 5 reliably" in notes
    functionary = catalog.get("functionary-small-v3.1").capability_notes()
    assert functionary[0] == "parser: naptha_functionary (plugin naptha)"
    qwen = catalog.get("qwen2.5-7b").capability_notes()
    assert "chat template: the model's own" in qwen and "parallel tool calls: yes" in qwen
    assert any(
        n.startswith("needs guided decoding") for n in catalog.get("llama3.2-3b").capability_notes()
    )
    assert (
        catalog.get("smollm2-cpu").capability_notes()[0] == "parser: naptha_hermes (plugin naptha)"
    )


def test_shipped_profiles_load() -> None:
    files = profile_files([shipped_profiles_dir()])
    expected = {
        "agents-h100",
        "agents-a100-80",
        "agents-24gb",
        "latency-a100-legacy",
        "multinode-ray",
    }
    assert expected <= set(files)
    for name, path in files.items():
        profile = load_profile_file(path)
        assert profile.name == name and profile.description, name
        assert profile.options(), name
    legacy = load_profile_file(files["latency-a100-legacy"])
    assert (legacy.max_num_batched_tokens, legacy.max_num_seqs) == (512, 256)
    assert legacy.gpu_memory_utilization == 0.98


def test_preset_and_profile_take_their_options_from_vllm_options() -> None:
    # a profile says how a server uses its hardware; the model's own options stay in presets
    assert PROFILE_OPTIONS == (
        "gpu_memory_utilization",
        "max_num_seqs",
        "max_num_batched_tokens",
        "enable_prefix_caching",
        "enable_chunked_prefill",
        "tensor_parallel_size",
        "pipeline_parallel_size",
        "distributed_executor_backend",
    )
    for key, field in VllmOptions.model_fields.items():
        preset_field, profile_field = Preset.model_fields[key], Profile.model_fields[key]
        assert preset_field.annotation == profile_field.annotation == field.annotation, key
        assert preset_field.metadata == profile_field.metadata == field.metadata, key


def test_profile_refuses_the_other_vllm_options(tmp_path: Path) -> None:
    others = [k for k in VllmOptions.model_fields if k not in PROFILE_OPTIONS]
    text = "".join(f"{key}: {'null' if i % 2 else 'nonsense'}\n" for i, key in enumerate(others))
    with pytest.raises(ConfigFileError) as info:
        load_profile_file(write_preset(tmp_path / "profiles", "p", text))
    found = [(p.line, p.key, p.message) for p in info.value.problems]
    assert found == [(i + 1, key, "unknown key") for i, key in enumerate(others)]


def test_profile_merge_preset_wins(tmp_path: Path) -> None:
    write_preset(
        tmp_path / "profiles",
        "tp",
        "description: test\nmax_num_seqs: 64\nmax_num_batched_tokens: 4096\n"
        "enable_prefix_caching: true\ngpu_memory_utilization: 0.5\n",
    )
    path = write_preset(
        tmp_path,
        "p",
        "model: a/b\nprofile: tp\nmax_num_seqs: 8\ngpu_memory_utilization: null\n",
    )
    preset = load_preset_file(path)
    assert preset.profile == "tp"
    assert preset.max_num_seqs == 8  # the preset's own value
    assert preset.max_num_batched_tokens == 4096 and preset.enable_prefix_caching is True
    assert preset.gpu_memory_utilization is None  # an explicit null is the preset's too
    args = render_args(preset, host="127.0.0.1", port=9000, served_name="a/b")
    assert args[args.index("--max-num-seqs") + 1] == "8"
    assert args[args.index("--max-num-batched-tokens") + 1] == "4096"
    assert "--enable-prefix-caching" in args and "--gpu-memory-utilization" not in args


def test_profile_beside_the_preset_overrides_a_shipped_one(tmp_path: Path) -> None:
    write_preset(tmp_path / "profiles", "agents-h100", "max_num_seqs: 7\n")
    preset = load_preset_file(write_preset(tmp_path, "p", "model: a/b\nprofile: agents-h100\n"))
    assert preset.max_num_seqs == 7
    assert preset.max_num_batched_tokens is None  # the shipped profile is not merged as well


def test_unknown_profile_names_file_line_and_key(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "p", "model: a/b\n\nprofile: agents-h1000\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: profile: unknown profile 'agents-h1000' (known: ")
    assert "agents-h100" in message and str(shipped_profiles_dir().resolve()) in message


def test_invalid_profile_names_the_profile_file(tmp_path: Path) -> None:
    profile = write_preset(tmp_path / "profiles", "bad", "max_num_seqs: 0\nmax_model_len: 9\n")
    path = write_preset(tmp_path, "p", "model: a/b\nprofile: bad\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert info.value.path == profile
    assert f"{profile}:1: max_num_seqs:" in str(info.value)
    assert f"{profile}:2: max_model_len: unknown key" in str(info.value)


def test_multinode_profile_renders_pipeline_parallel_and_ray(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "big", "model: a/b\nprofile: multinode-ray\n")
    args = render_args(load_preset_file(path), host="0.0.0.0", port=8000, served_name="a/b")
    assert args[args.index("--tensor-parallel-size") + 1] == "8"
    assert args[args.index("--pipeline-parallel-size") + 1] == "2"
    assert args[args.index("--distributed-executor-backend") + 1] == "ray"
    path = write_preset(
        tmp_path, "big2", "model: a/b\nprofile: multinode-ray\npipeline_parallel_size: 4\n"
    )
    args = render_args(load_preset_file(path), host="0.0.0.0", port=8000, served_name="a/b")
    assert args[args.index("--pipeline-parallel-size") + 1] == "4"


TOOLS = "model: a/b\ntools:\n  parallel_calls: true\n  multi_turn_tool_results: true\n"


LOW_ABOVE_HIGH = "Value error, [1.0, 0.0]: the low end is above the high end"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "  temperature: [1, 0]\n  tool_soft_cap: 4\n",
            f":5: tools.temperature: {LOW_ABOVE_HIGH}",
        ),
        (
            "  temperature: [0, 0.5]\n  tool_soft_cap: 12\n",
            ":6: tools.tool_soft_cap: Input should be less than or equal to 9",
        ),
        (
            "  temperature: [0, 3]\n  tool_soft_cap: 4\n",
            ":5: tools.temperature.1: Input should be less than or equal to 2",
        ),
        (
            "  temperature: [0, 0.5]\n  tool_soft_cap: 4\n  parser: hermes\n",
            ":7: tools.parser: unknown key",
        ),
        ("  temperature: [0, 0.5]\n", ":2: tools.tool_soft_cap: Field required"),
    ],
)
def test_bad_capability_values_name_the_key(tmp_path: Path, block: str, expected: str) -> None:
    path = write_preset(tmp_path, "caps", TOOLS + block)
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert f"{path}{expected}" in str(info.value).splitlines()


# --- problems as values, every problem of a file at once -------------------------------------


def test_problems_are_values_with_file_line_key_and_message(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "bad", "model: a/b\nmax_num_seqs: lots\nmax_num_seq: 2\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    problems = info.value.problems
    assert [(p.file, p.line, p.key) for p in problems] == [
        (path, 2, "max_num_seqs"),
        (path, 3, "max_num_seq"),
    ]
    assert problems[0].message.startswith("Input should be a valid integer")
    assert problems[1] == FileProblem(path, 3, "max_num_seq", "unknown key")
    assert str(info.value) == "\n".join(str(p) for p in problems)
    assert str(problems[1]) == f"{path}:3: max_num_seq: unknown key"


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (FileProblem(Path("p.yaml"), 7, "max_num_seqs", "bad"), "p.yaml:7: max_num_seqs: bad"),
        (FileProblem(Path("p.yaml"), None, "port_base", "bad"), "p.yaml: port_base: bad"),
        (FileProblem(Path("p.yaml"), 3, None, "invalid YAML: x"), "p.yaml:3: invalid YAML: x"),
        (FileProblem(Path("p.yaml"), None, None, "cannot read: x"), "p.yaml: cannot read: x"),
    ],
)
def test_a_problem_prints_as_file_line_key_message(problem: FileProblem, text: str) -> None:
    assert str(problem) == text


def test_file_level_problems_have_no_key(tmp_path: Path) -> None:
    broken = write_preset(tmp_path, "broken", "model: x/y\nenv: {A: 1\nport: 9000\n")
    listed = write_preset(tmp_path, "listed", "- model: x/y\n")
    for path, line, message in [
        (broken, 3, "invalid YAML: "),
        (listed, None, "expected a mapping of keys, got list"),
        (tmp_path, None, "cannot read: Is a directory"),
    ]:
        with pytest.raises(ConfigFileError) as info:
            load_yaml(path)
        (problem,) = info.value.problems
        assert (problem.file, problem.line, problem.key) == (path, line, None), path
        assert problem.message.startswith(message)
        assert str(info.value) == f"{path}{f':{line}' if line else ''}: {problem.message}"


TWO_UNKNOWN = "name: bad\nmodel: a/b\nruntime: cpu\nbogus_key_zz: 1\n"


def test_every_unknown_key_is_reported_not_only_the_first(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "two", TWO_UNKNOWN)
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert str(info.value).splitlines() == [
        f"{path}:1: name: unknown key (a preset's name is its file name)",
        f"{path}:4: bogus_key_zz: unknown key",
    ]


def test_problems_come_in_line_order_with_invalid_values(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path, "many", "model: a/b\nzz_one: 1\nport: 70000\nzz_two: 2\nname: x\n"
    )
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert [(p.line, p.key) for p in info.value.problems] == [
        (2, "zz_one"),
        (3, "port"),
        (4, "zz_two"),
        (5, "name"),
    ]


def test_an_unknown_profile_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "p", "model: a/b\nprofile: nope\nzz_key: 1\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert [(p.file, p.line, p.key) for p in info.value.problems] == [
        (path, 2, "profile"),
        (path, 3, "zz_key"),
    ]
    assert info.value.problems[0].message.startswith("unknown profile 'nope' (known: ")


def test_an_invalid_profile_is_reported_with_the_presets_own_problems(tmp_path: Path) -> None:
    profile = write_preset(tmp_path / "profiles", "bad", "name: x\nmax_num_seqs: 0\n")
    path = write_preset(tmp_path, "p", "model: a/b\nprofile: bad\nzz_key: 1\n")
    with pytest.raises(ConfigFileError) as info:
        load_preset_file(path)
    assert info.value.path == profile  # the file that does not load
    assert [(p.file, p.line, p.key) for p in info.value.problems] == [
        (profile, 1, "name"),
        (profile, 2, "max_num_seqs"),
        (path, 3, "zz_key"),
    ]
    assert str(info.value).splitlines()[0] == (
        f"{profile}:1: name: unknown key (a profile's name is its file name)"
    )
