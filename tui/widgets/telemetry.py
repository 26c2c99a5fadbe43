"""Host and GPU panels."""

from __future__ import annotations

from textual.widgets import Static

from naptha_tui.backends.telemetry.gpu import GpuReport, GpuUnavailable
from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.proxy.process import ProxyStatus
from naptha_tui.tui.format import gib


def bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


class HostPanel(Static):
    """CPU and RAM of this machine."""

    def show(self, s: HostSample) -> None:
        mem = s.memory_used / s.memory_total if s.memory_total else 0.0
        self.update(
            f"[b]Host[/b]  {s.cpu_count} CPU  load {s.load_1m:.2f}\n"
            f"CPU {bar(s.cpu_pct / 100)} {s.cpu_pct:5.1f}%\n"
            f"RAM {bar(mem)} {gib(s.memory_used, s.memory_total)}"
        )


class GpuPanel(Static):
    """Memory and utilisation of each GPU, or why there is none."""

    def show(self, report: GpuReport) -> None:
        if isinstance(report, GpuUnavailable):
            self.update(f"[b]GPU[/b]\n[dim]no NVIDIA GPU: {report.reason}[/dim]")
            return
        lines = ["[b]GPU[/b]"]
        for g in report:
            if g.memory_total and g.memory_used is not None:
                frac = g.memory_used / g.memory_total
                mem = f"{bar(frac)} {gib(g.memory_used, g.memory_total)}"
            else:
                mem = "memory N/A"
            util = f"{g.utilization_pct}%" if g.utilization_pct is not None else "N/A"
            lines.append(f"{g.index} {g.name[:24]:24} {mem}  util {util}")
        self.update("\n".join(lines))


class ProxyBar(Static):
    """The one endpoint agents call."""

    def show(self, p: ProxyStatus) -> None:
        style = {"ready": "green", "starting": "yellow"}.get(p.status, "red")
        if p.status == "stopped":
            style = "dim"
        models = f"  {len(p.models)} model(s): {', '.join(p.models)}" if p.models else ""
        reason = f"  [red]{p.reason}[/red]" if p.reason and p.status != "ready" else ""
        self.update(
            f"[b]Proxy[/b]  {p.url}/v1  [{style}]{p.status}[/{style}]{models}{reason}"
            f"\n[dim]key file: {p.key_file}[/dim]"
        )
