"""One store for finished runs: 0600 files, new names, lists that skip what does not load, and
runs saved before the store still load."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.evals import results as eval_results
from naptha_tui.backends.loadgen import results as bench_results
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import RunStore, comparison


def kind(doc: Any) -> str | None:
    return None if isinstance(doc, dict) and "x" in doc else "not a test result (no 'x')"


def test_saved_named_listed_loaded(paths: Paths) -> None:
    store = RunStore("tests", "test", kind)
    a = store.save(paths, {"x": 1}, "my label!")
    b = store.save(paths, {"x": 2}, "my label!")
    assert a.endswith("-my-label") and (b == f"{a}-2" or b > a)
    path = store.folder_of(paths) / f"{a}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(json.loads(path.read_text())) == ["x", "name"]  # the name last, as eval's
    assert store.names(paths) == [a, b]
    assert store.load(paths, a) == {"x": 1, "name": a}
    assert store.load(paths, str(path))["x"] == 1  # a result file by path
    (store.folder_of(paths) / "zz-broken.json").write_text("{not json")
    (store.folder_of(paths) / "zz-other.json").write_text('{"y": 1}')
    assert [name for name, _ in store.loaded(paths)] == [a, b]
    assert store.summaries(paths, lambda n, d: {"name": n, "x": d["x"]})[1] == {"name": b, "x": 2}
    with pytest.raises(NapthaError, match=r"zz-other.json: not a test result \(no 'x'\)"):
        store.load(paths, "zz-other")
    with pytest.raises(NapthaError, match=r"not a readable test result"):
        store.load(paths, "zz-broken")
    with pytest.raises(NapthaError, match=r"no test run 'nope' \(latest: .*see `test list`\)"):
        store.load(paths, "nope")
    with pytest.raises(NapthaError, match=r"test run '../x': not a run name nor a .json file"):
        store.load(paths, "../x")


def test_bench_saves_its_name_first_as_it_always_has(paths: Paths) -> None:
    name = bench_results.save_run(paths, {"completed": 3}, "proxy")
    saved = json.loads((bench_results.bench_dir(paths) / f"{name}.json").read_text())
    assert list(saved) == ["name", "completed"]


def test_runs_saved_before_the_store_still_load(paths: Paths) -> None:
    """Files as the earlier code wrote them (the same folders, names and shapes)."""
    bench = paths.ensure(paths.state_dir / "bench", private=True)
    old = {"name": "20261201-173015-proxy", "completed": 4, "failed": 0, "config": {}}
    (bench / "20261201-173015-proxy.json").write_text(json.dumps(old, indent=1) + "\n")
    evals = paths.ensure(paths.state_dir / "evals", private=True)
    doc = {"kind": "bfcl", "config": {}, "records": [], "name": "20261201-173015-m"}
    (evals / "20261201-173015-m.json").write_text(json.dumps(doc, indent=1) + "\n")
    assert bench_results.load_run(paths, "20261201-173015-proxy") == old
    assert [r["name"] for r in bench_results.run_summaries(paths)] == ["20261201-173015-proxy"]
    assert eval_results.load_run(paths, "20261201-173015-m") == doc
    assert [r["name"] for r in eval_results.run_summaries(paths)] == ["20261201-173015-m"]


def test_a_comparison_names_both_runs() -> None:
    class Row:
        def to_json(self) -> dict[str, Any]:
            return {"field": "completed"}

    assert comparison({"name": "a"}, {"name": "b"}, [Row()]) == {
        "a": "a",
        "b": "b",
        "rows": [{"field": "completed"}],
    }
