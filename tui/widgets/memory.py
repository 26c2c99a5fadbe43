"""Memory split by server (per GPU, or RAM on a CPU node) and the node's recent trends."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.telemetry.gpu import GpuReport, GpuSample, GpuUnavailable, others
from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.tui.format import GIB, gib, spark

PALETTE = ("#5f87ff", "#d75fd7", "#00afaf", "#d7af5f", "#8787ff", "#5fd7af", "#ff87af", "#87afd7")
"""One colour per server (kept while it exists); none of them the yellow or red of a warning."""
OTHER_STYLE = "#808080"
FREE_STYLE = "#4e4e4e"
FULL, EMPTY = "█", "░"
HISTORY = 60
"""Samples kept per trend (one per node poll: a minute at the default 1 s)."""


@dataclass(frozen=True)
class Share:
    """Bytes one holder takes of a device."""

    name: str
    bytes: int
    style: str


@dataclass(frozen=True)
class Split:
    """One device (a GPU or the RAM) split by who holds it."""

    label: str
    total: int
    used: int
    shares: tuple[Share, ...]
    """Our servers in table order, then ``other`` (anything else, the driver included)."""
    note: str = ""

    @property
    def free(self) -> int:
        return max(0, self.total - self.used)


class Colours:
    """A stable colour per server name: the first free palette slot when it first shows up."""

    def __init__(self) -> None:
        self._given: dict[str, int] = {}

    def of(self, names: Sequence[str]) -> dict[str, str]:
        for gone in set(self._given) - set(names):
            del self._given[gone]
        for name in names:
            if name not in self._given:
                taken = set(self._given.values())
                self._given[name] = next(
                    (i for i in range(len(PALETTE)) if i not in taken), len(self._given)
                )
        return {n: PALETTE[self._given[n] % len(PALETTE)] for n in names}


def ram_split(host: HostSample, servers: Sequence[ServerStatus], colours: dict[str, str]) -> Split:
    """RAM in use, split by the RSS of each server's process tree; the rest is ``other``."""
    ours = [Share(s.name, s.rss_bytes, colours[s.name]) for s in servers if s.rss_bytes]
    # RSS counts pages shared after fork once per process: never let ours exceed what is used
    other = max(0, host.memory_used - sum(s.bytes for s in ours))
    return Split(
        "RAM", host.memory_total, host.memory_used, (*ours, Share("other", other, OTHER_STYLE))
    )


def gpu_split(gpu: GpuSample, servers: Sequence[ServerStatus], colours: dict[str, str]) -> Split:
    """One GPU's used memory split by server (NVML processes attributed by the node)."""
    held = {s.name: s.gpu_memory for s in servers if s.gpu_memory}
    ours = [
        Share(name, per_gpu[gpu.index], colours[name])
        for name, per_gpu in held.items()
        if per_gpu.get(gpu.index)
    ]
    other = others(gpu, held) or 0
    util = f"util {gpu.utilization_pct}%" if gpu.utilization_pct is not None else "util N/A"
    return Split(
        f"GPU {gpu.index}",
        gpu.memory_total or 0,
        gpu.memory_used or 0,
        (*ours, Share("other", other, OTHER_STYLE)),
        util,
    )


def bar(split: Split, width: int) -> Text:
    """``width`` cells: each holder in its colour, then the free part; cumulative rounding, so
    the cells always add up to ``width``."""
    out = Text()
    done = 0
    cum = 0
    total = split.total or 1
    for share in split.shares:
        cum += share.bytes
        end = min(width, round(cum / total * width))
        if end > done:
            out.append(FULL * (end - done), style=share.style)
            done = end
    out.append(EMPTY * (width - done), style=FREE_STYLE)
    return out


def legend(split: Split) -> Text:
    """``■ name 1.3  ■ other 3.9  ░ free 17.5`` (GiB, as the bar's figures)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for share in split.shares:
        if share.bytes or share.name != "other":
            out.append("■ ", style=share.style)
            out.append(f"{share.name} {share.bytes / GIB:.1f}  ")
    out.append(f"{EMPTY} ", style=FREE_STYLE)
    out.append(f"free {split.free / GIB:.1f}")
    return out


def unwrapped(lines: Sequence[Text]) -> Text:
    """Lines that are cut at the panel's edge, never wrapped onto the next one."""
    out = Text("\n").join(lines)
    out.no_wrap, out.overflow = True, "ellipsis"
    return out


