"""SIGTERM stops a real `silkgate serve`, even while lodgings wait on a lock held elsewhere."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from silkgate.core.platform import Platform
from tests.declarations.faults import write_lock_held
from tests.factories import export_cn_to_kz, seeded, tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_the_server_with_lodgings_in_flight(platform: Platform) -> None:
    ids = seeded(platform)
    token = tokens(platform, ids)["cn-broker"]
    port = _free_port()
    env = {
        **os.environ,
        "SILKGATE_DATABASE_URL": platform.settings.database_url,
        "SILKGATE_DEMO_MODE": "true",
        "SILKGATE_DATA_DIR": str(platform.settings.data_dir),
        "SILKGATE_RISK_WORKER": "false",
        "SILKGATE_LOG_LEVEL": "warning",
        # Longer than the test waits: the lodgings are still in flight when SIGTERM comes.
        "SILKGATE_DB_LOCK_TIMEOUT": "60",
        "SILKGATE_SHUTDOWN_GRACE": "1",
    }
    exe = Path(sys.executable).with_name("silkgate")
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not start")
        with write_lock_held(platform):

            def post(i: int) -> None:
                # the server may drop the connection as it stops
                with contextlib.suppress(httpx.HTTPError):
                    httpx.post(
                        f"{base}/declarations",
                        json=export_cn_to_kz(f"TERM-{i}"),
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=90,
                    )

            for i in range(3):
                threading.Thread(target=post, args=(i,), daemon=True).start()
            time.sleep(1.5)  # the lodgings now wait on the lock
            assert server.poll() is None
            server.send_signal(signal.SIGTERM)
            started = time.monotonic()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pytest.fail("SIGTERM did not stop the server within 20 s")
            assert time.monotonic() - started < 20
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        if server.stderr is not None:
            server.stderr.close()
