"""The panel: ``make_app`` builds it, tests inject fakes through the same seam."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset, PresetCatalog
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.gpu import GpuReader, GpuReport
from naptha_tui.backends.telemetry.host import HostSample, read_host
from naptha_tui.proxy.node import Node, NodeStatus, Progress
from naptha_tui.tui.messages import ActionFailed, ActivityNoted
from naptha_tui.tui.navigation import can_open, open_screen, run_command, showing, suggestions
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.prompt_bar import PromptBarModal
from naptha_tui.tui.widgets.ollama_panel import OllamaLike

if TYPE_CHECKING:  # the cores below load with their screens, after the first frame
    from naptha_tui.backends.checks.doctor_checks import Finding
    from naptha_tui.backends.endpoints import Access, Target
    from naptha_tui.backends.playground.layers import Evidence
    from naptha_tui.backends.playground.results import Sample
    from naptha_tui.backends.playground.run import Prepared
    from naptha_tui.backends.playground.spec import Spec
    from naptha_tui.backends.servers.verdict import Verdict
    from naptha_tui.backends.telemetry.matmul import Matmul
    from naptha_tui.proxy.node.swap import SwapChoice, SwapReport

IDLE_SCRAPE_S = 3.0
"""The panel reads an idle server's /metrics, and asks a healthy server's health, every 3 s (a
busy server's metrics at every refresh; processes are checked at every refresh)."""


class GpuSource(Protocol):
    """What the panel needs from a GPU reader (``GpuReader`` or a fake)."""

    def read(self) -> GpuReport: ...


class NodeControl(Protocol):
    """What the panel needs from the node (``Node`` or a fake)."""

    catalog: PresetCatalog

    async def status(self) -> NodeStatus: ...
    async def up(self, presets: Sequence[Preset], progress: Progress) -> NodeStatus: ...
    async def stop_server(self, name: str) -> None: ...
    async def restart_server(self, name: str, progress: Progress | None = None) -> ServerStatus: ...
    async def swap_choices(self, running: str) -> list[SwapChoice]: ...
    async def swap_verdict(self, running: str, preset: str) -> Verdict: ...
    async def swap(self, running: str, preset: str, progress: Progress) -> SwapReport: ...
    async def aclose(self) -> None: ...
    @property
    def feed_file(self) -> Path: ...
    async def proxy_metrics(self) -> dict[str, float] | None: ...
    def playground_target(self) -> Target: ...
    def bench_access(self, server: str | None = None) -> Access: ...


class PlaygroundEngine(Protocol):
    """What the Playground screen needs from the playground core (``Playground`` or a fake)."""

    async def served(self) -> list[str]: ...
    async def prepare(self, spec: Spec) -> Prepared: ...
    def sweep(self, spec: Spec, concurrency: int = ...) -> AsyncGenerator[Sample, None]: ...
    async def explain(self, spec: Spec, s: Sample) -> Evidence: ...
    async def aclose(self) -> None: ...


class DoctorChecks(Protocol):
    """What the Doctor screen needs from the doctor (``Doctor`` or a fake); one per report."""

    def checks(self) -> list[Finding]: ...
    def measure(self) -> tuple[Finding, Matmul | None]: ...


class NapthaTuiApp(App[None]):
    """Terminal control panel of a local inference node."""

    TITLE = "naptha-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("b", "open_bench", "Bench", id="bench.open"),
        Binding("e", "open_eval", "Eval", id="eval.open"),
        # kept out of the footer: at 120 columns the dashboard's is already full
        Binding("d", "open_doctor", "Doctor", id="doctor.open", show=False),
        Binding("h", "open_history", "History", id="history.open", show=False),
        # k9s's keys; out of the footer too (`?` lists them, the README has them)
        Binding("colon", "command_bar", "Command", id="app.command", show=False),
        Binding("question_mark", "toggle_keys", "Keys", id="app.keys", show=False),
    ]

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        node: NodeControl,
        gpu: GpuSource,
        read_host: Callable[[], HostSample],
        up: Sequence[str] = (),
        playground: Callable[[Target], PlaygroundEngine] | None = None,
        ollama: Callable[[], OllamaLike] | None = None,
        doctor: Callable[[], DoctorChecks] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.node = node
        self.gpu = gpu
        self.read_host = read_host
        self.up = list(up)
        self.playground: Callable[[Target], PlaygroundEngine] = playground or _playground
        """Builds the playground engine for a target (the screen makes one per target)."""
        self.ollama: Callable[[], OllamaLike] = ollama or (lambda: _ollama(paths, settings))
        """Builds the Ollama client the dashboard's panel polls (one per panel)."""
        self.doctor: Callable[[], DoctorChecks] = doctor or (lambda: _doctor(paths, settings, gpu))
        """Builds the doctor the Doctor screen runs (one per report, in a worker)."""

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(start=self.up))

    @on(ActionFailed)
    def report_failure(self, message: ActionFailed) -> None:
        """The one place a failure is shown (``tui/failures.py``); the panel carries on."""
        self.notify(message.text, title=message.title, severity="error", timeout=10)
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.post_message(ActivityNoted(f"error: {message.text}"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, DashboardScreen):
            yield from screen.system_commands()
        yield SystemCommand(
            "Command bar",
            "Go anywhere by name: servers, routes, try, bench, eval, logs NAME, doctor, "
            "history (key :)",
            self.action_command_bar,
        )
        if not showing(screen, "try"):
            yield SystemCommand(
                "Playground",
                "Tool calls and guided outputs across temperatures (key t)",
                self.action_open_playground,
            )
        if not showing(screen, "bench"):
            yield SystemCommand(
                "Bench",
                "The load test: random prompts or simulated agents, live (key b)",
                self.action_open_bench,
            )
        if not showing(screen, "eval"):
            yield SystemCommand(
                "Eval",
                "BFCL tool-calling accuracy per temperature, guided or not (key e)",
                self.action_open_eval,
            )
        if not showing(screen, "doctor"):
            yield SystemCommand(
                "Doctor",
                "What this machine offers (CPU, bfloat16, GPUs, runtimes, disk, proxy port, "
                "key file) and what blocks a start (key d)",
                self.action_open_doctor,
            )
        if not showing(screen, "history"):
            yield SystemCommand(
                "History",
                "The command log: what every action ran underneath, as shell lines (key h)",
                self.action_open_history,
            )

    def action_command_bar(self) -> None:
        """``:`` opens the command bar over whatever screen is on (not over a dialog)."""
        if isinstance(self.screen, ModalScreen):
            return

        def chosen(text: str | None) -> None:
            if text:
                run_command(self, text)

        bar = PromptBarModal(":", suggestions(self), placeholder="servers, routes, logs NAME…")
        self.push_screen(bar, chosen)

    def action_toggle_keys(self) -> None:
        """``?``: the keys of the screen you are on (the focused widget's first), or away."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    OPENS = {
        "open_playground": "try",
        "open_bench": "bench",
        "open_eval": "eval",
        "open_history": "history",
        "open_doctor": "doctor",
    }
    """The actions that open a screen, by the command bar's name for it."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return can_open(self, self.OPENS[action]) if action in self.OPENS else True

    def action_open_playground(self) -> None:
        open_screen(self, "try")

    def action_open_bench(self) -> None:
        open_screen(self, "bench")

    def action_open_eval(self) -> None:
        open_screen(self, "eval")

    def action_open_history(self) -> None:
        open_screen(self, "history")

    def action_open_doctor(self) -> None:
        open_screen(self, "doctor")

    async def on_unmount(self) -> None:
        # servers and proxy outlive the panel on purpose; only the HTTP client is closed
        await self.node.aclose()


def _playground(target: Target) -> PlaygroundEngine:
    from naptha_tui.backends.playground.explain import ExplainablePlayground

    return ExplainablePlayground(target)


def _ollama(paths: Paths, settings: Settings) -> OllamaLike:
    from naptha_tui.backends.commandlog import CommandLog
    from naptha_tui.backends.ollama.client import Ollama

    return Ollama(settings.ollama.host, log=CommandLog(paths))


def _doctor(paths: Paths, settings: Settings, gpu: GpuSource) -> DoctorChecks:
    from naptha_tui.backends.checks.doctor import Doctor
    from naptha_tui.proxy.litellm.process import ProxyManager

    return Doctor(paths, settings, ProxyManager(paths, settings), gpu=gpu)


def make_app(
    paths: Paths,
    settings: Settings,
    *,
    node: NodeControl | None = None,
    gpu: GpuSource | None = None,
    read_host: Callable[[], HostSample] = read_host,
    up: Sequence[str] = (),
    playground: Callable[[Target], PlaygroundEngine] | None = None,
    ollama: Callable[[], OllamaLike] | None = None,
    doctor: Callable[[], DoctorChecks] | None = None,
) -> NapthaTuiApp:
    """Build the panel; every argument after ``settings`` is an injection point for tests.

    ``ollama`` builds the client of the dashboard's Ollama panel (default: the real client at
    ``settings.ollama.host``); ``doctor`` builds the Doctor screen's checks (default: the real
    ones, reading GPUs through the panel's reader). The node gets the panel's GPU reader, so
    NVML is read through one reader (the node attributes GPU memory to servers from the same
    readings).
    """
    gpu = gpu or GpuReader()
    return NapthaTuiApp(
        paths,
        settings,
        node or Node(paths, settings, gpu, idle_scrape_s=IDLE_SCRAPE_S),
        gpu,
        read_host,
        up,
        playground,
        ollama,
        doctor,
    )
