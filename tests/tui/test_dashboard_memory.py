"""The dashboard's memory, metrics, swap and Ollama panel: what the widgets show, and what the
keys ask for (the Ollama panel drives the real client against the recorded fake daemon)."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.text import Text
from textual.widgets import Log, OptionList, Static

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.verdict import Verdict, WontFit
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.swap import SwapModal
from naptha_tui.tui.widgets.memory import HISTORY, OTHER_STYLE, MemoryPanel, TrendsPanel, bar
from naptha_tui.tui.widgets.server_table import KEYS, ServerTable
from tests.fakes.node import (
    EMBEDDED_RSS,
    GIB,
    TWO_GPUS,
    FakeGpu,
    FakeNode,
    busy,
    fake_host,
    gpu_servers,
    refused_on_gpu,
    server,
)
from tests.tui.test_dashboard import app_with, fed, polls, until, workers_done


def cell(table: ServerTable, name: str, column: str) -> Any:
    return table.get_row(name)[KEYS.index(column)]


def style_of(text: Text, part: str) -> str:
    """The style of the span that covers ``part`` of ``text``."""
    start = text.plain.index(part)
    styles = [str(s.style) for s in text.spans if s.start <= start < s.end]
    return styles[-1] if styles else str(text.style)


async def dashboard(pilot: Any) -> DashboardScreen:
    screen = pilot.app.screen
    assert isinstance(screen, DashboardScreen)
    table = screen.query_one(ServerTable)
    await until(pilot, lambda: table.row_count > 0)
    return screen


# -- the server table: memory and metrics -----------------------------------------------
async def test_metric_columns_show_the_window_coloured_by_threshold(paths: Paths) -> None:
    node = FakeNode(
        [
            server(),  # the real window: 21.4 tok/s, TTFT p50 8438 ms (bad on a 2-core CPU)
            server("b", port=8101, metrics_=busy(waiting=12.0, kv_cache_usage=0.42)),
            server(
                "c",
                port=8102,
                metrics_=busy(
                    waiting=64.0, kv_cache_usage=0.93, ttft_p50_ms=180.0, ttft_p95_ms=640.0
                ),
            ),
            server("d", "stopped", 8103),
        ]
    )
    app = app_with(paths, node)
    async with app.run_test(size=(160, 40)) as pilot:
        table = (await dashboard(pilot)).query_one(ServerTable)
        row = [str(c) for c in table.get_row("smollm2-cpu")]
        assert row[KEYS.index("mem") :] == ["1.3G", "0", "0", "0%", "21.4", "8438/9844", ""]
        ttft = cell(table, "smollm2-cpu", "ttft")
        assert style_of(ttft, "8438") == "bold red" and style_of(ttft, "9844") == "bold red"
        assert str(cell(table, "smollm2-cpu", "kv").style) == ""  # ok: default colour

        assert str(cell(table, "b", "wait")) == "12" and cell(table, "b", "wait").style == "yellow"
        assert str(cell(table, "b", "kv")) == "42%" and cell(table, "b", "kv").style == ""

        assert cell(table, "c", "wait").style == "bold red"
        assert str(cell(table, "c", "kv")) == "93%" and cell(table, "c", "kv").style == "bold red"
        ttft = cell(table, "c", "ttft")
        assert str(ttft) == "180/640"
        assert style_of(ttft, "180") == "" and style_of(ttft, "640") == "yellow"

        stopped = [str(c) for c in table.get_row("d")][KEYS.index("mem") : -1]
        assert stopped == ["-"] * 6
        assert cell(table, "d", "status").style == "dim"


async def test_memory_column_is_gpu_memory_on_a_gpu_else_rss(paths: Paths) -> None:
    node = FakeNode([*gpu_servers(), server(), server("dozing", "sleeping", 8105)])
    app = app_with(paths, node, FakeGpu(TWO_GPUS))
    async with app.run_test(size=(160, 40)) as pilot:
        table = (await dashboard(pilot)).query_one(ServerTable)
        assert str(cell(table, "qwen2.5-7b", "mem")) == "42.5G GPU"  # both GPUs together
        assert str(cell(table, "llama3.1-8b", "mem")) == "18.0G GPU"
        assert str(cell(table, "smollm2-cpu", "mem")) == f"{EMBEDDED_RSS / GIB:.1f}G"  # RSS
        assert str(cell(table, "llama3.1-8b", "tok_s")) == "812.5"
        assert str(cell(table, "dozing", "status")) == "sleeping"
        assert cell(table, "dozing", "status").style == "cyan"


async def test_a_poll_with_the_same_servers_updates_cells_in_place(paths: Paths) -> None:
    node = FakeNode([server("a"), server("b", port=8101)])
    app = app_with(paths, node)
    async with app.run_test(size=(160, 40)) as pilot:
        table = (await dashboard(pilot)).query_one(ServerTable)
        cleared: list[int] = []
        original = table.clear

        def counting_clear(*args: Any, **kwargs: Any) -> Any:
            cleared.append(1)
            return original(*args, **kwargs)

        table.clear = counting_clear  # type: ignore[method-assign]
        node.servers = [server("a", metrics_=busy(waiting=55.0)), server("b", port=8101)]
        await until(pilot, lambda: str(cell(table, "a", "wait")) == "55")
        assert cell(table, "a", "wait").style == "bold red"
        assert cleared == []  # same servers, same order: no rebuild
        node.servers.append(server("c", port=8102))
        await until(pilot, lambda: table.row_count == 3)
        assert cleared  # a new server: the rows are rebuilt


async def test_the_highlighted_servers_reason_shows_in_full(paths: Paths) -> None:
    why = "out of memory: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    node = FakeNode([server(), server("qwen", "crashed", 8101, why)])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        table = (await dashboard(pilot)).query_one(ServerTable)
        assert table.border_subtitle in (None, "")
        await pilot.press("down")
        await until(pilot, lambda: table.border_subtitle == f"qwen crashed: {why}")


async def test_the_highlighted_running_server_says_its_dtype_and_why(paths: Paths) -> None:
    why = "auto: this CPU (AVX2) has no avx512_bf16 or amx_bf16, so bfloat16 would be emulated"
    cpu = dataclasses.replace(server(), dtype="float32", dtype_reason=why)
    node = FakeNode([cpu, server("qwen", runtime="cuda", port=8101)])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        table = (await dashboard(pilot)).query_one(ServerTable)
        await until(pilot, lambda: table.border_subtitle == f"smollm2-cpu: float32 ({why})")
        await pilot.press("down")  # a server with nothing recorded says nothing
        await until(pilot, lambda: table.border_subtitle in (None, ""))


# -- memory bars and trends --------------------------------------------------------------
async def test_ram_bar_is_split_by_server_on_a_cpu_node(paths: Paths) -> None:
    node = FakeNode([server(), server("smollm2-b", port=8101, rss_bytes=1_380_000_000)])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await dashboard(pilot)
        panel = screen.query_one(MemoryPanel)
        await until(pilot, lambda: bool(panel.splits))
        [ram] = panel.splits
        assert ram.label == "RAM" and ram.total == 24 * GIB and ram.used == int(6.5 * GIB)
        shares = {s.name: s.bytes for s in ram.shares}
        assert shares == {
            "smollm2-cpu": EMBEDDED_RSS,
            "smollm2-b": 1_380_000_000,
            "other": int(6.5 * GIB) - EMBEDDED_RSS - 1_380_000_000,
        }
        text = panel.render()
        assert "■ smollm2-cpu 1.3  ■ smollm2-b 1.3  ■ other 3.9  ░ free 17.5" in text.plain
        assert "6.5/24.0 GiB" in text.plain and "no NVIDIA GPU" in text.plain
        # each server's colour is the same in the bar and in the legend, and differs from others
        colours = {s.name: s.style for s in ram.shares}
        assert len(set(colours.values())) == 3 and colours["other"] == OTHER_STYLE
        assert style_of(text, "■ smollm2-b") == colours["smollm2-b"]
        cells = bar(ram, 48)
        counted = {
            c: sum(s.end - s.start for s in cells.spans if str(s.style) == c)
            for c in colours.values()
        }
        # 1.4 GB of 24 GiB over 48 cells, cumulative rounding: 3, then 2, then the rest of 6.5 GiB
        assert counted == {colours["smollm2-cpu"]: 3, colours["smollm2-b"]: 2, OTHER_STYLE: 8}
        assert cells.cell_len == 48


async def test_gpu_bars_are_split_by_server(paths: Paths) -> None:
    node = FakeNode([*gpu_servers(), server()])
    app = app_with(paths, node, FakeGpu(TWO_GPUS))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = (await dashboard(pilot)).query_one(MemoryPanel)
        await until(pilot, lambda: len(panel.splits) == 2)
        gpu0, gpu1 = panel.splits
        assert [(s.name, s.bytes / GIB) for s in gpu0.shares] == [
            ("qwen2.5-7b", 40.0),
            ("llama3.1-8b", 18.0),
            ("other", 4.0),  # the notebook's 3 GiB and the driver's
        ]
        assert [(s.name, s.bytes / GIB) for s in gpu1.shares] == [
            ("qwen2.5-7b", 2.5),
            ("other", 0.5),
        ]
        text = panel.render().plain
        assert "■ qwen2.5-7b 40.0  ■ llama3.1-8b 18.0  ■ other 4.0  ░ free 18.0" in text
        assert "smollm2-cpu" not in text  # a CPU server holds no GPU memory
        # the same server has the same colour on both GPUs
        assert gpu0.shares[0].style == gpu1.shares[0].style


async def test_the_nodes_gpu_reading_wins_over_the_panels_own(paths: Paths) -> None:
    # Node.status reads the GPUs in the same round it attributes memory: use that one
    node = FakeNode(gpu_servers(), gpus=TWO_GPUS, host=fake_host())
    app = app_with(paths, node, FakeGpu())  # the panel's own reader finds no GPU
    async with app.run_test(size=(120, 36)) as pilot:
        panel = (await dashboard(pilot)).query_one(MemoryPanel)
        await until(pilot, lambda: len(panel.splits) == 2)
        await polls(pilot, node)  # several polls (and the panel's own readings) later
        assert [s.label for s in panel.splits] == ["GPU 0", "GPU 1"]
        assert "no NVIDIA GPU" not in panel.render().plain


async def test_trends_keep_the_last_minute(paths: Paths) -> None:
    node = FakeNode([server(), server("b", port=8101)], host=fake_host())
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        trends = (await dashboard(pilot)).query_one(TrendsPanel)
        await until(pilot, lambda: len(trends.tokens) >= 3)
        text = trends.render().plain
        assert "memory" in text and "6.5/24.0 GiB" in text
        assert "tok/s" in text and "42.8" in text  # two servers at 21.4 tok/s
        assert "smollm2-cpu" in text and "21.4" in text
        await until(pilot, lambda: len(trends.tokens) == HISTORY, timeout=15)
        await polls(pilot, node)
        assert len(trends.tokens) == HISTORY and len(trends.per_server["b"]) == HISTORY
        node.servers = [server()]
        await until(pilot, lambda: "b" not in trends.per_server)


# -- swap ----------------------------------------------------------------------------
async def open_swap(pilot: Any, preset: str) -> SwapModal:
    await dashboard(pilot)
    await pilot.press("w")
    await until(pilot, lambda: isinstance(pilot.app.screen, SwapModal))
    modal = pilot.app.screen
    assert isinstance(modal, SwapModal)
    options = modal.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = ids.index(preset)
    await until(pilot, lambda: preset in modal.checked)
    return modal


def refused(app: Any) -> list[str]:
    """What the swap modal said when asked to confirm a swap that would be refused."""
    return [n.message for n in app._notifications if "the swap would refuse it" in n.message]


def verdict_shown(modal: SwapModal) -> Text:
    shown = modal.query_one("#verdict", Static).content
    assert isinstance(shown, Text)
    return shown


async def test_swap_asks_the_planner_and_confirming_swaps(paths: Paths) -> None:
    node = FakeNode([server()])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        modal = await open_swap(pilot, "qwen2.5-7b")
        options = modal.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "smollm2-cpu" not in ids  # the server's own preset is no swap
        assert ("swap_verdict", "smollm2-cpu", "qwen2.5-7b") in node.calls
        shown = verdict_shown(modal).plain
        assert "qwen2.5-7b fits in RAM" in shown
        assert (
            "needs    3.75 GiB  (weights 0.25 GiB + KV cache 2.00 GiB + overhead 1.50 GiB)" in shown
        )
        assert "free     18.9 GiB once smollm2-cpu is freed" in shown
        assert "held by  other processes 5.1 GiB" in shown
        await pilot.press("y")
        log = app.screen.query_one(Log)
        await until(pilot, lambda: any(line.startswith("swapped:") for line in log.lines))
        assert ("swap", "smollm2-cpu", "qwen2.5-7b") in node.calls
        lines = list(log.lines)
        assert "swap: smollm2-cpu for qwen2.5-7b" in lines
        assert "smollm2-cpu: stopping" in lines and "qwen2.5-7b: ready" in lines
        assert (
            "swapped: smollm2-cpu stopped (memory returned in 0.8 s), qwen2.5-7b started in 41.5 s"
            in lines
        )
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.servers.keys() == {"qwen2.5-7b"})


async def test_what_cannot_start_here_comes_last_greyed_with_its_reason(paths: Paths) -> None:
    node = FakeNode([server()])
    node.blocked = {
        "llama3.2-3b": "needs a GPU; none can be read here (NVML library not found)",
        "qwen2.5-7b": "runtime cuda not installed: naptha-tui runtime install cuda",
    }
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        modal = await open_swap(pilot, "xlam")
        options = modal.query_one(OptionList)
        listed = [options.get_option_at_index(i) for i in range(options.option_count)]
        ids = [o.id for o in listed]
        assert ids[-2:] == ["llama3.2-3b", "qwen2.5-7b"] and "xlam" in ids[:-2]
        assert [o.disabled for o in listed[-2:]] == [True, True]
        assert not any(o.disabled for o in listed[:-2])
        last = listed[-1].prompt
        assert isinstance(last, Text) and "runtime cuda not installed" in last.plain
        assert style_of(last, "runtime cuda not installed") == "dim italic"
        await pilot.press("end")  # the cursor stops at the last preset that can start
        assert options.highlighted == len(ids) - 3
        await until(pilot, lambda: ids[-3] in modal.checked)
        assert ("swap_choices", "smollm2-cpu") in node.calls
        assert not [c for c in node.calls if c[0] == "swap_verdict" and c[2] in ids[-2:]]


async def test_enter_confirms_too(paths: Paths) -> None:
    node = FakeNode([server()])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_swap(pilot, "llama3.2-3b")
        await pilot.press("enter")
        await until(pilot, lambda: ("swap", "smollm2-cpu", "llama3.2-3b") in node.calls)


async def test_escape_cancels_the_swap(paths: Paths) -> None:
    node = FakeNode([server()])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_swap(pilot, "qwen2.5-7b")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await workers_done(pilot, "actions")  # a swap would be one
        assert not [c for c in node.calls if c[0] == "swap"]


async def test_a_refusal_shows_the_numbers_in_red_and_cannot_be_confirmed(paths: Paths) -> None:
    node = FakeNode(gpu_servers(), verdicts={"qwen3-8b": refused_on_gpu()})
    app = app_with(paths, node, FakeGpu(TWO_GPUS))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("down")  # llama3.1-8b
        modal = await open_swap(pilot, "qwen3-8b")
        assert modal.running == "llama3.1-8b"
        shown = verdict_shown(modal)
        assert "qwen3-8b will not fit on GPU 0" in shown.plain
        assert style_of(shown, "qwen3-8b will not fit") == "bold red"
        assert "needs    21.76 GiB  (weights 15.26 GiB + KV cache 4.50 GiB" in shown.plain
        assert "of a budget of 73.6 GiB" in shown.plain
        assert "free     36.0 GiB once llama3.1-8b is freed" in shown.plain
        assert "held by  qwen2.5-7b 40.0 GiB, other processes (GPU 0) 4.0 GiB" in shown.plain
        assert style_of(shown, "GPU 0: gpu_memory_utilization 0.92") == "red"
        await pilot.press("enter")
        await pilot.press("y")
        await until(pilot, lambda: len(refused(app)) == 2)  # both keys said no
        await workers_done(pilot, "actions")  # a swap would be one
        assert isinstance(app.screen, SwapModal)  # still open: the swap would refuse it
        assert not [c for c in node.calls if c[0] == "swap"]


async def test_unknown_verdict_can_be_confirmed(paths: Paths) -> None:
    unknown = Verdict(
        None,
        "RAM",
        None,
        None,
        int(17.5 * GIB),
        notes=("no local config.json for the model, so its size is unknown",),
    )
    node = FakeNode([server()], verdicts={"xlam": unknown})
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        modal = await open_swap(pilot, "xlam")
        shown = verdict_shown(modal).plain
        assert "xlam: memory cannot be checked in RAM" in shown
        assert "no local config.json" in shown
        await pilot.press("y")
        await until(pilot, lambda: ("swap", "smollm2-cpu", "xlam") in node.calls)


async def test_a_failed_swap_is_reported(paths: Paths) -> None:
    node = FakeNode([server()])
    late = refused_on_gpu()
    node.swap_error = WontFit(late.message("qwen2.5-7b"), late)
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_swap(pilot, "qwen2.5-7b")
        await pilot.press("y")
        log = app.screen.query_one(Log)
        await until(pilot, lambda: any(line.startswith("error:") for line in log.lines))
        error = next(line for line in log.lines if line.startswith("error:"))
        assert "preset qwen2.5-7b will not fit on GPU 0: needs 21.76 GiB" in error
        assert isinstance(app.screen, DashboardScreen) and app.is_running


async def test_swap_with_no_server_selected_warns(paths: Paths) -> None:
    app = app_with(paths, FakeNode([]))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))  # the node's answer: no server
        await pilot.press("w")
        await until(pilot, lambda: bool(app._notifications))
        said = [(n.message, n.severity) for n in app._notifications]
        assert said == [("no server selected", "warning")]
        assert isinstance(app.screen, DashboardScreen)


async def test_every_dashboard_action_is_in_the_palette(paths: Paths) -> None:
    app = app_with(paths, FakeNode([server()]))
    async with app.run_test(size=(120, 36)) as pilot:
        await dashboard(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in (
            "Start preset",
            "Stop server",
            "Restart server",
            "Swap server",
            "Server log",
            "Proxy log",
            "Routes",
            "Playground",
            "Ollama: load model",
            "Ollama: unload model",
            "Ollama: pull model",
        ):
            assert title in commands
        commands["Swap server"].callback()
        await until(pilot, lambda: isinstance(app.screen, SwapModal))
