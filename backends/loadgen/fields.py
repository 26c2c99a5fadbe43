"""The load test's settings, once: the ``bench`` flags, the Bench screen's form and its reader.

:data:`BENCH` is the field table (``vllm bench serve``'s flag names where they mean the same;
defaults from the run's own dataclasses). :func:`build` makes the run from any source of
values, the command's parsed flags or the form: the same defaults, the same core checks
(``BenchConfig.problems``, ``parse_goodput``, ``ThinkTime.parse``). :func:`read_form` reads
the form, every problem at once under its field (the flag said as the form's label).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.runs.fields import Field, Fields, FormValue, Reader

from .arrivals import Arrivals
from .config import DEFAULT_RUNS, BenchConfig
from .metrics import parse_goodput, parse_percentiles
from .workloads import AgentWorkload, RandomWorkload, ThinkTime

RANDOM = "random prompts (as vllm bench serve)"
AGENTS = "agent simulation"
ARRIVALS = "arrivals"
REPORT = "requests and report"

BENCH = Fields(
    Field(
        "workload",
        "choice",
        "random",
        "random prompts (default) or the agent simulation (default when --agents is given)",
        "--workload",
        choices=("random", "agents"),
        choice_labels=("random prompts", "agents"),
        cli={"default": None},  # none said: --agents chooses the agent simulation
    ),
    Field(
        "target",
        help="send to this server directly, not the proxy",
        flag="--server",
        metavar="NAME",
    ),
    Field(
        "model",
        help="the model (default: the first one served)",
        flag="--model",
        metavar="M",
        missing="choose a model the target serves",
    ),
    Field(
        "endpoint",
        "choice",
        BenchConfig.endpoint,
        "/v1/chat/completions (default) or /v1/completions",
        "--endpoint",
        choices=("chat", "completions"),
        form=False,
    ),
    RANDOM,
    Field(
        "num_prompts", "positive", RandomWorkload.num_prompts, "({default})", "--num-prompts", "N"
    ),
    Field(
        "input_len", "positive", RandomWorkload.input_len, "({default})", "--random-input-len", "N"
    ),
    Field(
        "output_len",
        "positive",
        RandomWorkload.output_len,
        "({default})",
        "--random-output-len",
        "N",
    ),
    Field(
        "range_ratio",
        "number",
        RandomWorkload.range_ratio,
        "length spread ({default})",
        "--random-range-ratio",
        "R",
        form=False,
    ),
    AGENTS,
    Field(
        "agents",
        "positive",
        AgentWorkload.agents,
        "simulated agents",
        "--agents",
        metavar="N",
        cli={"default": None},  # given, it chooses the agent simulation
    ),
    Field("turns", "positive", AgentWorkload.turns, "turns each ({default})", "--turns", "T"),
    Field(
        "think_time",
        "text",
        str(AgentWorkload.think_time),
        "between turns: seconds, exp:MEAN or uniform:LOW,HIGH ({default})",
        "--think-time",
        "SPEC",
        placeholder="2, exp:2, uniform:1,3",
    ),
    Field(
        "tool_probability",
        "fraction",
        AgentWorkload.tool_probability,
        "chance a turn calls the lookup tool first ({default})",
        "--tool-probability",
        "P",
    ),
    ARRIVALS,
    Field(
        "request_rate",
        "rate",
        Arrivals.request_rate,
        "open loop, requests (agents: first turns) per second; inf sends all at once",
        "--request-rate",
        "RPS",
        placeholder="req/s, inf: all at once",
    ),
    Field(
        "burstiness",
        "rate",
        Arrivals.burstiness,
        "1 is Poisson, else gamma ({default})",
        "--burstiness",
        "B",
        form=False,
    ),
    Field(
        "max_concurrency",
        "positive",
        BenchConfig.max_concurrency,
        "closed loop: at most N in flight",
        "--max-concurrency",
        "N",
        placeholder="no limit",
    ),
    Field(
        "ramp_up",
        "choice",
        Arrivals.ramp_up,
        flag="--ramp-up-strategy",
        choices=("linear", "exponential"),
        form=False,
    ),
    Field(
        "ramp_up_start_rps",
        "rate",
        Arrivals.ramp_up_start_rps,
        flag="--ramp-up-start-rps",
        metavar="RPS",
        form=False,
    ),
    Field(
        "ramp_up_end_rps",
        "rate",
        Arrivals.ramp_up_end_rps,
        flag="--ramp-up-end-rps",
        metavar="RPS",
        form=False,
    ),
    Field(
        "seed",
        "whole",
        BenchConfig.seed,
        "the same seed, the same prompts ({default})",
        "--seed",
        "N",
    ),
    REPORT,
    Field(
        "temperature",
        "number",
        BenchConfig.temperature,
        "({default})",
        "--temperature",
        "T",
        form=False,
    ),
    Field(
        "ignore_eos",
        "switch",
        BenchConfig.ignore_eos,
        "generate exactly the output length (vLLM)",
        "--ignore-eos",
        form=False,
    ),
    Field(
        "goodput",
        "words",
        (),
        "SLOs for goodput, e.g. ttft:500 tpot:50 (ttft, tpot, e2el)",
        "--goodput",
        "METRIC:MS",
        placeholder="e.g. ttft:500 tpot:50",
        cli={"nargs": "+", "default": None},
    ),
    Field(
        "percentiles",
        "text",
        ",".join(f"{p:g}" for p in BenchConfig.percentiles),
        "percentiles to report ({default})",
        "--metric-percentiles",
        "P,P",
        form=False,
    ),
    Field(
        "runs",
        "positive",
        DEFAULT_RUNS,
        "GuideLLM-style sweep of RUNS runs ({default})",
        "--sweep",
        "RUNS",
        cli={"nargs": "?", "const": DEFAULT_RUNS, "default": None},
        label="sweep runs",
    ),
    Field(
        "max_duration",
        "seconds",
        BenchConfig.max_duration_s,
        "stop after S seconds",
        "--max-duration",
        "S",
        form=False,
    ),
    Field(
        "connections",
        "positive",
        BenchConfig.connections,
        "connection pool size",
        "--connections",
        "N",
        form=False,
    ),
    Field(
        "timeout",
        "seconds",
        BenchConfig.timeout_s,
        "per request ({default})",
        "--timeout",
        "S",
        form=False,
    ),
    aliases={"goodput": "goodput"},  # parse_goodput's messages: "goodput 'x': ..."
)
"""Every setting of a load test, in the order of ``bench --help``."""


@dataclass(frozen=True)
class BenchPlan:
    """What the form asks for: one run, or a sweep of ``sweep_runs`` runs."""

    config: BenchConfig
    sweep_runs: int | None = None


def build(get: Callable[[str], Any], model: str) -> tuple[BenchConfig, list[str]]:
    """The run the values describe (``get(key)``: a field's value), and its core problems.

    The workload is the one chosen, else the agent simulation when ``agents`` is given.
    """
    kind = get("workload") or ("agents" if get("agents") else "random")
    problems: list[str] = []
    workload: RandomWorkload | AgentWorkload
    if kind == "agents":
        think = ThinkTime()
        try:
            think = ThinkTime.parse(get("think_time"))
        except NapthaError as exc:
            problems.append(str(exc))
        agents = get("agents")
        workload = AgentWorkload(
            agents=BENCH.default("agents") if agents is None else agents,
            turns=get("turns"),
            think_time=think,
            tool_probability=get("tool_probability"),
            output_len=get("output_len"),
        )
    else:
        workload = RandomWorkload(
            get("num_prompts"), get("input_len"), get("output_len"), get("range_ratio")
        )
    goodput: dict[str, float] = {}
    percentiles: list[float] = list(BenchConfig.percentiles)
    try:
        goodput = parse_goodput(get("goodput") or [])
    except NapthaError as exc:
        problems.append(str(exc))
    try:
        percentiles = parse_percentiles(get("percentiles"))
    except NapthaError as exc:
        problems.append(str(exc))
    config = BenchConfig(
        model=model,
        workload=workload,
        arrivals=Arrivals(
            get("request_rate"),
            get("burstiness"),
            get("ramp_up"),
            get("ramp_up_start_rps"),
            get("ramp_up_end_rps"),
        ),
        max_concurrency=get("max_concurrency"),
        seed=get("seed"),
        endpoint=get("endpoint"),
        temperature=get("temperature"),
        ignore_eos=get("ignore_eos"),
        percentiles=tuple(percentiles),
        goodput=goodput,
        timeout_s=get("timeout"),
        connections=get("connections"),
        max_duration_s=get("max_duration"),
    )
    return config, problems + config.problems()


def read_form(values: Mapping[str, FormValue]) -> BenchPlan:
    """The run the form describes; ``BadInput`` names every problem, by field.

    ``values`` holds the text of each form field of :data:`BENCH` (a missing one takes its
    default), ``workload`` (``random`` or ``agents``) and ``sweep`` (a bool: ``runs`` counts
    then).
    """
    r = Reader(BENCH, values)
    config, problems = build(r.get, r.get("model") or "-")
    sweep_runs: int | None = None
    if values.get("sweep"):
        sweep_runs = r.get("runs")
        if sweep_runs is not None and sweep_runs < 2:
            r.fail("runs", f"a sweep needs at least 2 runs (got {sweep_runs})")
    r.check(problems)
    return r.done(BenchPlan(config, sweep_runs))
