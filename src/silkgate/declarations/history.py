"""A declaration's audit history as one reader may see it (audit trail, timeline, receipt).

The owner and the lodging customs (a full decision) see every entry as stored; the lodging
customs processing abroad (everything but personal data) every entry without the digests
below. Anyone else
sees only the declaration's state changes (``declaration.<status>``; an amendment, which
returns it to ``submitted``, only when ``/version`` is allowed too), only when ``/status`` is
allowed, and only for the states an agreement would share the declaration in (a condition may
exclude ``submitted``). Everything else — the lodging side's inspection and lane override, a
lodging's payload — is the lodging customs' own business, so it is left out. Of what is shown:

- no payload digest, entry hash or signature: the entries of a lodging or an automatic
  acceptance digest the whole payload (driver included), a risk assessment's digests the lane
  and score, and each entry hash chains those digests, so with the hash of a neighbouring
  entry (a reader's own entries, a checkpoint) any of them lets withheld data be guessed and
  tested offline;
- the actor only when it is the declarant and ``/declarant`` is allowed, or the platform
  itself: the other side's officers are not part of what is shared; the person who acted
  in the console (``person``) only to its own organization and the lodging customs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from silkgate.audit.models import AuditEntry
from silkgate.declarations.schemas import AuditEntryOut, DeclarationStatus
from silkgate.exchange.agreements.enforce import Point, covers
from silkgate.exchange.agreements.policy import Decision, Record

#: Audit actions that put a declaration in a state, and that state.
STATE_ACTIONS: dict[str, str] = {
    **{f"declaration.{s.value}": s.value for s in DeclarationStatus},
    "declaration.amended": DeclarationStatus.SUBMITTED.value,
}
#: Actors named to any reader of the states: the platform's own automatic steps.
PLATFORM_ACTORS = frozenset({"platform"})


@dataclass(frozen=True)
class Seen:
    """One audit entry as the reader sees it (``full``: as stored, digests and hashes too)."""

    entry: AuditEntry
    actor: str | None
    full: bool
    person: str | None = None  # the actor's person (console users), shown with its own side

    def out(self) -> AuditEntryOut:
        e = self.entry
        if self.full:
            return AuditEntryOut.model_validate(e).model_copy(update={"person": self.person})
        return AuditEntryOut(
            seq=e.seq,
            at=e.at,
            actor=self.actor,
            person=self.person,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
        )


def visible(
    point: Point, record: Record, decision: Decision, entries: Iterable[AuditEntry]
) -> list[Seen]:
    """The entries of one declaration (oldest first) that ``decision`` lets the reader see."""
    if decision.full:  # persons only of the reader's own side (the declarant does not learn
        # which officer of the customs acted, nor customs which clerk of the declarant)
        me = point.asking.caller.member_id
        authority = decision.basis == "authority"
        return [
            Seen(e, e.actor, True, e.person if authority or e.actor == me else None)
            for e in entries
        ]
    if decision.basis == "authority":  # its own entries; only the digests could carry the driver
        return [Seen(e, e.actor, False, e.person) for e in entries]
    if not covers(decision, "/status"):
        return []
    declarant = covers(decision, "/declarant")
    amendments = covers(decision, "/version")
    out = []
    for e in entries:
        status = STATE_ACTIONS.get(e.action)
        if status is None or (e.action == "declaration.amended" and not amendments):
            continue
        if status != record.status and not covers(
            point.decide(replace(record, status=status)), "/status"
        ):
            continue
        named = e.actor in PLATFORM_ACTORS or (declarant and e.actor == record.owner)
        out.append(Seen(e, e.actor if named else None, False))
    return out
