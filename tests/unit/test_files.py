"""atomic_write: one rename, no temporary file left behind, and the files that now use it;
read_text_file: every file a user names is read through one guard."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends import files
from naptha_tui.backends.checks import vllm_surface
from naptha_tui.backends.checks.vllm_surface import Surfaces, VllmSurface
from naptha_tui.backends.files import READABLE, UnreadableFile, atomic_write, read_text_file
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import install
from naptha_tui.backends.runtimes.runtime import SPECS, Runtime, RuntimeSpec, get_runtime
from naptha_tui.backends.settings import Settings
from tests.fakes.bad_files import BAD_FILES, bad_file


def leftovers(folder: Path, target: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != target)


def test_writes_the_text_with_the_mode(tmp_path: Path) -> None:
    old = os.umask(0)  # the mode is set, not left to the umask
    try:
        private, shared = tmp_path / "private.json", tmp_path / "shared.json"
        atomic_write(private, "é {}\n")
        atomic_write(shared, "x", READABLE)
    finally:
        os.umask(old)
    assert private.read_text(encoding="utf-8") == "é {}\n"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    atomic_write(shared, "y")
    assert shared.read_text() == "y" and stat.S_IMODE(shared.stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    not_text: Any = {"a": object()}  # what a caller that forgot json.dumps would pass
    with pytest.raises(TypeError):
        atomic_write(target, not_text)
    assert target.read_text() == "old"
    assert leftovers(tmp_path, target) == []


def test_a_failed_rename_keeps_the_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ready.json"
    target.write_text("old")
    renamed: list[str] = []

    def refuse(src: str, dst: str) -> None:
        renamed.append(src)
        assert Path(src).read_text() == "new"  # fully written before the rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, "new")
    assert renamed and not Path(renamed[0]).exists()
    assert target.read_text() == "old"
    assert leftovers(tmp_path, target) == []


def test_a_missing_folder_is_an_error_not_a_stray_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nowhere" / "x.json", "x")
    assert list(tmp_path.iterdir()) == []


def _texts(n: int) -> list[str]:
    # large enough that a torn write (or two writers sharing one temp file) would show
    return [json.dumps({"writer": i, "fill": str(i) * 200_000}) for i in range(n)]


def test_concurrent_threads_never_leave_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "servers.json"
    texts = _texts(4)
    atomic_write(target, texts[0])
    seen: set[str] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(25):
                atomic_write(target, text)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        while not stop.is_set():
            text = target.read_text()
            assert text in texts, f"torn file: {len(text)} characters"
            seen.add(text)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert errors == []
    assert target.read_text() in texts and len(seen) >= 2
    assert leftovers(tmp_path, target) == []


WRITER = """
import json, sys
from pathlib import Path
from naptha_tui.backends.files import atomic_write
i, path = int(sys.argv[1]), Path(sys.argv[2])
text = json.dumps({"writer": i, "fill": str(i) * 200_000})
for _ in range(40):
    atomic_write(path, text)
"""


def test_concurrent_processes_never_leave_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "servers.json"
    texts = _texts(3)
    atomic_write(target, texts[0])
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(i), str(target)]) for i in range(3)
    ]
    reads = 0
    while any(p.poll() is None for p in procs):
        text = target.read_text()
        assert text in texts, f"torn file: {len(text)} characters"
        reads += 1
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert reads > 0 and target.read_text() in texts
    assert leftovers(tmp_path, target) == []


# --- the files that used a fixed ".tmp" name --------------------------------------------------


def test_the_ready_marker_is_written_atomically(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SPECS, "tiny", RuntimeSpec("tiny", packages=("pip",), check="print(1)"))
    runtime = Runtime("tiny", paths.runtimes_dir / "tiny")
    (runtime.root / "ready.tmp").mkdir(parents=True)  # the old fixed name: would break it
    assert install(runtime, lambda _: None).ready
    assert stat.S_IMODE(runtime.marker.stat().st_mode) == 0o644
    assert not [p for p in runtime.root.iterdir() if p.name.startswith(".ready.json.")]


def test_the_surface_cache_is_written_atomically(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    surface = VllmSurface(
        source="vLLM 9.9 in runtime fake",
        tool_parsers=frozenset({"hermes"}),
        flags=frozenset({"--max-num-seqs"}),
        version="9.9",
    )
    monkeypatch.setattr(vllm_surface, "probe_runtime", lambda *a, **k: surface)
    surfaces = Surfaces(paths, fake_runtime_settings)
    key = Surfaces._cache_key(get_runtime("fake", paths, fake_runtime_settings), None)
    cache = surfaces.cache_dir / f"fake-{key}.json"
    cache.with_suffix(".tmp").mkdir(parents=True)  # the old fixed name: would break it
    assert surfaces.for_runtime("fake") == surface
    assert VllmSurface.from_json(json.loads(cache.read_text())) == surface
    assert stat.S_IMODE(cache.stat().st_mode) == 0o644
    assert sorted(p.name for p in surfaces.cache_dir.iterdir()) == [cache.name, f"fake-{key}.tmp"]


# -- read_text_file: the one guard for every file a user names ---------------------------------
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_a_message_naming_it(tmp_path: Path, kind: str) -> None:
    path = bad_file(tmp_path, kind)
    with pytest.raises(UnreadableFile) as info:
        read_text_file(path)
    assert info.value.path == path
    assert BAD_FILES[kind] in info.value.reason
    assert str(info.value) == f"{path}: {info.value.reason}"


def test_the_size_limit_is_said_and_the_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bad_file(tmp_path, "huge")

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a file over the limit was opened")

    monkeypatch.setattr(Path, "open", no_open)
    with pytest.raises(UnreadableFile, match=r"47\.7 MiB, over the 8\.0 MiB limit"):
        read_text_file(path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"caf\xe9", "not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8"),
        ("[]".encode("utf-16"), "UTF-16 text; save it as UTF-8"),
        (b"  \n\t\n", "empty"),
        (b"ok\x00", "a binary file, not text (it holds NUL bytes)"),
    ],
)
def test_each_reason_says_what_to_do(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile) as info:
        read_text_file(path)
    assert info.value.reason == reason


def test_text_is_read_and_a_byte_order_mark_dropped(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes('\ufeff["café"]'.encode())
    assert read_text_file(path) == '["café"]'
    path.write_bytes(b"")
    assert read_text_file(path, allow_empty=True) == ""


def test_missing_and_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="No such file or directory"):
        read_text_file(tmp_path / "absent.json")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_text_file(fifo)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_text_file(Path("/dev/zero"))


def test_a_small_limit_is_said_in_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x" * 100)
    with pytest.raises(UnreadableFile, match="over the 50 bytes limit"):
        read_text_file(path, limit=50)
