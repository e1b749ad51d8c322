"""`silkgate serve --workers 2` on Linux: each worker accepts on its own SO_REUSEPORT socket,
so a burst of connections is spread over both workers; SIGTERM stops them all."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from silkgate.core import serving
from silkgate.core.platform import Platform

pytestmark = pytest.mark.skipif(
    not serving.supports_reuse_port(), reason="SO_REUSEPORT balancing is Linux's"
)


def test_a_pickled_socket_arrives_as_a_new_socket_on_the_same_port() -> None:
    sock = serving.ReusePortSocket.bind_to("127.0.0.1", 0)
    copy = pickle.loads(pickle.dumps(sock))
    try:
        assert copy.fileno() != sock.fileno()
        assert copy.getsockname() == sock.getsockname()
        assert copy.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    finally:
        copy.close()
        sock.close()


def _workers(pid: int) -> list[int]:
    """The worker processes of the server ``pid`` (not multiprocessing's resource tracker)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and b"--multiprocessing-fork" in cmd:
                out.append(int(entry))
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


ESTABLISHED, LISTEN = "01", "0A"  # TCP states as /proc/net/tcp writes them


def _sockets_per_process(pids: list[int], port: int, state: str) -> dict[int, int]:
    """TCP sockets in ``state`` on local ``port`` held by each process (from /proc)."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[3] == state:
            inodes.add(f[9])
    counts = {}
    for pid in pids:
        n = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            n += target.startswith("socket:[") and target[8:-1] in inodes
        counts[pid] = n
    return counts


def test_two_workers_share_a_burst_of_connections_and_stop_on_sigterm(platform: Platform) -> None:
    if not platform.settings.is_sqlite:
        pytest.skip("about sockets, not the database: one backend is enough")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "SILKGATE_DATABASE_URL": platform.settings.database_url,
        "SILKGATE_DEMO_MODE": "true",
        "SILKGATE_DATA_DIR": str(platform.settings.data_dir),
        "SILKGATE_RISK_WORKER": "false",
        "SILKGATE_LOG_LEVEL": "warning",
        "SILKGATE_SHUTDOWN_GRACE": "1",
    }
    exe = Path(sys.executable).with_name("silkgate")
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conns: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("server did not start")
        workers = _workers(server.pid)
        assert len(workers) == 2
        # the first worker answered; the second listens once its app has started up
        while min(_sockets_per_process(workers, port, LISTEN).values()) == 0:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"a worker never listened: {_sockets_per_process(workers, port, LISTEN)}"
                )
            time.sleep(0.1)
        request = f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for _ in range(40):  # a burst of keep-alive connections, each served once
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            conns.append(c)
        for c in conns:
            c.sendall(request)
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        counts = _sockets_per_process(workers, port, ESTABLISHED)
        served = [n for n in counts.values() if n]
        assert len(served) == 2 and min(served) >= 8, counts  # 40 spread by the kernel's hash
    finally:
        for c in conns:
            c.close()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(30)
        finally:
            if server.poll() is None:
                server.kill()
    assert code == 0
    assert not [pid for pid in workers if _running(pid)]
