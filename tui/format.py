"""How figures read, in the command line's tables and in the panel's widgets alike.

Plain strings only: the headless commands import this, so it must never import Textual
(rich, which measures text in terminal cells, is fine).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from rich.text import Text

from naptha_tui.backends.ollama.types import LoadedModel, PullProgress
from naptha_tui.backends.runs.text import table as table  # the commands' tables
from naptha_tui.backends.telemetry.cpu import CpuInfo
from naptha_tui.backends.telemetry.vllm_metrics import level
from naptha_tui.proxy.litellm.routes import RouteEvent

GIB = 1024**3


def age(seconds: float | None, coarse: bool = False) -> str:
    """An uptime: ``4m07s`` under an hour, ``2h05m`` from then on; "-" when not known.

    ``coarse`` (the panel's table) drops the seconds, ``<1m``, ``4m``: a cell that changes every
    second makes the table redraw every second.
    """
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if coarse:
        return f"{s // 60}m" if s >= 60 else "<1m"
    return f"{s // 60}m{s % 60:02d}s"


def ms(value: float | None) -> str:
    """Milliseconds, whole; "-" when not known."""
    return f"{value:.0f}" if value is not None else "-"


def count(value: int | None) -> str:
    """A count; "-" when not known (which is not zero)."""
    return str(value) if value is not None else "-"


def tokens(tokens_in: int | None, tokens_out: int | None) -> str:
    """Prompt and completion tokens as ``IN/OUT``."""
    return f"{count(tokens_in)}/{count(tokens_out)}"


def clock(t: float, tz: tzinfo | None = None) -> str:
    """The time of day of an epoch timestamp, ``HH:MM:SS`` (``tz`` None: the local zone)."""
    return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


def gib(used: int, total: int) -> str:
    """Used of total bytes, ``  6.5/24.0 GiB`` (the used part padded so bars line up)."""
    return f"{used / GIB:5.1f}/{total / GIB:.1f} GiB"


def gib_of(n: int | None, digits: int = 1) -> str:
    """Bytes in GiB, ``1.3 GiB``; "-" when not known."""
    return f"{n / GIB:.{digits}f} GiB" if n is not None else "-"


def size(n: int) -> str:
    """Memory as ``status`` prints it: ``1.3G`` from a GiB up, ``512M`` below."""
    return f"{n / GIB:.1f}G" if n >= GIB else f"{n / 2**20:.0f}M"


def held(gpu_bytes: int | None, rss_bytes: int | None) -> str:
    """A server's memory: what it holds on GPUs when any (``42.5G GPU``), else the RSS of its
    process tree (``1.3G``); "-" when not known."""
    if gpu_bytes:
        return f"{size(gpu_bytes)} GPU"
    return size(rss_bytes) if rss_bytes else "-"


SPARK_BARS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float], width: int, top: float | None = None) -> str:
    """A text sparkline ``width`` cells wide, newest at the right, scaled 0..``top``.

    More values than cells are bucketed (each cell shows its bucket's largest value, so a burst
    is never averaged away); fewer are padded with blanks on the left. ``top`` None scales to the
    largest value. Zero-based on purpose: Textual's ``Sparkline`` spans min..max, which makes a
    flat 6.5 GiB look like a cliff when it moves by a megabyte.
    """
    data = list(values)
    if width <= 0:
        return ""
    if len(data) > width:
        step = len(data) / width
        data = [
            max(data[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
            for i in range(width)
        ]
    peak = top if top is not None else max(data, default=0.0)
    last = len(SPARK_BARS) - 1
    cells = [
        SPARK_BARS[min(last, max(0, round(v / peak * last)))] if peak > 0 else SPARK_BARS[0]
        for v in data
    ]
    return " " * (width - len(cells)) + "".join(cells)


def short_error(text: str | None, width: int) -> str:
    """The first line of an error, without LiteLLM's repeated class name, cut to ``width`` cells.

    ``litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error.``
    becomes ``APIConnectionError: OpenAIException - Connection error.``
    """
    lines = (text or "").strip().splitlines()
    line = lines[0].removeprefix("litellm.") if lines else ""
    head, sep, rest = line.partition(": ")
    if sep and rest.startswith(head + ": "):
        line = rest
    cut = Text(line)
    cut.truncate(width, overflow="ellipsis")
    return cut.plain


ROUTE_HEADER = ("TIME", "MODEL GROUP", "DEPLOYMENT", "STATUS", "MS", "TTFT MS", "IN/OUT", "RETRIES")
"""The columns of ``route_cells``; the error comes after them, cut to the room left."""


def route_cells(e: RouteEvent, tz: tzinfo | None = None) -> list[str]:
    """One finished request as the recent-requests tables show it (without its error)."""
    return [
        clock(e.t, tz),
        e.model_group or "-",
        e.deployment or "-",
        e.status,
        ms(e.latency_ms),
        ms(e.ttft_ms),
        tokens(e.tokens_in, e.tokens_out),
        str(e.retries),
    ]


PLAYGROUND_GRID_HEADER = ("MODE", "TEMP", "SAMPLES", "VALID", "RATE", "ERRORS", "MEAN MS")
"""The playground's validity grid (``try`` and the screen); ``RIGHT TOOL`` follows when the
session names the tool a right answer calls."""


LEVEL_STYLE = {"ok": "", "warn": "yellow", "bad": "bold red"}
"""How a metric reads at each threshold level (``vllm_metrics.THRESHOLDS``)."""

Cell = str | Text


def styled(metric: str, value: float | None, text: str) -> Text:
    """``text`` in the colour of ``value``'s level for ``metric``."""
    found = level(metric, value)
    return Text(text, style=LEVEL_STYLE[found] if found else "")


def _whole(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


def metric_cells(metrics: dict[str, float | None] | None) -> list[Cell]:
    """RUN, WAIT, KV, TOK/S and TTFT p50/p95; "-" for what the window does not know."""
    m = metrics or {}
    running, waiting, kv = m.get("running"), m.get("waiting"), m.get("kv_cache_usage")
    tok_s, p50, p95 = m.get("generation_tokens_per_s"), m.get("ttft_p50_ms"), m.get("ttft_p95_ms")
    ttft = Text.assemble(
        styled("ttft_p50_ms", p50, _whole(p50)), "/", styled("ttft_p95_ms", p95, _whole(p95))
    )
    return [
        _whole(running),
        styled("waiting", waiting, _whole(waiting)),
        styled("kv_cache_usage", kv, f"{kv:.0%}" if kv is not None else "-"),
        f"{tok_s:.1f}" if tok_s is not None else "-",
        ttft if (p50, p95) != (None, None) else "-",
    ]


# -- how Ollama's figures read (as `ollama ps` / `ollama list` show them) ---------------------
def decimal_size(n: int) -> str:
    """Bytes in decimal units as ``ollama list`` prints them (ollama:format/bytes.go HumanBytes):
    ``2.0 GB`` is ``2 GB``, ``270.9 MB`` is ``270 MB`` (whole from 10 up), ``1.6 KB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            value = n / scale
            if value >= 10 or value.is_integer():
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{n} B"


def processor(m: LoadedModel) -> str:
    """Where the model sits, as ``ollama ps``: ``100% GPU``, ``40%/60% CPU/GPU``, ``100% CPU``."""
    share = m.vram_share
    if share is None or share > 1:
        return "unknown"
    gpu = round(share * 100)
    if gpu >= 100:
        return "100% GPU"
    if gpu <= 0:
        return "100% CPU"
    return f"{100 - gpu}%/{gpu}% CPU/GPU"


def until(expires_at: datetime | None, now: datetime | None = None) -> str:
    """Time left before the daemon unloads it: ``in 4m``, ``in 2h05m``, ``forever``."""
    if expires_at is None:
        return "forever"
    left = (expires_at - (now or datetime.now(UTC))).total_seconds()
    if left <= 0:
        return "stopping"
    if left < 59.5:
        return f"in {round(left)}s"
    minutes = round(left / 60)
    if minutes < 60:
        return f"in {minutes}m"
    if minutes < 48 * 60:
        return f"in {minutes // 60}h{minutes % 60:02d}m"
    return f"in {round(minutes / 1440)}d"


def percent(p: PullProgress) -> str:
    """A download event's ``completed/total percent``; the status alone otherwise."""
    if p.fraction is None or p.total is None:
        return p.status
    return f"{p.status}: {decimal_size(p.completed or 0)}/{decimal_size(p.total)} {p.fraction:.0%}"


def cpu_line(cpu: CpuInfo) -> str:
    """``AMD EPYC 7B13, AVX2, 2 cores, 1 NUMA node: bfloat16 emulated (...)``."""
    nodes = f"{cpu.numa_nodes} NUMA node" + ("s" if cpu.numa_nodes != 1 else "")
    bf16 = (
        "native bfloat16"
        if cpu.native_bf16
        else "bfloat16 emulated (cpu servers run float32 with dtype auto)"
    )
    return f"{cpu.model}, {cpu.isa}, {cpu.cores} cores, {nodes}: {bf16}"
