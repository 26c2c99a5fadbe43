"""Other nodes' endpoints (``kind: remote`` presets): probing and their vLLM /metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from naptha_tui.backends.telemetry.vllm_metrics import window
from naptha_tui.backends.telemetry.vllm_scrape import parse_scrape


@dataclass(frozen=True)
class RemoteProbe:
    """What one probe of a remote endpoint saw."""

    healthy: bool
    models: tuple[str, ...] = ()
    error: str | None = None
    metrics_text: str | None = None
    """Its /metrics page, when it answered one (a vLLM node's is read by ``vllm_metrics``)."""

    @property
    def metrics(self) -> dict[str, float | None] | None:
        """The vLLM gauges of this one scrape (rates need two: see ``MetricsWatch``)."""
        return parse_vllm_metrics(self.metrics_text) if self.metrics_text else None


def root_of(base_url: str) -> str:
    """``http://h:p/v1`` → ``http://h:p`` (where vLLM serves /health and /metrics)."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def parse_vllm_metrics(text: str) -> dict[str, float | None] | None:
    """The gauges of one vLLM /metrics page (``ServerMetrics.to_json()``, rates None).

    None when the text holds no vLLM metric (not a vLLM server) or is not Prometheus text.
    """
    scrape = parse_scrape(text, 0.0)
    return window(None, scrape).to_json() if scrape is not None else None


def metric_totals(text: str, prefix: str) -> dict[str, float]:
    """Every sample named ``prefix*``, summed over its labels (e.g. LiteLLM's ``litellm_``)."""
    totals: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(prefix) and not sample.name.endswith(
                    ("_bucket", "_created")
                ):
                    totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    except ValueError:
        return {}
    return totals


async def probe_remote(
    client: httpx.AsyncClient, base_url: str, api_key_env: str | None, key: str | None = None
) -> RemoteProbe:
    """``GET {base_url}/models`` (with the key from ``api_key_env``), then /metrics if any.

    ``key``, when given, is that variable's value already looked up (a generated server key
    lives in a key file, not in this process's environment). Never raises: an unreachable node
    is a probe with ``healthy=False`` and the reason.
    """
    if key is None:
        key = os.environ.get(api_key_env, "") if api_key_env else ""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        listing = await client.get(f"{base_url.rstrip('/')}/models", headers=headers)
        if listing.status_code != 200:
            return RemoteProbe(False, error=f"/models answered {listing.status_code}")
        models = tuple(m["id"] for m in listing.json().get("data", []))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return RemoteProbe(
            False, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
    return RemoteProbe(True, models, None, await fetch_metrics(client, root_of(base_url), key))


async def fetch_metrics(client: httpx.AsyncClient, root_url: str, key: str | None) -> str | None:
    """``GET {root_url}/metrics`` with ``key`` as bearer: the text, or None (no answer, not 200)."""
    try:
        got = await client.get(
            f"{root_url}/metrics", headers={"Authorization": f"Bearer {key}"} if key else {}
        )
    except httpx.HTTPError:
        return None
    return got.text if got.status_code == 200 else None
