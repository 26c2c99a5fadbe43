"""A short float32 against bfloat16 matmul, run by the cpu runtime's Python: what the CPU does.

The flags say whether bfloat16 is native (:mod:`naptha_tui.backends.telemetry.cpu`); this
measures what that means here, with the runtime's own torch (the one vLLM uses): the same
576x576 @ 576x1024 product repeated for about a second per dtype (SmolLM2-135M's hidden size
times a batch of tokens), in GFLOPS. On AVX2 without AVX512_BF16, bfloat16 is emulated and
the ratio is large.

The module is both sides: :func:`run_matmul` (standard library only) runs this same file as a
script with the runtime's interpreter, ``python matmul.py SECONDS``, which imports torch there
and prints one JSON line. The panel's environment never imports torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPE = (576, 576, 1024)
"""M, K, N of the product: SmolLM2-135M's hidden size, and 1024 tokens."""
SECONDS_PER_DTYPE = 1.0
TIMEOUT_S = 90.0
"""Importing torch takes seconds on a busy 2-core machine; one emulated bfloat16 product ~1 s."""


@dataclass(frozen=True)
class Matmul:
    """GFLOPS of the same product in float32 and in bfloat16."""

    float32_gflops: float
    bfloat16_gflops: float
    seconds: float = SECONDS_PER_DTYPE
    """Roughly how long each dtype ran."""
    threads: int | None = None
    """torch's intra-op threads in the runtime."""

    @property
    def ratio(self) -> float:
        """float32 over bfloat16: above 1, float32 is faster (bfloat16 emulated)."""
        return self.float32_gflops / self.bfloat16_gflops if self.bfloat16_gflops else 0.0

    def to_json(self) -> dict[str, Any]:
        """``{"float32_gflops", "bfloat16_gflops", "ratio", "shape", "seconds", "threads"}``."""
        return {
            "float32_gflops": round(self.float32_gflops, 2),
            "bfloat16_gflops": round(self.bfloat16_gflops, 2),
            "ratio": round(self.ratio, 2),
            "shape": list(SHAPE),
            "seconds": self.seconds,
            "threads": self.threads,
        }


class MatmulFailed(Exception):
    """The runtime could not run the product (the message says why, for the report)."""


def run_matmul(python: Path, seconds: float = SECONDS_PER_DTYPE) -> Matmul:
    """Run the product with ``python`` (the cpu runtime's interpreter).

    Args:
        python: the runtime's interpreter; it must have torch.
        seconds: how long each dtype runs (at least one product each).

    Raises:
        MatmulFailed: the interpreter is missing, fails, times out, or prints no result.
    """
    try:
        done = subprocess.run(
            [str(python), __file__, str(seconds)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + 4 * seconds,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise MatmulFailed(f"no result after {TIMEOUT_S + 4 * seconds:.0f} s") from None
    except OSError as exc:
        raise MatmulFailed(f"cannot run {python}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise MatmulFailed(f"{python} failed: {last}")
    try:
        doc = json.loads(done.stdout.strip().splitlines()[-1])
        return Matmul(
            float(doc["float32"]["gflops"]),
            float(doc["bfloat16"]["gflops"]),
            seconds,
            doc.get("threads"),
        )
    except (ValueError, IndexError, KeyError, TypeError):
        raise MatmulFailed(f"{python} printed no result: {done.stdout[-200:]!r}") from None


def measure(seconds: float) -> dict[str, Any]:
    """The product in each dtype for ``seconds`` (in the runtime: imports torch)."""
    import torch

    torch.manual_seed(0)
    m, k, n = SHAPE
    out: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
        torch.mm(a, b)  # the first call sets up the kernels
        runs, start = 0, time.perf_counter()
        while True:
            torch.mm(a, b)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        out[name] = {"gflops": 2 * m * k * n * runs / elapsed / 1e9, "runs": runs}
    return out


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS_PER_DTYPE)))
