"""Every file a user names, tried with the five bad files: a message naming the file, exit 2.

The panel's side (the playground's tools file, a saved session) is in
``tests/tui/test_one_error_channel.py``; the guard itself in ``test_files.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.sessions import load_session
from naptha_tui.backends.yamlfile import ConfigFileError, load_yaml
from naptha_tui.tui.cli import main
from tests.fakes.bad_files import BAD_FILES, bad_file
from tests.unit.test_cli import assert_nothing_started

BASE = ("--model", "m", "--prompt", "hi")
FLAGS = {
    "--tools": "tools",
    "--schema": "schema",
    "--grammar": "grammar",
    "--conversation": "conversation",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_try_names_the_bad_file_and_its_field(
    capsys: pytest.CaptureFixture[str], paths: Paths, tmp_path: Path, flag: str, kind: str
) -> None:
    path = bad_file(tmp_path, kind)
    code = main(["try", *BASE, "--mode", "plain", flag, str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"naptha-tui: error: {FLAGS[flag]}: cannot read {path}: "), err
    assert BAD_FILES[kind] in err and "Traceback" not in err
    assert_nothing_started(paths)


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_try_names_a_bad_session_file(
    capsys: pytest.CaptureFixture[str], paths: Paths, tmp_path: Path, kind: str
) -> None:
    path = bad_file(tmp_path, kind, "session.yaml")
    code = main(["try", *BASE, "--session", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"naptha-tui: error: {path}: "), err
    assert BAD_FILES[kind] in err and "Traceback" not in err


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_saved_session_by_name_that_is_a_bad_file(paths: Paths, kind: str) -> None:
    folder = paths.state_dir / "playground"
    made = bad_file(paths.state_dir / "made", kind, "s.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    made.rename(folder / "s.yaml")
    with pytest.raises(ConfigFileError) as info:
        load_session(paths, "s")
    assert str(info.value).startswith(f"{folder / 's.yaml'}: ")
    assert BAD_FILES[kind] in str(info.value)


@pytest.mark.parametrize("kind", sorted(set(BAD_FILES) - {"empty"}))
def test_a_bad_preset_or_settings_file_names_itself(tmp_path: Path, kind: str) -> None:
    """load_yaml (presets, settings, sessions) reads through the same guard; empty is {} there."""
    path = bad_file(tmp_path, kind, "p.yaml")
    with pytest.raises(ConfigFileError) as info:
        load_yaml(path)
    (problem,) = info.value.problems
    assert problem.message.startswith("cannot read: ") and BAD_FILES[kind] in problem.message


def test_an_empty_preset_or_settings_file_is_an_empty_mapping(tmp_path: Path) -> None:
    assert load_yaml(bad_file(tmp_path, "empty", "p.yaml")).data == {}
