"""A sweep's results: each sample as judged, the validity grid, and the sweep that holds them.

Plain data: the Playground screen, ``naptha-tui try`` and the benchmark fill a :class:`Sweep`
from any :class:`SampleSource` (the engine in ``run.py``, or a test's fake), and it keeps what
landed when the sweep is cancelled part way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from .defaults import DEFAULT_CONCURRENCY
from .judge import Mismatch, Verdict
from .spec import Spec


@dataclass
class Sample:
    """One request and what came back."""

    mode: str
    temperature: float
    index: int
    seed: int | None
    body: dict[str, Any]
    """The request as sent (for copying as curl or SDK code)."""
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    raw: str | None = None
    raw_source: str = "none"
    raw_note: str | None = None
    verdict: Verdict = field(default_factory=lambda: Verdict(False))
    mismatches: list[Mismatch] = field(default_factory=list)
    latency_s: float = 0.0
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    deployment: str | None = None
    error: str | None = None
    layer: str | None = None
    """Where the call broke (``layers.attribute``), set only when explained (``--explain``)."""
    layer_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "temperature": self.temperature,
            "index": self.index,
            "seed": self.seed,
            "valid": self.verdict.valid,
            "verdict": self.verdict.to_json(),
            "content": self.content,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "raw": self.raw,
            "raw_source": self.raw_source,
            "raw_note": self.raw_note,
            "mismatches": [m.to_json() for m in self.mismatches],
            "latency_ms": round(self.latency_s * 1000, 1),
            "ttft_ms": None if self.ttft_s is None else round(self.ttft_s * 1000, 1),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "deployment": self.deployment,
            "error": self.error,
        } | ({"layer": self.layer, "layer_reason": self.layer_reason} if self.layer else {})


@dataclass
class Cell:
    """Validity of one (mode, temperature) pair so far."""

    mode: str
    temperature: float
    samples: int = 0
    valid: int = 0
    checked: int = 0
    """Samples whose validity can be checked (not a grammar's)."""
    errors: int = 0
    right_tool: int = 0
    expected: int = 0
    """Samples judged against the session's ``expect_tool``."""
    latency_s: float = 0.0
    layers: dict[str, int] = field(default_factory=dict)
    """Explained samples per layer (``--explain``)."""

    @property
    def valid_rate(self) -> float | None:
        return self.valid / self.checked if self.checked else None

    def add(self, s: Sample) -> None:
        self.samples += 1
        self.latency_s += s.latency_s
        self.errors += s.error is not None
        if s.layer is not None:
            self.layers[s.layer] = self.layers.get(s.layer, 0) + 1
        if s.verdict.right_tool is not None:
            self.expected += 1
            self.right_tool += s.verdict.right_tool
        if s.verdict.valid is not None:
            self.checked += 1
            self.valid += s.verdict.valid

    def to_json(self) -> dict[str, Any]:
        rate = self.valid_rate
        return {
            "temperature": self.temperature,
            "mode": self.mode,
            "samples": self.samples,
            "valid": self.valid,
            "valid_rate": None if rate is None else round(rate, 4),
            "errors": self.errors,
            "right_tool_rate": round(self.right_tool / self.expected, 4) if self.expected else None,
            "mean_latency_ms": round(self.latency_s / self.samples * 1000, 1)
            if self.samples
            else None,
        } | ({"layers": dict(self.layers)} if self.layers else {})


class Grid:
    """Validity rate by mode and temperature, in the session's order, filled as samples land."""

    def __init__(self, spec: Spec) -> None:
        self.cells = {
            (m, t): Cell(m, t) for m in spec.modes for t in dict.fromkeys(spec.temperatures)
        }

    def add(self, s: Sample) -> Cell:
        cell = self.cells[(s.mode, s.temperature)]
        cell.add(s)
        return cell

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.cells.values()]


class SampleSource(Protocol):
    """What a sweep draws its samples from (:class:`Playground`, or a test's fake)."""

    def sweep(self, spec: Spec, concurrency: int = ...) -> AsyncGenerator[Sample, None]: ...


class Sweep:
    """One sweep's results so far: kept whole when the sweep is cancelled part way."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.samples: list[Sample] = []
        self.grid = Grid(spec)
        self.cancelled = False
        self._running: asyncio.Task[Any] | None = None

    def add(self, s: Sample) -> Cell:
        self.samples.append(s)
        return self.grid.add(s)

    @property
    def planned(self) -> int:
        """How many samples the whole sweep sends."""
        spec = self.spec
        return len(spec.modes) * len(dict.fromkeys(spec.temperatures)) * spec.samples

    async def run(
        self,
        source: SampleSource,
        on_sample: Callable[[Sample, Cell], None] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """Send every sample, keeping what lands: cancelled, the samples so far stay in place.

        After :meth:`cancel` it returns (what is in flight is dropped).
        """
        self._running = asyncio.current_task()
        try:
            async with aclosing(source.sweep(self.spec, concurrency)) as samples:
                async for s in samples:
                    cell = self.add(s)
                    if on_sample is not None:
                        on_sample(s, cell)
        except asyncio.CancelledError:
            asked = self.cancelled
            self.cancelled = True
            task = asyncio.current_task()
            if asked and task is not None and task.uncancel() == 0:
                return  # our own stop, and nobody else's: the partial result stands
            raise
        finally:
            self._running = None

    def cancel(self) -> None:
        """Stop sending: what is in flight is dropped, ``run()`` returns what landed."""
        self.cancelled = True
        if self._running is not None:
            self._running.cancel()

    def ordered(self) -> list[Sample]:
        return order(self.samples, self.spec)

    def to_json(self) -> dict[str, Any]:
        """The result document (``try --json``'s last line)."""
        return {
            "model": self.spec.model,
            "complete": len(self.samples) == self.planned,
            "samples": len(self.samples),
            "grid": self.grid.to_json(),
        }


def order(samples: Sequence[Sample], spec: Spec) -> list[Sample]:
    """Samples in the session's order (they arrive in completion order)."""
    modes = {m: i for i, m in enumerate(spec.modes)}
    temps = {t: i for i, t in enumerate(dict.fromkeys(spec.temperatures))}
    return sorted(samples, key=lambda s: (modes[s.mode], temps[s.temperature], s.index))
