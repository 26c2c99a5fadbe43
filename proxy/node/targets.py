"""What the playground needs from the node: the proxy, and per model a server, parser and notes."""

from __future__ import annotations

from naptha_tui.backends.endpoints import Access, ModelInfo, ServerAccess, Target
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.state import NodeState
from naptha_tui.proxy.litellm.process import ProxyManager


def playground_target(
    state: NodeState, catalog: PresetCatalog, keys: ServerKeys, proxy: ProxyManager
) -> Target:
    """The proxy and what the node knows of each model, for the playground.

    A model the node runs itself gets one of its servers (for ``/tokenize`` and exact raw
    text via ``/detokenize``), its preset's tool parser and tool-calling notes.
    """
    models: dict[str, ModelInfo] = {}
    for record in state.servers.values():
        served = record.served_model_name or record.name
        if served in models or record.desired != "running" or record.kind != "vllm":
            continue
        preset = None
        if record.preset:
            try:
                preset = catalog.get(record.preset)
            except NapthaError:
                preset = None
        models[served] = ModelInfo(
            server=ServerAccess(
                record.root_url,
                keys.lookup(record.api_key_env),
                served,
            ),
            preset=record.preset,
            parser=preset.tool_call_parser if preset else None,
            caps=preset.tools if preset else None,
            chat_template=preset.chat_template if preset else None,
            template_base=preset.source.parent if preset and preset.source else None,
        )
    for r in state.remotes.values():
        try:
            preset = catalog.get(r.preset) if r.preset else None
        except NapthaError:
            preset = None
        for m in r.models:
            models.setdefault(
                m,
                ModelInfo(
                    preset=r.preset,
                    parser=preset.tool_call_parser if preset else None,
                    caps=preset.tools if preset else None,
                ),
            )
    return Target(
        proxy.url,
        proxy.client_key() or "",
        str(proxy.key_file),
        models,
    )


def bench_access(
    state: NodeState, keys: ServerKeys, proxy: ProxyManager, server: str | None = None
) -> Access:
    """Where a load test sends: the proxy, or one of the node's servers directly."""
    if server is None:
        return Access(proxy.url, proxy.client_key(), "proxy", via_proxy=True)
    record = state.servers.get(server)
    if record is None:
        known = ", ".join(sorted(state.servers)) or "none"
        raise NapthaError(f"--server {server!r}: no such server on this node (servers: {known})")
    if record.kind != "vllm":
        raise NapthaError(f"--server {server!r} is {record.kind}; a load test goes to vLLM servers")
    return Access(
        record.root_url,
        keys.lookup(record.api_key_env),
        server,
        via_proxy=False,
    )
