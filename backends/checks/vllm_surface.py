"""What a vLLM's ``serve`` accepts: a static table of removed flags, or the runtime's own answer.

* The static table (:mod:`naptha_tui.backends.checks.vllm_static_table`): ``vllm serve`` flags
  vLLM removed or renamed (when, and what replaces them) and the tool-call parser names vLLM
  registers. Nothing is run.
* A runtime's own vLLM, when it is installed: its python builds vLLM's ``serve`` argument parser
  and lists every option, the registered tool-call and reasoning parsers. The answer is cached
  per runtime version in the state dir (importing vLLM takes seconds).

The panel never imports vLLM; it runs the runtime's interpreter with a short program.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naptha_tui.backends.checks.vllm_static_table import KNOWN_TOOL_PARSERS
from naptha_tui.backends.files import READABLE, atomic_write
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import Runtime, RuntimeProblem, get_runtime
from naptha_tui.backends.settings import Settings


@dataclass(frozen=True)
class VllmSurface:
    """What one vLLM accepts: exact when read from a runtime, partial from the static table."""

    source: str
    """Says where this came from, for the output (``static table (...)``, ``vLLM 0.32.0 ...``)."""
    tool_parsers: frozenset[str]
    flags: frozenset[str] = frozenset()
    """Every option string of ``vllm serve``; empty when unknown (the static table)."""
    no_value: frozenset[str] = frozenset()
    """Options that take no value (``--trust-remote-code``)."""
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reasoning_parsers: frozenset[str] | None = None
    version: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the full set of flags is known."""
        return bool(self.flags)

    def to_json(self) -> dict[str, Any]:
        """The cache file's content."""
        return {
            "source": self.source,
            "version": self.version,
            "flags": sorted(self.flags),
            "no_value": sorted(self.no_value),
            "choices": {k: list(v) for k, v in self.choices.items()},
            "tool_parsers": sorted(self.tool_parsers),
            "reasoning_parsers": (
                None if self.reasoning_parsers is None else sorted(self.reasoning_parsers)
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VllmSurface:
        """The inverse of :meth:`to_json`."""
        reasoning = data.get("reasoning_parsers")
        return cls(
            source=str(data["source"]),
            version=data.get("version"),
            flags=frozenset(data["flags"]),
            no_value=frozenset(data.get("no_value", ())),
            choices={k: tuple(v) for k, v in data.get("choices", {}).items()},
            tool_parsers=frozenset(data["tool_parsers"]),
            reasoning_parsers=None if reasoning is None else frozenset(reasoning),
        )


def static_surface(reason: str = "") -> VllmSurface:
    """The static table, with the reason no runtime was asked (shown in the output)."""
    return VllmSurface(
        source=f"static table ({reason})" if reason else "static table",
        tool_parsers=KNOWN_TOOL_PARSERS,
    )


# flags in an argument list, as vLLM reads them

_NUMBER = re.compile(r"^-\d")


def normalize_flag(token: str) -> str:
    """A flag as vLLM's FlexibleArgumentParser sees it: no ``=value``, dashes before any dot.

    ``--max_num_seqs=8`` → ``--max-num-seqs``; ``-O3`` → ``--optimization-level``.
    """
    name = token.split("=", 1)[0]
    if name.startswith("--"):
        head, dot, rest = name[2:].partition(".")
        return f"--{head.replace('_', '-')}{dot}{rest}"
    if name.startswith("-O") and name != "-O":
        return "--optimization-level"
    return name


def _is_flag(token: str) -> bool:
    return token.startswith("-") and token != "-" and not _NUMBER.match(token)


def iter_flags(
    args: Sequence[str], no_value: frozenset[str] = frozenset()
) -> list[tuple[int, str, str | None]]:
    """``(index, normalized flag, value or None)`` for each flag in ``args``.

    A flag's value is its ``=`` part, else the next token unless that is a flag too or the flag
    is known to take none.
    """
    found: list[tuple[int, str, str | None]] = []
    i = 0
    while i < len(args):
        token = args[i]
        if _is_flag(token):
            flag = normalize_flag(token)
            value: str | None = None
            if "=" in token:
                value = token.split("=", 1)[1]
            elif flag not in no_value and i + 1 < len(args) and not _is_flag(args[i + 1]):
                value = args[i + 1]
                found.append((i, flag, value))
                i += 2
                continue
            found.append((i, flag, value))
        i += 1
    return found


# ---------------------------------------------------------------------------------------------
# asking a runtime's vLLM

PROBE = r"""
import importlib, json
import vllm
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:
    from vllm.utils import FlexibleArgumentParser
make = None
for name in ("vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args"):
    try:
        make = importlib.import_module(name).make_arg_parser
        break
    except (ImportError, AttributeError):
        pass
if make is None:
    raise SystemExit("cannot find vLLM's make_arg_parser")
parser = make(FlexibleArgumentParser())
flags, no_value, choices = set(), set(), {}
for action in parser._actions:
    flags.update(action.option_strings)
    if action.nargs == 0:
        no_value.update(action.option_strings)
    if action.choices is not None and action.option_strings:
        for s in action.option_strings:
            choices[s] = sorted(str(c) for c in action.choices)
tools = None
for mod in ("vllm.tool_parsers.abstract_tool_parser", "vllm.tool_parsers",
            "vllm.entrypoints.openai.tool_parsers"):
    try:
        tools = sorted(importlib.import_module(mod).ToolParserManager.list_registered())
        break
    except (ImportError, AttributeError):
        pass
reasoning = None
try:
    from vllm.reasoning import ReasoningParserManager
    reasoning = sorted(ReasoningParserManager.list_registered())
except (ImportError, AttributeError):
    pass
print("NAPTHA_SURFACE " + json.dumps({
    "version": getattr(vllm, "__version__", None), "flags": sorted(flags),
    "no_value": sorted(no_value), "choices": choices, "tool_parsers": tools,
    "reasoning_parsers": reasoning}))
"""


def runtime_python(runtime: Runtime) -> Path | None:
    """The interpreter that has the runtime's vllm: the venv's, or an external vllm's."""
    if runtime.external is None:
        return runtime.python
    sibling = runtime.external.parent / "python"
    if sibling.exists():
        return sibling
    try:
        with runtime.external.open("rb") as fh:
            first = fh.readline().decode(errors="replace").strip()
    except OSError:
        return None
    if first.startswith("#!") and first[2:].strip().startswith("/"):
        interpreter = Path(first[2:].split()[0])
        return interpreter if interpreter.exists() else None
    return None


def probe_runtime(python: Path, label: str, timeout: float = 300.0) -> VllmSurface:
    """Run ``python`` (a runtime's) to list what its vLLM's ``serve`` accepts.

    Raises:
        RuntimeProblem: the program failed, timed out or printed nothing usable.
    """
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"}
    try:
        done = subprocess.run(
            [str(python), "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeProblem(f"cannot ask {label}'s vLLM for its flags: {exc}") from exc
    line = next(
        (s for s in reversed(done.stdout.splitlines()) if s.startswith("NAPTHA_SURFACE ")), None
    )
    if done.returncode != 0 or line is None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise RuntimeProblem(
            f"cannot ask {label}'s vLLM for its flags (exit code {done.returncode}): {tail}"
        )
    data = json.loads(line.removeprefix("NAPTHA_SURFACE "))
    if not data["flags"]:
        raise RuntimeProblem(f"{label}'s vLLM listed no flags")
    version = data.get("version")
    return VllmSurface.from_json(
        {
            **data,
            "source": f"vLLM {version} in {label}",
            "tool_parsers": data["tool_parsers"] or sorted(KNOWN_TOOL_PARSERS),
        }
    )


class Surfaces:
    """What each runtime's vLLM accepts, asked once per runtime version and cached on disk."""

    def __init__(
        self, paths: Paths, settings: Settings, *, static_only: bool = False, timeout: float = 300.0
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.static_only = static_only
        self.timeout = timeout
        self._memo: dict[str, VllmSurface] = {}

    @property
    def cache_dir(self) -> Path:
        """One JSON file per runtime and version."""
        return self.paths.state_dir / "vllm-surfaces"

    def for_runtime(self, name: str) -> VllmSurface:
        """The runtime's own vLLM when it is installed and answers, else the static table."""
        if self.static_only:
            return static_surface("asked for")
        if name not in self._memo:
            self._memo[name] = self._lookup(name)
        return self._memo[name]

    def _lookup(self, name: str) -> VllmSurface:
        try:
            runtime = get_runtime(name, self.paths, self.settings)
        except RuntimeProblem:
            return static_surface(f"no runtime {name!r}")
        info = runtime.info()
        if not info.ready:
            return static_surface(f"runtime {name} is not installed")
        python = runtime_python(runtime)
        if python is None:
            return static_surface(f"cannot find the python of runtime {name}")
        cache = self.cache_dir / f"{name}-{self._cache_key(runtime, info.version)}.json"
        try:
            return VllmSurface.from_json(json.loads(cache.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            surface = probe_runtime(python, f"runtime {name}", self.timeout)
        except RuntimeProblem as exc:
            return static_surface(str(exc).splitlines()[0])
        self.paths.ensure(self.cache_dir)
        atomic_write(cache, json.dumps(surface.to_json()), READABLE)
        return surface

    @staticmethod
    def _cache_key(runtime: Runtime, version: str | None) -> str:
        if runtime.external is None and version:
            return re.sub(r"[^A-Za-z0-9._+-]", "_", version)
        target = runtime.external or runtime.python
        try:
            stamp = str(target.resolve().stat().st_mtime_ns)
        except OSError:
            stamp = "0"
        return hashlib.sha256(f"{target}|{stamp}".encode()).hexdigest()[:16]
