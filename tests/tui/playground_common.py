"""What the playground screen's tests share: the app with fake engines, and a filled form."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from naptha_tui.backends.endpoints import Target
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.examples import EXAMPLES, WEATHER_PROMPT
from naptha_tui.backends.playground.spec import Spec
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import NapthaTuiApp, make_app
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.playground import PlaygroundScreen
from tests.fakes.node import FakeGpu, FakeNode, fake_host, server
from tests.fakes.playground import FakePlayground
from tests.tui.test_dashboard import until, workers_done

SIZE = (140, 44)


class Engines:
    """The app's playground factory: one FakePlayground per target, kept for the test."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.made: list[FakePlayground] = []

    def __call__(self, target: Target) -> FakePlayground:
        self.made.append(FakePlayground(target, **self.kwargs))
        return self.made[-1]

    @property
    def last(self) -> FakePlayground:
        return self.made[-1]

    def sent(self) -> int:
        return sum(len(e.sent) for e in self.made)

    def swept(self) -> int:
        return sum(len(e.swept) for e in self.made)


def app_with(paths: Paths, engines: Engines) -> NapthaTuiApp:
    return make_app(
        paths,
        Settings(poll_seconds=60),
        node=FakeNode([server()]),
        gpu=FakeGpu(),
        read_host=fake_host,
        playground=engines,
    )


async def open_playground(pilot: Pilot[None]) -> PlaygroundScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    await pilot.press("t")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlaygroundScreen))
    screen = pilot.app.screen
    assert isinstance(screen, PlaygroundScreen)
    await until(pilot, lambda: screen.form.model.value == "smollm2-135m")
    await workers_done(pilot, "playground-models")  # read on opening
    return screen


def weather_spec(**update: Any) -> Spec:
    doc: dict[str, Any] = {
        "model": "smollm2-135m",
        "prompt": WEATHER_PROMPT,
        "tools": EXAMPLES["weather"],
        "modes": ["tools-required", "tools-auto"],
        "strict": True,
        "parallel_tool_calls": False,
        "temperatures": [0.0, 0.7],
        "seed": 7,
        "max_tokens": 128,
    }
    return Spec.model_validate(doc | update)


def error(screen: PlaygroundScreen, key: str) -> str:
    return str(screen.query_one(f"#{key}-error", Static).content)


async def run_and_settle(pilot: Pilot[None], screen: PlaygroundScreen) -> None:
    await pilot.press("ctrl+r")
    await pilot.pause()
    await until(pilot, lambda: not screen.running)
    await pilot.pause()


async def filled(pilot: Pilot[None]) -> PlaygroundScreen:
    """The playground open, its form holding :func:`weather_spec`."""
    screen = await open_playground(pilot)
    screen.form.fill(weather_spec())
    await pilot.pause()
    return screen
