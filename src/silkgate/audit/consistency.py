"""What the stored tables say against what the audit log says, entity by entity.

The chain check proves the log was not edited; these checks prove the tables users read still
say what was logged, and that nothing the log records has vanished from them (or appeared in
them without a log entry). Every check reads one consistent snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

#: Stop collecting after this many problems (the first ones are what an operator needs).
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One stored fact that disagrees with the log: which entity, and what differs."""

    entity: str
    what: str

    def __str__(self) -> str:
        return f"{self.entity}: {self.what}"


@dataclass
class Report:
    """How many entities of each kind were compared, and the problems found."""

    checked: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # problems found beyond MAX_PROBLEMS

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, entity: str, what: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(entity, what))
        else:
            self.more += 1


Check = Callable[[Session, Report, Any], None]


def run_checks(session: Session, progress: Any = None) -> Report:
    """Every domain's comparison of its tables with the log, on one snapshot session."""
    from silkgate.audit.agreement_checks import check_agreements
    from silkgate.audit.declaration_checks import check_declarations
    from silkgate.audit.exchange_checks import check_exchange
    from silkgate.audit.gate_event_checks import check_gate_events
    from silkgate.audit.queue_checks import check_queue
    from silkgate.audit.record_state import check_records
    from silkgate.audit.submission_checks import check_submissions

    report = Report()
    checks: list[Check] = [
        check_declarations,
        check_records,
        check_queue,
        check_exchange,
        check_agreements,
        check_gate_events,
        check_submissions,
    ]
    for check in checks:
        check(session, report, progress)
    return report


def differences(stored: Any, logged: Any, path: str = "", limit: int = 3) -> list[str]:
    """JSON pointers where two JSON values differ (at most ``limit``), for messages."""
    out: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k, _MISSING), b.get(k, _MISSING), f"{where}/{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}/{i}")
        elif a != b or type(a) is not type(b):
            out.append(where or "/")

    walk(stored, logged, path)
    return out


def compare_state(report: Report, entity: str, stored: Any, logged: Any, seq: int) -> None:
    """Name each field (JSON pointer) where a stored record differs from the state an entry
    recorded, with both values."""
    for where in differences(stored, logged, limit=5):
        report.add(
            entity,
            f"{where} is {value_at(stored, where)!r}; entry {seq} recorded "
            f"{value_at(logged, where)!r}",
        )


def value_at(value: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``"absent"`` where there is none)."""
    for part in pointer.strip("/").split("/"):
        if isinstance(value, dict):
            value = value.get(part, "absent")
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return "absent"
    return value


class _Missing:
    def __repr__(self) -> str:
        return "absent"


_MISSING = _Missing()
