"""Plain HTTP proxies in front of an S3 server, each standing for a backend or a network
that misbehaves one way: one that drops the conditional-write headers (every write
succeeds), one that answers some requests 503 Slow Down however often they are retried,
one that cuts some answers off half way (a connection reset, a proxy timing out)."""

import contextlib
import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DROPPED = {"if-none-match", "if-match"}
SLOW_DOWN = (
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


@contextlib.contextmanager
def forwarding_proxy(
    upstream: str,
    dropped: frozenset[str] = frozenset(),
    refused: Callable[[str, str], bool] = lambda _method, _path: False,
    cut: Callable[[str, str], bool] = lambda _method, _path: False,
) -> Iterator[str]:
    """Yield the URL of a proxy to `upstream` that forwards every request without the
    `dropped` headers, but answers 503 to each for which `refused(method, path)` holds, and
    closes the connection half way through the body of each for which `cut` does."""
    target = urlsplit(upstream)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if refused(self.command, self.path):
                self._answer(503, "Slow Down", [], SLOW_DOWN)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            finally:
                connection.close()
            cutting = cut(self.command, self.path)
            self._answer(answer.status, answer.reason, answer.getheaders(), data, cutting)

        def _answer(
            self,
            status: int,
            reason: str,
            headers: list[tuple[str, str]],
            data: bytes,
            cutting: bool = False,
        ) -> None:
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data[: len(data) // 2] if cutting else data)
            self.close_connection = cutting

        # http.server's names for its handlers.
        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

        def log_message(self, *_args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def header_dropping_proxy(upstream: str) -> contextlib.AbstractContextManager[str]:
    """A proxy to `upstream` that forwards everything but If-None-Match and If-Match."""
    return forwarding_proxy(upstream, dropped=frozenset(DROPPED))
