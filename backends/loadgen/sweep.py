"""A sweep like GuideLLM's: synchronous, then throughput, then rates evenly between.

The synchronous run (one request at a time) gives the lowest rate the server sustains with no
queueing; the throughput run (everything at once, bounded by ``max_concurrency``) the highest.
The ``runs - 2`` rates strictly between them are then run open loop (Poisson, or the
configured burstiness), each with the same workload and seed, so every rate sees the same
prompts (GuideLLM #222). GuideLLM's default is 10 runs; so is ours.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from naptha_tui.backends.endpoints import Access

from .arrivals import Arrivals
from .config import DEFAULT_RUNS, BenchConfig
from .live import Progress
from .run import LoadTest


def between(low: float, high: float, runs: int) -> list[float]:
    """The ``runs - 2`` rates evenly spaced strictly between ``low`` and ``high``."""
    n = max(runs - 2, 0)
    if n == 0 or not (high > low > 0):
        return []
    step = (high - low) / (n + 1)
    return [low + step * (i + 1) for i in range(n)]


StageHook = Callable[[str, int, int], None]
"""Called with the stage's label ("synchronous", "throughput", "rate 3.20"), its number and
the number of stages."""


class Sweep:
    """Runs the stages one after another; ``cancel()`` stops the current one and the rest."""

    def __init__(self, config: BenchConfig, access: Access, runs: int = DEFAULT_RUNS) -> None:
        self.config = config
        self.access = access
        self.runs = max(runs, 2)
        self.current: LoadTest | None = None
        self.cancelled = False
        self.results: list[dict[str, Any]] = []
        self.note: str | None = None

    def stopped(self) -> bool:
        return self.cancelled

    def cancel(self) -> None:
        self.cancelled = True
        if self.current is not None:
            self.current.cancel()

    async def _stage(
        self, label: str, config: BenchConfig, progress: Callable[[Progress], None] | None
    ) -> dict[str, Any]:
        self.current = LoadTest(config, self.access)
        result = await self.current.run(progress)
        result["stage"] = label
        self.results.append(result)
        return result

    async def run(
        self,
        on_stage: StageHook | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> dict[str, Any]:
        c = self.config
        plan: list[tuple[str, BenchConfig]] = [
            ("synchronous", dataclasses.replace(c, arrivals=Arrivals(), max_concurrency=1)),
            ("throughput", dataclasses.replace(c, arrivals=Arrivals())),
        ]
        for i, (label, config) in enumerate(plan):
            if self.cancelled:
                break
            if on_stage:
                on_stage(label, i + 1, self.runs)
            await self._stage(label, config, on_progress)
        if not self.cancelled and len(self.results) == 2:
            low = self.results[0]["request_throughput"]
            high = self.results[1]["request_throughput"]
            if not high > low:
                self.note = (
                    f"throughput ({high:.2f} req/s) did not beat synchronous ({low:.2f} req/s): "
                    "the target does not gain from concurrency, so no rates lie between"
                )
            for j, rate in enumerate(between(low, high, self.runs)):
                if self.stopped():
                    break
                label = f"rate {rate:.2f}"
                if on_stage:
                    on_stage(label, j + 3, self.runs)
                arrivals = Arrivals(request_rate=rate, burstiness=c.arrivals.burstiness)
                await self._stage(label, dataclasses.replace(c, arrivals=arrivals), on_progress)
        return self.document()

    def document(self) -> dict[str, Any]:
        """The sweep as one result: the busiest stage's figures on top, every stage inside."""
        best = max(self.results, key=lambda r: r.get("request_throughput") or 0, default={})
        top = {k: v for k, v in best.items() if k != "stage"}
        return {
            **top,
            "cancelled": self.cancelled,
            "sweep_note": self.note,
            "sweep": [
                {
                    "stage": r["stage"],
                    "request_rate": _rate(r),
                    **{k: r.get(k) for k in POINT_FIELDS},
                }
                for r in self.results
            ],
        }


POINT_FIELDS = (
    "completed",
    "failed",
    "request_throughput",
    "output_throughput",
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "median_itl_ms",
    "median_e2el_ms",
    "p99_e2el_ms",
)


def _rate(result: dict[str, Any]) -> float | str:
    rate = (result.get("config") or {}).get("request_rate", "inf")
    return rate if isinstance(rate, (int, float)) and math.isfinite(rate) else "inf"
