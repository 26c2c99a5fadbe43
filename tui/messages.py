"""Messages that cross the panel: workers post them, screens and widgets handle them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from naptha_tui.backends.telemetry.gpu import GpuReport
from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.proxy.node import NodeStatus


@dataclass
class NodeSampled(Message):
    """Servers and proxy were probed."""

    status: NodeStatus

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, NodeSampled)


@dataclass
class HostSampled(Message):
    """Host CPU and memory were read."""

    sample: HostSample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostSampled)


@dataclass
class GpuSampled(Message):
    """GPUs were read (or found unavailable)."""

    report: GpuReport

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpuSampled)


@dataclass
class ActivityNoted(Message):
    """A line of progress from a long action (starting a preset, stopping a server)."""

    line: str


@dataclass
class ActionFailed(Message):
    """Something failed that the operator must hear of: a worker raised (see
    ``tui/failures.py``) or an action reported a problem (an Ollama pull, a save). It bubbles to
    the app, whose one handler shows it in a notification and the dashboard's activity log."""

    text: str
    title: str
