"""The model registry: artifacts the platform knows, the active model per office, training.

Artifacts live in ``Settings.risk_artifact_dir`` (``$SILKGATE_RISK_ARTIFACTS``, else
``<data_dir>/risk-models``); the ``risk_models`` table records each registered one with the
SHA-256 of its booster, and ``risk_active_models`` names at most one per office. Registering,
activating and deactivating are audited (``risk.model_registered``, ``risk.model_activated``,
``risk.model_deactivated``); the assessor notices a change on its next batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from silkgate.core.platform import Platform
from silkgate.risk.platform.assessor import file_sha256
from silkgate.risk.platform.models import ActiveRiskModel, RiskModelRecord
from silkgate.risk.platform.offices import offices
from silkgate.risk.selectivity.schemas import ModelMetadata


class RegistryEntry(BaseModel):
    """One line of ``silkgate risk models``: an artifact, whether registered, where active."""

    model_id: str
    created_at: str
    trained_for: str | None
    training_rows: int
    training_period: str
    auc: float | None
    precision_at_5: float | None
    precision_at_10: float | None
    path: str
    registered: bool
    artifact_present: bool
    active_for: list[str]


def _summary(meta: ModelMetadata) -> dict[str, Any]:
    rep = meta.validation_report

    def prec(n: float) -> float | None:
        if rep is None:
            return None
        try:
            return rep.at_n(n).precision
        except KeyError:
            return None

    return {
        "created_at": meta.created_at.isoformat(),
        "office": meta.office,
        "mapping": meta.mapping,
        "training_rows": meta.training.rows,
        "training_positives": meta.training.positives,
        "training_period": f"{meta.training.date_from} .. {meta.training.date_to}",
        "auc": rep.auc if rep else None,
        "precision_at_5": prec(5),
        "precision_at_10": prec(10),
    }


def _resolve(platform: Platform, ref: str) -> Path:
    candidate = Path(ref)
    if candidate.is_dir():
        return candidate.resolve()
    under = platform.settings.risk_artifact_dir / ref
    if under.is_dir():
        return under.resolve()
    raise NotFound(f"model {ref} (no directory {ref} and none under {under.parent})")


def _load_metadata(folder: Path) -> ModelMetadata:
    from silkgate.risk.learning.scorer import ArtifactError, RiskModel

    try:
        return RiskModel.load(folder).metadata
    except (ArtifactError, OSError, ValueError) as exc:
        raise ValidationFailed([FieldError("/model", "invalid_artifact", str(exc))]) from exc


def _register(s: Session, platform: Platform, actor: str, folder: Path) -> RiskModelRecord:
    meta = _load_metadata(folder)
    digest = file_sha256(folder / "model.txt")
    found = s.get(RiskModelRecord, meta.model_id)
    if found is not None:
        if found.model_sha256 != digest:
            raise Conflict(
                f"model {meta.model_id} is registered with other content",
                [FieldError("/model", "digest_mismatch", "model.txt differs from the registered")],
            )
        return found
    row = RiskModelRecord(
        model_id=meta.model_id,
        office=meta.office,
        path=str(folder),
        model_sha256=digest,
        summary=_summary(meta),
        registered_at=platform.clock(),
        registered_by=actor,
    )
    s.add(row)
    s.flush()
    payload = {"path": row.path, "model_sha256": digest, "summary": row.summary}
    audit.append(
        s,
        platform.signer,
        [AuditEvent(actor, "risk.model_registered", "risk_model", meta.model_id, payload)],
    )
    return row


def register(platform: Platform, actor: str, ref: str) -> str:
    """Register an artifact (model id under the artifact dir, or a directory); its model id."""
    folder = _resolve(platform, ref)
    with platform.db.session() as s:
        return _register(s, platform, actor, folder).model_id


def activate(platform: Platform, actor: str, ref: str, office: str) -> str:
    """Make a model the office's active one (registering it first if needed); its model id."""
    if office not in offices():
        raise NotFound(f"customs office {office}")
    folder = _resolve(platform, ref)
    with platform.db.session() as s:
        row = _register(s, platform, actor, folder)
        if row.office is not None and row.office != office:
            raise Conflict(
                f"model {row.model_id} was trained for {row.office}, not {office}",
                [FieldError("/office", "wrong_office", f"trained for {row.office}")],
            )
        current = s.get(ActiveRiskModel, office)
        previous = current.model_id if current is not None else None
        now = platform.clock()
        if current is None:
            s.add(
                ActiveRiskModel(
                    office=office, model_id=row.model_id, activated_at=now, activated_by=actor
                )
            )
        else:
            current.model_id, current.activated_at, current.activated_by = row.model_id, now, actor
        s.flush()
        payload = {"model_id": row.model_id, "previous": previous}
        audit.append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "risk.model_activated",
                    "risk_office",
                    office,
                    payload,
                    state={"model_id": row.model_id},
                )
            ],
        )
        return row.model_id


