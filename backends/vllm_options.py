"""The common vLLM options, stated once: name, type, bounds and what each does.

:class:`~naptha_tui.backends.presets.Preset` has every one of them as a top-level key;
a profile (:class:`~naptha_tui.backends.presets.Profile`) sets those marked
:data:`IN_PROFILES`: how a server uses its hardware, not which model it runs. The flags vLLM gets
come from these fields (:func:`option_flags`): vLLM's name with dashes, in field order, the
value options first (``--max-model-len 4096``), then the booleans (``--enforce-eager``,
``--no-enforce-eager``). The options naming a file (:data:`FILE`) are resolved and rendered by
the launcher.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


class _Marker:
    """A tag in a field's ``Annotated`` metadata (pydantic keeps it in ``FieldInfo.metadata``)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return self.what


IN_PROFILES = _Marker("IN_PROFILES")
"""The option may be set in a profile file, as well as in a preset."""
FILE = _Marker("FILE")
"""The option names a file; rendered after the others, as a path."""


class VllmOptions(BaseModel):
    """The vLLM options a preset types, under vLLM's names minus the dashes.

    None means vLLM's default, and renders no flag.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_model_len: int | None = Field(default=None, ge=1)
    """Context length in tokens, prompt and output together (the model's own if unset)."""
    gpu_memory_utilization: Annotated[float | None, IN_PROFILES] = Field(default=None, gt=0, le=1)
    """Share of each GPU's memory the server may take: weights, activations, KV cache."""
    max_num_seqs: Annotated[int | None, IN_PROFILES] = Field(default=None, ge=1)
    """Most requests in one batch."""
    max_num_batched_tokens: Annotated[int | None, IN_PROFILES] = Field(default=None, ge=1)
    """Most tokens scheduled in one step (prefill chunks included)."""
    enable_prefix_caching: Annotated[bool | None, IN_PROFILES] = None
    """Reuse the KV cache of a prompt prefix already seen (agents resend theirs every turn)."""
    enable_chunked_prefill: Annotated[bool | None, IN_PROFILES] = None
    """Split long prompts into chunks batched with other requests' decoding."""
    tensor_parallel_size: Annotated[int | None, IN_PROFILES] = Field(default=None, ge=1)
    """GPUs each layer is split over, usually within one host."""
    pipeline_parallel_size: Annotated[int | None, IN_PROFILES] = Field(default=None, ge=1)
    """Pipeline stages, usually one per host (see the ``multinode-ray`` profile)."""
    distributed_executor_backend: Annotated[Literal["ray", "mp"] | None, IN_PROFILES] = None
    """``ray`` to spread one server over several hosts; ``mp`` stays on this one."""
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = None
    """Weights and activations; ``auto`` is the model's own (on the cpu runtime, what the CPU
    runs natively)."""
    enforce_eager: bool | None = None
    """No CUDA graphs: less memory and a faster start, slower decoding."""
    enable_auto_tool_choice: bool | None = None
    """The model may decide to call tools (``tool_choice: auto``); needs ``tool_call_parser``."""
    tool_call_parser: str | None = None
    """Turns the model's output into tool calls (``hermes``, or ``naptha_*`` from the plugin)."""
    tool_parser_plugin: Annotated[str | None, FILE] = None
    """A parser plugin file: absolute, or relative to the preset file (``naptha``: the one
    shipped with naptha-tui)."""
    chat_template: Annotated[str | None, FILE] = None
    """A template shipped in templates/ (by file name), or a path."""


def _marked(marker: _Marker) -> tuple[str, ...]:
    return tuple(k for k, f in VllmOptions.model_fields.items() if marker in f.metadata)


PROFILE_OPTIONS = _marked(IN_PROFILES)
"""The options a profile file may set; the others are unknown keys there."""
FILE_OPTIONS = _marked(FILE)
BOOL_FLAGS = tuple(k for k, f in VllmOptions.model_fields.items() if bool in get_args(f.annotation))
"""The options rendered ``--NAME`` or ``--no-NAME``, in field order."""
VALUE_FLAGS = tuple(k for k in VllmOptions.model_fields if k not in {*BOOL_FLAGS, *FILE_OPTIONS})
"""The options rendered ``--NAME VALUE``, in field order."""


def option_flag(key: str) -> str:
    """The vLLM flag of option ``key``: ``max_num_seqs`` → ``--max-num-seqs``."""
    return f"--{key.replace('_', '-')}"


def option_flags(options: VllmOptions) -> list[tuple[str, str, str | None]]:
    """``(option, flag, value)`` for each value and boolean option set, in the order rendered.

    A boolean's value is None: false renders ``--no-NAME``. The file options are left out.
    """
    found: list[tuple[str, str, str | None]] = []
    for key in VALUE_FLAGS:
        value = getattr(options, key)
        if value is not None:
            found.append((key, option_flag(key), str(value)))
    for key in BOOL_FLAGS:
        value = getattr(options, key)
        if value is not None:
            found.append((key, f"--{'' if value else 'no-'}{key.replace('_', '-')}", None))
    return found
