"""The evaluation runner: cases x temperatures x (unguided, guided) through the proxy.

Each case goes out as one chat completion through the playground's engine (the same request
shape, the same raw-text capture through logprobs and ``/detokenize``): its question as the
messages, its functions as OpenAI tools. Unguided is ``tool_choice: "auto"``, the model free
to call or not, as the leaderboard sends FC models; guided (``EvalConfig.guided`` adds it as a
second pass) is ``tool_choice: "required"`` with ``"strict": true`` tools, so vLLM constrains
the output to a call of an offered tool with arguments that match its schema. The irrelevance
categories get no guided pass: they need the freedom not to call. A case with no functions
(four in live_irrelevance) is sent without tools.

What came back is decoded into the checker's form and scored by BFCL's own checker. A case
whose functions do not convert is not sent: its samples are recorded as skipped with the
conversion error (function and parameter), and counted apart from the accuracy. A request
that fails counts as a failed sample (as an inference error does on the leaderboard), and is
also counted as an error.

Nothing here imports Textual: the Eval screen and ``naptha-tui eval`` both call
:meth:`EvalRun.prepare` then :meth:`EvalRun.run` with a progress callback, and
:meth:`EvalRun.cancel` stops it with the partial result.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx

from naptha_tui.backends.endpoints import ModelInfo, Target
from naptha_tui.backends.playground.layers import Answer, Evidence, attribute
from naptha_tui.backends.playground.results import Sample
from naptha_tui.backends.playground.run import Playground
from naptha_tui.backends.playground.spec import Mode, Spec

from .cases import check_categories
from .checker import Checker, Verdict
from .config import EvalConfig, EvalInputError
from .convert import Tools
from .decode import decode, sent_calls
from .plan import Item, Plan, items_of, make_plan, plan_cells
from .records import Cell, Progress, ProgressHook, Record, totals
from .setup import BFCL_VERSION, BfclInstall


class EvalRun:
    """One evaluation, for the Eval screen and ``naptha-tui eval``.

    Build it, ``await prepare()`` (bad input raises, nothing is sent), then
    ``await run(on_progress)`` for the result document; ``cancel()`` stops it part way.
    """

    def __init__(
        self,
        config: EvalConfig,
        target: Target,
        install: BfclInstall | Path,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if problems := config.problems():
            raise EvalInputError("; ".join(problems))
        self.config = config
        self.target = target
        self.location = install.location if isinstance(install, BfclInstall) else install
        self.data_dir = self.location / "bfcl_eval" / "data"
        self.playground = Playground(target, client)
        self.checker: Checker | None = None
        self.plan: Plan | None = None
        self.records: list[Record] = []
        self.cells: dict[tuple[str, float, bool], Cell] = {}
        self.started_at: float | None = None
        self._t0: float | None = None
        self._duration: float | None = None
        self._in_flight = 0
        self._cancel = asyncio.Event()
        self.cancelled = False

    async def aclose(self) -> None:
        await self.playground.aclose()

    async def __aenter__(self) -> EvalRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def cancel(self) -> None:
        """Stop sending; what is in flight is dropped; ``run()`` returns the partial result."""
        self._cancel.set()

    # -- before anything is sent ------------------------------------------------------------

    def load(self) -> Plan:
        """Categories checked, cases loaded and converted; nothing is sent.

        Raises:
            CategoryError: a category BFCL does not ship or this panel cannot score.
            EvalSetupError: the checker does not import.
        """
        categories = check_categories(list(self.config.categories), self.data_dir)
        self.checker = self.checker or Checker(self.location)
        self.plan = make_plan(self.config, self.data_dir, categories)
        self.cells = plan_cells(self.plan, self.config)
        return self.plan

    async def prepare(self) -> Plan:
        """:meth:`load`, and the model checked against what the proxy serves.

        Raises:
            EvalInputError: the proxy does not answer, or does not serve the model.
            CategoryError, EvalSetupError: see :meth:`load`.
        """
        plan = await asyncio.to_thread(self.load)  # seconds for whole categories: off the loop
        try:
            served = await self.playground.served()
        except httpx.HTTPError as exc:
            raise EvalInputError(
                f"the proxy at {self.target.proxy_url} does not answer: {exc}"
            ) from exc
        if self.config.model not in served:
            raise EvalInputError(
                f"model {self.config.model!r} is not served by the proxy "
                f"(it serves: {', '.join(served) or 'nothing yet'})"
            )
        return plan

    # -- the run ----------------------------------------------------------------------------

    def progress(self, last: Record | None = None) -> Progress:
        cells = tuple(dataclasses.replace(c) for c in self.cells.values())
        return Progress(
            elapsed_s=0.0 if self._t0 is None else time.perf_counter() - self._t0,
            planned=self.plan.planned if self.plan else 0,
            done=len(self.records),
            passed=sum(c.passed for c in cells),
            failed=sum(c.failed for c in cells),
            errors=sum(c.errors for c in cells),
            skipped=sum(c.skipped for c in cells),
            in_flight=self._in_flight,
            cells=cells,
            last=last,
        )

    def _add(self, r: Record, hook: ProgressHook | None) -> None:
        self.records.append(r)
        self.cells[(r.category, r.temperature, r.guided)].add(r)
        if hook is not None:
            hook(self.progress(r))

    def _base(self, item: Item) -> dict[str, Any]:
        case = item.case
        return {
            "case_id": case.id,
            "category": case.category,
            "temperature": item.temperature,
            "guided": item.guided,
            "question": case.messages,
            "expected": case.answers,
            "functions": [str(f.get("name")) for f in case.functions if isinstance(f, dict)],
        }

    async def _sample(self, item: Item, tools: Tools) -> Record:
        c = self.config
        mode = "plain" if not tools.tools else ("tools-required" if item.guided else "tools-auto")
        spec = Spec(
            model=c.model,
            conversation=item.case.messages,
            tools=tools.tools,
            modes=[mode],
            strict=item.guided,
            temperatures=[item.temperature],
            seed=c.seed,
            max_tokens=c.max_tokens,
            parallel_tool_calls=self._parallel(item),
        )
        try:
            s = await self.playground.sample(spec, Mode.parse(mode), item.temperature, 0)
        except Exception as exc:  # a sample that cannot be judged is still a sample
            s = Sample(mode, item.temperature, 0, c.seed, {}, error=repr(exc))
        record = self._judge(item, tools, s)
        if record.failed and s.error is None:
            record.layer, record.layer_reason = self._layer(spec, Mode.parse(mode), s, record)
        return record

    def _layer(self, spec: Spec, mode: Mode, s: Sample, record: Record) -> tuple[str, str]:
        """Whether the model or the parser lost a failed case, from what the sample holds.

        No request is added: the raw text against the calls the server's parser returned.
        A call that passed every layer and still failed is the model's (BFCL's checker says
        how).
        """
        info = self.target.models.get(self.config.model, ModelInfo())
        evidence = Evidence(
            raw=s.raw,
            finish_reason=s.finish_reason,
            max_tokens=spec.max_tokens,
            server_parser=info.parser,
            proxied=Answer(s.content, tuple(s.tool_calls)),
        )
        got = attribute(spec, mode, evidence)
        if got.layer == "none":
            return "model", f"every layer agrees; BFCL's checker: {record.verdict.reason}"
        return got.layer, got.reason

    def _parallel(self, item: Item) -> bool | None:
        """``false`` where one call is the answer and the preset says the model repeats calls.

        The embedded model (its preset says ``tools.parallel_calls: false``) was seen calling
        the right function twice under ``tool_choice: required``, which BFCL fails as "Wrong
        number of functions"; vLLM keeps only the first call when the request says so.
        """
        caps = self.target.models.get(self.config.model, ModelInfo()).caps
        if caps is None or caps.parallel_calls or "parallel" in item.case.category:
            return None
        return False

    def _judge(self, item: Item, tools: Tools, s: Sample) -> Record:
        assert self.checker is not None
        record = Record(
            **self._base(item),
            verdict=Verdict(False),
            tool_choice=s.body.get("tool_choice") if s.body else None,
            strict=item.guided and bool(tools.tools),
            tool_calls=sent_calls(s.tool_calls),
            content=s.content,
            raw=s.raw,
            raw_source=s.raw_source,
            raw_note=s.raw_note,
            finish_reason=s.finish_reason,
            mismatches=[m.message() for m in s.mismatches],
            latency_ms=round(s.latency_s * 1000, 1),
            error=s.error,
        )
        if s.error is not None:
            record.verdict = Verdict(
                False, f"request failed: {s.error}", "request_error", [s.error]
            )
            return record
        decoded = decode(s.tool_calls, tools.names)
        record.decoded = decoded.calls if decoded.ok else None
        record.verdict = self.checker.check(item.case, decoded)
        return record

    async def run(self, on_progress: ProgressHook | None = None) -> dict[str, Any]:
        """Send every planned sample (at most ``concurrency`` in flight); the result document.

        Call :meth:`prepare` first (else it is called here). Cancelling this task, or
        :meth:`cancel`, keeps what landed: :meth:`result` then gives the partial document.
        """
        plan = self.plan if self.plan is not None else await self.prepare()
        self.started_at = time.time()
        self._t0 = time.perf_counter()
        for case, exc in plan.skipped:
            for it in items_of(case, self.config):
                verdict = Verdict(None, f"not sent: {exc}", "conversion_error", [exc.to_json()])
                self._add(Record(**self._base(it), verdict=verdict, skipped=True), on_progress)
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(item: Item) -> None:
            async with gate:
                if self._cancel.is_set():
                    return
                self._in_flight += 1
                try:
                    record = await self._sample(item, plan.tools[item.case.id])
                finally:
                    self._in_flight -= 1
                self._add(record, on_progress)

        tasks = [asyncio.create_task(one(it)) for it in plan.items]
        stop = asyncio.create_task(self._cancel.wait())
        try:
            if tasks:
                everything = asyncio.gather(*tasks)
                waiters: list[asyncio.Future[Any]] = [everything, stop]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if not everything.done():
                    everything.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await everything
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            stop.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, stop, return_exceptions=True)
            self._duration = time.perf_counter() - self._t0
            self.cancelled = self.cancelled or self._cancel.is_set()
        return self.result()

    # -- the result ---------------------------------------------------------------------------

    def ordered(self) -> list[Record]:
        """The records in the plan's order (they land in completion order)."""
        order: dict[tuple[str, float, bool], int] = {}
        if self.plan is not None:
            n = 0
            for cat in self.plan.cases:
                for case in self.plan.cases[cat]:
                    for it in items_of(case, self.config):
                        order[(case.id, it.temperature, it.guided)] = n
                        n += 1
        return sorted(self.records, key=lambda r: order.get(r.key, len(order)))

    def failed(self) -> list[Record]:
        """The failed samples so far, in the plan's order.

        Each holds the question, the expected answers, what came back (raw text, tool calls,
        decoded calls) and the checker's reason.
        """
        return [r for r in self.ordered() if r.failed]

    def result(self) -> dict[str, Any]:
        """The result document so far (what ``run()`` returns and ``eval`` saves)."""
        info = self.target.models.get(self.config.model, ModelInfo())
        planned = self.plan.planned if self.plan else 0
        skipped = self.plan.skipped if self.plan else []
        return {
            "kind": "bfcl",
            "bfcl_version": BFCL_VERSION,
            "config": self.config.to_json(),
            "model": self.config.model,
            "preset": info.preset,
            "tool_call_parser": info.parser,
            "proxy_url": self.target.proxy_url,
            "started_at": self.started_at,
            "duration_s": None if self._duration is None else round(self._duration, 2),
            "planned": planned,
            "done": len(self.records),
            "complete": len(self.records) == planned and not self.cancelled,
            "cancelled": self.cancelled,
            "summary": [c.to_json() for c in self.cells.values()],
            "totals": totals(list(self.cells.values())),
            "skipped": [
                {"case_id": case.id, "category": case.category, **exc.to_json()}
                for case, exc in skipped
            ],
            "records": [r.to_json() for r in self.ordered()],
        }
