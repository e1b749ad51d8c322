"""Checkpoint stages as lean SimPy event handlers (no process per truck).

A stage keeps its own queue and server count and schedules one SimPy ``Timeout`` per
service; the timeout's callback moves the truck on. This is the same discrete-event
logic as a ``simpy.Resource`` with a process per truck, at a fraction of the cost, which
is what makes a year of 1,000 trucks a day fit in seconds.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

import simpy
from simpy.events import Timeout

from silkgate.twin.distributions import Pool


class Host(Protocol):
    """What a stage needs from the model that owns it: the clock, the per-truck records
    and the step to the next stage. The engine satisfies it; stages never import it."""

    env: simpy.Environment
    klass: list[int]
    pre_arrival: list[bool]
    t_enq: list[float]
    wait: list[float]
    trace: list[tuple[str, int, float, float]] | None

    def advance(self, truck: int) -> None: ...

    def release(self, truck: int) -> None: ...


NO_CAP = 1 << 60


class Stage:
    """Servers in parallel in front of one FIFO queue, with hours and a daily acceptance cap."""

    __slots__ = (
        "_done_cb",
        "busy",
        "busy_time",
        "cap",
        "cap_left",
        "cap_reached_days",
        "daily_cap",
        "direction",
        "eng",
        "env",
        "fast_pool",
        "kind",
        "name",
        "open_hours",
        "pool",
        "pre_arrival",
        "q",
        "starts",
        "t_enq",
        "trace",
        "wait",
        "wait_sum",
    )

    def __init__(
        self,
        eng: Host,
        name: str,
        kind: str,
        direction: int,
        pool: Pool,
        fast_pool: Pool | None,
        servers: int,
        daily_cap: int | None,
    ):
        self.eng = eng
        self.env = eng.env
        self.name = name
        self.kind = kind
        self.direction = direction
        self.pool = pool
        self.fast_pool = fast_pool
        self.pre_arrival = eng.pre_arrival
        self.t_enq = eng.t_enq
        self.wait = eng.wait
        self.trace = eng.trace
        self.cap = servers
        self.open_hours = 168.0  # hours a week with a server on duty (set by the engine)
        self.daily_cap = daily_cap
        self.cap_left = NO_CAP if daily_cap is None else daily_cap
        self.cap_reached_days = 0
        self.busy = 0
        self.busy_time = 0.0
        self.wait_sum = 0.0
        self.starts = 0
        self.q: Any = deque()
        self._done_cb = self._done

    def queue_length(self) -> int:
        return len(self.q)

    def queued(self) -> list[int]:
        """The trucks waiting in this stage's queue, in no particular order."""
        return list(self.q)

    def arrive(self, truck: int) -> None:
        if self.busy < self.cap and self.cap_left > 0 and not self.q:
            self._start(truck, self.env._now, 0.0)
        else:
            self.t_enq[truck] = self.env._now
            self.q.append(truck)

    def _start(self, truck: int, now: float, waited: float) -> None:
        if waited:
            self.wait[truck] += waited
            self.wait_sum += waited
        self.busy += 1
        self.cap_left -= 1
        self.starts += 1
        fast = self.fast_pool
        st = fast.next() if fast is not None and self.pre_arrival[truck] else self.pool.next()
        self.busy_time += st
        if self.trace is not None:
            self.trace.append((self.name, truck, now, now + st))
        Timeout(self.env, st, truck).callbacks.append(self._done_cb)

    def _done(self, ev: Timeout) -> None:
        self.busy -= 1
        if self.q:
            self.pull()
        self.eng.advance(ev._value)

    def pull(self) -> None:
        """Start service for waiting trucks while servers and today's quota allow."""
        q, now, t_enq = self.q, self.env._now, self.t_enq
        while q and self.busy < self.cap and self.cap_left > 0:
            truck = q.popleft()
            self._start(truck, now, now - t_enq[truck])

    def set_servers(self, servers: int) -> None:
        """A shift change; servers finish their truck before leaving (no pre-emption)."""
        self.cap = servers
        self.pull()

    def new_day(self) -> None:
        if self.daily_cap is not None:
            if self.cap_left <= 0:
                self.cap_reached_days += 1
            self.cap_left = self.daily_cap
            self.pull()


class PriorityStage(Stage):
    """First stage of a direction: classes served in a fixed interleave (eCherha style),
    skipping a class whose queue is empty."""

    __slots__ = ("klass", "pattern", "pos", "qlen", "qs")

    def __init__(self, *args: Any, pattern: list[int], n_classes: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.klass = self.eng.klass
        self.pattern = pattern
        self.pos = 0
        self.qs: list[deque[int]] = [deque() for _ in range(n_classes)]
        self.qlen = 0
        self.q = self  # truthiness of "self.q" below means "someone is waiting"

    def __bool__(self) -> bool:
        return self.qlen > 0

    def queue_length(self) -> int:
        return self.qlen

    def queued(self) -> list[int]:
        return [t for q in self.qs for t in q]

    def arrive(self, truck: int) -> None:
        if self.busy < self.cap and self.cap_left > 0 and not self.qlen:
            self._start(truck, self.env._now, 0.0)
        else:
            self.t_enq[truck] = self.env._now
            self.qs[self.klass[truck]].append(truck)
            self.qlen += 1

    def _next(self) -> int:
        pattern, qs = self.pattern, self.qs
        n = len(pattern)
        for step in range(n):
            k = pattern[(self.pos + step) % n]
            if qs[k]:
                self.pos = (self.pos + step + 1) % n
                self.qlen -= 1
                return int(qs[k].popleft())
        raise IndexError("empty queue")  # pragma: no cover - guarded by qlen

    def pull(self) -> None:
        now, t_enq = self.env._now, self.t_enq
        while self.qlen and self.busy < self.cap and self.cap_left > 0:
            truck = self._next()
            self._start(truck, now, now - t_enq[truck])


class Transit:
    """Infinite-server delay (the neutral zone): nobody queues, everyone drives."""

    __slots__ = ("_done_cb", "busy", "eng", "env", "name", "pool")

    def __init__(self, eng: Host, name: str, pool: Pool):
        self.eng = eng
        self.env = eng.env
        self.name = name
        self.pool = pool
        self.busy = 0
        self._done_cb = self._done

    def arrive(self, truck: int) -> None:
        self.busy += 1
        Timeout(self.env, self.pool.next(), truck).callbacks.append(self._done_cb)

    def _done(self, ev: Timeout) -> None:
        self.busy -= 1
        self.eng.advance(ev._value)


class Exit:
    """End of every route: the entry side releases the truck."""

    __slots__ = ("eng", "name")

    def __init__(self, eng: Host):
        self.eng = eng
        self.name = "released"

    def arrive(self, truck: int) -> None:
        self.eng.release(truck)
