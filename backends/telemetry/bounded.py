"""A blocking read that must never stall its caller: one call in flight, waited on for a while.

NVML calls block in the driver; on a wedged GPU one can block for minutes. The panel asks for
the GPUs at every refresh, so an unbounded wait froze its status, and each refresh parked one
more thread on the reader's lock until the default thread pool was full. :class:`BoundedRead`
runs the read in a thread, at most one at a time; a caller waits ``timeout_s`` at most and then
gets ``late(seconds)`` while the read goes on in the background; the next caller after it
returns gets a fresh read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["BoundedRead"]


class BoundedRead(Generic[T]):
    """``await reader()``: ``read()`` in a thread, or ``late(seconds)`` once it took too long."""

    def __init__(self, read: Callable[[], T], timeout_s: float, late: Callable[[float], T]) -> None:
        self.read = read
        self.timeout_s = timeout_s
        self.late = late
        self._task: asyncio.Future[T] | None = None
        self._since = 0.0

    @property
    def in_flight(self) -> bool:
        """A read is still running (it outlived a caller's wait)."""
        return self._task is not None and not self._task.done()

    async def __call__(self) -> T:
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = self._task = asyncio.ensure_future(asyncio.to_thread(self.read))
            self._since = time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        except TimeoutError:
            return self.late(time.monotonic() - self._since)
