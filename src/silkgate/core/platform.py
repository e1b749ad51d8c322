"""The running platform: settings, database and the audit signer, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from silkgate.audit.service import AuditSigner
from silkgate.core.db import Database
from silkgate.core.settings import Settings
from silkgate.core.signing import load_platform_key


class Platform:
    """What every service needs; the API app and each CLI command build one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        # the time services read; tests freeze it (e-queue grace and no-show rules)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # set by the API app: declarations.committer.GroupCommitter, queue.committer
        self.group_committer: Any = None
        self.booking_committer: Any = None

    @cached_property
    def signer(self) -> AuditSigner:
        signer = AuditSigner(load_platform_key(self.settings))
        # audit entries carry the time the services act on (a frozen or simulated clock
        # in tests and the demo, the system clock otherwise)
        signer.clock = lambda: self.clock()
        return signer

    def close(self) -> None:
        for committer in (self.group_committer, self.booking_committer):
            if committer is not None:
                committer.close()
        self.db.dispose()
