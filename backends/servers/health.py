"""HTTP probes of a vLLM server or the proxy: a health endpoint, then /v1/models."""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

import httpx

RELIST_S = 30.0
"""How long a model list seen from a server (or the proxy) is trusted while its identity stays."""


@dataclass(frozen=True)
class Probe:
    """What one round of probing saw."""

    healthy: bool
    models: tuple[str, ...] = ()
    error: str | None = None


async def probe(
    client: httpx.AsyncClient,
    base_url: str,
    health_path: str = "/health",
    key: str | None = None,
    list_models: bool = True,
) -> Probe:
    """``GET health_path`` then ``GET /v1/models`` (with ``key`` as bearer); never raises.

    vLLM answers ``/health``; LiteLLM's readiness is ``/health/readiness``. Without
    ``list_models`` only the health path is asked (the probe then lists no models).
    """
    try:
        health = await client.get(f"{base_url}{health_path}")
        if health.status_code != 200:
            return Probe(False, error=f"{health_path} answered {health.status_code}")
        if not list_models:
            return Probe(True)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        listing = await client.get(f"{base_url}/v1/models", headers=headers)
        listing.raise_for_status()
        return Probe(True, tuple(m["id"] for m in listing.json().get("data", [])))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Probe(
            False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


class ModelLists:
    """Probes that re-list ``/v1/models`` (and re-ask health) only when needed.

    A panel refreshing every second would otherwise ask every server for its models every
    second. The list seen is reused while the server's ``identity`` (its pid, start time, served
    name; the proxy's config) is unchanged and the list is younger than :data:`RELIST_S`. The
    health path is asked every time, or, with ``rehealth_s``, once per that many seconds for a
    server that was healthy (its process is still checked at every status: a crash shows at
    once, a hang after ``rehealth_s``).
    """

    def __init__(self, relist_s: float = RELIST_S, rehealth_s: float = 0.0) -> None:
        self.relist_s = relist_s
        self.rehealth_s = rehealth_s
        self._seen: dict[str, tuple[Hashable, float, tuple[str, ...]]] = {}
        self._healthy_at: dict[str, float] = {}

    async def probe(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        identity: Hashable,
        health_path: str = "/health",
        key: str | None = None,
    ) -> Probe:
        """Like :func:`probe`; the models come from the last listing when it still holds."""
        now = time.monotonic()
        hit = self._seen.get(base_url)
        if hit is not None and hit[0] == identity and now - hit[1] < self.relist_s:
            if now - self._healthy_at.get(base_url, -1e9) < self.rehealth_s:
                return Probe(True, hit[2])
            seen = await probe(client, base_url, health_path, key, list_models=False)
            if seen.healthy:
                self._healthy_at[base_url] = now
                return Probe(True, hit[2])
            self._healthy_at.pop(base_url, None)
            return seen
        seen = await probe(client, base_url, health_path, key)
        if seen.healthy:
            self._seen[base_url] = (identity, now, seen.models)
            self._healthy_at[base_url] = now
        else:
            self._seen.pop(base_url, None)
            self._healthy_at.pop(base_url, None)
        return seen
