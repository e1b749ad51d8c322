"""Group commit: concurrent lodgings share one transaction and one audit-chain append.

Every lodging needs the audit chain's head, so appends are serialised; committing each
declaration on its own would serialise one disk flush per declaration. The committer thread
takes whatever requests are waiting, stores them together and answers each one separately —
a duplicate LRN or a reused Idempotency-Key fails only its own request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import DBAPIError

from silkgate.audit import service as audit
from silkgate.core.db import table_of
from silkgate.core.errors import FieldError, SilkgateError, ValidationFailed
from silkgate.declarations.models import Declaration, DeclarationVersion, GoodsItem, IdempotencyKey
from silkgate.declarations.schemas import DeclarationOut

if TYPE_CHECKING:
    from silkgate.core.platform import Platform
    from silkgate.declarations.service import Prepared
    from silkgate.registry.service import Caller

Outcome = tuple[DeclarationOut, bool] | SilkgateError


@dataclass
class Lodging:
    """One request to store a prepared declaration."""

    caller: Caller
    prepared: Prepared
    idempotency_key: str | None = None


def key_reused() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldError(
                "/headers/idempotency-key",
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body",
            )
        ],
        detail="Idempotency-Key reuse with a different request",
    )


def store_group(platform: Platform, group: list[Lodging]) -> list[Outcome]:
    """Store a group in one transaction; each entry gets its own outcome."""
    from silkgate.declarations import service as svc

    now = datetime.now(UTC)
    auto = platform.settings.auto_accept
    outcomes: list[Outcome | None] = [None] * len(group)
    with platform.db.session() as s:
        keyed = {(g.caller.id, g.idempotency_key) for g in group if g.idempotency_key}
        known_keys: dict[tuple[int, str], tuple[str, str]] = {}
        for chunk in _chunks(sorted(keyed)):
            stmt = select(IdempotencyKey).where(
                tuple_(IdempotencyKey.organization_id, IdempotencyKey.key).in_(chunk)
            )
            known_keys.update(
                {
                    (r.organization_id, r.key): (r.request_digest, r.declaration_id)
                    for r in s.scalars(stmt)
                }
            )
        lrns = sorted({(g.caller.id, g.prepared.body.lrn) for g in group})
        taken: set[tuple[int, str]] = set()
        for chunk in _chunks(lrns):
            stmt2 = select(Declaration.declarant_org_id, Declaration.lrn).where(
                tuple_(Declaration.declarant_org_id, Declaration.lrn).in_(chunk)
            )
            taken.update((r[0], r[1]) for r in s.execute(stmt2))
        decls, vers, items, idem, events = [], [], [], [], []
        new_rows: dict[str, dict[str, object]] = {}
        replay_ids: dict[int, str] = {}
        for i, g in enumerate(group):
            p, who = g.prepared, g.caller
            if g.idempotency_key:
                seen = known_keys.get((who.id, g.idempotency_key))
                if seen is not None:
                    if seen[0] != p.digest:
                        outcomes[i] = key_reused()
                    else:
                        replay_ids[i] = seen[1]
                    continue
            if (who.id, p.body.lrn) in taken:
                outcomes[i] = svc.duplicate_lrn(p.body.lrn)
                continue
            decl_id = svc.new_declaration_id()
            d, v, it = svc.rows_for(p, who, decl_id, 1, now)
            if auto:
                d["status"] = svc.S.ACCEPTED.value
            decls.append(d)
            vers.append(v)
            items.extend(it)
            if g.idempotency_key:
                idem.append(
                    {
                        "organization_id": who.id,
                        "key": g.idempotency_key,
                        "request_digest": p.digest,
                        "declaration_id": decl_id,
                        "created_at": now,
                    }
                )
                known_keys[(who.id, g.idempotency_key)] = (p.digest, decl_id)
            taken.add((who.id, p.body.lrn))
            events.extend(svc.lodging_events(who, decl_id, p, "declaration.submitted", auto))
            new_rows[decl_id] = d
            outcomes[i] = (svc.out_from_row(d), True)
        if decls:
            # Core inserts (executemany): the ORM unit of work costs more than the database here.
            s.execute(insert(table_of(Declaration)), decls)
            s.execute(insert(table_of(DeclarationVersion)), vers)
            s.execute(insert(table_of(GoodsItem)), items)
            if idem:
                s.execute(insert(table_of(IdempotencyKey)), idem)
            audit.append(s, platform.signer, events)
        for i, decl_id in replay_ids.items():
            row = new_rows.get(decl_id)
            if row is not None:
                outcomes[i] = (svc.out_from_row(row), False)
                continue
            decl = s.get(Declaration, decl_id)
            assert decl is not None
            outcomes[i] = (svc.view_out(platform, group[i].caller, decl, svc.View.FULL), False)
    return [o for o in outcomes if o is not None]


def _chunks(values: list[tuple[int, str]], size: int = 400) -> list[list[tuple[int, str]]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class GroupCommitter:
    """A thread that stores waiting lodgings together; ``submit`` blocks until its own outcome."""

    def __init__(self, platform: Platform, max_group: int = 256) -> None:
        self.platform = platform
        self.max_group = max_group
        self._queue: queue.Queue[tuple[Lodging, Future[tuple[DeclarationOut, bool]]] | None] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, lodging: Lodging) -> tuple[DeclarationOut, bool]:
        """Queue a lodging and wait for its outcome (from a worker thread)."""
        return self.enqueue(lodging).result()

    def enqueue(self, lodging: Lodging) -> Future[tuple[DeclarationOut, bool]]:
        """Queue a lodging; the future settles when its group has committed (for async callers)."""
        self._ensure_started()
        future: Future[tuple[DeclarationOut, bool]] = Future()
        self._queue.put((lodging, future))
        return future

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="silkgate-group-commit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            while len(pending) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                pending.append(nxt)
            self._settle(pending)

    def _settle(self, pending: list[tuple[Lodging, Future[tuple[DeclarationOut, bool]]]]) -> None:
        from silkgate.declarations import service as svc

        try:
            outcomes = store_group(self.platform, [lodging for lodging, _ in pending])
        except DBAPIError:
            # Another process stored a clashing row first: settle one by one, each in its own
            # transaction, so only the clashing request fails.
            outcomes = []
            for lodging, _ in pending:
                try:
                    outcomes.append(svc.store_single(self.platform, lodging))
                except SilkgateError as exc:
                    outcomes.append(exc)
        except Exception as exc:  # settle every waiter, then let the error show in the log
            for _, future in pending:
                future.set_exception(exc)
            return
        for (_, future), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, SilkgateError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


async def lodge(
    platform: Platform, caller: Caller, data: bytes, idempotency_key: str | None
) -> tuple[DeclarationOut, bool]:
    """``service.create`` for the event loop: parse inline, store through the group committer.

    Waiting on the committer's future instead of a worker thread saves a thread hop per request.
    """
    from starlette.concurrency import run_in_threadpool

    from silkgate.declarations import service as svc

    committer = platform.group_committer
    if committer is None:
        return await run_in_threadpool(svc.create, platform, caller, data, idempotency_key)
    svc.require_declarant(caller)
    lodging = Lodging(caller, svc.prepare(data), idempotency_key)
    return await asyncio.wrap_future(committer.enqueue(lodging))
