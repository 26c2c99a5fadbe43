"""Backends the node does not start: other nodes' endpoints, and an Ollama daemon's models.

Remote nodes come from ``kind: remote`` presets; the node records and probes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.ollama.client import Ollama, OllamaDown, OllamaError, offered_models
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.servers.remote import probe_remote
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.settings import OllamaSettings
from naptha_tui.backends.state import RemoteRecord, StateFile
from naptha_tui.backends.telemetry.vllm_metrics import MetricsWatch, merge
from naptha_tui.proxy.litellm.config import Deployment, ollama_deployment


def remote_deployments(
    name: str,
    models: Sequence[str],
    base_url: str,
    api_key_env: str | None,
    params: dict[str, Any],
) -> list[Deployment]:
    """One deployment per model a remote node serves (id ``NAME`` or ``NAME/MODEL``)."""
    return [
        Deployment(
            name if len(models) == 1 else f"{name}/{model}",
            model,
            base_url,
            api_key_env=api_key_env,
            params=params,
        )
        for model in models
    ]


async def remote_status(
    client: httpx.AsyncClient,
    keys: ServerKeys,
    record: RemoteRecord,
    watch: MetricsWatch | None = None,
) -> ServerStatus:
    """Probe a remote node (its /models, and /metrics when it is vLLM).

    With ``watch`` (the node's, kept between calls) a vLLM node's metrics cover the window
    since the previous probe, as a local server's do; without, its gauges only.
    """
    key = keys.lookup(record.api_key_env)
    seen = await probe_remote(client, record.base_url, record.api_key_env, key)
    metrics = seen.metrics
    if watch is not None and metrics is not None:
        watch.observe(record.name, seen.metrics_text, time.monotonic())
        pair = watch.pair(record.name)
        metrics = merge([pair]).to_json() if pair is not None else metrics
    missing = [m for m in record.models if m not in seen.models]
    reason = seen.error or (f"does not list {', '.join(missing)}" if missing else None)
    return ServerStatus(
        name=record.name,
        status="ready" if seen.healthy and not missing else "down",
        preset=record.preset,
        model=", ".join(record.models),
        runtime="remote",
        served_model_name=", ".join(record.models),
        host="",
        port=0,
        pid=None,
        uptime_s=time.time() - record.added_at,
        reason=reason,
        log_path=None,
        url=record.base_url,
        metrics=metrics,
    )


def add_remotes(
    state_file: StateFile, presets: Sequence[Preset], progress: Callable[[str], None]
) -> None:
    """Record ``kind: remote`` presets (nothing starts; the proxy picks them up)."""
    with state_file.update() as state:
        for p in presets:
            if p.name in state.servers:
                raise NapthaError(f"remote preset {p.name}: a local server has that name")
            record = RemoteRecord(
                name=p.name,
                preset=p.name,
                base_url=p.base_url or "",
                models=list(p.models),
                api_key_env=p.api_key_env,
                default_params=p.default_params,
                added_at=time.time(),
            )
            old = state.remotes.get(p.name)
            if old is not None and old.model_copy(update={"added_at": 0}) == (
                record.model_copy(update={"added_at": 0})
            ):
                progress(f"{p.name}: already added")
                continue
            state.remotes[p.name] = record
            progress(f"{p.name}: remote {p.base_url} ({', '.join(p.models)})")


async def ollama_deployments(settings: OllamaSettings) -> list[Deployment]:
    """One ``ollama_chat/<name>`` deployment per model of a daemon that answers.

    Only with ``ollama.offer_to_proxy`` on; a daemon that is down offers nothing (and starts
    nothing: ``naptha-tui ollama ...`` starts a managed one).
    """
    if not settings.offer_to_proxy:
        return []
    client = Ollama(settings.host, timeout=2.0)
    try:
        names = await offered_models(client)
    except (OllamaDown, OllamaError):
        return []
    finally:
        await client.aclose()
    return [ollama_deployment(name, client.host) for name in names]
