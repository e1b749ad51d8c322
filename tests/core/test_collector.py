"""The collector pause: off inside, back on after the last of overlapping pauses, and left
alone when something else had turned it off."""

from __future__ import annotations

import gc
import threading

from silkgate.core import collector


def test_nested_and_concurrent_pauses_resume_once_at_the_end() -> None:
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector.paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with collector.paused():
        assert not gc.isenabled()
        t.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread is still inside
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_resumes_after_an_error() -> None:
    try:
        with collector.paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
