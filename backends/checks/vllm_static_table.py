"""The static table: what vLLM's ``serve`` no longer accepts, and the parser names it registers.

``vllm serve`` flags vLLM removed or renamed (when, and what replaces them) and the tool-call
parser names vLLM registers. Nothing is run: this is what
:mod:`naptha_tui.backends.checks.vllm_surface` falls back to when no runtime's vLLM can be asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RemovedFlag:
    """A ``vllm serve`` flag that current vLLM no longer accepts (or soon will not)."""

    flag: str
    gone: str
    """When and where it went (vLLM version or PR), as far as it could be confirmed."""
    replacement: str | None = None
    prefix: bool = False
    """``flag`` is a prefix: every flag starting with it is gone."""
    deprecated: bool = False
    """Still accepted by vLLM 0.32.0 (with a warning), announced for removal."""

    def matches(self, flag: str) -> bool:
        """Whether ``flag`` (normalized) is this entry."""
        return flag.startswith(self.flag) if self.prefix else flag == self.flag

    def advice(self) -> str:
        """What to do instead."""
        return f"use {self.replacement}" if self.replacement else "no replacement: drop it"


_V0 = "a V0-engine option, gone with the V0 engine (absent in vLLM 0.32.0)"
_SPEC = "folded into --speculative-config (absent in vLLM 0.32.0)"
_GUIDED = "removed Aug 2025 with the guided-decoding options (vLLM PR #22772)"
_MULTI_STEP = "removed Aug 2025 with multi-step scheduling (vLLM PRs #22138, #22779)"

# Every non-deprecated entry is absent from vLLM 0.32.0's serve parser, and every replacement
# exists there (tests/unit/test_preset_check.py checks both against the installed CPU runtime).
REMOVED_FLAGS: tuple[RemovedFlag, ...] = (
    RemovedFlag("--num-scheduler-steps", _MULTI_STEP),
    RemovedFlag("--multi-step-stream-outputs", _MULTI_STEP),
    RemovedFlag("--guided-decoding-backend", _GUIDED, "--structured-outputs-config.backend NAME"),
    RemovedFlag(
        "--guided-decoding-disable-any-whitespace",
        _GUIDED,
        "--structured-outputs-config.disable_any_whitespace true",
    ),
    RemovedFlag(
        "--guided-decoding-disable-additional-properties",
        _GUIDED,
        "--structured-outputs-config.disable_additional_properties true",
    ),
    RemovedFlag("--guided-decoding-", _GUIDED, "--structured-outputs-config.*", prefix=True),
    RemovedFlag(
        "--disable-log-requests",
        "deprecated Aug 2025 (vLLM PR #21739), removed for v0.12.0 (PR #29402); request "
        "logging is off by default now (--enable-log-requests turns it on)",
    ),
    RemovedFlag(
        "--use-v2-block-manager",
        "a no-op since block manager v1 was removed (Oct 2024, vLLM PR #8704); since removed",
    ),
    RemovedFlag(
        "--enable-reasoning",
        "deprecated in v0.9.0 (vLLM PR #17452), since removed",
        "--reasoning-parser NAME alone",
    ),
    RemovedFlag("--swap-space", "removed Mar 2026 (vLLM PR #36216); CPU swap was V0-only"),
    RemovedFlag("--preemption-mode", _V0),
    RemovedFlag(
        "--task", "replaced in Jul 2025 (vLLM PR #21470), since removed", "--runner / --convert"
    ),
    RemovedFlag("--speculative-model", _SPEC, "--speculative-config '{\"model\": ...}'"),
    RemovedFlag(
        "--num-speculative-tokens", _SPEC, "--speculative-config '{\"num_speculative_tokens\": N}'"
    ),
    RemovedFlag("--speculative-disable-by-batch-size", _SPEC, "--speculative-config"),
    RemovedFlag("--ngram-prompt-lookup-max", _SPEC, "--speculative-config"),
    RemovedFlag("--ngram-prompt-lookup-min", _SPEC, "--speculative-config"),
    RemovedFlag("--spec-decoding-acceptance-method", _V0),
    RemovedFlag("--num-lookahead-slots", _V0),
    RemovedFlag("--worker-use-ray", "absent in vLLM 0.32.0", "--distributed-executor-backend ray"),
    RemovedFlag("--engine-use-ray", "absent in vLLM 0.32.0"),
    RemovedFlag("--tokenizer-pool-size", "the tokenizer pool was removed (absent in 0.32.0)"),
    RemovedFlag("--tokenizer-pool-type", "the tokenizer pool was removed (absent in 0.32.0)"),
    RemovedFlag(
        "--tokenizer-pool-extra-config", "the tokenizer pool was removed (absent in 0.32.0)"
    ),
    RemovedFlag("--disable-async-output-proc", _V0),
    RemovedFlag("--scheduler-delay-factor", _V0),
    RemovedFlag("--max-num-partial-prefills", "absent in vLLM 0.32.0"),
    RemovedFlag("--max-long-partial-prefills", "absent in vLLM 0.32.0"),
    RemovedFlag(
        "--max-seq-len-to-capture",
        "absent in vLLM 0.32.0 (CUDA graphs are set with --cudagraph-capture-sizes and "
        "--compilation-config)",
    ),
    RemovedFlag("--cuda-graph-sizes", "renamed (absent in 0.32.0)", "--cudagraph-capture-sizes"),
    RemovedFlag("--device", "absent in vLLM 0.32.0: the platform is detected"),
    RemovedFlag("--rope-scaling", "absent in vLLM 0.32.0", "--hf-overrides"),
    RemovedFlag("--rope-theta", "absent in vLLM 0.32.0", "--hf-overrides"),
    RemovedFlag(
        "--disable-mm-preprocessor-cache", "absent in vLLM 0.32.0", "--mm-processor-cache-gb 0"
    ),
    RemovedFlag("--override-pooler-config", "renamed (absent in 0.32.0)", "--pooler-config"),
    RemovedFlag("--disable-frontend-multiprocessing", "absent in vLLM 0.32.0"),
    RemovedFlag("--enable-prompt-adapter", "prompt adapters were removed (absent in 0.32.0)"),
    RemovedFlag("--max-prompt-adapters", "prompt adapters were removed (absent in 0.32.0)"),
    RemovedFlag("--max-prompt-adapter-token", "prompt adapters were removed (absent in 0.32.0)"),
    RemovedFlag("--prompt-adapters", "prompt adapters were removed (absent in 0.32.0)"),
    RemovedFlag("--quantization-param-path", "absent in vLLM 0.32.0"),
    RemovedFlag("--override-neuron-config", "absent in vLLM 0.32.0"),
    RemovedFlag("--long-lora-scaling-factors", "absent in vLLM 0.32.0"),
    RemovedFlag("--lora-extra-vocab-size", "absent in vLLM 0.32.0"),
    RemovedFlag("--enable-lora-bias", "absent in vLLM 0.32.0"),
    # vLLM 0.32.0's own deprecation warnings; the cuda runtime installs 0.33.0
    RemovedFlag(
        "--log-config-file",
        "deprecated in vLLM 0.32, which says it will be removed in v0.33.0",
        "--logging-config.pylogging_config_file PATH",
        deprecated=True,
    ),
    RemovedFlag(
        "--disable-cascade-attn",
        "deprecated in vLLM 0.32 (no effect: cascade attention was removed), which says it "
        "will be removed in v0.33.0",
        deprecated=True,
    ),
)

# Parser names vLLM registers: vLLM 0.32.0's ToolParserManager.list_registered(), plus the
# newer names of vLLM's tool_parsers/__init__.py (_TOOL_PARSERS_TO_REGISTER) it lacks.
# fmt: off
KNOWN_TOOL_PARSERS = frozenset((
    "apertus", "cohere_command3", "cohere_command4", "deepseek_v3", "deepseek_v31", "deepseek_v32",
    "deepseek_v4", "deepseek_v41", "dots", "ernie45", "functiongemma", "gemma4", "gigachat3",
    "glm45", "glm47", "granite", "granite-20b-fc", "granite4", "hermes", "hf", "hunyuan_a13b",
    "hy_v3", "hy_v4", "inkling", "internlm", "jamba", "k2_horizon", "kimi_k2", "kimi_k3", "lfm2",
    "ling3", "llama3_json", "llama4_json", "llama4_pythonic", "longcat", "mimo", "minicpm5",
    "minimax_m2", "minimax_m3", "mistral", "muse_glimmer", "olmo3", "openai", "phi4_mini_json",
    "plamo3", "poolside_v1", "pythonic", "qwen3_coder", "qwen3_json", "qwen3_xml", "seed_oss",
    "solar_open2", "step3", "step3p5", "xlam",
))
# fmt: on

# `tool_parser_plugin: naptha` is naptha-tui's shipped plugin file; these are its names
PLUGIN_TOOL_PARSERS: Mapping[str, frozenset[str]] = {
    "naptha": frozenset({"naptha_hermes", "naptha_functionary", "naptha_minicpm3", "naptha_json"}),
}


def removed_entry(flag: str) -> RemovedFlag | None:
    """The static table's entry for ``flag`` (normalized), if any."""
    return next((r for r in REMOVED_FLAGS if r.matches(flag)), None)