class MemoryPanel(Widget):
    """Per GPU a bar split by server, with a legend; on a node without a GPU, the RAM."""

    DEFAULT_CSS = """
    MemoryPanel { height: auto; max-height: 12; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.colours = Colours()
        self.servers: list[ServerStatus] = []
        self.gpus: GpuReport | None = None
        self.host: HostSample | None = None
        self.splits: list[Split] = []
        self.problems: list[str] = []
        """Lines besides the bars: why there is no GPU, a GPU that could not be read."""
        self._node_gpus = False

    # -- what the dashboard feeds in ----------------------------------------------------
    def show_servers(
        self,
        servers: Sequence[ServerStatus],
        gpus: GpuReport | None = None,
        host: HostSample | None = None,
    ) -> None:
        """The servers as the node saw them, with the GPUs and host of the same round when the
        node read them (then the panel's own GPU readings are not needed for the split)."""
        self.servers = list(servers)
        if gpus is not None:
            self.gpus, self._node_gpus = gpus, True
        if host is not None:
            self.host = host
        self._recompute()

    def show_gpus(self, report: GpuReport) -> None:
        if not self._node_gpus:
            self.gpus = report
            self._recompute()

    def show_host(self, sample: HostSample) -> None:
        self.host = sample
        self._recompute()

    # -- the picture --------------------------------------------------------------------
    def _recompute(self) -> None:
        colours = self.colours.of([s.name for s in self.servers])
        splits: list[Split] = []
        problems: list[str] = []
        title = "Memory"
        if isinstance(self.gpus, GpuUnavailable) or self.gpus == []:
            reason = self.gpus.reason if isinstance(self.gpus, GpuUnavailable) else "none found"
            problems.append(f"no NVIDIA GPU: {reason}")
            if self.host is not None:
                splits.append(ram_split(self.host, self.servers, colours))
            title = "Memory · RAM"
        elif self.gpus is not None:
            for g in self.gpus:
                if g.error is not None:
                    problems.append(f"GPU {g.index}: {g.error}")
                elif g.memory_total is None or g.memory_used is None:
                    problems.append(f"GPU {g.index} {g.name}: memory N/A")
                else:
                    splits.append(gpu_split(g, self.servers, colours))
            names = sorted({g.name for g in self.gpus if g.error is None})
            title = f"GPU memory · {', '.join(names)}" if names else "GPU memory"
        if (splits, problems, title) != (self.splits, self.problems, self.border_title):
            before = self._drawn
            self.splits, self.problems = splits, problems
            self.border_title = title
            drawn = self._lines()
            if before is None or drawn.plain != before.plain:  # RSS moves by bytes every poll
                self._drawn = drawn
                self.refresh(
                    layout=before is None or drawn.plain.count("\n") != before.plain.count("\n")
                )

    _drawn: Text | None = None

    def render(self) -> Text:
        self._drawn = self._lines()
        return self._drawn

    def _lines(self) -> Text:
        if not self.splits and not self.problems:
            return Text("reading…", style="dim")
        width = self.size.width
        lines: list[Text] = []
        for split in self.splits:
            amount = f" {gib(split.used, split.total)}" + (f"  {split.note}" if split.note else "")
            head = f"{split.label:<6}"
            line = Text(head)
            line.append_text(bar(split, max(10, width - len(head) - len(amount))))
            line.append(amount)
            lines.append(line)
            key = legend(split)
            # under the bar when it fits, else from the left edge (long server names)
            indent = len(head) if len(head) + key.cell_len <= width else 0
            lines.append(Text(" " * indent).append_text(key))
        lines += [Text(p, style="dim") for p in self.problems]
        return unwrapped(lines)


class TrendsPanel(Widget):
    """The last ``HISTORY`` node polls: memory in use and tokens/s, for the node and per server."""

    DEFAULT_CSS = """
    TrendsPanel { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    LABEL = 14
    VALUE = 16

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.memory: deque[float] = deque(maxlen=HISTORY)
        self.memory_total = 0
        self.memory_used = 0
        self.tokens: deque[float] = deque(maxlen=HISTORY)
        self.per_server: dict[str, deque[float]] = {}
        self.latest: dict[str, float | None] = {}

    def sample(self, splits: Sequence[Split], servers: Sequence[ServerStatus]) -> None:
        """One node poll: memory over every device shown, generation tokens/s per server."""
        self.memory_used = sum(s.used for s in splits)
        self.memory_total = sum(s.total for s in splits)
        if splits:
            self.memory.append(self.memory_used)
        total = 0.0
        live = set()
        for s in servers:
            if s.metrics is None:  # not serving (or no window yet): no trend
                continue
            rate = s.metrics.get("generation_tokens_per_s")
            live.add(s.name)
            self.per_server.setdefault(s.name, deque(maxlen=HISTORY)).append(rate or 0.0)
            self.latest[s.name] = rate
            total += rate or 0.0
        for gone in set(self.per_server) - live:
            del self.per_server[gone]
            self.latest.pop(gone, None)
        self.tokens.append(total)
        drawn = self._lines()
        if self._drawn is None or drawn.plain != self._drawn.plain:  # flat lines stay as drawn
            self._drawn = drawn
            self.refresh()

    _drawn: Text | None = None

    def render(self) -> Text:
        self._drawn = self._lines()
        return self._drawn

    def _lines(self) -> Text:
        width = max(10, self.size.width - self.LABEL - self.VALUE)
        mem = gib(self.memory_used, self.memory_total) if self.memory else "-"
        lines = [
            Text(f"{'memory':<{self.LABEL}}")
            .append(spark(self.memory, width, top=self.memory_total or None), style="#5f87ff")
            .append(f" {mem}"),
            Text(f"{'tok/s':<{self.LABEL}}")
            .append(spark(self.tokens, width), style="#5fd7af")
            .append(f" {self.tokens[-1]:.1f}" if self.tokens else " -"),
        ]
        peak = max((max(d) for d in self.per_server.values() if d), default=0.0)
        for name, data in self.per_server.items():
            label = Text(f"  {name}", no_wrap=True, overflow="ellipsis")
            label.truncate(self.LABEL - 1, overflow="ellipsis", pad=True)
            rate = self.latest.get(name)
            lines.append(
                label.append(" ")
                .append(spark(data, width, top=peak or None), style="#5fd7af")
                .append(f" {rate:.1f}" if rate is not None else " -")
            )
        return unwrapped(lines)
