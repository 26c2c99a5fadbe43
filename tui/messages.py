"""Messages that cross the panel: workers post them, screens and widgets handle them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from naptha_tui.backends.runs.fields import Problem
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


# -- runs: the playground, the load test and the evaluation ---------------------------------
@dataclass
class ModelsListed(Message):
    """What a target serves (``error``: it did not answer; ``server``: the target asked, None
    for the proxy)."""

    models: list[str]
    error: str | None = None
    server: str | None = None


@dataclass
class RunRefused(Message):
    """Checked against the target, the form is wrong (a model it does not serve, no setup):
    nothing was sent."""

    problems: list[Problem]


@dataclass
class RunAbandoned(Message):
    """Escape came before the run started: nothing was sent."""


class RunProgressed(Message):
    """A progress snapshot of the running run (a burst keeps only the latest)."""

    def __init__(self, progress: Any) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgressed)


@dataclass
class RunFinished(Message):
    """The run ended (``result["cancelled"]``: stopped early), and was saved."""

    result: dict[str, Any]
    not_saved: str | None = None
    """Why it could not be saved (it is shown all the same)."""
    details: Any = None
    """What else the feature shows of it (the evaluation's failed cases)."""


@dataclass
class RunsListed(Message):
    """The saved runs, one summary each, oldest first."""

    runs: list[dict[str, Any]]


@dataclass
class SavedRunLoaded(Message):
    result: dict[str, Any]


@dataclass
class RunsCompared(Message):
    """Two saved runs to show side by side, A then B."""

    a: dict[str, Any]
    b: dict[str, Any]
