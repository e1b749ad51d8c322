"""Supervised threads restart after any error and say so."""

from __future__ import annotations

import threading
import time

from silkgate.core.supervise import Supervised


def _until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_body_that_raises_runs_again_and_the_error_is_recorded() -> None:
    runs = 0
    done = threading.Event()

    def body() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("first run fails")
        if runs == 2:
            raise SystemExit("even SystemExit")
        done.wait()

    sup = Supervised("t-restart", body, pause=0.01)
    sup.start()
    _until(lambda: runs == 3)
    status = sup.status()
    assert status["state"] == "running" and status["restarts"] == 2
    assert "SystemExit" in status["last_error"]
    done.set()
    sup.stop(2)
    assert sup.status()["state"] == "stopped"


def test_thread_gone_without_stop_is_revived() -> None:
    calls = 0

    def body() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            return  # ends as if the thread had vanished
        sup.stopping.wait()

    sup = Supervised("t-revive", body, pause=0.01)
    sup.start()
    _until(lambda: not sup.alive)
    sup._finished = False  # a thread that ended without stop() being called
    assert sup.status()["state"] == "dead"
    sup.ensure_running()
    _until(lambda: calls == 2)
    assert sup.status()["restarts"] == 1 and sup.alive
    sup.stop(2)


def test_stopped_thread_is_not_restarted() -> None:
    sup = Supervised("t-stop", lambda: None, pause=0.01)
    sup.start()
    sup.stop(2)
    sup.ensure_running()
    assert not sup.alive and sup.status()["restarts"] == 0
