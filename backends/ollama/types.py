"""What the Ollama client returns: frozen dataclasses that the CLI and the dashboard both render.

Field by field as ``ollama:docs/api.md`` describes the answers (List Local Models, List Running
Models, Pull a Model, Chat); the client (``client.py``) builds them and never hands out the
ollama package's own models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["ChatReply", "LoadedModel", "OllamaModel", "PullProgress", "ToolCall"]


@dataclass(frozen=True)
class OllamaModel:
    """A model in the daemon's local library (``GET /api/tags``)."""

    name: str
    """``model:tag`` as Ollama names it (``llama3.2:latest``)."""
    size: int
    """Bytes on disk."""
    digest: str
    family: str | None
    parameter_size: str | None
    """As Ollama reports it: ``7.6B``."""
    quantization_level: str | None
    """``Q4_K_M``, ``F16``..."""
    modified_at: datetime | None


@dataclass(frozen=True)
class LoadedModel:
    """A model the daemon holds in memory (``GET /api/ps``)."""

    name: str
    size: int
    """Bytes in memory, GPU and CPU together."""
    size_vram: int
    """Of ``size``, the bytes on the GPU."""
    expires_at: datetime | None
    """When the daemon unloads it; None means forever (``keep_alive: -1``)."""
    context_length: int | None

    @property
    def vram_share(self) -> float | None:
        """The fraction on the GPU (``size_vram / size``); None when the size is unknown."""
        return self.size_vram / self.size if self.size > 0 else None


@dataclass(frozen=True)
class PullProgress:
    """One event of a pull (``POST /api/pull``, streamed)."""

    status: str
    """``pulling manifest``, ``pulling <digest12>``, ``verifying sha256 digest``, ...,
    ``success``."""
    digest: str | None
    """The layer being downloaded (``sha256:...``), on download events only."""
    total: int | None
    """The layer's size in bytes."""
    completed: int | None
    """Bytes of the layer downloaded so far (absent before the first byte)."""

    @property
    def fraction(self) -> float | None:
        """How much of the layer is done (0..1); None on events that are not downloads."""
        if not self.total:
            return None
        return min(1.0, (self.completed or 0) / self.total)


@dataclass(frozen=True)
class ToolCall:
    """A tool call in a chat answer; the arguments are a JSON object, as Ollama sends them."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatReply:
    """A non-streamed ``POST /api/chat`` answer."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    done_reason: str | None
