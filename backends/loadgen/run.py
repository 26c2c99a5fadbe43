"""The load test's engine: jobs are due, wait for a free slot, are sent, and report.

One dispatcher serves both workloads. A random prompt is a job of one request; an agent is a
job that comes back after each turn (after its think time) until its turns are done. An agent
waiting for its turn is a small record in a heap, not a task: only requests in flight have a
task, and there are at most ``max_concurrency`` of them (closed loop) or as many as the
arrival process makes due (open loop). Connections are pooled and bounded
(``connections``), so an open loop past the pool queues in the client, and that queueing
shows as ``client_queue_ms``.

Cancelling (Escape in the panel, Ctrl-C headless) stops sending, cancels what is in flight and
reports what had completed, marked ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from naptha_tui.backends.endpoints import Access
from naptha_tui.backends.errors import NapthaError

from .client import Reply, send
from .config import BenchConfig
from .live import Live, Progress
from .metrics import per_deployment, summarize
from .records import RequestRecord
from .workloads import (
    ENDPOINT_PATHS,
    TOOL,
    AgentWorkload,
    Prompt,
    RandomWorkload,
    tool_result,
    user_message,
)


@dataclass(slots=True)
class _Agent:
    """An agent between turns: its number, the turn it is on and its conversation so far."""

    id: int
    turn: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    """Its own messages (the shared system prompt is not copied in)."""


ProgressHook = Callable[[Progress], None]


class LoadTest:
    """One run of a workload against a target; ``run()`` returns the result document."""

    def __init__(
        self, config: BenchConfig, access: Access, client: httpx.AsyncClient | None = None
    ) -> None:
        if problems := config.problems():
            raise NapthaError("; ".join(problems))
        self.config = config
        self.access = access
        self._owns_client = client is None
        size = config.pool_size()
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )
        self.records: list[RequestRecord] = []
        self.live = Live()
        self._cancel = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.agents_done = 0

    def cancel(self) -> None:
        """Stop sending; what is in flight is cancelled; ``run()`` returns the partial result."""
        self._cancel.set()
        self._wake.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self) -> Progress:
        w = self.config.workload
        total = w.num_prompts if isinstance(w, RandomWorkload) else None
        agents = (self.agents_done, w.agents) if isinstance(w, AgentWorkload) else None
        return self.live.snapshot(total, agents)

    # -- requests -------------------------------------------------------------------------

    def _body(
        self, messages: list[dict[str, Any]] | None, prompt: str | None, max_tokens: int
    ) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {
            "model": c.model,
            "max_tokens": max_tokens,
            "temperature": c.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if c.ignore_eos:
            body["ignore_eos"] = True
        if messages is not None:
            body["messages"] = messages
        else:
            body["prompt"] = prompt
        return body

    async def _request(
        self,
        body: dict[str, Any],
        scheduled: float,
        agent: int | None = None,
        turn: int | None = None,
        want_reply: bool = False,
    ) -> tuple[RequestRecord, Reply | None]:
        record = RequestRecord(len(self.records), scheduled, agent=agent, turn=turn)
        self.records.append(record)
        self.live.sent += 1
        self.live.in_flight += 1
        try:
            reply = await send(
                self.client,
                self.access,
                ENDPOINT_PATHS[self.config.endpoint],
                body,
                record,
                want_reply,
            )
        except asyncio.CancelledError:
            record.error = "cancelled"
            self.live.in_flight -= 1
            raise
        self.live.finished(record)
        return record, reply

    async def _prompt_job(self, prompt: Prompt, scheduled: float) -> None:
        if self.config.endpoint == "chat":
            body = self._body([{"role": "user", "content": prompt.text}], None, prompt.max_tokens)
        else:
            body = self._body(None, prompt.text, prompt.max_tokens)
        await self._request(body, scheduled)

    async def _agent_turn(self, agent: _Agent, scheduled: float, system: str) -> None:
        w = self.config.workload
        assert isinstance(w, AgentWorkload)
        rng = random.Random(f"agent:{self.config.seed}:{agent.id}:{agent.turn}")
        agent.history.append(
            {"role": "user", "content": user_message(agent.id, agent.turn, rng, w.user_words)}
        )
        head = [{"role": "system", "content": system}]
        if rng.random() < w.tool_probability:
            body = self._body(head + agent.history, None, w.tool_output_len)
            body["tools"] = [TOOL]
            body["tool_choice"] = {"type": "function", "function": {"name": "lookup"}}
            body.pop("ignore_eos", None)  # a forced call ends when its JSON does
            record, reply = await self._request(
                body, scheduled, agent.id, agent.turn, want_reply=True
            )
            if reply is not None and reply.tool_calls:
                call = reply.tool_calls[0]
                call_id = call["id"] or f"call-{agent.id}-{agent.turn}"
                agent.history.append(
                    {"role": "assistant", "content": None, "tool_calls": [{**call, "id": call_id}]}
                )
                agent.history.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": tool_result(agent.id, agent.turn),
                    }
                )
            elif record.success:
                record.success = False
                record.error = "no tool call"
                self.live.completed -= 1
                self.live.failed += 1
        body = self._body(head + agent.history, None, w.output_len)
        _, reply = await self._request(
            body, time.perf_counter(), agent.id, agent.turn, want_reply=True
        )
        agent.history.append(
            {"role": "assistant", "content": (reply.content if reply else "") or "."}
        )
        agent.turn += 1

    # -- the dispatcher -------------------------------------------------------------------

    async def run(
        self, on_progress: ProgressHook | None = None, every_s: float = 0.5
    ) -> dict[str, Any]:
        c = self.config
        seed = c.seed
        w = c.workload
        n_jobs = w.num_prompts if isinstance(w, RandomWorkload) else w.agents
        offsets = c.arrivals.offsets(n_jobs, seed)
        prompts = w.prompts(seed) if isinstance(w, RandomWorkload) else None
        system = w.system_prompt(seed) if isinstance(w, AgentWorkload) else ""
        think_rng: dict[
            int, random.Random
        ] = {}  # per agent, so think times do not depend on the order of completions
        slots = asyncio.Semaphore(c.max_concurrency) if c.max_concurrency else None
        due: list[tuple[float, int, int]] = []  # (due time, order, job): a heap
        agents: dict[int, _Agent] = {}
        self.live = Live()
        t0 = self.live.t0
        cpu0 = time.process_time()
        for i, off in enumerate(offsets):
            due.append((t0 + off, i, i))
        heapq.heapify(due)
        order = n_jobs
        reporter = asyncio.create_task(self._report(on_progress, every_s)) if on_progress else None
        deadline = t0 + c.max_duration_s if c.max_duration_s else math.inf

        async def job(index: int, scheduled: float) -> None:
            nonlocal order
            try:
                if prompts is not None:
                    await self._prompt_job(prompts[index], scheduled)
                    return
                assert isinstance(w, AgentWorkload)
                agent = agents.pop(index, None) or _Agent(index)
                await self._agent_turn(agent, scheduled, system)
                if agent.turn < w.turns:
                    rng = think_rng.setdefault(index, random.Random(f"think:{seed}:{index}"))
                    agents[index] = agent
                    heapq.heappush(
                        due, (time.perf_counter() + w.think_time.draw(rng), order, index)
                    )
                    order += 1
                else:
                    think_rng.pop(index, None)
                    self.agents_done += 1
            finally:
                if slots is not None:
                    slots.release()
                current = asyncio.current_task()
                if current is not None:  # gone before the dispatcher looks again
                    self._tasks.discard(current)
                self._wake.set()

        try:
            while (due or self._tasks) and not self.cancelled:
                now = time.perf_counter()
                if now >= deadline:
                    self.cancel()
                    break
                if not due or due[0][0] > now:
                    wait = min(due[0][0] - now if due else math.inf, deadline - now)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), None if math.isinf(wait) else wait
                        )
                    continue
                if slots is not None:
                    await slots.acquire()
                    if self._cancel.is_set():
                        break
                scheduled, _, index = heapq.heappop(due)
                task = asyncio.create_task(job(index, scheduled))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            if self._owns_client:
                await self.client.aclose()
        duration = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if on_progress:
            on_progress(self.progress())
        return self._result(duration, cpu)

    async def _report(self, hook: ProgressHook, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            hook(self.progress())

    def _result(self, duration: float, cpu: float) -> dict[str, Any]:
        c = self.config
        done = [r for r in self.records if r.error != "cancelled"]
        incomplete = len(self.records) - len(done)
        result = summarize(done, duration, c.percentiles, c.goodput or None)
        result["client_cpu_s"] = cpu
        result["client_cpu_per_request_ms"] = cpu / len(done) * 1000 if done else None
        result["client_cpu_percent"] = cpu / duration * 100 if duration > 0 else None
        result["cancelled"] = self.cancelled
        result["incomplete"] = incomplete
        result["target"] = {
            "label": self.access.label,
            "base_url": self.access.base_url,
            "via_proxy": self.access.via_proxy,
        }
        result["config"] = c.describe()
        if self.access.via_proxy:
            result["per_deployment"] = per_deployment(done, duration, c.percentiles)
        w = c.workload
        if isinstance(w, AgentWorkload):
            result["agents"] = {"total": w.agents, "finished": self.agents_done, "turns": w.turns}
        return result
