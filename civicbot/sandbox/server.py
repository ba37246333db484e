"""Run the simulator as a real HTTP server on loopback (werkzeug's threaded WSGI server)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from werkzeug.serving import make_server

from .app import Simulator
from .faults import FaultPlan
from .world import World


class SandboxServer:
    """A simulator serving a world on 127.0.0.1 in a background thread.

    `port=0` picks a free port; `url` is then the address to give PyGithub as base_url.
    """

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0,
                 faults: FaultPlan | None = None, log_path: str | Path | None = None, latency_ms: float = 0.0):
        self.app = Simulator(world, faults=faults, log_path=str(log_path) if log_path else None,
                             latency_ms=latency_ms)
        self._server = make_server(host, port, self.app, threaded=True)
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None
        # werkzeug logs every request at INFO; the request counter already records them.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def start(self) -> "SandboxServer":
        # A short poll interval makes stop() quick (werkzeug's default is 0.5 s per server).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="civicbot-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
