"""What a load test sends: random prompts like ``vllm bench serve``, or simulated agents.

Everything is drawn from ``random.Random`` seeded with the run's seed (and, for an agent, its
number), so the same seed gives the same prompts whatever order the server answers in.

Prompt text is made of words from a fixed list of common English words, each one token in the
BPE vocabularies of the usual small models (SmolLM2, Qwen, Llama), so ``input_len`` words are
about ``input_len`` tokens; the token counts a report shows are the server's own (``usage``).
vLLM's random dataset draws token ids from the model's tokenizer instead, which needs the
tokenizer on the client; this client needs none.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from naptha_tui.backends.errors import NapthaError

WORDS = tuple(
    """
the of and to in is you that it he was for on are as with his they at be this have from
or one had by word but not what all were we when your can said there use an each which
she do how their if will up other about out many then them these so some her would make
like him into time has look two more write go see number no way could people my than
first water been call who its now find long down day did get come made may part over new
sound take only little work know place year live me back give most very after thing our
just name good sentence man think say great where help through much before line right
too mean old any same tell boy follow came want show also around form three small set
put end does another well large must big even such because turn here why ask went men
read need land different home us move try kind hand picture again change off play spell
air away animal house point page letter mother answer found study still learn
""".split()  # noqa: SIM905 (a list of 200 one-word lines otherwise)
)

Endpoint = Literal["chat", "completions"]
ENDPOINT_PATHS: dict[str, str] = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
}


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(max(n, 1)))


def length_range(length: int, ratio: float) -> tuple[int, int]:
    """VLLM's random dataset: lengths uniform in [floor(L·(1-r)), ceil(L·(1+r))], at least 1."""
    low = max(math.floor(length * (1 - ratio)), 1)
    high = max(math.ceil(length * (1 + ratio)), low)
    return low, high


@dataclass(frozen=True)
class Prompt:
    text: str
    input_words: int
    max_tokens: int


@dataclass(frozen=True)
class RandomWorkload:
    """``--num-prompts`` prompts of ``--random-input-len`` words, ``--random-output-len`` tokens."""

    num_prompts: int = 100
    input_len: int = 64
    output_len: int = 16
    range_ratio: float = 0.0

    kind = "random"

    def problems(self) -> list[str]:
        out = []
        if self.num_prompts < 1:
            out.append(f"--num-prompts must be at least 1 (got {self.num_prompts})")
        if self.input_len < 1:
            out.append(f"--random-input-len must be at least 1 (got {self.input_len})")
        if self.output_len < 1:
            out.append(f"--random-output-len must be at least 1 (got {self.output_len})")
        if not 0 <= self.range_ratio < 1:
            out.append(f"--random-range-ratio must be in [0, 1) (got {self.range_ratio:g})")
        return out

    def prompts(self, seed: int) -> list[Prompt]:
        rng = random.Random(f"random:{seed}")
        lo_in, hi_in = length_range(self.input_len, self.range_ratio)
        lo_out, hi_out = length_range(self.output_len, self.range_ratio)
        out = []
        for _ in range(self.num_prompts):
            n_in = rng.randint(lo_in, hi_in)
            n_out = rng.randint(lo_out, hi_out)
            out.append(Prompt(words(rng, n_in), n_in, n_out))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "num_prompts": self.num_prompts,
            "random_input_len": self.input_len,
            "random_output_len": self.output_len,
            "random_range_ratio": self.range_ratio,
        }


@dataclass(frozen=True)
class ThinkTime:
    """Seconds an agent waits between turns.

    ``0``, ``2`` (constant), ``exp:2`` (exponential, mean 2), ``uniform:1,3``.
    """

    kind: Literal["const", "exp", "uniform"] = "const"
    a: float = 0.0
    b: float = 0.0

    @classmethod
    def parse(cls, text: str) -> ThinkTime:
        spec = text.strip().lower()
        try:
            if spec.startswith("exp:"):
                mean = float(spec[4:])
                if mean > 0:
                    return cls("exp", mean)
            elif spec.startswith("uniform:"):
                lo, hi = (float(x) for x in spec[8:].split(","))
                if 0 <= lo <= hi:
                    return cls("uniform", lo, hi)
            else:
                value = float(spec.removeprefix("const:"))
                if value >= 0 and math.isfinite(value):
                    return cls("const", value)
        except ValueError:
            pass
        raise NapthaError(
            f"--think-time {text!r}: expected seconds (2), exp:MEAN or uniform:LOW,HIGH"
        )

    def draw(self, rng: random.Random) -> float:
        if self.kind == "exp":
            return rng.expovariate(1.0 / self.a)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return self.a

    def __str__(self) -> str:
        if self.kind == "exp":
            return f"exp:{self.a:g}"
        if self.kind == "uniform":
            return f"uniform:{self.a:g},{self.b:g}"
        return f"{self.a:g}"


TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look up a fact in the simulation's shared notes.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "what to look up"}},
            "required": ["query"],
        },
    },
}


@dataclass(frozen=True)
class AgentWorkload:
    """``agents`` conversations of ``turns`` turns each, a think time between turns.

    Every request of every agent starts with the same system prompt (``system_words`` words),
    so a server with prefix caching reuses it. With ``tool_probability`` p, a turn first
    forces a call of the ``lookup`` tool (``tool_choice`` naming it, so a tiny model still
    calls it), the agent answers it with a tool result naming the agent and turn, and the
    turn's second request carries that result back.
    """

    agents: int = 100
    turns: int = 3
    think_time: ThinkTime = ThinkTime()
    tool_probability: float = 0.5
    system_words: int = 48
    user_words: int = 12
    output_len: int = 16
    tool_output_len: int = 24

    kind = "agents"

    def problems(self) -> list[str]:
        out = []
        if self.agents < 1:
            out.append(f"--agents must be at least 1 (got {self.agents})")
        if self.turns < 1:
            out.append(f"--turns must be at least 1 (got {self.turns})")
        if not 0 <= self.tool_probability <= 1:
            out.append(f"--tool-probability must be in [0, 1] (got {self.tool_probability:g})")
        if self.output_len < 1:
            out.append(f"--random-output-len must be at least 1 (got {self.output_len})")
        return out

    def system_prompt(self, seed: int) -> str:
        rng = random.Random(f"system:{seed}")
        return "You are one agent of a simulation. Notes: " + words(rng, self.system_words)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "agents": self.agents,
            "turns": self.turns,
            "think_time": str(self.think_time),
            "tool_probability": self.tool_probability,
            "system_words": self.system_words,
            "user_words": self.user_words,
            "output_len": self.output_len,
        }


def user_message(agent: int, turn: int, rng: random.Random, n_words: int) -> str:
    """An agent's message for a turn; it names the agent and the turn (numbered from 0)."""
    return f"Agent {agent}, turn {turn}: " + words(rng, n_words)


def tool_result(agent: int, turn: int) -> str:
    """The tool's answer: names the agent and turn, so a test can find it in the next request."""
    return f"lookup-result agent={agent} turn={turn}"
