from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from naptha_tui.backends.checks.preset_check import check_file, check_preset, check_presets
from naptha_tui.backends.checks.preset_report import (
    NOT_CHECKED,
    REMOTE,
    PresetReport,
    Problem,
    ProblemKind,
    exit_code,
    summary,
)
from naptha_tui.backends.checks.vllm_static_table import KNOWN_TOOL_PARSERS, REMOVED_FLAGS
from naptha_tui.backends.checks.vllm_surface import (
    Surfaces,
    VllmSurface,
    iter_flags,
    normalize_flag,
    static_surface,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog, load_preset_file
from naptha_tui.backends.runtimes.runtime import Runtime
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.cli import main
from tests.conftest import REAL_DATA_DIR, write_preset

# --- the static table ------------------------------------------------------------------------


def test_every_shipped_preset_passes_with_the_static_table(
    paths: Paths, settings: Settings
) -> None:
    reports = check_presets([], paths, settings, static_only=True)
    names = {r.preset for r in reports}
    assert {"smollm2-cpu", "qwen2.5-7b", "mistral-7b-v0.3", "functionary-small-v3.1"} <= names
    assert len(reports) >= 14
    for report in reports:
        assert report.problems == (), [str(p) for p in report.problems]
        assert report.source == "static table (asked for)"
    assert exit_code(reports) == 0


def test_removed_flag_names_file_line_key_and_flag(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path,
        "old",
        'model: a/b\nruntime: cuda\nextra_args:\n  - "--trust-remote-code"\n'
        '  - "--num-scheduler-steps"\n  - "1"\n',
    )
    problems = check_preset(load_preset_file(path), static_surface())
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.line, problem.key) == (str(path), 5, "extra_args")
    assert str(problem).startswith(
        f"{path}:5: extra_args: --num-scheduler-steps: vLLM no longer accepts it; removed Aug 2025"
    )
    assert "#22138" in problem.message and "drop it" in problem.message


def test_removed_flags_in_other_spellings(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path,
        "old",
        "model: a/b\nextra_args: ['--num_scheduler_steps=8', '--guided-decoding-backend=xgrammar',"
        " '--guided-decoding-disable-fallback', '--disable-log-requests', '--log-config-file',"
        " 'log.json', '--max-model-len', '-1']\n",
    )
    messages = [p.message for p in check_preset(load_preset_file(path), static_surface())]
    assert messages[0].startswith("--num-scheduler-steps: vLLM no longer accepts it")
    assert "use --structured-outputs-config.backend NAME" in messages[1]
    assert messages[2].startswith("--guided-decoding-disable-fallback: vLLM no longer")
    assert "#29402" in messages[3]
    assert "will be removed in v0.33.0" in messages[4]
    assert "--logging-config.pylogging_config_file" in messages[4]
    assert len(messages) == 5  # '-1' is a value, and --max-model-len is fine


def test_iter_flags_reads_values_like_vllm() -> None:
    args = ["--a", "1", "--b", "--c=x", "-O3", "--d", "-1", "--e.f", "v", "--g_h", "tail"]
    assert iter_flags(args) == [
        (0, "--a", "1"),
        (2, "--b", None),
        (3, "--c", "x"),
        (4, "--optimization-level", None),
        (5, "--d", "-1"),
        (7, "--e.f", "v"),
        (9, "--g-h", "tail"),
    ]
    assert iter_flags(["--flag", "positional"], frozenset({"--flag"})) == [(0, "--flag", None)]
    assert normalize_flag("--structured_outputs_config.disable_any_whitespace") == (
        "--structured-outputs-config.disable_any_whitespace"
    )


def test_tool_call_parser_must_be_registered_or_provided(tmp_path: Path) -> None:
    def problems(text: str) -> list[str]:
        preset = load_preset_file(write_preset(tmp_path, "p", f"model: a/b\n{text}"))
        return [str(p) for p in check_preset(preset, static_surface())]

    path = tmp_path / "p.yaml"
    assert problems("tool_call_parser: hermes\n") == []
    assert problems("tool_call_parser: hermess\n") == [
        f"{path}:2: tool_call_parser: 'hermess': not a tool-call parser vLLM registers "
        "(static list) (closest: hermes)"
    ]
    assert problems("tool_parser_plugin: naptha\ntool_call_parser: naptha_functionary\n") == []
    assert problems("tool_parser_plugin: naptha\ntool_call_parser: hermes\n") == []
    (bad,) = problems("tool_parser_plugin: naptha\ntool_call_parser: naptha_functionry\n")
    assert "nor plugin naptha provides (closest: naptha_functionary" in bad
    (tmp_path / "mine.py").write_text(
        "@ToolParserManager.register_module(['mine', 'mine2'])\nclass P: ...\n"
        'ToolParserManager.register_lazy_module("lazy", "mod.path", "Cls")\n'
    )
    for name in ("mine", "mine2", "lazy"):
        assert problems(f"tool_parser_plugin: mine.py\ntool_call_parser: {name}\n") == []
    (bad,) = problems("tool_parser_plugin: mine.py\ntool_call_parser: Cls\n")
    assert "'Cls': not a tool-call parser" in bad
    # a plugin whose names cannot be read: left to vLLM
    assert problems("tool_parser_plugin: nowhere.py\ntool_call_parser: anything\n") == []


