"""A typed Ollama client: the official ``ollama`` package underneath, operator-sized errors on top.

Every call turns "nothing listens there" into :class:`OllamaDown` (naming the host) and every
answer Ollama refuses into :class:`OllamaError` (naming the model and Ollama's own message), so
the CLI and the panel show a sentence, never a traceback. It returns the frozen dataclasses of
``types.py``, which the CLI and the dashboard both render.

Wire format: ``ollama:docs/api.md`` (List Local Models, List Running Models, Pull a Model, Load
/ Unload a model); "forever" follows ``ollama:format/time.go`` (an expiry more than 20 years
ahead, which is what ``keep_alive: -1`` gives).
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from naptha_tui.backends.commandlog import CommandLog, curl_line, outcome_of
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.ollama.types import (
    ChatReply,
    LoadedModel,
    OllamaModel,
    PullProgress,
    ToolCall,
)
from naptha_tui.backends.servers.ports import is_loopback

__all__ = [
    "DEFAULT_HOST",
    "Ollama",
    "OllamaDown",
    "OllamaError",
    "offered_models",
    "resolve_host",
]

DEFAULT_HOST = "http://127.0.0.1:11434"
FOREVER_AFTER = timedelta(days=20 * 365)
"""An expiry further ahead than this is "forever" (``ollama ps`` says so past 20 years)."""
LONG_READ_S = 600.0
"""Read timeout of a load (the model is read into memory first) and between pull events."""
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}
"""A bind-all ``OLLAMA_HOST`` (as the daemon is often configured) reached through loopback."""
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def resolve_host(setting: str | None) -> str:
    """The daemon's base URL, ``scheme://host:port``.

    Args:
        setting: ``ollama.host`` from the settings; None or empty falls back to the
            ``OLLAMA_HOST`` environment variable, then to ``http://127.0.0.1:11434``. Any form
            ``OLLAMA_HOST`` takes is accepted (``0.0.0.0:11434``, ``host``, ``:11500``,
            ``https://h``), parsed by the ollama package's own parser; a bind-all address
            becomes loopback.
    """
    from ollama._client import _parse_host  # the ollama package loads on first use (~0.1 s)

    raw = (setting or os.environ.get("OLLAMA_HOST") or "").strip()
    url = _parse_host(raw)
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host in _WILDCARDS:
        return urllib.parse.urlunsplit(
            parts._replace(netloc=f"{_WILDCARDS[host]}:{parts.port}")
        ).rstrip("/")
    return url


def tagged(name: str) -> str:
    """``model`` as Ollama lists it: ``model:latest`` when no tag is given."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def host_port(url: str) -> tuple[str, int]:
    """The host (without IPv6 brackets) and port of a base URL made by :func:`resolve_host`."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 11434


def is_local(url: str) -> bool:
    """Whether the daemon at ``url`` would run on this machine (a loopback address)."""
    return is_loopback(host_port(url)[0])


class OllamaDown(NapthaError):
    """Nothing answers at the daemon's address."""

    def __init__(self, host: str, detail: str | None = None) -> None:
        """``no Ollama daemon answers at HOST`` (and ``detail``, when given)."""
        self.host = host
        super().__init__(f"no Ollama daemon answers at {host}" + (f": {detail}" if detail else ""))


class OllamaError(NapthaError):
    """The daemon answered but refused (an unknown model, a failed pull), or not as Ollama does."""

    def __init__(self, message: str, model: str | None = None, status_code: int | None = None):
        """An error whose message names the host, the model and Ollama's own words."""
        super().__init__(message)
        self.model = model
        self.status_code = status_code


class _Version(BaseModel):
    version: str = ""


def _keep_alive(value: str | float | None) -> str | float | None:
    """Ollama's ``keep_alive``: a Go duration string, or seconds as a number (``-1``: forever).

    A number given as text (``"-1"``, ``"300"``) is sent as a number: Ollama parses a string
    with Go's ``time.ParseDuration``, which refuses a bare number.
    """
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def _expiry(at: datetime | None, now: datetime) -> datetime | None:
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return None if aware - now > FOREVER_AFTER else aware


class Ollama:
    """An Ollama daemon, over ``ollama.AsyncClient``; ``async with Ollama(host) as ollama``."""

    def __init__(
        self, host: str | None = None, timeout: float = 5.0, log: CommandLog | None = None
    ) -> None:
        """A client for the daemon at ``host``.

        Args:
            host: any ``OLLAMA_HOST`` form; None: ``OLLAMA_HOST``, else the default address.
            timeout: seconds for connecting and for quick reads (list, ps, version); a load
                and the gaps between pull events may take up to ``LONG_READ_S``.
            log: where loads, unloads and pulls are recorded (as ``curl`` lines); None: not.
        """
        self.host = resolve_host(host)
        """The normalised base URL, ``http://host:port``."""
        self.timeout = timeout
        self.log = log
        from ollama import AsyncClient

        self._quick = AsyncClient(host=self.host, timeout=httpx.Timeout(timeout))
        self._slow = AsyncClient(
            host=self.host, timeout=httpx.Timeout(timeout, read=max(timeout, LONG_READ_S))
        )

    async def __aenter__(self) -> Ollama:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        # ollama 0.6 leaves AsyncClient.close unannotated
        await self._quick.close()  # type: ignore[no-untyped-call]
        await self._slow.close()  # type: ignore[no-untyped-call]

    @contextmanager
    def _errors(self, doing: str, model: str | None = None) -> Iterator[None]:
        """Map what the ollama package and httpx raise to OllamaDown / OllamaError."""
        from ollama import ResponseError

        what = f"{doing} model {model!r}" if model else doing
        try:
            yield
        except ResponseError as exc:
            status = exc.status_code if exc.status_code > 0 else None
            code = f" (HTTP {status})" if status else ""
            raise OllamaError(
                f"Ollama at {self.host} could not {what}: {exc.error}{code}", model, status
            ) from None
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise OllamaDown(self.host) from exc
        except httpx.TimeoutException as exc:
            raise OllamaError(
                f"Ollama at {self.host} did not answer in time to {what} ({type(exc).__name__})",
                model,
            ) from exc
        except httpx.HTTPError as exc:
            raise OllamaError(
                f"the connection to Ollama at {self.host} failed to {what}: "
                f"{type(exc).__name__}: {exc}",
                model,
            ) from exc
        except ValueError as exc:  # JSON or pydantic: whatever answered is not Ollama
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OllamaError(
                f"{self.host} answered, but not as Ollama does ({what}): {first}", model
            ) from exc

    @contextmanager
    def _logged(self, action: str, path: str, body: dict[str, Any]) -> Iterator[None]:
        """Record the call in the command log with its outcome (when there is a log)."""
        began = time.monotonic()
        line = curl_line("POST", f"{self.host}{path}", body=body)
        try:
            yield
        except BaseException as exc:
            if self.log is not None:
                outcome = f"failed: {exc}" if isinstance(exc, NapthaError) else outcome_of(exc)
                self.log.record(action, "http", line, outcome, False)
            raise
        if self.log is not None:
            self.log.record(action, "http", line, f"done in {time.monotonic() - began:.1f} s")

    @staticmethod
    def _check_name(name: str) -> str:
        if not name.strip():
            raise OllamaError("a model name is needed (model:tag, e.g. llama3.2:1b)")
        return name.strip()

    async def version(self) -> str:
        """The daemon's version (``GET /api/version``); also the cheapest "is it up?" probe.

        Raises:
            OllamaDown: nothing answers at the host.
            OllamaError: something answers, but not as Ollama does.
        """
        with self._errors("report its version"):
            # the package has no version(); its typed request helper keeps its error handling
            got = await self._quick._request(_Version, "GET", "/api/version")
        return got.version

    async def models(self) -> list[OllamaModel]:
        """The local library (``GET /api/tags``), in Ollama's order (newest first).

        Raises:
            OllamaDown, OllamaError: see :meth:`version`.
        """
        with self._errors("list its models"):
            got = await self._quick.list()
        return [
            OllamaModel(
                name=m.model or "",
                size=int(m.size or 0),
                digest=m.digest or "",
                family=m.details.family if m.details else None,
                parameter_size=m.details.parameter_size if m.details else None,
                quantization_level=m.details.quantization_level if m.details else None,
                modified_at=m.modified_at,
            )
            for m in got.models
        ]

    async def loaded(self) -> list[LoadedModel]:
        """The models in memory (``GET /api/ps``), longest-lived first as Ollama sorts them.

        Raises:
            OllamaDown, OllamaError: see :meth:`version`.
        """
        with self._errors("list its loaded models"):
            got = await self._quick.ps()
        now = datetime.now(UTC)
        return [
            LoadedModel(
                name=m.name or m.model or "",
                size=int(m.size or 0),
                size_vram=int(m.size_vram or 0),
                expires_at=_expiry(m.expires_at, now),
                context_length=m.context_length,
            )
            for m in got.models
        ]

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        """Download ``name`` into the library, one event at a time (``POST /api/pull``).

        Args:
            name: ``model[:tag]`` (``:latest`` when no tag is given).

        Yields:
            Every progress event Ollama sends; the last one's status is ``success``.

        Raises:
            OllamaDown: nothing answers at the host.
            OllamaError: Ollama refused (``pull model manifest: file does not exist`` for a
                model the registry does not have), or the stream ended before ``success``.
        """
        name = self._check_name(name)
        last = None
        with self._logged(f"ollama pull {name}", "/api/pull", {"model": name}):
            with self._errors("pull", name):
                stream = await self._slow.pull(name, stream=True)
                async for part in stream:
                    last = part.status
                    yield PullProgress(
                        status=part.status or "",
                        digest=part.digest,
                        total=part.total,
                        completed=part.completed,
                    )
            if last != "success":
                raise OllamaError(
                    f"Ollama at {self.host} ended the pull of model {name!r} before it "
                    f"succeeded (last status: {last or 'none'})",
                    name,
                )

    async def load(self, name: str, keep_alive: str | int | None = None) -> None:
        """Load ``name`` into memory (``POST /api/generate`` with an empty prompt).

        Args:
            name: a model in the local library.
            keep_alive: how long it stays: a duration (``30m``), seconds, ``-1`` (forever);
                None leaves it to the daemon (``OLLAMA_KEEP_ALIVE``, 5 minutes by default).

        Raises:
            OllamaDown: nothing answers at the host.
            OllamaError: ``model 'x' not found`` (HTTP 404) and other refusals.
        """
        name = self._check_name(name)
        keep = _keep_alive(keep_alive)
        body: dict[str, Any] = {"model": name} | ({"keep_alive": keep} if keep is not None else {})
        with self._logged(f"ollama load {name}", "/api/generate", body), self._errors("load", name):
            await self._slow.generate(model=name, keep_alive=keep)

    async def unload(self, name: str) -> None:
        """Unload ``name`` from memory now (``POST /api/generate`` with ``keep_alive: 0``).

        Raises:
            OllamaDown: nothing answers at the host.
            OllamaError: ``model 'x' not found`` (HTTP 404) and other refusals.
        """
        name = self._check_name(name)
        body = {"model": name, "keep_alive": 0}
        action = f"ollama unload {name}"
        with self._logged(action, "/api/generate", body), self._errors("unload", name):
            await self._quick.generate(model=name, keep_alive=0)

    async def chat(
        self,
        name: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> ChatReply:
        """One non-streamed chat turn (``POST /api/chat``), with OpenAI-style tools if given.

        Raises:
            OllamaDown: nothing answers at the host.
            OllamaError: ``model 'x' not found`` (HTTP 404) and other refusals.
        """
        name = self._check_name(name)
        with self._errors("chat with", name):
            got = await self._slow.chat(model=name, messages=messages, tools=tools)
        message = got.message
        return ChatReply(
            content=message.content or "",
            tool_calls=tuple(
                ToolCall(c.function.name, dict(c.function.arguments))
                for c in message.tool_calls or ()
            ),
            done_reason=got.done_reason,
        )


async def offered_models(client: Ollama) -> list[str]:
    """The names to offer through the proxy (as ``ollama_chat/<name>``): the local library.

    The integrator turns each into a deployment with ``proxy.config.ollama_deployment``.

    Raises:
        OllamaDown, OllamaError: see :meth:`Ollama.version`.
    """
    return sorted({m.name for m in await client.models() if m.name})
