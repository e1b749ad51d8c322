"""The policy decision point: every read of another organization's data goes through a ``Point``.

A ``Point`` lives for one request (one database session). It reads the active agreements of a
category once, decides each record with ``policy.decide`` (owner, authority, party, agreements),
tells a reader that declared no purpose which purposes would have served it (400 naming the
``Silkgate-Purpose`` header; only a consumer of a matching agreement learns the record exists),
and collects one disclosure row per record read on the basis of an agreement or as a party.
``flush`` writes them all in the read's own transaction — one bulk insert per request, however
many records — with the persons whose personal data crossed a border under each agreement.
On PostgreSQL a read (``read_only``) commits them asynchronously unless
``SILKGATE_DISCLOSURE_SYNC_COMMIT`` is on (see docs/exchange.md, "Disclosure log").

Owner and authority reads are not disclosures: the reader made the record, or it was lodged
with the reader.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from silkgate.core.errors import FieldError, NotFound, SilkgateError
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.exchange.agreements import active
from silkgate.exchange.agreements.active import ActiveSet
from silkgate.exchange.agreements.catalogue import Category
from silkgate.exchange.agreements.policy import (
    Decision,
    Record,
    Rule,
    decide,
    for_caller,
    purposes_that_would_allow,
)
from silkgate.registry.service import Caller

PURPOSE_HEADER = "Silkgate-Purpose"
PLACE_HEADER = "Silkgate-Processing-Place"
PURPOSE_FIELD = "/headers/silkgate-purpose"
PLACE_FIELD = "/headers/silkgate-processing-place"
#: Bases under which a read is a disclosure of another organization's data.
DISCLOSING = frozenset({"agreement", "party"})


@dataclass(frozen=True)
class Asking:
    """Who reads, for which declared purpose, processing the data where (None: its country)."""

    caller: Caller
    purpose: str | None = None
    place: str | None = None

    @property
    def where(self) -> str:
        return self.place or self.caller.country


def covers(decision: Decision, pointer: str) -> bool:
    """The decision allows ``pointer`` (it or an ancestor is allowed)."""
    return any(pointer == p or pointer.startswith(p + "/") or p == "" for p in decision.fields)


def narrowed(decision: Decision, pointers: Iterable[str]) -> Decision:
    """The decision as far as an answer used it: only ``pointers`` it covers (what a
    disclosure row records when a view shows a few fields of a record, e.g. a timeline)."""
    return replace(decision, fields=frozenset(p for p in pointers if covers(decision, p)))


class PurposeRequired(SilkgateError):
    """400: the answer would include another organization's data, shared for these purposes."""

    def __init__(self, purposes: Iterable[str]) -> None:
        names = ", ".join(sorted(set(purposes)))
        super().__init__(
            "Purpose required",
            400,
            f"this answer includes data of another organization, shared with you for: {names}; "
            f"declare yours in the {PURPOSE_HEADER} header (CLI: --purpose)",
            [FieldError(PURPOSE_FIELD, "required", f"send {PURPOSE_HEADER}: one of {names}")],
            "purpose-required",
        )


_PERSON_KEYS: dict[str, bytes] = {}


def person_digest(platform: Platform, country: str | None, number: str) -> str:
    """HMAC-SHA-256 of an identity document under a key derived from the platform key.

    Ed25519 signatures are deterministic, so the platform's signature of a fixed label is a
    stable secret: the digests count distinct persons and cannot be reversed by guessing
    document numbers without the platform key. A new platform key starts new digests.
    """
    signer = platform.signer
    key = _PERSON_KEYS.get(signer.public_key)
    if key is None:
        label = signer.sign(b"silkgate.person-digest.v1")
        key = _PERSON_KEYS[signer.public_key] = hashlib.sha256(label.encode()).digest()
    ident = f"{(country or '').upper()}|{number.strip().upper()}"
    return hmac.new(key, ident.encode(), hashlib.sha256).hexdigest()


