"""Gathering a sample's evidence over HTTP, and the playgrounds that explain their samples.

:func:`gather` makes the extra requests that a sample's
:class:`~naptha_tui.backends.playground.layers.Evidence` needs; it runs only when asked
(``try --explain``): it costs a sample about five more requests.
:func:`~naptha_tui.backends.playground.layers.attribute` then names the layer where it broke.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from naptha_tui.backends.checks.template_check import check_preset_template
from naptha_tui.backends.endpoints import ModelInfo

from .layers import Answer, Evidence, attribute, reassemble
from .results import Sample
from .run import Playground
from .spec import Mode, Spec, request_body


def _message(doc: dict[str, Any]) -> Answer:
    message = doc["choices"][0].get("message") or {}
    return Answer(message.get("content"), tuple(message.get("tool_calls") or ()))


async def _rendered(pg: Playground, spec: Spec, mode: Mode, info: ModelInfo) -> dict[str, Any]:
    assert info.server is not None
    server = info.server
    headers = {"Authorization": f"Bearer {server.key}"} if server.key else {}
    body: dict[str, Any] = {"model": server.served_name, "messages": spec.messages()}
    if mode.uses_tools:
        body["tools"] = spec.tools
    got = await pg.client.post(f"{server.base_url}/tokenize", json=body, headers=headers)
    got.raise_for_status()
    doc: dict[str, Any] = got.json()
    out = {"count": doc.get("count"), "max_model_len": doc.get("max_model_len"), "prompt": None}
    if doc.get("tokens"):
        back = await pg.client.post(
            f"{server.base_url}/detokenize",
            json={"model": server.served_name, "tokens": doc["tokens"]},
            headers=headers,
        )
        back.raise_for_status()
        out["prompt"] = back.json()["prompt"]
    return out


async def _render_check(info: ModelInfo) -> tuple[str, ...]:
    """The project's render check of the preset's template (``presets check``'s), if any."""
    if info.chat_template is None:
        return ()
    got = await asyncio.to_thread(
        check_preset_template, info.chat_template, base=info.template_base
    )
    return tuple(got)


async def _streamed(pg: Playground, url: str, body: dict[str, Any], key: str | None) -> Answer:
    chunks: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aconnect_sse(pg.client, "POST", url, json=body, headers=headers) as source:
        if source.response.status_code != 200:
            await source.response.aread()
            return Answer(error=f"HTTP {source.response.status_code}")
        async for event in source.aiter_sse():
            if event.data == "[DONE]":
                break
            chunks.append(json.loads(event.data))
    return reassemble(chunks)


async def gather(pg: Playground, spec: Spec, mode: Mode, s: Sample) -> Evidence:
    """The evidence for sample ``s``: its own answer and the extra requests the layers need.

    The same request (same seed and temperature) goes to the server directly, streamed and
    not, and, streamed or not (whichever ``s`` was not), through the proxy; the rendered prompt
    comes from the server's ``/tokenize``. Only for models whose server the node runs; a remote
    model gets the proxied and streamed answers alone.
    """
    info = pg.target.models.get(spec.model, ModelInfo())
    mine = Answer(s.content, tuple(s.tool_calls), s.error)
    body = request_body(spec, mode, s.temperature, s.index)
    body.pop("stream", None)
    body.pop("stream_options", None)
    proxy_url = f"{pg.target.proxy_url}/v1/chat/completions"
    notes: dict[str, Any] = {}
    direct: Answer | None = None
    if info.server is not None:
        server = info.server
        try:
            notes = await _rendered(pg, spec, mode, info)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            notes = {"error": str(exc)}
        try:
            got = await pg.client.post(
                f"{server.base_url}/v1/chat/completions",
                json=body | {"model": server.served_name},
                headers={"Authorization": f"Bearer {server.key}"} if server.key else {},
            )
            direct = (
                _message(got.json()) if got.status_code == 200 else Answer(error=got.text[:200])
            )
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            direct = Answer(error=f"{type(exc).__name__}: {exc}")
        try:
            streamed_direct: Answer | None = await _streamed(
                pg,
                f"{server.base_url}/v1/chat/completions",
                body | {"model": server.served_name, "stream": True},
                server.key,
            )
        except (httpx.HTTPError, ValueError) as exc:
            streamed_direct = Answer(error=f"{type(exc).__name__}: {exc}")
    else:
        streamed_direct = None
    proxied: Answer | None
    streamed: Answer | None
    try:
        if spec.stream:
            streamed = mine
            got = await pg.client.post(proxy_url, json=body, headers=pg._proxy_headers())
            proxied = _message(got.json()) if got.status_code == 200 else Answer(error=got.text)
        else:
            proxied = mine
            stream_body = body | {"stream": True, "stream_options": {"include_usage": True}}
            streamed = await _streamed(pg, proxy_url, stream_body, pg.target.key)
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        notes["other"] = f"{type(exc).__name__}: {exc}"  # that layer is not judged
        proxied, streamed = (None, mine) if spec.stream else (mine, None)
    return Evidence(
        template_problems=await _render_check(info) if mode.uses_tools else (),
        prompt=notes.get("prompt"),
        prompt_tokens=notes.get("count"),
        max_model_len=notes.get("max_model_len"),
        max_tokens=spec.max_tokens,
        raw=s.raw,
        finish_reason=s.finish_reason,
        server_parser=info.parser,
        direct=direct,
        proxied=proxied,
        streamed=streamed,
        streamed_direct=streamed_direct,
    )


class ExplainablePlayground(Playground):
    """A :class:`Playground` that names the layer of one sample when asked (the panel's ``x``)."""

    async def explain(self, spec: Spec, s: Sample) -> Evidence:
        """Gather ``s``'s evidence (about five more requests), set its layer, return it."""
        mode = Mode.parse(s.mode)
        evidence = await gather(self, spec, mode, s)
        got = attribute(spec, mode, evidence)
        s.layer, s.layer_reason = got.layer, got.reason
        return evidence


class ExplainingPlayground(ExplainablePlayground):
    """One whose every sample also gets its layer (``try --explain``)."""

    async def sample(self, spec: Spec, mode: Mode, temperature: float, index: int) -> Sample:
        s = await super().sample(spec, mode, temperature, index)
        if s.error is None:
            await self.explain(spec, s)
        return s


__all__ = ["ExplainablePlayground", "ExplainingPlayground", "gather"]
