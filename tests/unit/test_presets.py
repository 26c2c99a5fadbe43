from __future__ import annotations

from pathlib import Path

import pytest

from naptha_tui.backends.presets import PresetCatalog, PresetError, load_preset_file
from naptha_tui.backends.yamlfile import ConfigFileError
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
