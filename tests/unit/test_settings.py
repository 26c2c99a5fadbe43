from __future__ import annotations

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.backends.yamlfile import ConfigFileError, FileProblem


def test_defaults_without_a_file(paths: Paths) -> None:
    settings = load_settings(paths)
    assert settings.proxy.host == "127.0.0.1" and settings.proxy.port == 4000


def test_file_then_environment(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAPTHA_TUI_PORT_BASE")  # the suite's per-worker ports
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(
        "port_base: 9100\nproxy:\n  port: 4001\n"
        "runtimes:\n  mine:\n    executable: /opt/vllm/bin/vllm\n"
    )
    settings = load_settings(paths)
    assert (settings.port_base, settings.proxy.port) == (9100, 4001)
    assert str(settings.runtimes["mine"].executable) == "/opt/vllm/bin/vllm"
    monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", "4100")
    settings = load_settings(paths)
    assert settings.proxy.port == 4100 and settings.port_base == 9100


def test_bad_value_names_file_line_key(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("proxy:\n  port: 99999\n")
    with pytest.raises(ConfigFileError, match=r"config.yaml:2: proxy.port: Input should be"):
        load_settings(paths)


def test_bad_environment_value_is_named(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPTHA_TUI_PORT_BASE", "lots")
    with pytest.raises(ConfigFileError, match=r"port_base: Input should be a valid integer"):
        load_settings(paths)


def test_paths_follow_environment(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAPTHA_TUI_LOG_DIR", "/var/tmp/nt-logs")
    assert Paths.from_env().log_dir.as_posix() == "/var/tmp/nt-logs"
    assert paths.user_presets_dir == paths.config_dir / "presets"


def test_every_problem_in_config_yaml_is_a_value(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("proxy:\n  port: 99999\n  colour: red\nzz_key: 1\n")
    monkeypatch.setenv("NAPTHA_TUI_POLL_SECONDS", "often")
    with pytest.raises(ConfigFileError) as info:
        load_settings(paths)
    found = {p.key: p for p in info.value.problems}
    assert set(found) == {"proxy.port", "proxy.colour", "zz_key", "poll_seconds"}
    assert all(p.file == paths.config_file for p in found.values())
    assert found["proxy.port"].line == 2 and found["proxy.colour"].line == 3
    assert found["zz_key"] == FileProblem(paths.config_file, 4, "zz_key", "unknown key")
    # from the environment: not in the file, so the document's first line
    assert found["poll_seconds"].line == 1
    assert f"{paths.config_file}:3: proxy.colour: unknown key" in str(info.value).splitlines()


def test_an_environment_problem_without_a_file_has_no_line(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAPTHA_TUI_PORT_BASE", "lots")
    with pytest.raises(ConfigFileError) as info:
        load_settings(paths)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.key) == (paths.config_file, None, "port_base")
    assert str(problem) == f"{paths.config_file}: port_base: {problem.message}"
