"""HTTP probes of a vLLM server or the proxy: /health, then /v1/models."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Probe:
    """What one round of probing saw."""

    healthy: bool
    models: tuple[str, ...] = ()
    error: str | None = None


async def probe_vllm(client: httpx.AsyncClient, base_url: str) -> Probe:
    """``GET /health`` then ``GET /v1/models``; never raises."""
    try:
        health = await client.get(f"{base_url}/health")
        if health.status_code != 200:
            return Probe(False, error=f"/health answered {health.status_code}")
        listing = await client.get(f"{base_url}/v1/models")
        listing.raise_for_status()
        models = tuple(m["id"] for m in listing.json().get("data", []))
        return Probe(True, models)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Probe(
            False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


async def probe_proxy(client: httpx.AsyncClient, base_url: str, key: str | None) -> Probe:
    """LiteLLM's ``/health/readiness`` then its ``/v1/models`` (with the master key)."""
    try:
        ready = await client.get(f"{base_url}/health/readiness")
        if ready.status_code != 200:
            return Probe(False, error=f"/health/readiness answered {ready.status_code}")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        listing = await client.get(f"{base_url}/v1/models", headers=headers)
        listing.raise_for_status()
        return Probe(True, tuple(m["id"] for m in listing.json().get("data", [])))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Probe(
            False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
