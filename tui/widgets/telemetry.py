"""The host panel and the proxy bar (GPU memory is in ``memory.py``)."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.proxy.litellm.process import ProxyStatus
from naptha_tui.tui.format import gib


def bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


class Shown(Static):
    """A Static that re-lays out only when its text changes (panels are fed every poll)."""

    _text: str | None = None

    def show_text(self, text: str) -> None:
        if text != self._text:
            # the same number of lines: the panel keeps its size, no layout pass is needed
            same_height = self._text is not None and text.count("\n") == self._text.count("\n")
            self._text = text
            self.update(text, layout=not same_height)


class HostPanel(Shown):
    """CPU and RAM of this machine."""

    def show(self, s: HostSample) -> None:
        mem = s.memory_used / s.memory_total if s.memory_total else 0.0
        self.show_text(
            f"[b]Host[/b]  {s.cpu_count} CPU  load {s.load_1m:.2f}\n"
            f"CPU {bar(s.cpu_pct / 100)} {s.cpu_pct:5.1f}%\n"
            f"RAM {bar(mem)} {gib(s.memory_used, s.memory_total)}"
        )


class ProxyBar(Shown):
    """The one endpoint agents call."""

    def show(self, p: ProxyStatus) -> None:
        style = {"ready": "green", "starting": "yellow"}.get(p.status, "red")
        if p.status == "stopped":
            style = "dim"
        models = f"  {len(p.models)} model(s): {', '.join(p.models)}" if p.models else ""
        # a starting proxy's reason is its log's last line: plain text, and no fault
        tone = "dim" if p.status == "starting" else "red"
        shown = p.reason if p.status != "ready" else None
        reason = f"  [{tone}]{escape(shown)}[/{tone}]" if shown else ""
        self.show_text(
            f"[b]Proxy[/b]  {p.url}/v1  [{style}]{p.status}[/{style}]{models}{reason}"
            f"\n[dim]key file: {p.key_file}[/dim]"
        )
