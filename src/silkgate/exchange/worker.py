"""The delivery worker: a supervised thread polling for due deliveries (one per API process)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import httpx

from silkgate.core.supervise import Supervised
from silkgate.exchange.service import deliver_due, prune_outbox

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.exchange")


PRUNE_EVERY_SECONDS = 3600.0


class DeliveryWorker:
    """Sends due webhooks; polls again at once while there is work, else after a short pause.

    Once an hour it also prunes the outbox past its retention (``prune_outbox``).
    """

    def __init__(self, platform: Platform, poll: float | None = None) -> None:
        self.platform = platform
        self.poll = poll if poll is not None else platform.settings.exchange_poll_seconds
        self._supervised = Supervised("silkgate-exchange", self.run, pause=2.0)
        self.sent = 0

    def run(self) -> None:
        st = self.platform.settings
        next_prune = time.monotonic()
        with httpx.Client(timeout=st.exchange_timeout_seconds, follow_redirects=False) as client:
            while not self._supervised.stopping.is_set():
                if time.monotonic() >= next_prune:
                    pruned = prune_outbox(self.platform)
                    if pruned.messages:
                        log.info("outbox pruned: %d messages", pruned.messages)
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                r = deliver_due(self.platform, client)
                done = r.delivered + r.retried + r.dead
                self.sent += r.delivered
                if done < st.exchange_batch:
                    self._supervised.stopping.wait(self.poll)

    def start(self) -> None:
        self._supervised.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._supervised.stop(timeout)

    def status(self) -> dict[str, Any]:
        self._supervised.ensure_running()
        return {**self._supervised.status(), "delivered": self.sent}
