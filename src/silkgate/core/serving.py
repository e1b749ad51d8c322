"""How ``silkgate serve`` listens with several workers: on Linux each worker its own socket.

uvicorn's workers share one listening socket, and the worker that wakes first accepts every
connection waiting. A burst of connections — a booking rush opening 200 keep-alive
connections at once — lands mostly on one worker (156 against 44 measured), whose single
core then bounds the API while the other worker idles. With ``SO_REUSEPORT`` every worker
listens on a socket of its own bound to the same port, and the kernel spreads new
connections evenly across them. uvicorn's supervisor (health checks, restarts, signals) is
kept: only the socket handed to each worker differs.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

log = logging.getLogger("uvicorn.error")
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start: no restart


def supports_reuse_port() -> bool:
    """Linux balances connections across SO_REUSEPORT listeners (other systems may not)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class ReusePortSocket(socket.socket):
    """A TCP socket bound with SO_REUSEPORT.

    Pickled into a worker process (uvicorn starts workers with multiprocessing's spawn), it
    arrives as a new socket bound the same way rather than as a copy of this one: each worker,
    a restarted one too, listens on its own. The supervisor's socket only holds the port;
    it never listens, so the kernel gives it no connection.
    """

    @classmethod
    def bind_to(cls, host: str, port: int) -> ReusePortSocket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = cls(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        return sock

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        host, port = self.getsockname()[:2]
        return _rebind, (host, port)


def _rebind(host: str, port: int) -> ReusePortSocket:
    """In a worker: its own socket; if the port cannot be had, stop the server, not retry."""
    try:
        return ReusePortSocket.bind_to(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        sys.exit(STARTUP_FAILURE)


def run_workers(config: Any) -> None:
    """uvicorn's multi-process supervisor over per-worker SO_REUSEPORT sockets."""
    from uvicorn.supervisors import Multiprocess

    try:
        sock = ReusePortSocket.bind_to(config.host, config.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    log.info(
        "Uvicorn running on http://%s:%d with %d workers, one SO_REUSEPORT socket each "
        "(Press CTRL+C to quit)",
        config.host,
        sock.getsockname()[1],
        config.workers,
    )
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
