from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError

from naptha_tui.backends.state import NodeState, ProcessRecord, StateFile


def record(name: str, port: int = 8100) -> ProcessRecord:
    return ProcessRecord(
        name=name,
        kind="vllm",
        pid=123,
        create_time=1.5,
        argv=["vllm", "serve"],
        host="127.0.0.1",
        port=port,
        log_path=Path("/tmp/x.log"),
        started_at=2.0,
        preset="p",
        served_model_name="m",
    )


def test_round_trip_and_mode(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state" / "servers.json")
    with state.update() as s:
        s.servers["a"] = record("a")
        s.proxy = record("proxy", 4000).model_copy(update={"kind": "proxy"})
    loaded = state.load()
    assert loaded.servers["a"] == record("a")
    assert loaded.proxy is not None and loaded.proxy.port == 4000
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "none.json").load() == NodeState()


def test_corrupt_file_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    path.write_text("{not json")
    assert StateFile(path).load() == NodeState()
    assert path.with_suffix(".corrupt").read_text() == "{not json"


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "servers.json")

    def add(i: int) -> None:
        with state.update() as s:
            s.servers[f"s{i}"] = record(f"s{i}", 9000 + i)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(state.load().servers) == sorted(f"s{i}" for i in range(20))


def test_a_write_that_fails_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "servers.json")
    with state.update() as s:
        s.servers["a"] = record("a")
    before = state.path.read_text()
    with pytest.raises(PydanticSerializationError), state.update() as s:
        s.servers["b"] = record("b").model_copy(update={"default_params": {"x": object()}})
    assert state.path.read_text() == before
    assert sorted(state.load().servers) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servers.json", "servers.lock"]
