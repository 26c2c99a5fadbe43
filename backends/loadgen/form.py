"""The Bench screen's form as plain values: read into a BenchConfig, each problem naming its field.

The panel's form holds text (what was typed) and two choices; ``read_form`` turns them into the
run the headless ``bench`` command would make from the same flags (same defaults, same core
checks: ``BenchConfig.problems``, ``parse_goodput``, ``ThinkTime.parse``), or raises
``FormInvalid`` with every problem at once, each under the field it is about. The core names
its problems by flag (``--request-rate must be above 0``); here the flag becomes the form's
label (``request rate must be above 0``), so the message names what the operator sees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from naptha_tui.backends.errors import NapthaError

from .arrivals import Arrivals
from .metrics import parse_goodput
from .run import BenchConfig
from .sweep import DEFAULT_RUNS
from .workloads import AgentWorkload, RandomWorkload, ThinkTime

LABELS: dict[str, str] = {
    "target": "target",
    "model": "model",
    "workload": "workload",
    "num_prompts": "num prompts",
    "input_len": "input len",
    "output_len": "output len",
    "agents": "agents",
    "turns": "turns",
    "think_time": "think time",
    "tool_probability": "tool probability",
    "request_rate": "request rate",
    "max_concurrency": "max concurrency",
    "seed": "seed",
    "goodput": "goodput",
    "runs": "sweep runs",
}
"""Each field's key and the label the form shows (problems name the label)."""

FLAGS: dict[str, str] = {
    "--num-prompts": "num_prompts",
    "--random-input-len": "input_len",
    "--random-output-len": "output_len",
    "--agents": "agents",
    "--turns": "turns",
    "--think-time": "think_time",
    "--tool-probability": "tool_probability",
    "--request-rate": "request_rate",
    "--max-concurrency": "max_concurrency",
    "--model": "model",
    "--server": "target",
    "goodput": "goodput",
}
"""How the core names a field in its messages (the headless command's flags)."""

DEFAULTS: dict[str, str] = {
    "workload": "random",
    "num_prompts": "100",
    "input_len": "64",
    "output_len": "16",
    "agents": "100",
    "turns": "3",
    "think_time": "0",
    "tool_probability": "0.5",
    "request_rate": "inf",
    "max_concurrency": "",
    "seed": "0",
    "goodput": "",
    "runs": str(DEFAULT_RUNS),
}
"""The form's first values: the ``bench`` command's defaults."""


@dataclass(frozen=True)
class FormProblem:
    field: str
    """The field's key (``request_rate``), or ``""`` when no one field is to blame."""
    message: str
    """What is wrong, naming the field by its label."""

    def __str__(self) -> str:
        return self.message


class FormInvalid(NapthaError):
    """The form does not describe a run; nothing was sent."""

    def __init__(self, problems: list[FormProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class BenchPlan:
    """What the form asks for: one run, or a sweep of ``sweep_runs`` runs."""

    config: BenchConfig
    sweep_runs: int | None = None


def field_problem(text: str) -> FormProblem:
    """A core message (``--request-rate must be above 0 ...``) as a problem of its field."""
    for flag, key in FLAGS.items():
        if re.match(rf"{re.escape(flag)}\b", text):
            return FormProblem(key, LABELS[key] + text[len(flag) :])
    return FormProblem("", text)


class _Reader:
    def __init__(self, values: Mapping[str, str | bool]) -> None:
        self.values = values
        self.problems: list[FormProblem] = []

    def text(self, key: str) -> str:
        value = self.values.get(key, DEFAULTS.get(key, ""))
        return str(value).strip()

    def fail(self, key: str, detail: str) -> None:
        self.problems.append(FormProblem(key, f"{LABELS[key]}: {detail}"))

    def whole(self, key: str, default: int = 0) -> int:
        text = self.text(key)
        try:
            return int(text)
        except ValueError:
            self.fail(key, f"{text!r} is not a whole number")
            return default

    def optional_whole(self, key: str) -> int | None:
        return self.whole(key) if self.text(key) else None

    def number(self, key: str, default: float = 0.0) -> float:
        text = self.text(key)
        try:
            value = float(text)
        except ValueError:
            self.fail(key, f"{text!r} is not a number (inf is one)")
            return default
        return value


def read_form(values: Mapping[str, str | bool]) -> BenchPlan:
    """The run the form describes; ``FormInvalid`` names every problem, by field.

    ``values`` holds the text of each field of ``LABELS`` (a missing one takes its default),
    ``workload`` (``random`` or ``agents``) and ``sweep`` (a bool: ``runs`` counts then).
    """
    r = _Reader(values)
    model = r.text("model")
    if not model:
        r.fail("model", "choose a model the target serves")
    kind = r.text("workload")
    workload: RandomWorkload | AgentWorkload
    output_len = r.whole("output_len", 1)
    if kind == "agents":
        think = ThinkTime()
        try:
            think = ThinkTime.parse(r.text("think_time"))
        except NapthaError as exc:
            r.problems.append(field_problem(str(exc)))
        workload = AgentWorkload(
            agents=r.whole("agents", 1),
            turns=r.whole("turns", 1),
            think_time=think,
            tool_probability=r.number("tool_probability"),
            output_len=output_len,
        )
    elif kind == "random":
        workload = RandomWorkload(r.whole("num_prompts", 1), r.whole("input_len", 1), output_len)
    else:
        r.fail("workload", f"{kind!r}: expected random or agents")
        workload = RandomWorkload()
    goodput: dict[str, float] = {}
    try:
        goodput = parse_goodput(r.text("goodput").replace(",", " ").split())
    except NapthaError as exc:
        r.problems.append(field_problem(str(exc)))
    sweep_runs: int | None = None
    if values.get("sweep"):
        sweep_runs = r.whole("runs", DEFAULT_RUNS)
        if sweep_runs < 2:
            r.fail("runs", f"a sweep needs at least 2 runs (got {sweep_runs})")
    config = BenchConfig(
        model=model or "-",
        workload=workload,
        arrivals=Arrivals(r.number("request_rate", math.inf)),
        max_concurrency=r.optional_whole("max_concurrency"),
        seed=r.whole("seed"),
        goodput=goodput,
    )
    typed = {p.field for p in r.problems}  # a field that did not parse has its default
    r.problems += [
        p for p in map(field_problem, config.problems()) if not p.field or p.field not in typed
    ]
    if r.problems:
        raise FormInvalid(r.problems)
    return BenchPlan(config, sweep_runs)