def test_auto_tool_choice_needs_a_parser_and_typed_keys_are_not_repeated(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path,
        "p",
        "model: a/b\nmax_num_seqs: 4\nenable_auto_tool_choice: true\n"
        "extra_args: ['--max-num-seqs', '8', '--port', '9']\n",
    )
    problems = [str(p) for p in check_preset(load_preset_file(path), static_surface())]
    assert problems == [
        f"{path}:4: extra_args: --max-num-seqs: already set by the key max_num_seqs; "
        "two values, the later one wins",
        f"{path}:4: extra_args: --port: naptha-tui sets it for every server "
        "(use the preset's own keys)",
        f"{path}:3: enable_auto_tool_choice: needs tool_call_parser "
        "(vLLM refuses to start without one)",
    ]


def test_a_file_that_does_not_load_is_reported_as_invalid(paths: Paths, tmp_path: Path) -> None:
    path = write_preset(tmp_path, "broken", "model: a/b\nprofile: nope\n")
    report = check_file(path, Surfaces(paths, Settings(), static_only=True))
    assert report.invalid and exit_code([report]) == 2
    (problem,) = report.problems
    assert (problem.file, problem.line, problem.key) == (str(path), 2, "profile")
    assert problem.message.startswith("unknown profile 'nope'")


def test_surfaces_fall_back_to_the_static_table(paths: Paths) -> None:
    surfaces = Surfaces(paths, Settings())
    assert surfaces.for_runtime("cuda").source == "static table (runtime cuda is not installed)"
    assert surfaces.for_runtime("nope").source == "static table (no runtime 'nope')"
    assert not surfaces.for_runtime("cpu").exact  # the isolated data dir has no runtime


