"""Group commit of lodgings: the supervised thread of ``core.groupcommit`` storing declarations.

Each waiting lodging gets its own outcome (``lodging.store_isolated``); an error the committer
did not foresee fails only the lodgings of that group, and the thread carries on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from silkgate.core.groupcommit import GroupCommitter as _Committer
from silkgate.declarations.lodging import Lodging, Outcome, store_isolated
from silkgate.declarations.schemas import DeclarationOut

if TYPE_CHECKING:
    from silkgate.core.platform import Platform


class GroupCommitter(_Committer[Lodging, tuple[DeclarationOut, bool]]):
    """Stores waiting lodgings together; ``submit`` blocks until its own outcome."""

    def __init__(self, platform: Platform, max_group: int = 256) -> None:
        self.platform = platform
        super().__init__("silkgate-group-commit", self._store, max_group)

    def _store(self, group: list[Lodging]) -> list[Outcome]:
        return store_isolated(self.platform, group)
