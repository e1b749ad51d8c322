"""The assessor: every accepted declaration gets a lane, score and reasons, stored and audited.

Lodging stays free of model work (it is the ingest hot path); a worker (``worker.py``) picks
up accepted, not-yet-assessed declarations in batches instead. Each batch is one transaction:
the rows are locked (PostgreSQL ``FOR UPDATE SKIP LOCKED``, so several processes share the work
and never take the same declaration; SQLite's write lock serialises them), assessed, stored in
``risk_assessments``, the declaration's lane set and its status moved to ``risk_assessed``, and
one audit entry appended per declaration — all or nothing.

Lanes use the engine's one-at-a-time path (``RiskEngine.assess``: score thresholds from the
office's live scores, see ``live_thresholds.py``; daily capacity counted from stored
assessments), so a lane does not depend on which declarations arrived in the same batch.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.core.db import table_of
from silkgate.declarations.models import Declaration
from silkgate.declarations.schemas import DeclarationStatus
from silkgate.risk.platform import live_thresholds as live
from silkgate.risk.platform.models import (
    ActiveRiskModel,
    RiskAssessment,
    RiskModelRecord,
    RiskProfile,
)
from silkgate.risk.platform.offices import office_for
from silkgate.risk.platform.records import Combined, combine, default_profile, item_records
from silkgate.risk.selectivity.schemas import Assessment, Lane, SelectivityProfile

if TYPE_CHECKING:
    from silkgate.core.platform import Platform
    from silkgate.risk.learning.scorer import RiskModel
    from silkgate.risk.selectivity.engine import RiskEngine

log = logging.getLogger("silkgate.risk")
ACTOR = "platform"
#: Target duration of one batch's transaction (its size adapts to the measured cost).
BATCH_SECONDS = 0.15
MODEL_SOURCES = ("model", "exploration")
Key = tuple[str, str]  # (office, direction)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (the registry keeps the booster's, to notice a replaced artifact)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def assessment_payload(row: RiskAssessment | dict[str, Any]) -> dict[str, Any]:
    """What the ``declaration.risk_assessed`` audit entry's digest covers (from the stored row)."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {
        "version": get("version"),
        "office": get("office"),
        "direction": get("direction"),
        "lane": get("lane"),
        "source": get("source"),
        "score": get("score"),
        "model_id": get("model_id"),
        "profile_version": get("profile_version"),
        "fired": get("fired"),
        "explanation": get("explanation"),
        "reasons": get("reasons"),
        "to": DeclarationStatus.RISK_ASSESSED.value,
    }


@dataclass
class _Engine:
    profile_version: int | None  # None: the built-in default profile
    model_id: str | None
    engine: RiskEngine
    notes: list[str] = field(default_factory=list)
    applied_version: int | None = None  # the version used (None: the built-in default)
    refreshed: float = -math.inf  # monotonic time the thresholds were last recomputed


def _explain_deciding_item(engine: Any, records: list[Any], items: list[Assessment]) -> None:
    """Explain the item whose model selection decided the lane when it is not the one
    explained beforehand (only each declaration's highest-scored item is, and the day's
    capacity can give the lane to another): the stored reasons say why it was selected."""
    from silkgate.risk.selectivity.engine import model_reason

    worst = max(range(len(items)), key=lambda i: (items[i].lane.severity, -i))
    item = items[worst]
    if item.source != "model" or item.explanation or engine.model is None:
        return
    _, why = engine.model.explain(records[worst], engine.explain_top)
    line = model_reason(why)
    items[worst] = item.model_copy(
        update={"explanation": why, "reasons": [*item.reasons, *([line] if line else [])]}
    )