def test_cli_check_exit_codes_and_json(
    paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["presets", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok (preset qwen2.5-7b, model Qwen/Qwen2.5-7B-Instruct, runtime cuda)" in out
    assert "[static table (runtime cuda is not installed)]" in out
    assert out.splitlines()[-1].startswith("checked ")

    bad = write_preset(tmp_path, "bad", "model: a/b\nextra_args: ['--use-v2-block-manager']\n")
    good = write_preset(tmp_path, "good", "model: a/b\n")
    assert main(["presets", "check", str(bad), "good", "--json", "--static"]) == 2  # no 'good'
    capsys.readouterr()
    write_preset(paths.user_presets_dir, "good", "model: a/b\n")
    assert main(["presets", "check", str(bad), "good", "--json", "--static"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [p["key"] for p in doc["problems"]] == ["extra_args"]
    problem = doc["problems"][0]
    assert problem["file"] == str(bad) and problem["line"] == 2 and problem["kind"] == "flag"
    assert problem["message"].startswith("--use-v2-block-manager: vLLM no longer accepts it")
    assert [(r["preset"], r["ok"]) for r in doc["presets"]] == [("bad", False), ("good", True)]
    assert doc["presets"][1]["source"] == "static table (asked for)"
    assert main(["presets", "check", str(good)]) == 0


# --- the real CPU runtime (installed by `make node`, as CI does before the tests) -------------


@pytest.fixture(scope="module")
def cpu(tmp_path_factory: pytest.TempPathFactory) -> tuple[Surfaces, VllmSurface]:
    root = tmp_path_factory.mktemp("surface")
    paths = Paths(root / "config", REAL_DATA_DIR, root / "state", root / "logs")
    runtime = Runtime("cpu", paths.runtimes_dir / "cpu")
    assert runtime.info().ready, f"the CPU runtime is not installed in {runtime.root}"
    surfaces = Surfaces(paths, Settings())
    surface = surfaces.for_runtime("cpu")
    return surfaces, surface


def test_runtime_surface_comes_from_the_runtime_and_is_cached(
    cpu: tuple[Surfaces, VllmSurface], monkeypatch: pytest.MonkeyPatch
) -> None:
    surfaces, surface = cpu
    assert surface.exact and surface.version == "0.32.0"
    assert surface.source == "vLLM 0.32.0 in runtime cpu"
    assert {"--max-num-seqs", "--tool-call-parser", "--no-enable-prefix-caching"} <= surface.flags
    assert "--trust-remote-code" in surface.no_value and "--max-num-seqs" not in surface.no_value
    assert "bfloat16" in surface.choices["--dtype"]
    assert {"hermes", "llama3_json", "pythonic", "xlam"} <= surface.tool_parsers
    assert surface.reasoning_parsers is not None and "qwen3" in surface.reasoning_parsers
    cache = surfaces.cache_dir / "cpu-0.32.0.json"
    assert VllmSurface.from_json(json.loads(cache.read_text())) == surface

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached answer should have been used")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    again = Surfaces(surfaces.paths, Settings()).for_runtime("cpu")
    assert again == surface


def test_static_table_agrees_with_the_installed_vllm(cpu: tuple[Surfaces, VllmSurface]) -> None:
    _, surface = cpu
    for entry in REMOVED_FLAGS:
        if entry.prefix:
            assert not any(f.startswith(entry.flag) for f in surface.flags), entry.flag
        else:
            # deprecated entries are still accepted by 0.32.0; the others are gone
            assert (entry.flag in surface.flags) == entry.deprecated, entry.flag
        if entry.replacement and entry.replacement.startswith("--"):
            base = entry.replacement.split()[0].split(".")[0]
            assert base in surface.flags, (entry.flag, base)
    assert surface.tool_parsers <= KNOWN_TOOL_PARSERS


def test_shipped_presets_pass_against_the_runtime(
    cpu: tuple[Surfaces, VllmSurface],
) -> None:
    surfaces, _ = cpu
    catalog = PresetCatalog(None)
    for path in catalog.files().values():
        report = check_file(path, surfaces, runtime="cpu")
        assert report.source == "vLLM 0.32.0 in runtime cpu", path
        assert report.problems == (), [str(p) for p in report.problems]


def test_runtime_check_finds_what_vllm_rejects(
    cpu: tuple[Surfaces, VllmSurface], tmp_path: Path
) -> None:
    surfaces, _ = cpu
    path = write_preset(
        tmp_path,
        "p",
        "model: a/b\nruntime: cpu\ntool_call_parser: granite\ndtype: float32\nextra_args:\n"
        "  - --num-scheduler-steps\n  - '1'\n  - --max-num-seq\n  - '8'\n"
        "  - --reasoning-parser\n  - qwen9\n  - --tokenizer_mode\n  - hf\n"
        "  - --structured-outputs-config.backend\n  - xgrammar\n  - --trust-remote-code\n",
    )
    report = check_file(path, surfaces)
    assert report.source == "vLLM 0.32.0 in runtime cpu"
    messages = [(p.line, p.message) for p in report.problems]
    assert len(messages) == 3
    assert messages[0][0] == 6 and messages[0][1].startswith(
        "--num-scheduler-steps: not an option of vLLM 0.32.0; removed Aug 2025"
    )
    assert messages[1][0] == 8 and messages[1][1].startswith(
        "--max-num-seq: not an option of vLLM 0.32.0 (closest: --max-num-seqs"
    )
    assert messages[2][0] == 10 and messages[2][1].startswith(
        "--reasoning-parser qwen9: not a reasoning parser vLLM 0.32.0 registers (closest: qwen3"
    )
    assert summary([report]).startswith("checked 1 preset(s): 3 problem(s).")


def test_typed_keys_are_checked_against_the_runtime(
    cpu: tuple[Surfaces, VllmSurface], tmp_path: Path
) -> None:
    _, surface = cpu
    older = replace(surface, flags=surface.flags - {"--pipeline-parallel-size"}, version="0.5.0")
    path = write_preset(
        tmp_path, "big", "model: a/b\nprofile: multinode-ray\ntool_call_parser: hermes\n"
    )
    problems = check_preset(load_preset_file(path), older)
    assert [str(p) for p in problems] == [
        f"{path}:2: pipeline_parallel_size: --pipeline-parallel-size: not an option of "
        "vLLM 0.5.0 (from profile multinode-ray)"
    ]
    assert check_preset(load_preset_file(path), surface) == []


def test_a_template_that_fails_its_render_check_is_flagged(tmp_path: Path) -> None:
    """A user template that drops the generation prompt and ignores tools names both."""
    (tmp_path / "plain.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    )
    path = write_preset(tmp_path, "tpl", "model: org/m\nchat_template: ./plain.jinja\n")
    problems = check_preset(load_preset_file(path), static_surface())
    assert problems and all(p.key == "chat_template" and p.line == 2 for p in problems)
    text = " ".join(p.message for p in problems)
    assert "generation prompt" in text and "tool" in text
    good = write_preset(tmp_path, "ok", "model: org/m\nchat_template: smollm2_tool_use.jinja\n")
    assert check_preset(load_preset_file(good), static_surface()) == []


def test_load_problems_keep_their_file_line_and_key(paths: Paths, tmp_path: Path) -> None:
    surfaces = Surfaces(paths, Settings(), static_only=True)
    broken = write_preset(tmp_path, "broken", "model: a/b\nenv: {A: 1\n")
    (problem,) = check_file(broken, surfaces).problems
    assert (problem.file, problem.line, problem.key) == (str(broken), 3, "(file)")
    assert problem.message.startswith("invalid YAML: ")
    assert str(problem) == f"{broken}:3: (file): {problem.message}"
    # the fields are taken as they are: a key with a space used to be read back as "(file)"
    odd = write_preset(tmp_path, "odd", "model: a/b\nmy key: 1\n")
    (problem,) = check_file(odd, surfaces).problems
    assert (problem.line, problem.key, problem.message) == (2, "my key", "unknown key")
    assert problem.kind == "invalid" and problem.file == str(odd)


# --- files that do not load, and the summary -------------------------------------------------

TWO_UNKNOWN = "name: bad\nmodel: a/b\nruntime: cpu\nbogus_key_zz: 1\n"


def test_every_load_problem_of_a_file_is_reported(paths: Paths, tmp_path: Path) -> None:
    path = write_preset(tmp_path, "two", TWO_UNKNOWN)
    report = check_file(path, Surfaces(paths, Settings(), static_only=True))
    assert report.invalid and report.source == NOT_CHECKED and exit_code([report]) == 2
    assert [(p.file, p.line, p.key, p.kind) for p in report.problems] == [
        (str(path), 1, "name", "invalid"),
        (str(path), 4, "bogus_key_zz", "invalid"),
    ]
    assert [p.message for p in report.problems] == [
        "unknown key (a preset's name is its file name)",
        "unknown key",
    ]


def test_cli_names_every_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, "two", TWO_UNKNOWN)
    assert main(["presets", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{path}:1: name: unknown key (a preset's name is its file name)",
        f"{path}:4: bogus_key_zz: unknown key",
    ]
    assert captured.out.splitlines() == [
        "checked 1 preset(s): 2 problem(s), 1 file(s) that do not load"
    ]


def test_python_m_presets_check_names_every_unknown_key(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "two", TWO_UNKNOWN)
    done = subprocess.run(
        [sys.executable, "-m", "naptha_tui.tui", "presets", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:1: name: unknown key" in done.stderr.splitlines()[0]
    assert done.stderr.splitlines()[1] == f"{path}:4: bogus_key_zz: unknown key"
    assert done.stdout.strip() == "checked 1 preset(s): 2 problem(s), 1 file(s) that do not load"


def _report(source: str, problems: int = 0, kind: ProblemKind = "flag") -> PresetReport:
    found = tuple(Problem("p.yaml", "k", "m", 1, "p", kind) for _ in range(problems))
    return PresetReport("p.yaml", "p", source, found)


A, B = "vLLM 0.32.0 in runtime cpu", "static table (runtime cuda is not installed)"
INVALID = _report(NOT_CHECKED, 1, "invalid")


@pytest.mark.parametrize(
    ("reports", "line"),
    [
        ([], "checked 0 preset(s): 0 problem(s)"),
        ([_report(A)], f"checked 1 preset(s): 0 problem(s). Checked against {A}: 1"),
        ([_report(A, 3)], f"checked 1 preset(s): 3 problem(s). Checked against {A}: 1"),
        (
            [_report(A), _report(B, 1), _report(B)],
            f"checked 3 preset(s): 1 problem(s). Checked against {A}: 1; {B}: 2",
        ),
        ([INVALID], "checked 1 preset(s): 1 problem(s), 1 file(s) that do not load"),
        (
            [INVALID, _report(NOT_CHECKED, 2, "invalid")],
            "checked 2 preset(s): 3 problem(s), 2 file(s) that do not load",
        ),
        (
            [_report(REMOTE)],
            "checked 1 preset(s): 0 problem(s). 1 remote preset(s), nothing to check",
        ),
        (
            [_report(A, 2), INVALID, _report(REMOTE), _report(A), _report(REMOTE)],
            f"checked 5 preset(s): 3 problem(s), 1 file(s) that do not load. "
            f"Checked against {A}: 2. 2 remote preset(s), nothing to check",
        ),
    ],
)
def test_summary_reads_plainly_in_every_mix(reports: list[PresetReport], line: str) -> None:
    assert summary(reports) == line
    assert "not checked" not in summary(reports)
