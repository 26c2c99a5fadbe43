"""When each request is sent: ``vllm bench serve``'s arrival process, seeded.

Open loop: a request rate (``inf`` sends everything at once) with gamma-distributed gaps of
shape ``burstiness`` (1 is Poisson), rescaled so ``n`` requests take ``n / rate`` seconds, as
vLLM does to keep throughput steady across seeds; or a linear / exponential ramp from one rate
to another, with no rescaling (``vllm/benchmarks/serve.py`` ``get_request``). Closed loop is
``max_concurrency`` in the runner, and may be combined with a rate as in vLLM.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from naptha_tui.backends.errors import NapthaError

RampUp = Literal["linear", "exponential"]


@dataclass(frozen=True)
class Arrivals:
    request_rate: float = math.inf
    burstiness: float = 1.0
    ramp_up: RampUp | None = None
    ramp_up_start_rps: float | None = None
    ramp_up_end_rps: float | None = None

    def problems(self) -> list[str]:
        out = []
        if not self.request_rate > 0:
            out.append(f"--request-rate must be above 0 (got {self.request_rate:g}); inf sends all")
        if not self.burstiness > 0:
            out.append(f"--burstiness must be above 0 (got {self.burstiness:g}); 1 is Poisson")
        if self.ramp_up is not None:
            start, end = self.ramp_up_start_rps, self.ramp_up_end_rps
            if start is None or end is None:
                out.append("--ramp-up-strategy needs --ramp-up-start-rps and --ramp-up-end-rps")
            elif not (start > 0 and end > 0) or math.isinf(start) or math.isinf(end):
                out.append(f"ramp-up rates must be finite and above 0 (got {start:g} → {end:g})")
        return out

    def check(self) -> None:
        if found := self.problems():
            raise NapthaError("; ".join(found))

    def rate_at(self, index: int, total: int) -> float:
        start, end = self.ramp_up_start_rps, self.ramp_up_end_rps
        if self.ramp_up is None or start is None or end is None:
            return self.request_rate
        progress = index / max(total - 1, 1)
        if self.ramp_up == "linear":
            return start + (end - start) * progress
        return float(start * (end / start) ** progress)

    def offsets(self, total: int, seed: int) -> list[float]:
        """Seconds after the start at which each of ``total`` requests is due."""
        self.check()
        rng = random.Random(f"arrivals:{seed}")
        delays: list[float] = []
        for i in range(total):
            rate = self.rate_at(i, total)
            if math.isinf(rate):
                delays.append(0.0)
            elif math.isinf(self.burstiness):
                delays.append(1.0 / rate)
            else:
                delays.append(rng.gammavariate(self.burstiness, 1.0 / (rate * self.burstiness)))
        cumulative: list[float] = []
        acc = 0.0
        for d in delays:
            acc += d
            cumulative.append(acc)
        if self.ramp_up is None and cumulative and cumulative[-1] > 0:
            factor = (total / self.request_rate) / cumulative[-1]
            cumulative = [c * factor for c in cumulative]
        return cumulative
