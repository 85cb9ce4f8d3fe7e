"""`esctl metrics serve`: the collector over HTTP at `/metrics` (prometheus_client's handler:
Prometheus text, or OpenMetrics when the scraper asks for it; gzip when accepted). One thread per
request, each scrape its own connection. SIGINT and SIGTERM stop it cleanly (the caller exits 0);
a port in use or an address that does not resolve is a UsageError before anything is served."""

from __future__ import annotations

import errno
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from prometheus_client.exposition import MetricsHandler

from esctl.errors import UsageError
from esctl.metrics.collector import StoreCollector, registry_for

DEFAULT_LISTEN = "127.0.0.1:9464"
METRICS_PATH = "/metrics"


def parse_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT (`[::1]:9464` for IPv6; `:9464` is every address) as (host, port)."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(
            f"--listen {listen!r} is not HOST:PORT",
            hint="e.g. --listen 127.0.0.1:9464, --listen 0.0.0.0:9464, --listen [::1]:9464",
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hung up mid-reply is no error of esctl's (scrape errors are already
        `esctl_up 0`): no traceback on stderr."""


class _Stop(Exception):
    """SIGTERM arrived: leave serve_forever."""


class MetricsServer:
    """The HTTP server, bound (so the port is known and a busy one refused) before `run`."""

    def __init__(self, collector: StoreCollector, listen: str = DEFAULT_LISTEN) -> None:
        host, port = parse_listen(listen)
        handler = _handler(collector)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type(
            "Server", (_QuietServer,), {"address_family": family, "daemon_threads": True}
        )
        try:
            self.server: ThreadingHTTPServer = server_class((host, port), handler)
        except OSError as error:
            raise _bind_error(listen, error) from None
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        address, port = self.server.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{METRICS_PATH}"

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM (or `stop()` from another thread); then close."""
        try:
            with _stop_on_sigterm():
                self.server.serve_forever(poll_interval=0.5)
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            self.server.server_close()

    def stop(self) -> None:
        """Stop `run` from another thread."""
        threading.Thread(target=self.server.shutdown, daemon=True).start()


def _handler(collector: StoreCollector) -> type[MetricsHandler]:
    base: type[MetricsHandler] = MetricsHandler.factory(registry_for(collector))

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == METRICS_PATH:
                super().do_GET()
                return
            body = b"esctl metrics: scrape /metrics\n"
            self.send_response(200 if path == "/" else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _bind_error(listen: str, error: OSError) -> UsageError:
    if error.errno == errno.EADDRINUSE:
        return UsageError(
            f"cannot listen on {listen}: the port is in use",
            hint="stop what listens there, or pick another port with --listen HOST:PORT",
        )
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return UsageError(f"cannot listen on {listen}: no such local address ({error.strerror})")
    if error.errno == errno.EACCES:
        return UsageError(
            f"cannot listen on {listen}: permission denied", hint="ports below 1024 need root"
        )
    return UsageError(f"cannot listen on {listen}: {error.strerror or error}")


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into `_Stop` in the main thread while serving (elsewhere: no handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous: Callable[[int, FrameType | None], Any] | int | None = signal.signal(
        signal.SIGTERM, stop
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