class Assessor:
    """Assesses pending declarations; caches engines and models between batches."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._engines: dict[Key, _Engine] = {}
        self._models: dict[str, RiskModel | str] = {}  # a string is why it could not load
        self._lock = threading.Lock()
        self._per_declaration = 0.0  # seconds per declaration in recent batches

    # ------------------------------------------------------------------ engines and models
    def _model(self, record: RiskModelRecord) -> RiskModel | str:
        cached = self._models.get(record.model_id)
        if cached is not None:
            return cached
        from silkgate.risk.learning.scorer import ArtifactError, RiskModel

        loaded: RiskModel | str
        try:
            folder = Path(record.path)
            if file_sha256(folder / "model.txt") != record.model_sha256:
                raise ArtifactError("model.txt does not match the registered digest")
            loaded = RiskModel.load(folder)
        except (OSError, ValueError) as exc:
            log.error("risk model %s cannot be used: %s", record.model_id, exc)
            loaded = f"model {record.model_id} cannot be used ({exc})"
        self._models[record.model_id] = loaded
        return loaded

    def _engines_for(self, s: Session, keys: set[Key]) -> dict[Key, _Engine]:
        from silkgate.risk.selectivity.engine import RiskEngine

        offices = sorted({o for o, _ in keys})
        latest = {
            (o, d): v
            for o, d, v in s.execute(
                select(RiskProfile.office, RiskProfile.direction, func.max(RiskProfile.version))
                .where(RiskProfile.office.in_(offices))
                .group_by(RiskProfile.office, RiskProfile.direction)
            )
        }
        active = {
            a.office: r
            for a, r in s.execute(
                select(ActiveRiskModel, RiskModelRecord)
                .join(RiskModelRecord, RiskModelRecord.model_id == ActiveRiskModel.model_id)
                .where(ActiveRiskModel.office.in_(offices))
            )
        }
        out: dict[Key, _Engine] = {}
        for key in keys:
            version = latest.get(key)
            record = active.get(key[0])
            model_id = record.model_id if record is not None else None
            cached = self._engines.get(key)
            if cached and (cached.profile_version, cached.model_id) == (version, model_id):
                self._refresh_thresholds(s, key, cached)
                out[key] = cached
                continue
            profile, notes = self._profile(s, key, version)
            applied = version if not notes else None
            model = None
            if record is not None and profile.model.enabled:
                loaded = self._model(record)
                if isinstance(loaded, str):
                    notes.append(f"{loaded}: lane from criteria and random selection only")
                else:
                    model = loaded
            built = _Engine(version, model_id, RiskEngine(profile, model), notes, applied)
            self._refresh_thresholds(s, key, built)
            self._engines[key] = out[key] = built
        return out

    def _refresh_thresholds(self, s: Session, key: Key, built: _Engine) -> None:
        """Recompute the model's score thresholds from live traffic (``live_thresholds``)."""
        engine = built.engine
        if engine.model is None or monotonic() - built.refreshed < live.REFRESH_SECONDS:
            return
        built.refreshed = monotonic()
        thresholds = live.thresholds(
            s, key, built.model_id, engine.model, engine.profile.model, self.platform.clock().date()
        )
        if thresholds is not None:
            engine.thresholds = thresholds

    def _profile(
        self, s: Session, key: Key, version: int | None
    ) -> tuple[SelectivityProfile, list[str]]:
        """The profile to apply, and notes for the reasons if it is not the stored one."""
        if version is None:
            return default_profile(*key), []
        data = s.scalar(
            select(RiskProfile.data).where(
                RiskProfile.office == key[0],
                RiskProfile.direction == key[1],
                RiskProfile.version == version,
            )
        )
        try:
            return SelectivityProfile.model_validate(data), []
        except ValueError as exc:  # stored by an older version of the code, say
            log.error("profile %s/%s v%s cannot be read: %s", *key, version, exc)
            note = f"profile version {version} cannot be read: built-in default applied"
            return default_profile(*key), [note]

    def _capacity_used(self, s: Session, key: Key, day: date) -> dict[Lane, int]:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        rows = s.execute(
            select(RiskAssessment.lane, func.count())
            .where(
                RiskAssessment.office == key[0],
                RiskAssessment.direction == key[1],
                RiskAssessment.assessed_at >= start,
                RiskAssessment.source.in_(MODEL_SOURCES),
            )
            .group_by(RiskAssessment.lane)
        )
        return {Lane(lane): int(n) for lane, n in rows}

    # ------------------------------------------------------------------ one batch
    def run_once(self, limit: int) -> int:
        """Assess up to ``limit`` pending declarations in one transaction; return how many."""
        with self._lock:
            started = monotonic()
            with self.platform.db.session() as s:
                n = self._batch(s, limit)
            if n >= 10:
                per = (monotonic() - started) / n
                self._per_declaration = 0.5 * self._per_declaration + 0.5 * per
            return n

    def batch_size(self, most: int) -> int:
        """How many to take next so a batch holds its locks for about ``BATCH_SECONDS``
        (SQLite's write lock blocks lodgings meanwhile); between 20 and ``most``."""
        return max(20, min(most, int(BATCH_SECONDS / max(self._per_declaration, 1e-6))))

    def _batch(self, s: Session, limit: int) -> int:
        d = Declaration
        rows = s.execute(
            select(
                d.id,
                d.version,
                d.type,
                d.crossing_code,
                d.exit_country,
                d.entry_country,
                d.declarant,
                d.payload,
            )
            .where(d.status == DeclarationStatus.ACCEPTED.value)
            .order_by(d.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        now = self.platform.clock()
        today = now.date()
        keyed = []
        for r in rows:
            lodged = r.entry_country if r.type == "import" else r.exit_country
            keyed.append(((office_for(r.crossing_code, lodged), r.type), r))
        engines = self._engines_for(s, {k for k, _ in keyed})
        done = self._already_assessed(s, [(r.id, r.version) for r in rows])
        used = {
            key: self._capacity_used(s, key, today)
            for key, e in engines.items()
            if e.engine.profile.model.daily_capacity and e.engine.model is not None
        }
        new_rows: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        events: list[AuditEvent] = []
        todo = []
        for key, r in keyed:
            previous = done.get((r.id, r.version))
            if previous is not None:  # assessed before (should not happen): settle the status
                updates.append({"b_id": r.id, "b_lane": previous.override_lane or previous.lane})
                continue
            todo.append((key, r, item_records(r.id, r.payload, r.declarant, *key, today)))
        scored = self._score(engines, todo)
        for (key, r, records), item_scores in zip(todo, scored, strict=True):
            built = engines[key]
            result = self._assess(built, records, item_scores, today, used.get(key))
            row = {
                "declaration_id": r.id,
                "version": r.version,
                "office": key[0],
                "direction": key[1],
                "lane": result.lane.value,
                "source": result.source,
                "score": result.score,
                "model_id": result.model_id,
                "profile_version": built.applied_version,
                "fired": result.fired,
                "explanation": result.explanation,
                "reasons": result.reasons,
                "assessed_at": now,
            }
            new_rows.append(row)
            updates.append({"b_id": r.id, "b_lane": result.lane.value})
            events.append(
                AuditEvent(
                    ACTOR, "declaration.risk_assessed", "declaration", r.id, assessment_payload(row)
                )
            )
        if new_rows:
            s.execute(insert(table_of(RiskAssessment)), new_rows)
        table = table_of(Declaration)
        s.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                status=DeclarationStatus.RISK_ASSESSED.value,
                lane=bindparam("b_lane"),
                updated_at=now,
            ),
            updates,
        )
        events.extend(self._published(s, keyed, new_rows, now))
        audit.append(s, self.platform.signer, events)
        return len(rows)

    def _published(
        self, s: Session, keyed: list[Any], new_rows: list[dict[str, Any]], now: datetime
    ) -> list[AuditEvent]:
        """Outbox messages for category subscribers: each new assessment (lane and score),
        and each declaration's new state (risk assessed)."""
        from types import SimpleNamespace

        from silkgate.exchange import publish as pub
        from silkgate.risk.platform.service import assessment_out

        facts = []
        if new_rows and pub.wanted(s, *pub.RISK_CATEGORIES):
            by_id = {r.id: r for _, r in keyed}
            for row in new_rows:
                r = by_id[row["declaration_id"]]
                d = SimpleNamespace(**r._asdict(), status=DeclarationStatus.RISK_ASSESSED.value)
                doc = assessment_out(RiskAssessment(**row)).model_dump(mode="json")
                facts.append(pub.risk_fact(d, doc))
        if pub.wanted(s, *pub.DECLARATION_CATEGORIES):
            from silkgate.declarations.lodging import OUT_COLUMNS, out_from_row

            ids = [r.id for _, r in keyed]
            for decl in s.scalars(select(Declaration).where(Declaration.id.in_(ids))):
                out = out_from_row({c: getattr(decl, c) for c in OUT_COLUMNS})
                facts.append(pub.declaration_fact(decl, out.model_dump(mode="json")))
        return pub.publish(s, self.platform, facts, ACTOR, now)

    @staticmethod
    def _score(engines: dict[Key, _Engine], todo: list[Any]) -> list[list[Any]]:
        """Every item's model score, and the top reasons of each declaration's highest-scored
        item (the only explanation ``combine`` keeps): one ``predict`` over all items and one
        ``pred_contrib`` over one item per declaration, per engine."""
        from silkgate.risk.learning.datasets import records_to_frame

        out: list[list[Any]] = [[None] * len(records) for _, _, records in todo]
        by_key: dict[Key, list[int]] = {}
        for i, (key, _, _) in enumerate(todo):
            by_key.setdefault(key, []).append(i)
        for key, positions in by_key.items():
            engine = engines[key].engine
            model = engine.model
            if model is None or not engine.profile.model.enabled:
                continue
            flat = [rec for i in positions for rec in todo[i][2]]
            scores = iter(model.score_frame(records_to_frame(flat, model.builder.extra_fields)))
            tops: list[tuple[int, int]] = []
            for i in positions:
                item_scores = [float(next(scores)) for _ in todo[i][2]]
                out[i] = [(sc, []) for sc in item_scores]
                tops.append((i, max(range(len(item_scores)), key=item_scores.__getitem__)))
            reasons = model.explain_many([todo[i][2][n] for i, n in tops], engine.explain_top)
            for (i, n), (_, why) in zip(tops, reasons, strict=True):
                out[i][n] = (out[i][n][0], why)
        return out

    @staticmethod
    def _assess(
        built: _Engine,
        records: list[Any],
        scored: list[Any],
        today: date,
        used: dict[Lane, int] | None,
    ) -> Combined:
        from silkgate.risk.selectivity.selection import CapacityLedger

        engine = built.engine
        # Items of one declaration draw against a scratch copy of the day's counts, so a
        # declaration selected by the model counts once, whatever its number of items.
        scratch = CapacityLedger()
        for lane, n in (used or {}).items():
            scratch.counts[(today, lane)] = n
        engine.ledger = scratch
        items = [engine.assess(rec, scored=sc) for rec, sc in zip(records, scored, strict=True)]
        _explain_deciding_item(engine, records, items)
        result = combine(items, built.notes)
        if used is not None and result.source in MODEL_SOURCES:
            used[result.lane] = used.get(result.lane, 0) + 1
        return result

    def _already_assessed(
        self, s: Session, pairs: list[tuple[str, int]]
    ) -> dict[tuple[str, int], RiskAssessment]:
        ids = [p[0] for p in pairs]
        found = s.scalars(select(RiskAssessment).where(RiskAssessment.declaration_id.in_(ids)))
        wanted = set(pairs)
        return {
            (a.declaration_id, a.version): a
            for a in found
            if (a.declaration_id, a.version) in wanted
        }
