"""Presets: one YAML file per model server, validated strictly.

Shipped presets live in the ``naptha_tui.presets`` data package; the user's live in
``<config dir>/presets/`` and win by name. The preset name is the file's stem.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.yamlfile import ConfigFileError, load_yaml, parse_model

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Preset(BaseModel):
    """How to run one model server, or reach a remote one.

    ``kind: vllm`` (the default) starts a vLLM server; its options keep vLLM's own names (minus
    the dashes). ``kind: remote`` adds another node's OpenAI-compatible endpoint to the proxy
    (``base_url``, ``models``, optional ``api_key_env``); nothing is started for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The file's stem; also the server's name (``NAME-0``, ``NAME-1`` with several instances)."""
    source: Path | None = None
    """The file it came from (set by the loader)."""
    description: str = ""
    kind: Literal["vllm", "remote"] = "vllm"
    default_params: dict[str, Any] = {}
    """Request defaults the proxy applies to this model (``temperature: 0`` for families whose
    tool calling needs it); a request's own values win."""
    base_url: str | None = None
    """``kind: remote``: the endpoint as given, e.g. ``http://10.0.0.7:4000/v1``."""
    models: list[str] = []
    """``kind: remote``: the model names it serves (each becomes a proxy deployment)."""
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """``kind: remote``: environment variable holding its key (never the key itself)."""
    model: str = ""
    """A Hugging Face id (``Qwen/Qwen2.5-7B-Instruct``), a local folder (``/models/x``,
    ``~/models/x``, ``./x``), or the name of a prepared model (``smollm2-135m``)."""
    runtime: str = "cuda"
    """``cpu``, ``cuda``, or a runtime named in settings that points at an existing vllm."""
    served_model_name: str | None = None
    """The name agents ask for; defaults to the model id, or the preset name for local models."""
    port: int | Literal["auto"] = "auto"
    host: str = "127.0.0.1"
    instances: int = Field(default=1, ge=1, le=64)
    env: dict[str, str] = {}
    """Extra environment for the server process (``VLLM_CPU_KVCACHE_SPACE``...)."""
    startup_timeout: float | None = None
    """Seconds before a server still starting is called unhealthy (settings' default if unset)."""

    # the common vLLM options, typed; None means "vLLM's default" and renders no flag
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_num_seqs: int | None = Field(default=None, ge=1)
    max_num_batched_tokens: int | None = Field(default=None, ge=1)
    enable_prefix_caching: bool | None = None
    enable_chunked_prefill: bool | None = None
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = None
    enforce_eager: bool | None = None
    enable_auto_tool_choice: bool | None = None
    tool_call_parser: str | None = None
    tool_parser_plugin: str | None = None
    """A parser plugin file: absolute, or relative to the preset file."""
    chat_template: str | None = None
    """A template shipped in templates/ (by file name), or a path."""
    extra_args: list[str] = []
    """Flags passed through unchanged, e.g. ``["--trust-remote-code"]``."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError("preset names are lowercase letters, digits, '.', '_' and '-'")
        return value

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 65535:
            raise ValueError("port must be between 1 and 65535, or 'auto'")
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> Preset:
        if self.kind == "remote":
            if not self.base_url:
                raise ValueError("base_url: required for kind remote")
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"base_url: {self.base_url!r} is not an http(s) URL")
            if not self.models:
                raise ValueError("models: a remote preset lists the model names it serves")
        elif not self.model:
            raise ValueError("model: required (a Hugging Face id, a folder or a prepared model)")
        return self

    def instance_names(self) -> list[str]:
        """Server names for this preset: ``NAME`` or ``NAME-0 .. NAME-(N-1)``."""
        if self.instances == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.instances)]


class PresetError(NapthaError, LookupError):
    """An unknown preset name."""


def load_preset_file(path: Path) -> Preset:
    """Load one preset file; errors name the file, line and key."""
    doc = load_yaml(path)
    if "name" in doc.data:
        raise ConfigFileError(
            path,
            [f":{doc.line_of(['name'])}: name: unknown key (a preset's name is its file name)"],
        )
    return parse_model(doc, Preset, name=path.stem, source=path)


def _shipped_files() -> list[Path]:
    root = importlib.resources.files("naptha_tui.presets")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml"))


class PresetCatalog:
    """Every preset the panel knows: shipped ones, then the user's (which win by name)."""

    def __init__(self, user_dir: Path | None) -> None:
        self.user_dir = user_dir

    def files(self) -> dict[str, Path]:
        """Preset name → file, user files overriding shipped ones."""
        found = {p.stem: p for p in _shipped_files()}
        if self.user_dir is not None and self.user_dir.is_dir():
            found |= {p.stem: p for p in sorted(self.user_dir.glob("*.yaml"))}
        return found

    def load_all(self) -> tuple[list[Preset], list[ConfigFileError]]:
        """All presets that load, plus the errors of those that do not."""
        presets, errors = [], []
        for path in self.files().values():
            try:
                presets.append(load_preset_file(path))
            except ConfigFileError as exc:
                errors.append(exc)
        return presets, errors

    def get(self, name: str) -> Preset:
        """The preset called ``name``.

        Raises:
            PresetError: no such preset (the message lists the known ones).
            ConfigFileError: the preset's file is invalid.
        """
        files = self.files()
        if name not in files:
            known = ", ".join(sorted(files)) or "none"
            raise PresetError(f"unknown preset {name!r} (known: {known})")
        return load_preset_file(files[name])
