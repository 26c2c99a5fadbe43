"""Presets: one YAML file per model server, validated strictly.

Shipped presets live in the ``naptha_tui.presets`` data package; the user's live in
``<config dir>/presets/`` and win by name. The preset name is the file's stem.

A preset may name a profile (``profile: agents-h100``): a file of vLLM option defaults in a
``profiles/`` folder beside the preset (so ``<config dir>/presets/profiles/`` for the user's),
else among the shipped ones. The preset's own keys win; the merge happens at load time, so
everything downstream sees plain preset values.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.vllm_options import PROFILE_OPTIONS, VllmOptions
from naptha_tui.backends.yamlfile import (
    ConfigFileError,
    FileProblem,
    YamlDoc,
    load_yaml,
    parse_model,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

Temperature = Annotated[float, Field(ge=0, le=2)]


class ToolCapabilities(BaseModel):
    """What a model family's tool calling can be trusted with: hints for agents and the panel.

    The parser and chat template are the preset's own ``tool_call_parser`` / ``chat_template``;
    :meth:`Preset.capability_notes` puts everything together for display.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    parallel_calls: bool
    """Several tool calls in one assistant turn (Llama 3.x: no)."""
    multi_turn_tool_results: bool
    """Carries on after tool results come back (pure "action" models do not)."""
    temperature: tuple[Temperature, Temperature]
    """``[lo, hi]``: the range where its calls stay well-formed (Mistral 7B: ``[0, 0.1]``)."""
    tool_soft_cap: int = Field(ge=1, le=9)
    """Tools per request it handles reliably; small models are best at 4-5 and fail past 10."""
    needs_guided_decoding: bool = False
    """Calls are only reliable when constrained (``tool_choice`` required/named or ``strict``
    tools); the lore says so for models under 7B."""
    notes: str = ""

    @field_validator("temperature")
    @classmethod
    def _check_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if lo > hi:
            raise ValueError(f"[{lo}, {hi}]: the low end is above the high end")
        return value


class Profile(VllmOptions):
    """vLLM option defaults shared by presets: ``profiles/NAME.yaml``.

    It may set the options marked ``IN_PROFILES`` (:data:`PROFILE_OPTIONS`); only the keys its
    file sets are applied, and a preset's own keys win.
    """

    name: str
    """The file's stem."""
    source: Path | None = None
    description: str = ""

    @field_validator(
        *(k for k in VllmOptions.model_fields if k not in PROFILE_OPTIONS), mode="before"
    )
    @classmethod
    def _not_in_profiles(cls, value: object) -> NoReturn:
        # runs only for the keys a file has, before their values are checked: "unknown key"
        raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")

    def options(self) -> dict[str, Any]:
        """The vLLM options this profile's file sets (explicit nulls included)."""
        return self.model_dump(exclude_unset=True, exclude={"name", "source", "description"})


class _PresetKeys(BaseModel):
    """The keys a preset lists before its vLLM options.

    A base of its own only to keep the field order (``presets show`` prints it): these, the
    options of :class:`VllmOptions`, then :class:`Preset`'s own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The file's stem; also the server's name (``NAME-0``, ``NAME-1`` with several instances)."""
    source: Path | None = None
    """The file it came from (set by the loader)."""
    description: str = ""
    kind: Literal["vllm", "remote"] = "vllm"
    profile: str | None = None
    """A profile of vLLM option defaults (``profiles/NAME.yaml``), merged in at load time."""
    tools: ToolCapabilities | None = None
    """What the model's tool calling is good for (hints; nothing is enforced)."""
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
    startup_stall_timeout: float | None = Field(default=None, ge=0)
    """Seconds a starting server's log may stay silent before it is restarted once (settings'
    default, 300, if unset; 0: never)."""


