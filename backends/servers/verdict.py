"""What the memory planner answers: who holds memory, what a server needs, and the verdict.

Plain data with its wording for the operator (GiB, two decimals); the arithmetic that fills it
is in ``planner.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.errors import NapthaError

GiB = 1 << 30


def gib(n: int | float, digits: int = 2) -> str:
    """``n`` bytes in GiB with ``digits`` decimals, without the unit: ``1.50``."""
    return f"{n / GiB:.{digits}f}"


class WontFit(NapthaError):
    """A preset refused by the planner; the message is :meth:`Verdict.message`."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass(frozen=True)
class Holder:
    """Who holds memory now: ``smollm2-cpu`` (ours), ``pid 1234``, ``other processes``."""

    name: str
    bytes: int


@dataclass(frozen=True)
class GpuFree:
    """One GPU's memory as measured by the caller (NVML), in bytes."""

    index: int
    total: int
    free: int


@dataclass(frozen=True)
class Need:
    """What one server needs, per GPU on GPUs (weights already split over tensor parallelism)."""

    weights: int
    kv: int
    overhead: int

    @property
    def total(self) -> int:
        """Weights + KV cache + overhead."""
        return self.weights + self.kv + self.overhead


@dataclass(frozen=True)
class Verdict:
    """The planner's answer for one server, with the numbers behind it."""

    fits: bool | None
    """None: unknown (no local config.json); the planner never refuses then."""
    device: str
    """``RAM``, ``GPU 0`` or ``GPUs 0,1``."""
    need: Need | None
    budget: int | None
    """GPU: gpu_memory_utilization x total memory, per GPU (the tightest); CPU: need.total."""
    free: int | None
    """GPU: free memory of the tightest target GPU; CPU: available RAM."""
    held_by: tuple[Holder, ...] = ()
    reasons: tuple[str, ...] = ()
    """Each refusal reason, a sentence with its numbers in GiB."""
    notes: tuple[str, ...] = ()
    """Context that is not a refusal (why the check was skipped, what was assumed)."""

    def message(self, preset: str) -> str:
        """One line for the operator, e.g. ``preset X will not fit in RAM: needs ...``."""
        where = "in RAM" if self.device == "RAM" else f"on {self.device}"
        if self.fits is None:
            text = f"preset {preset}: memory not checked {where}"
            return "; ".join([text, *self.notes]) if self.notes else text
        head = f"preset {preset} {'fits' if self.fits else 'will not fit'} {where}"
        parts = []
        if self.need is not None:
            need = self.need
            parts.append(
                f"needs {gib(need.total)} GiB (weights {gib(need.weights)} + KV cache "
                f"{gib(need.kv)} + overhead {gib(need.overhead)})"
            )
            if self.device != "RAM" and self.budget is not None:
                parts[-1] += f" within a budget of {gib(self.budget)} GiB"
        if self.free is not None:
            parts.append(f"{gib(self.free, 1)} GiB free")
        text = f"{head}: {', '.join(parts)}" if parts else head
        if self.held_by:
            held = ", ".join(f"{h.name} {gib(h.bytes, 1)} GiB" for h in self.held_by)
            text += f"; held by {held}"
        if not self.fits and self.reasons:
            text += ". " + " ".join(self.reasons)
        return text

    def check(self, preset: str) -> None:
        """Raise :class:`WontFit` when the verdict is a refusal (unknown passes).

        Raises:
            WontFit: ``fits`` is False.
        """
        if self.fits is False:
            raise WontFit(self.message(preset), self)

    def to_json(self) -> dict[str, Any]:
        """Plain data (bytes as integers) for ``--json`` output."""
        need = self.need
        return {
            "fits": self.fits,
            "device": self.device,
            "need": None
            if need is None
            else {
                "weights": need.weights,
                "kv": need.kv,
                "overhead": need.overhead,
                "total": need.total,
            },
            "budget": self.budget,
            "free": self.free,
            "held_by": [{"name": h.name, "bytes": h.bytes} for h in self.held_by],
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }
