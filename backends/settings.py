"""The panel's settings: a YAML file plus ``NAPTHA_TUI_*`` environment variables.

Environment wins over the file (``NAPTHA_TUI_PROXY__PORT=4100`` overrides ``proxy: {port: ...}``).
Settings are built once in ``main()`` and passed down; nothing here is a global.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.yamlfile import ConfigFileError, YamlDoc, load_yaml, validation_problems


class ProxySettings(BaseModel):
    """The LiteLLM proxy in front of every server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    """Address the proxy binds. Loopback unless you mean to expose the node."""
    port: int = Field(default=4000, ge=1, le=65535)
    """The single OpenAI-compatible endpoint agents call."""
    runtime: str = "proxy"
    """Managed runtime that holds litellm (its own venv: litellm pins rich<14, Textual needs 14)."""
    startup_timeout: float = 120.0
    """Seconds to wait for /health/readiness before giving up."""


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
    runtimes: dict[str, ExternalRuntime] = {}
    """Named runtimes pointing at an existing vllm; a preset's ``runtime:`` may name them."""
    stop_grace_seconds: float = 15.0
    """SIGTERM, then SIGKILL after this many seconds."""
    poll_seconds: float = 2.0
    """How often the panel refreshes server status."""
    startup_timeout: float = 600.0
    """A server still not healthy after this long is reported unhealthy."""

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
