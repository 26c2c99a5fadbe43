"""HTTP probes of a vLLM server or the proxy: a health endpoint, then /v1/models."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Probe:
    """What one round of probing saw."""

    healthy: bool
    models: tuple[str, ...] = ()
    error: str | None = None


async def probe(
    client: httpx.AsyncClient, base_url: str, health_path: str = "/health", key: str | None = None
) -> Probe:
    """``GET health_path`` then ``GET /v1/models`` (with ``key`` as bearer); never raises.

    vLLM answers ``/health``; LiteLLM's readiness is ``/health/readiness``.
    """
    try:
        health = await client.get(f"{base_url}{health_path}")
        if health.status_code != 200:
            return Probe(False, error=f"{health_path} answered {health.status_code}")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        listing = await client.get(f"{base_url}/v1/models", headers=headers)
        listing.raise_for_status()
        return Probe(True, tuple(m["id"] for m in listing.json().get("data", [])))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Probe(
            False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
