"""Sleep mode: vLLM's admin routes (``/sleep``, ``/wake_up``, ``/is_sleeping``), CUDA, ROCm, XPU.

A mixin of :class:`~naptha_tui.backends.servers.supervisor.Supervisor`: every call that acts is
written to the command log as a curl line, the key shown as where it comes from.
"""

from __future__ import annotations

import time

import httpx

from naptha_tui.backends.commandlog import CommandLog, curl_line, outcome_of
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.servers.managed import poll_until
from naptha_tui.backends.state import ProcessRecord, StateFile

__all__ = ["SleepMode"]


class SleepMode:
    """Put servers to sleep and wake them; needs ``paths``, ``state``, ``keys`` and ``client``."""

    paths: Paths
    state: StateFile
    keys: ServerKeys

    def client(self) -> httpx.AsyncClient:
        raise NotImplementedError

    async def _dev_call(
        self,
        record: ProcessRecord,
        method: str,
        path: str,
        timeout: float = 120.0,
        body: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One call to a server's admin routes; all but a ``GET`` go to the command log."""
        key = self.keys.lookup(record.api_key_env)
        url = f"{record.root_url}{path}"
        logged = method != "GET"  # /is_sleeping is asked at every status: a probe, no action
        began = time.monotonic()

        def said(outcome: str, ok: bool) -> None:
            if logged:
                auth = self.keys.source(record.api_key_env) if key else None
                CommandLog(self.paths).record(
                    f"{path.split('?')[0].strip('/')} {record.name}",
                    "http",
                    curl_line(method, url, auth, body),
                    outcome,
                    ok,
                    secrets=[key or ""],
                )

        try:
            got = await self.client().request(
                method,
                url,
                headers={"Authorization": f"Bearer {key}"} if key else {},
                json=body,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            said(outcome_of(exc), False)
            raise NapthaError(f"server {record.name}: {method} {path} failed: {exc!r}") from exc
        said(f"{got.status_code} in {time.monotonic() - began:.2f} s", got.status_code < 400)
        if got.status_code == 404:
            raise NapthaError(
                f"server {record.name}: {path} is not served (404): sleep mode needs "
                "--enable-sleep-mode and VLLM_SERVER_DEV_MODE=1 (preset key sleep_mode: true)"
            )
        if got.status_code >= 400:
            raise NapthaError(
                f"server {record.name}: {method} {path} answered {got.status_code}: "
                f"{got.text[:200]}"
            )
        return got

    async def is_sleeping(self, record: ProcessRecord) -> bool:
        """``GET /is_sleeping``; False when it cannot be read (the health probe says the rest)."""
        try:
            got = await self._dev_call(record, "GET", "/is_sleeping", timeout=3.0)
            return bool(got.json().get("is_sleeping"))
        except (NapthaError, ValueError, AttributeError):
            return False

    def _sleep_record(self, name: str) -> ProcessRecord:
        record = self.state.load().servers.get(name)
        if record is None:
            raise NapthaError(f"no server named {name!r}")
        if not record.sleep_mode:
            raise NapthaError(
                f"server {name} was not started with sleep mode (preset {record.preset}: set "
                "sleep_mode: true)"
            )
        return record

    def _mark_sleeping(self, name: str, level: int | None) -> None:
        with self.state.update() as state:
            if name in state.servers:
                state.servers[name].sleeping = level

    async def sleep(self, name: str, level: int) -> None:
        """``POST /sleep?level=N`` and wait until ``/is_sleeping`` says so."""
        record = self._sleep_record(name)
        await self._dev_call(record, "POST", f"/sleep?level={level}")
        self._mark_sleeping(name, level)
        await poll_until(lambda: self.is_sleeping(record), bool, 60.0, 0.2)

    async def wake(self, name: str) -> None:
        """Wake a sleeping server; after level 2 its weights are reloaded first.

        Level 2 follows vLLM's sleep-mode docs: wake the weights, ``reload_weights`` through
        ``/collective_rpc``, then wake the KV cache and reset the prefix cache.
        """
        record = self._sleep_record(name)
        if record.sleeping == 2:
            await self._dev_call(record, "POST", "/wake_up?tags=weights")
            rpc = {"method": "reload_weights"}
            await self._dev_call(record, "POST", "/collective_rpc", timeout=600.0, body=rpc)
            await self._dev_call(record, "POST", "/wake_up?tags=kv_cache")
            await self._dev_call(record, "POST", "/reset_prefix_cache")
        else:
            await self._dev_call(record, "POST", "/wake_up")
        awake = await poll_until(
            lambda: self.is_sleeping(record), lambda asleep: not asleep, 60.0, 0.2
        )
        if awake:
            raise NapthaError(f"server {name}: still sleeping 60 s after /wake_up")
        self._mark_sleeping(name, None)