def persons_in(category: Category, shown: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """The identity documents of the natural persons in a document as it was answered."""
    if category in (Category.DECLARATION, Category.PRE_ARRIVAL):
        data = shown.get("data")
        driver = data.get("driver") if isinstance(data, Mapping) else None
    elif category is Category.BOOKING:
        driver = shown.get("driver")
    else:
        return []
    if isinstance(driver, Mapping) and isinstance(driver.get("document_number"), str):
        return [(driver.get("document_country"), driver["document_number"])]
    return []


@lru_cache(maxsize=4096)
def grant_terms(
    category: Category, decision: Decision, purpose: str | None, place: str
) -> tuple[str, dict[str, Any]]:
    """The grant row of a disclosure and its digest (SHA-256 of the canonical terms), hashed
    once per process for each distinct set of terms."""
    row = {
        "category": category.value,
        "basis": decision.basis,
        "purpose": purpose,
        "place": place,
        "agreements": [[a, v] for a, v in decision.agreements],
        "fields": sorted(decision.fields),
    }
    digest = sha256_hex(canonical_json(row))
    return digest, {"digest": digest, **row}


#: Request ids: a random prefix per process and a counter.
_PROCESS = secrets.token_hex(6)
_REQUESTS = itertools.count(1)


class Point:
    """One request's policy decisions and disclosures (see the module docstring)."""

    def __init__(
        self,
        platform: Platform,
        s: Session,
        asking: Asking,
        now: datetime | None = None,
        read_only: bool = True,
    ) -> None:
        self.platform = platform
        self.read_only = read_only
        self.s = s
        self.asking = asking
        self.now = now or platform.clock()
        self._request_id: str | None = None
        self._sets: dict[Category, ActiveSet] = {}
        self._all: dict[Category, list[Rule]] = {}
        self._usable: dict[Category, list[Rule]] = {}
        self._grants: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
        self._rows: list[dict[str, Any]] = []
        self._persons: dict[tuple[str, str], dict[str, Any]] = {}
        self._decided: dict[Record, Decision] = {}

    @property
    def request_id(self) -> str:
        """Shared by the disclosures of this request: unique per process (a random prefix
        drawn once) and across processes (the prefix), made only when something is disclosed."""
        if self._request_id is None:
            self._request_id = f"{_PROCESS}{next(_REQUESTS):012x}"
        return self._request_id

    @property
    def caller(self) -> Caller:
        return self.asking.caller

    # ------------------------------------------------------------ rules and decisions

    def all_rules(self, category: Category) -> list[Rule]:
        """Active agreements of the categories a read of ``category`` consults that name the
        caller (or its state's customs): which versions are active read once per request."""
        if category not in self._all:
            self._use(active.current(self.s, category))
        return self._all[category]

    def prime(self, category: Category, active_key: str | None) -> None:
        """Take the active versions of ``category`` as read with the record (the key of
        ``service.active_set``) instead of querying them again."""
        if category not in self._all:
            self._use(active.set_for(self.s, category, active_key))

    def assume(self, category: Category) -> str:
        """For a list: take the set this process saw last without asking the database, and
        return its key for the list's query to check (``active.guard``); see ``confirm``."""
        if category not in self._all:
            self._use(active.latest(self.s, category))
        return self._sets[category].key

    def confirm(self, category: Category) -> bool:
        """After a list's query came back short (the guard may have refused its rows): True
        when the assumed set is still the active one; otherwise take the current set (the
        decisions made so far forgotten) and return False — the caller runs the query again."""
        found = active.current(self.s, category)
        if found.key == self._sets[category].key:
            return True
        self._use(found)
        return False

    def _use(self, found: ActiveSet) -> None:
        category = found.category
        self._sets[category] = found
        self._all[category] = for_caller(self.caller, found.rules)
        self._usable.pop(category, None)
        self._decided.clear()

    def rules(self, category: Category) -> list[Rule]:
        """``all_rules`` narrowed by what does not depend on the record: purpose, place, time."""
        if category not in self._usable:
            purpose, where, now = self.asking.purpose, self.asking.where, self.now
            self._usable[category] = [
                r
                for r in self.all_rules(category)
                if purpose in r.purposes
                and where in r.places
                and r.valid_from <= now
                and (r.valid_until is None or now < r.valid_until)
            ]
        return self._usable[category]

    def decide(self, record: Record) -> Decision:
        """``policy.decide`` against this request's rules, memoised per record: the records
        of a list repeat (a handful of declarants, crossings, types and states), and a
        decision is a pure function of the record, the request and the time, which are fixed
        for the request."""
        found = self._decided.get(record)
        if found is None:
            a = self.asking
            # owner, authority and party need no agreement: read them only when they matter
            found = decide(a.caller, a.purpose, a.place, record, (), self.now)
            if not found.allowed and a.purpose is not None:
                rules = self.rules(record.category)
                found = decide(a.caller, a.purpose, a.place, record, rules, self.now)
            self._decided[record] = found
        return found

    def missing_purpose(self, record: Record) -> list[str]:
        """With no purpose declared: the purposes that would have let the caller read it."""
        if self.asking.purpose is not None:
            return []
        rules = self.all_rules(record.category)
        if not rules:
            return []
        return purposes_that_would_allow(self.caller, self.asking.place, record, rules, self.now)

    def require(self, record: Record, what: str) -> Decision:
        """The decision, or 400 (purpose needed) / 404 (nothing allowed) as documented."""
        decision = self.decide(record)
        if decision.allowed:
            return decision
        purposes = self.missing_purpose(record)
        if purposes:
            raise PurposeRequired(purposes)
        raise NotFound(what)

    def decide_or_flag(self, record: Record, flagged: set[str]) -> Decision:
        """For lists: the decision; a record withheld only for want of a purpose adds the
        purposes that would serve it to ``flagged`` (the caller raises ``PurposeRequired``)."""
        decision = self.decide(record)
        if not decision.allowed and self.asking.purpose is None:
            flagged.update(self.missing_purpose(record))
        return decision

    # ------------------------------------------------------------ disclosures

    def _grant(self, category: Category, decision: Decision) -> str:
        key = (category, decision.basis, decision.agreements, decision.fields)
        found = self._grants.get(key)
        if found is None:
            found = self._grants[key] = grant_terms(
                category, decision, self.asking.purpose, self.asking.where
            )
        return found[0]

    def disclose(
        self,
        record: Record,
        record_id: str,
        decision: Decision,
        *shown: Mapping[str, Any] | None,
        channel: str = "read",
    ) -> None:
        """Note that ``record`` was answered as the documents ``shown`` under ``decision``
        (owner and authority reads are not disclosures and are ignored)."""
        if decision.basis not in DISCLOSING or not decision.allowed:
            return
        self._rows.append(
            {
                "at": self.now,
                "request_id": self.request_id,
                "channel": channel,
                "consumer": self.caller.member_id,
                "category": record.category.value,
                "record_id": record_id,
                "owner": record.owner,
                "authority": record.authority,
                "grant": self._grant(record.category, decision),
                "personal": decision.personal,
            }
        )
        origin = record.authority
        if decision.personal_agreements and origin and self.asking.where != origin:
            docs = [doc for doc in shown if doc is not None]
            people = {p for doc in docs for p in persons_in(record.category, doc)}
            for country, number in sorted(people, key=str):
                person = person_digest(self.platform, country, number)
                for agreement_id, _ in decision.personal_agreements:
                    self._persons.setdefault(
                        (agreement_id, person),
                        {
                            "agreement_id": agreement_id,
                            "year": self.now.year,
                            "person": person,
                            "origin": origin,
                            "place": self.asking.where,
                            "first_at": self.now,
                            "first_record": record_id,
                        },
                    )

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> None:
        """Write the collected disclosures in the session's transaction: the grants not yet
        stored, every row in one bulk insert, the persons once per agreement and year."""
        if not self._rows:
            return
        from silkgate.exchange.disclosures.service import store

        grants = [g for _, g in self._grants.values()]
        relaxed = self.read_only and not self.platform.settings.disclosure_sync_commit
        store(self.s, grants, self._rows, list(self._persons.values()), relaxed)
        self._rows, self._persons = [], {}
