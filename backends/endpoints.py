"""Where the apps send requests: the endpoints the node hands out, in its own types.

The node (``proxy/``) makes these; the load test, the playground and the evaluation take them.
Neither side imports the other: both import this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from naptha_tui.backends.presets import ToolCapabilities


@dataclass(frozen=True)
class Access:
    """Where requests go: a base URL without ``/v1``, its key, and whether it is the proxy."""

    base_url: str
    key: str | None
    label: str
    via_proxy: bool = True

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


@dataclass(frozen=True)
class ServerAccess:
    """One local server of a model: where it listens (no ``/v1``) and its key."""

    base_url: str
    key: str | None
    served_name: str


@dataclass(frozen=True)
class ModelInfo:
    """What the node knows about a model it serves (nothing for remote or cloud models)."""

    server: ServerAccess | None = None
    preset: str | None = None
    parser: str | None = None
    """The server's ``tool_call_parser``."""
    caps: ToolCapabilities | None = None
    chat_template: str | None = None
    """The preset's ``chat_template`` (a shipped name or a path), for ``--explain``."""
    template_base: Path | None = None
    """The folder a relative ``chat_template`` is relative to (the preset's)."""


@dataclass(frozen=True)
class Target:
    """The proxy (base URL without ``/v1``, key, key file) and the node's models."""

    proxy_url: str
    key: str
    key_file: str | None = None
    models: Mapping[str, ModelInfo] = field(default_factory=dict)
