"""`naptha-tui bench` end to end against an in-process server standing in for the proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.tui.cli import main
from tests.fakes.chat_stream import ChatStream


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatStream]:
    """The fake answers where the node's proxy would (its port in the settings)."""
    with ChatStream(models=("m-one", "m-two")) as fake:
        monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", fake.url.rsplit(":", 1)[1])
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exited:  # usage errors
        code = int(exited.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["--request-rate", "0"], "--request-rate"),
        (["--max-concurrency", "0"], "--max-concurrency"),
        (["--workload", "bogus"], "--workload"),
        (["--goodput", "ttft:500", "speed:3"], "unknown metric 'speed'"),
        (["--goodput", "ttft:0"], "ttft"),
        (["--metric-percentiles", "50,101"], "101"),
        (["--think-time", "soon", "--agents", "2"], "--think-time"),
        (["--workload", "random", "--agents", "3"], "--agents"),
        (["--model", "nope"], "--model 'nope'"),
    ],
)
def test_bad_input_is_named_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str], proxy: ChatStream, argv: list[str], culprit: str
) -> None:
    code, out, err = run(capsys, "bench", "--num-prompts", "3", *argv)
    assert code == 2 and culprit in err, err
    assert out == "" and proxy.bodies == []


def test_a_run_is_reported_saved_listed_and_compared(
    capsys: pytest.CaptureFixture[str], proxy: ChatStream, paths: Paths
) -> None:
    common = ["bench", "--num-prompts", "8", "--random-output-len", "3", "--max-concurrency", "2"]
    code, out, _ = run(capsys, *common, "--seed", "1", "--json")
    assert code == 0
    first = json.loads(out.strip().splitlines()[-1])
    assert (first["completed"], first["failed"]) == (8, 0)
    assert first["config"]["model"] == "m-one"  # the first one served
    assert first["target"] == {"label": "proxy", "base_url": proxy.url, "via_proxy": True}
    saved = paths.state_dir / "bench" / f"{first['name']}.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    code, text, _ = run(capsys, *common, "--model", "m-two", "--label", "two")
    assert code == 0
    assert "Serving Benchmark Result" in text and "Successful requests:" in text
    second = text.strip().splitlines()[-1].split()[2]
    assert second.endswith("-two")
    code, out, _ = run(capsys, "bench", "list", "--json")
    runs = {r["name"]: r for r in json.loads(out)}
    assert set(runs) == {first["name"], second} and runs[second]["model"] == "m-two"
    code, out, _ = run(capsys, "bench", "compare", first["name"], second, "--json")
    rows = {r["field"]: r for r in json.loads(out)["rows"]}
    assert rows["completed"]["a"] == rows["completed"]["b"] == 8 and rows["completed"]["diff"] == 0
    code, _, err = run(capsys, "bench", "show", "no-such-run")
    assert code == 2 and "no bench run 'no-such-run'" in err
    assert len(proxy.bodies) == 16


def test_agents_through_the_cli(capsys: pytest.CaptureFixture[str], proxy: ChatStream) -> None:
    code, out, _ = run(
        capsys,
        "bench", "--agents", "5", "--turns", "2", "--tool-probability", "1",
        "--think-time", "0.01", "--max-concurrency", "3", "--no-save", "--json",
    )  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and result["agents"] == {"total": 5, "finished": 5, "turns": 2}
    assert result["completed"] == 20 and "name" not in result
