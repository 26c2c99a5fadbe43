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
    """An action run by a widget failed (an Ollama pull, a load): the screen reports it."""

    text: str
    title: str
