"""What the in-process HTTP fakes share: a ThreadingHTTPServer answering on a daemon thread."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up early (a pull refused mid-stream) is not an error of the fake.

    socketserver prints the traceback of a reset connection to stderr, which tests of the
    command line's stderr would read as the command's output.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class HttpThread:
    """``fake.start()`` serves, ``fake.stop()`` ends it; ``with Fake() as fake:`` does both.

    A fake's ``start`` builds its request handler and returns :meth:`serve`.
    """

    _server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def serve(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> Self:
        """Answer on ``address`` (port 0: a free one) with ``handler``, on a daemon thread."""
        self._server = QuietServer(address, handler)
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