class Preset(VllmOptions, _PresetKeys):
    """How to run one model server, or reach a remote one.

    ``kind: vllm`` (the default) starts a vLLM server; its options keep vLLM's own names (minus
    the dashes: :class:`VllmOptions`). ``kind: remote`` adds another node's OpenAI-compatible
    endpoint to the proxy (``base_url``, ``models``, optional ``api_key_env``); nothing is
    started for it.
    """

    extra_args: list[str] = []
    """Flags passed through unchanged, e.g. ``["--trust-remote-code"]``."""
    sleep_mode: bool = False
    """``--enable-sleep-mode`` (and ``VLLM_SERVER_DEV_MODE=1``, which its endpoints need): a
    swap puts this server to sleep instead of stopping it, and a swap back wakes it in seconds.
    vLLM has sleep mode on CUDA, ROCm and XPU only."""
    sleep_level: Literal[1, 2] = 1
    """1 keeps the weights in CPU RAM (fast wake); 2 discards them (reloaded from disk on wake)."""

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

    def capability_notes(self) -> list[str]:
        """Tool-calling notes for display: parser, template, then the ``tools`` block."""
        if self.tool_call_parser is None and self.tools is None:
            return []
        parser = self.tool_call_parser or "none"
        if self.tool_parser_plugin is not None:
            parser += f" (plugin {self.tool_parser_plugin})"
        template = self.chat_template or "the model's own"
        notes = [f"parser: {parser}", f"chat template: {template}"]
        caps = self.tools
        if caps is None:
            return notes
        lo, hi = caps.temperature
        notes += [
            f"parallel tool calls: {'yes' if caps.parallel_calls else 'no'}",
            f"tool results over several turns: {'yes' if caps.multi_turn_tool_results else 'no'}",
            f"reliable temperature: {lo:g} to {hi:g}",
            f"tools per request: up to {caps.tool_soft_cap} reliably",
        ]
        if caps.needs_guided_decoding:
            notes.append(
                "needs guided decoding: use tool_choice required or a named tool, or strict tools"
            )
        if caps.notes:
            notes.append(caps.notes)
        return notes

    @property
    def on_cpu(self) -> bool:
        """Whether its server lives in RAM (the cpu runtime) rather than on GPUs."""
        return self.runtime == "cpu"

    def instance_names(self) -> list[str]:
        """Server names for this preset: ``NAME`` or ``NAME-0 .. NAME-(N-1)``."""
        if self.instances == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.instances)]


class PresetError(NapthaError, LookupError):
    """An unknown preset name."""


def shipped_profiles_dir() -> Path:
    """The profiles shipped in the ``naptha_tui.presets`` data package."""
    return Path(str(importlib.resources.files("naptha_tui.presets").joinpath("profiles")))


def profile_dirs(preset_file: Path) -> list[Path]:
    """Where a preset's profile is looked up: ``profiles/`` beside it, then the shipped ones."""
    dirs = [preset_file.parent / "profiles", shipped_profiles_dir()]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def profile_files(dirs: list[Path]) -> dict[str, Path]:
    """Profile name → file; an earlier folder wins by name."""
    found: dict[str, Path] = {}
    for folder in reversed(dirs):
        if folder.is_dir():
            found |= {p.stem: p for p in sorted(folder.glob("*.yaml"))}
    return found


def _name_key(doc: YamlDoc, kind: str) -> list[FileProblem]:
    """A ``name:`` key is not allowed: a preset's or profile's name is its file's stem."""
    if "name" not in doc.data:
        return []
    message = f"unknown key (a {kind}'s name is its file name)"
    return [FileProblem(doc.path, doc.line_of(["name"]), "name", message)]


def load_profile_file(path: Path) -> Profile:
    """Load one profile file; errors name the file, line and key.

    Raises:
        ConfigFileError: every problem in the file at once.
    """
    doc = load_yaml(path)
    problems = _name_key(doc, "profile")
    return parse_model(doc, Profile, problems=problems, name=path.stem, source=path)


def _with_profile(doc: YamlDoc, problems: list[FileProblem]) -> YamlDoc:
    """``doc`` with its profile's options merged under its own keys.

    An unknown profile is added to ``problems`` and ``doc`` comes back as it is, so the rest of
    the preset is still validated and its problems reported with this one.

    Raises:
        ConfigFileError: the profile's file does not load; it lists the profile's problems,
            then the preset's own (``problems`` and those of the preset without its profile).
    """
    name = doc.data.get("profile")
    if not isinstance(name, str):
        return doc  # absent, or the wrong type: validation says so
    dirs = profile_dirs(doc.path)
    files = profile_files(dirs)
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        where = ", ".join(str(d) for d in dirs)
        message = f"unknown profile {name!r} (known: {known}; looked in {where})"
        problems.append(FileProblem(doc.path, doc.line_of(["profile"]), "profile", message))
        return doc
    try:
        profile = load_profile_file(files[name])
    except ConfigFileError as exc:
        own = list(problems)
        try:
            parse_model(doc, Preset, problems=own, name=doc.path.stem, source=doc.path)
        except ConfigFileError as preset_exc:
            own = preset_exc.problems
        raise ConfigFileError(exc.path, [*exc.problems, *own]) from exc
    return YamlDoc(doc.path, {**profile.options(), **doc.data}, doc.root)


def load_preset_file(path: Path) -> Preset:
    """Load one preset file, merging in its profile; errors name the file, line and key.

    Raises:
        ConfigFileError: every problem in the preset at once (a ``name`` key, an unknown
            profile, unknown keys and invalid values), or its profile's when that is invalid.
    """
    doc = load_yaml(path)
    problems = _name_key(doc, "preset")
    merged = _with_profile(doc, problems)
    return parse_model(merged, Preset, problems=problems, name=path.stem, source=path)


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
