"""How figures read, in the command line's tables and in the panel's widgets alike.

Plain strings only: the headless commands import this, so it must never import Textual
(rich, which measures text in terminal cells, is fine).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text

from naptha_tui.proxy.routes import RouteEvent

GIB = 1024**3


def age(seconds: float | None) -> str:
    """An uptime: ``4m07s`` under an hour, ``2h05m`` from then on; "-" when not known."""
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


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


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns two spaces apart, the header first; no trailing blanks."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


PLAYGROUND_GRID_HEADER = ("MODE", "TEMP", "SAMPLES", "VALID", "RATE", "ERRORS", "MEAN MS")
"""The playground's validity grid (``try`` and the screen); ``RIGHT TOOL`` follows when the
session names the tool a right answer calls."""