def deactivate(platform: Platform, actor: str, office: str) -> str | None:
    """Stop using a model at the office (lanes from the profile's other stages only)."""
    with platform.db.session() as s:
        current = s.get(ActiveRiskModel, office)
        if current is None:
            raise NotFound(f"active model of {office}")
        previous = current.model_id
        s.delete(current)
        s.flush()
        audit.append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "risk.model_deactivated",
                    "risk_office",
                    office,
                    {"previous": previous},
                    state={"model_id": None},
                )
            ],
        )
        return previous


def entries(platform: Platform) -> list[RegistryEntry]:
    """Registered models and the artifacts in the artifact dir, newest first."""
    from silkgate.risk.learning.service import list_models

    with platform.db.session() as s:
        rows = {r.model_id: r for r in s.scalars(select(RiskModelRecord))}
        active: dict[str, list[str]] = {}
        for a in s.scalars(select(ActiveRiskModel).order_by(ActiveRiskModel.office)):
            active.setdefault(a.model_id, []).append(a.office)
    out: dict[str, RegistryEntry] = {}
    for m in list_models(platform.settings.risk_artifact_dir):
        out[m.model_id] = RegistryEntry(
            model_id=m.model_id,
            created_at=m.created_at,
            trained_for=m.office,
            training_rows=m.training_rows,
            training_period=m.training_period,
            auc=m.auc,
            precision_at_5=m.precision_at_5,
            precision_at_10=m.precision_at_10,
            path=m.path,
            registered=m.model_id in rows,
            artifact_present=True,
            active_for=active.get(m.model_id, []),
        )
    for model_id, r in rows.items():
        if model_id in out:
            continue
        summ = r.summary
        out[model_id] = RegistryEntry(
            model_id=model_id,
            created_at=str(summ.get("created_at", "")),
            trained_for=r.office,
            training_rows=int(summ.get("training_rows", 0)),
            training_period=str(summ.get("training_period", "")),
            auc=summ.get("auc"),
            precision_at_5=summ.get("precision_at_5"),
            precision_at_10=summ.get("precision_at_10"),
            path=r.path,
            registered=True,
            artifact_present=(Path(r.path) / "model.txt").is_file(),
            active_for=active.get(model_id, []),
        )
    return sorted(out.values(), key=lambda e: (e.created_at, e.model_id), reverse=True)


def train_from_platform(
    platform: Platform,
    actor: str,
    office: str | None,
    activate_it: bool = False,
    grid: Sequence[dict[str, Any]] | None = None,
    valid_fraction: float = 0.2,
    num_threads: int = 1,
) -> tuple[ModelMetadata, Path]:
    """Train on the platform's inspected declarations, save and register the artifact."""
    from silkgate.risk.learning.datasets import frame_sha256
    from silkgate.risk.learning.training import TrainingError, TrainOptions, summarise, train_model
    from silkgate.risk.platform.records import PLATFORM_EXTRA_FIELDS
    from silkgate.risk.platform.training_data import labelled_frame

    if office is not None and office not in offices():
        raise NotFound(f"customs office {office}")
    frame = labelled_frame(platform, office)
    where = office or "all offices"
    summary = summarise(frame, f"platform inspection results ({where})", frame_sha256(frame))
    options = TrainOptions(
        valid_fraction=valid_fraction,
        office=office,
        mapping="platform",
        extra_fields=PLATFORM_EXTRA_FIELDS,
        num_threads=num_threads,
        notes=[f"trained on {summary.rows} inspected goods items recorded on the platform"],
    )
    if grid is not None:
        options.grid = list(grid)
    try:
        result = train_model(frame, None, summary, None, options)
    except (TrainingError, ValueError) as exc:
        raise ValidationFailed(
            [
                FieldError(
                    "", "not_enough_data", f"{exc} ({summary.rows} inspected items at {where})"
                )
            ],
            detail="Cannot train a model from the recorded inspection results.",
        ) from exc
    folder = result.model.save(platform.settings.risk_artifact_dir)
    if activate_it and office is not None:
        activate(platform, actor, str(folder), office)
    else:
        register(platform, actor, str(folder))
    return result.model.metadata, folder
