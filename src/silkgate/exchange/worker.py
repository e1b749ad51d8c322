"""The delivery worker: a supervised thread polling for due deliveries (one per API process)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from silkgate.core.supervise import Supervised
from silkgate.exchange.service import deliver_due

if TYPE_CHECKING:
    from silkgate.core.platform import Platform

log = logging.getLogger("silkgate.exchange")


class DeliveryWorker:
    """Sends due webhooks; polls again at once while there is work, else after a short pause."""

    def __init__(self, platform: Platform, poll: float | None = None) -> None:
        self.platform = platform
        self.poll = poll if poll is not None else platform.settings.exchange_poll_seconds
        self._supervised = Supervised("silkgate-exchange", self.run, pause=2.0)
        self.sent = 0

    def run(self) -> None:
        st = self.platform.settings
        with httpx.Client(timeout=st.exchange_timeout_seconds, follow_redirects=False) as client:
            while not self._supervised.stopping.is_set():
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
