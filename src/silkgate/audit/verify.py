"""`audit verify` as one operation: the chain, the checkpoints, then every table against it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from silkgate.audit import checkpoints
from silkgate.audit.consistency import Report, run_checks
from silkgate.audit.keys import trusted_keys
from silkgate.audit.service import VerifyResult, count_entries, verify_chain
from silkgate.core.platform import Platform


class CannotVerify(RuntimeError):
    """No pinned key, a malformed key, or an unreadable or badly signed checkpoint."""


@dataclass
class Outcome:
    """The chain result, the checkpoints it was held against, and the table comparison."""

    chain: VerifyResult
    checkpoints: dict[int, str] = field(default_factory=dict)
    tables: Report | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.tables is not None and self.tables.ok


def load_checkpoints(
    platform: Platform, files: Sequence[Path], trusted: dict[str, str]
) -> dict[int, str]:
    """seq → head hash from the platform's own checkpoint file (if any) and ``files``."""
    found: list[tuple[str, checkpoints.Checkpoint]] = []
    own = platform.settings.checkpoint_path
    try:
        if own.exists() and own.stat().st_size > 0:
            found += checkpoints.read(own)
        for path in files:
            found += checkpoints.read(path)
        return checkpoints.expected_heads(found, trusted)
    except checkpoints.BadCheckpoint as exc:
        raise CannotVerify(str(exc)) from None


def verify_all(
    platform: Platform, checkpoint_files: Sequence[Path] = (), progress: Any = None
) -> Outcome:
    """Verify the chain against pinned keys and signed checkpoints, then the tables against
    the chain — all on one snapshot of the database."""
    from silkgate.audit.keys import BadPinnedKey

    try:
        trusted = trusted_keys(platform.settings)
    except BadPinnedKey as exc:
        raise CannotVerify(str(exc)) from None
    if not trusted:
        raise CannotVerify(
            "no pinned platform key: set SILKGATE_PLATFORM_VERIFY_KEYS or write the key file "
            f"{platform.settings.verify_keys_path} ('silkgate platform-key generate' does)"
        )
    heads = load_checkpoints(platform, checkpoint_files, trusted)
    with platform.db.snapshot() as s:
        if progress is not None:
            progress(0, count_entries(s))
        chain = verify_chain(s, trusted, (lambda n: progress(n, None)) if progress else None, heads)
        outcome = Outcome(chain, heads)
        if chain.ok:
            outcome.tables = run_checks(s)
    return outcome
