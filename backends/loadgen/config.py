"""One load test as the ``bench`` flags or the Bench screen's form describe it.

Its defaults are the run's defaults: the field table (``fields.BENCH``) takes them from here,
and the command's flags and the form's first values follow the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .arrivals import Arrivals
from .workloads import ENDPOINT_PATHS, AgentWorkload, Endpoint, RandomWorkload

Workload = RandomWorkload | AgentWorkload
DEFAULT_CONNECTIONS = 256
DEFAULT_RUNS = 10
"""A sweep's runs when none is said (``--sweep`` alone, the form's first value)."""


@dataclass(frozen=True)
class BenchConfig:
    model: str
    workload: Workload = field(default_factory=RandomWorkload)
    arrivals: Arrivals = field(default_factory=Arrivals)
    max_concurrency: int | None = None
    seed: int = 0
    endpoint: Endpoint = "chat"
    temperature: float = 0.0
    ignore_eos: bool = False
    percentiles: tuple[float, ...] = (99.0,)
    goodput: dict[str, float] = field(default_factory=dict)
    timeout_s: float = 600.0
    connections: int | None = None
    max_duration_s: float | None = None

    def problems(self) -> list[str]:
        out = [*self.workload.problems(), *self.arrivals.problems()]
        if self.max_concurrency is not None and self.max_concurrency < 1:
            out.append(f"--max-concurrency must be at least 1 (got {self.max_concurrency})")
        if self.endpoint not in ENDPOINT_PATHS:
            out.append(f"--endpoint {self.endpoint!r}: expected one of {', '.join(ENDPOINT_PATHS)}")
        if isinstance(self.workload, AgentWorkload) and self.endpoint != "chat":
            out.append("the agent simulation needs the chat endpoint (conversations, tools)")
        if self.connections is not None and self.connections < 1:
            out.append(f"--connections must be at least 1 (got {self.connections})")
        return out

    def pool_size(self) -> int:
        return self.connections or min(self.max_concurrency or DEFAULT_CONNECTIONS, 4096)

    def describe(self) -> dict[str, Any]:
        a = self.arrivals
        return {
            "model": self.model,
            "workload": self.workload.describe(),
            "endpoint": ENDPOINT_PATHS[self.endpoint],
            "request_rate": a.request_rate if math.isfinite(a.request_rate) else "inf",
            "burstiness": a.burstiness,
            "ramp_up_strategy": a.ramp_up,
            "ramp_up_start_rps": a.ramp_up_start_rps,
            "ramp_up_end_rps": a.ramp_up_end_rps,
            "max_concurrency": self.max_concurrency,
            "seed": self.seed,
            "temperature": self.temperature,
            "ignore_eos": self.ignore_eos,
            "percentiles": list(self.percentiles),
            "goodput": dict(self.goodput),
            "connections": self.pool_size(),
        }
