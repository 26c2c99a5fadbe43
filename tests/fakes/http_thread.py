"""What the in-process HTTP fakes share: a ThreadingHTTPServer answering on a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class HttpThread:
    """``fake.start()`` serves, ``fake.stop()`` ends it; ``with Fake() as fake:`` does both.

    A fake's ``start`` builds its request handler and returns :meth:`serve`.
    """

    _server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def serve(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> Self:
        """Answer on ``address`` (port 0: a free one) with ``handler``, on a daemon thread."""
        self._server = ThreadingHTTPServer(address, handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
