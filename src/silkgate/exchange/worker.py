"""The delivery worker: a supervised thread running delivery passes (one per API process, or
``silkgate exchange deliver`` on its own)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from silkgate.core.supervise import Supervised
from silkgate.exchange import delivery
from silkgate.exchange.service import prune_outbox

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.exchange")


PRUNE_EVERY_SECONDS = 3600.0


class DeliveryWorker:
    """Sends due webhooks: passes back to back while a pass finds a full batch, else waits
    for a message committed in this process (``delivery.wake``) or the poll interval.

    Once an hour it also prunes the outbox past its retention (``prune_outbox``).
    """

    def __init__(self, platform: Platform, poll: float | None = None) -> None:
        self.platform = platform
        self.poll = poll if poll is not None else platform.settings.exchange_poll_seconds
        self._supervised = Supervised("silkgate-exchange", self.run, pause=2.0)
        self._wake = threading.Event()
        self.sent = 0

    def run(self) -> None:
        st = self.platform.settings
        next_prune = time.monotonic()
        delivery.listen(self._wake)
        pool = delivery.new_pool(st)
        sender = delivery.new_sender(st)
        try:
            while not self._supervised.stopping.is_set():
                if time.monotonic() >= next_prune:
                    pruned = prune_outbox(self.platform)
                    if pruned.messages:
                        log.info("outbox pruned: %d messages", pruned.messages)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                self._wake.clear()  # a commit from now on wakes the wait below
                r = delivery.deliver_due(self.platform, sender, pool)
                done = r.delivered + r.retried + r.dead
                self.sent += r.delivered
                if done < st.exchange_batch:
                    self._wake.wait(self.poll)
        finally:
            delivery.unlisten(self._wake)
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            sender.close()

    def start(self) -> None:
        self._supervised.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._supervised.stopping.set()
        self._wake.set()
        self._supervised.stop(timeout)

    def status(self) -> dict[str, Any]:
        self._supervised.ensure_running()
        return {**self._supervised.status(), "delivered": self.sent}
