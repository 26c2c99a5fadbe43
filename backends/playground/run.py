"""Send a session's samples through the proxy and judge each one as it comes back.

The raw text of a sample is the model's own output for that sample: every request asks for
``logprobs``, whose tokens are what the model generated before any tool parser or reasoning
parser touched it. When the node runs the server itself (so it holds the server's key), the
tokens come as ids (``return_tokens_as_token_ids``) and the server's ``/detokenize`` turns
them into the exact text; for remote models the token strings are joined. Measured on vLLM
0.32 through LiteLLM 1.108.7: both agree, and both include the stop token (``<|im_end|>``).
In a stream, vLLM drops the logprobs of tokens its tool parser holds back, so a streamed
sample's raw text can be incomplete: the sample says so (tokens seen vs ``completion_tokens``).
The other way, re-sending the rendered prompt to the server with the same seed, needs
``--enable-scale-out`` for ``/v1/chat/completions/render`` and is a second sample, not this one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from naptha_tui.backends.endpoints import ModelInfo, Target
from naptha_tui.backends.runs.fields import Problem

from .defaults import DEFAULT_CONCURRENCY
from .judge import Verdict, mismatches, verdict
from .lint import PromptTokens, lint
from .results import Sample
from .spec import Mode, Spec, check, request_body, sample_seed

REQUEST_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Prepared:
    """Before a sweep: problems (nothing is sent while there is one) and warnings."""

    problems: list[Problem]
    warnings: list[str]
    tokens: PromptTokens | None = None


def _message(response: httpx.Response) -> str:
    try:
        doc = response.json()
        err = doc.get("error", doc) if isinstance(doc, dict) else doc
        text = err.get("message", err) if isinstance(err, dict) else err
    except ValueError:
        text = response.text
    return f"HTTP {response.status_code}: {str(text)[:300]}"


class Playground:
    """The engine the Playground screen and ``naptha-tui try`` drive."""

    def __init__(self, target: Target, client: httpx.AsyncClient | None = None) -> None:
        self.target = target
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=5.0),
            limits=httpx.Limits(max_connections=64),
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Playground:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _proxy_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.key}"}

    async def served(self) -> list[str]:
        """The models the proxy lists. Raises httpx.HTTPError when it does not answer."""
        got = await self.client.get(
            f"{self.target.proxy_url}/v1/models", headers=self._proxy_headers()
        )
        got.raise_for_status()
        return sorted(m["id"] for m in got.json().get("data", []))

    async def prompt_tokens(self, spec: Spec) -> PromptTokens | None:
        """The rendered prompt's token count with and without the tools (server ``/tokenize``)."""
        info = self.target.models.get(spec.model)
        if info is None or info.server is None:
            return None
        server = info.server

        async def count(tools: list[dict[str, Any]] | None) -> dict[str, Any]:
            body: dict[str, Any] = {"model": server.served_name, "messages": spec.messages()}
            if tools:
                body["tools"] = tools
            got = await self.client.post(
                f"{server.base_url}/tokenize",
                json=body,
                headers={"Authorization": f"Bearer {server.key}"} if server.key else {},
            )
            got.raise_for_status()
            doc: dict[str, Any] = got.json()
            return doc

        sent = spec.tools if any(m.uses_tools for m in spec.mode_list()) else None
        try:
            full, bare = await asyncio.gather(count(sent), count(None))
        except (httpx.HTTPError, ValueError):
            return None
        return PromptTokens(int(full["count"]), int(bare["count"]), full.get("max_model_len"))

    async def prepare(self, spec: Spec) -> Prepared:
        """Check ``spec`` (against the models the proxy serves) and lint it."""
        try:
            served: list[str] | None = await self.served()
        except httpx.HTTPError as exc:
            return Prepared(
                [Problem("model", f"the proxy at {self.target.proxy_url} does not answer: {exc}")],
                [],
            )
        problems = check(spec, served)
        if problems:
            return Prepared(problems, [])
        info = self.target.models.get(spec.model, ModelInfo())
        tokens = await self.prompt_tokens(spec)
        return Prepared([], lint(spec, info.caps, tokens, info.preset), tokens)

    def _raw_ids(self, spec: Spec) -> bool:
        info = self.target.models.get(spec.model)
        return info is not None and info.server is not None

    async def sample(self, spec: Spec, mode: Mode, temperature: float, index: int) -> Sample:
        """Send one sample and judge it; a failed request is a sample with ``error``."""
        body = request_body(spec, mode, temperature, index, raw_ids=self._raw_ids(spec))
        s = Sample(str(mode), temperature, index, sample_seed(spec, index), body)
        started = time.perf_counter()
        tokens: list[str] = []
        try:
            if spec.stream:
                tokens = await self._stream(s, started)
            else:
                tokens = await self._once(s)
        except httpx.HTTPError as exc:
            s.error = f"{type(exc).__name__}: {exc}"
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            s.error = f"not a chat completion: {type(exc).__name__}: {exc}"
        s.latency_s = time.perf_counter() - started
        if s.error is not None:
            s.verdict = Verdict(False, (f"request failed: {s.error}",))
            return s
        await self._raw(spec, s, tokens)
        s.verdict = verdict(spec, mode, s.content, s.tool_calls, s.finish_reason)
        if mode.uses_tools or mode.kind == "plain":  # elsewhere JSON content is the answer
            info = self.target.models.get(spec.model, ModelInfo())
            s.mismatches = mismatches(s.content, info.parser)
        return s

    async def _once(self, s: Sample) -> list[str]:
        got = await self.client.post(
            f"{self.target.proxy_url}/v1/chat/completions",
            json=s.body,
            headers=self._proxy_headers(),
        )
        s.deployment = got.headers.get("x-litellm-model-id")
        if got.status_code != 200:
            s.error = _message(got)
            return []
        doc = got.json()
        choice = doc["choices"][0]
        message = choice.get("message") or {}
        s.content = message.get("content")
        s.tool_calls = message.get("tool_calls") or []
        s.finish_reason = choice.get("finish_reason")
        usage = doc.get("usage") or {}
        s.prompt_tokens = usage.get("prompt_tokens")
        s.completion_tokens = usage.get("completion_tokens")
        return [t["token"] for t in ((choice.get("logprobs") or {}).get("content") or [])]

    async def _stream(self, s: Sample, started: float) -> list[str]:
        tokens: list[str] = []
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        async with aconnect_sse(
            self.client,
            "POST",
            f"{self.target.proxy_url}/v1/chat/completions",
            json=s.body,
            headers=self._proxy_headers(),
        ) as source:
            response = source.response
            s.deployment = response.headers.get("x-litellm-model-id")
            if response.status_code != 200:
                await response.aread()
                s.error = _message(response)
                return []
            async for event in source.aiter_sse():
                if event.data == "[DONE]":
                    break
                chunk = json.loads(event.data)
                if chunk.get("error"):
                    err = chunk["error"]
                    s.error = "error in the stream: " + str(
                        err.get("message", err) if isinstance(err, dict) else err
                    )
                    return tokens
                usage = chunk.get("usage") or {}
                s.prompt_tokens = usage.get("prompt_tokens", s.prompt_tokens)
                s.completion_tokens = usage.get("completion_tokens", s.completion_tokens)
                for choice in chunk.get("choices") or []:
                    if s.ttft_s is None:
                        s.ttft_s = time.perf_counter() - started
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        content.append(delta["content"])
                    for d in delta.get("tool_calls") or []:
                        call = calls.setdefault(
                            d.get("index", 0),
                            {
                                "id": None,
                                "type": "function",
                                "function": {"name": None, "arguments": ""},
                            },
                        )
                        call["id"] = d.get("id") or call["id"]
                        fn = d.get("function") or {}
                        call["function"]["name"] = fn.get("name") or call["function"]["name"]
                        call["function"]["arguments"] += fn.get("arguments") or ""
                    s.finish_reason = choice.get("finish_reason") or s.finish_reason
                    got = (choice.get("logprobs") or {}).get("content") or []
                    tokens += [t["token"] for t in got]
        s.content = "".join(content) if content else None
        s.tool_calls = [calls[i] for i in sorted(calls)]
        return tokens

    async def _raw(self, spec: Spec, s: Sample, tokens: list[str]) -> None:
        """Fill the sample's raw text from its logprob tokens."""
        if not tokens:
            s.raw_note = "the response carried no logprobs"
            return
        info = self.target.models.get(spec.model)
        if all(t.startswith("token_id:") for t in tokens) and info and info.server:
            ids = [int(t.removeprefix("token_id:")) for t in tokens]
            server = info.server
            try:
                got = await self.client.post(
                    f"{server.base_url}/detokenize",
                    json={"model": server.served_name, "tokens": ids},
                    headers={"Authorization": f"Bearer {server.key}"} if server.key else {},
                )
                got.raise_for_status()
                s.raw = got.json()["prompt"]
                s.raw_source = "logprobs token ids, /detokenize"
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                s.raw_note = f"could not detokenize on {server.base_url}: {exc}"
                return
        else:
            s.raw = "".join(tokens)
            s.raw_source = "logprobs tokens"
        if s.completion_tokens is not None and len(tokens) < s.completion_tokens:
            s.raw_note = (
                f"incomplete: {len(tokens)} of {s.completion_tokens} generated tokens "
                "(in a stream, vLLM drops the logprobs of tokens its tool parser holds back)"
            )

    def plan(self, spec: Spec) -> list[tuple[Mode, float, int]]:
        """Every sample of the sweep: mode by mode, temperature by temperature."""
        return [
            (mode, t, i)
            for mode in spec.mode_list()
            for t in dict.fromkeys(spec.temperatures)
            for i in range(spec.samples)
        ]

    async def sweep(
        self, spec: Spec, concurrency: int = DEFAULT_CONCURRENCY
    ) -> AsyncGenerator[Sample, None]:
        """Each sample as it completes (at most ``concurrency`` in flight).

        Cancelling the consumer cancels what is in flight; what was yielded is the partial
        result. Call :meth:`prepare` first: this sends whatever ``spec`` says.
        """
        queue: asyncio.Queue[Sample] = asyncio.Queue()
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(mode: Mode, t: float, i: int) -> None:
            async with gate:
                try:
                    got = await self.sample(spec, mode, t, i)
                except Exception as exc:  # a sample that cannot be judged is still a sample
                    got = Sample(str(mode), t, i, sample_seed(spec, i), {}, error=repr(exc))
                    got.verdict = Verdict(False, (f"request failed: {exc!r}",))
                await queue.put(got)

        plan = self.plan(spec)
        tasks = [asyncio.create_task(one(*p)) for p in plan]
        try:
            for _ in plan:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
