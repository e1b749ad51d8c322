"""Selectivity profiles in the database: versions per office and direction, audited.

Every save stores a new version (numbered by the platform; a ``version`` in the body is ignored)
and appends a ``risk.profile_saved`` audit entry whose digest covers the stored profile. The
assessor always uses the latest version; where an office has saved none for a direction, the
built-in default (``records.default_profile``: random selection only) applies.
"""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from silkgate.audit import service as audit
from silkgate.audit.service import AuditEvent
from silkgate.core.errors import FieldError, NotFound, ValidationFailed, pointer
from silkgate.core.platform import Platform
from silkgate.core.signing import canonical_json, sha256_hex
from silkgate.core.validation import field_errors, load_json
from silkgate.registry.service import Caller
from silkgate.risk.platform.models import RiskProfile
from silkgate.risk.platform.offices import offices, require_office
from silkgate.risk.platform.records import default_profile
from silkgate.risk.platform.schemas import ProfileOut, ProfileVersionOut
from silkgate.risk.selectivity.profiles import profile_to_toml
from silkgate.risk.selectivity.schemas import Direction, SelectivityProfile


def _check_office(office: str, direction: str) -> None:
    if office not in offices():
        raise NotFound(f"customs office {office}")
    if direction not in {d.value for d in Direction}:
        raise ValidationFailed(
            [FieldError("/direction", "enum", "direction is import, export or transit")]
        )


def parse_body(raw: bytes | str, as_toml: bool) -> dict[str, Any]:
    """A profile body as a dict, from TOML or JSON; syntax errors become field errors."""
    if not as_toml:
        data = load_json(raw)
    else:
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            data = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                [FieldError(None, "encoding", f"not UTF-8: {exc.reason} at byte {exc.start}")]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationFailed(
                [FieldError(None, "toml_syntax", f"TOML syntax: {exc}")]
            ) from exc
        except RecursionError:
            raise ValidationFailed([FieldError(None, "too_deep", "nested too deeply")]) from None
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError(None, "type", "a profile is an object (table)")])
    return data


def _rule_errors(data: dict[str, Any]) -> list[FieldError]:
    """Each refused rule with its JSON pointer, position and reason."""
    from silkgate.risk.fields import rule_fields
    from silkgate.risk.selectivity.expressions import ExpressionError, compile_rule

    raw_lists = data.get("lists")
    lists = {
        k: v
        for k, v in (raw_lists.items() if isinstance(raw_lists, dict) else [])
        if isinstance(v, list) and all(isinstance(x, str) for x in v)
    }
    extra = data.get("extra_fields")
    extra_fields = tuple(x for x in extra if isinstance(x, str)) if isinstance(extra, list) else ()
    fields = rule_fields(extra_fields)
    errors: list[FieldError] = []
    seen: set[str] = set()
    criteria = data.get("criteria")
    for i, crit in enumerate(criteria if isinstance(criteria, list) else []):
        if not isinstance(crit, dict):
            continue
        name = crit.get("name")
        if isinstance(name, str):
            if name in seen:
                errors.append(
                    FieldError(
                        pointer("criteria", i, "name"), "duplicate", f"{name!r} is defined twice"
                    )
                )
            seen.add(name)
        when = crit.get("when")
        if not isinstance(when, str):
            continue
        try:
            compile_rule(when, fields, lists)
        except ExpressionError as exc:
            errors.append(
                FieldError(
                    pointer("criteria", i, "when"),
                    "rule",
                    f"{exc.reason} at position {exc.position + 1}",
                )
            )
    return errors


def validate_profile_data(data: dict[str, Any], office: str, direction: str) -> SelectivityProfile:
    """Check a profile body for an office and direction; every problem is a field error."""
    errors: list[FieldError] = []
    for key, expected in (("office", office), ("direction", direction)):
        given = data.get(key)
        if given is not None and given != expected:
            errors.append(
                FieldError(f"/{key}", "mismatch", f"this profile is for {key} {expected}")
            )
    data = {**data, "office": office, "direction": direction, "version": 1}
    model = data.get("model")
    if isinstance(model, dict) and model.get("model_id") is not None:
        errors.append(
            FieldError(
                "/model/model_id",
                "not_allowed",
                "the platform uses the office's active model (silkgate risk activate)",
            )
        )
    rule_errors = _rule_errors(data)
    errors += rule_errors
    profile = None
    try:
        profile = SelectivityProfile.model_validate(data)
    except ValidationError as exc:
        for e in field_errors(exc):
            if not e.field and rule_errors:
                continue  # the rule check above already named each refused rule
            errors.append(FieldError(e.field, e.code, e.message.removeprefix("Value error, ")))
    if errors or profile is None:
        raise ValidationFailed(errors, detail="The selectivity profile was refused.")
    return profile


def _out(row: RiskProfile) -> ProfileOut:
    return ProfileOut(
        office=row.office,
        direction=row.direction,
        version=row.version,
        builtin=False,
        created_at=row.created_at,
        created_by=row.created_by,
        digest=row.digest,
        profile=row.data,
    )


def store(platform: Platform, actor: str, profile: SelectivityProfile) -> ProfileOut:
    """Save a validated profile as the next version of its office and direction; audited."""
    office, direction = profile.office, profile.direction.value
    with platform.db.session() as s:
        latest = s.scalar(
            select(func.max(RiskProfile.version)).where(
                RiskProfile.office == office, RiskProfile.direction == direction
            )
        )
        version = (latest or 0) + 1
        data = profile.model_copy(update={"version": version}).model_dump(mode="json")
        digest = sha256_hex(canonical_json(data))
        row = RiskProfile(
            office=office,
            direction=direction,
            version=version,
            data=data,
            digest=digest,
            created_at=platform.clock(),
            created_by=actor,
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            platform.signer,
            [
                AuditEvent(
                    actor,
                    "risk.profile_saved",
                    "risk_profile",
                    f"{office}/{direction}",
                    data,
                    digest,
                )
            ],
        )
        return _out(row)


def save(
    platform: Platform, actor: str, office: str, direction: str, data: dict[str, Any]
) -> ProfileOut:
    """Validate a profile body for an office and direction and store it as a new version."""
    _check_office(office, direction)
    return store(platform, actor, validate_profile_data(data, office, direction))


def get(platform: Platform, office: str, direction: str, version: int | None = None) -> ProfileOut:
    """A stored version (latest by default), or the built-in default if none is saved."""
    _check_office(office, direction)
    with platform.db.session() as s:
        stmt = select(RiskProfile).where(
            RiskProfile.office == office, RiskProfile.direction == direction
        )
        if version is not None:
            stmt = stmt.where(RiskProfile.version == version)
        row = s.scalars(stmt.order_by(RiskProfile.version.desc()).limit(1)).first()
        if row is not None:
            return _out(row)
    if version is not None:
        raise NotFound(f"version {version} of the {office} {direction} profile")
    data = default_profile(office, direction).model_dump(mode="json")
    return ProfileOut(
        office=office,
        direction=direction,
        version=None,
        builtin=True,
        created_at=None,
        created_by=None,
        digest=None,
        profile=data,
    )


def versions(platform: Platform, office: str | None = None) -> list[ProfileVersionOut]:
    """Every stored version, by office, direction and version."""
    stmt = select(RiskProfile).order_by(
        RiskProfile.office, RiskProfile.direction, RiskProfile.version
    )
    if office is not None:
        stmt = stmt.where(RiskProfile.office == office)
    with platform.db.session() as s:
        return [
            ProfileVersionOut(
                office=r.office,
                direction=r.direction,
                version=r.version,
                created_at=r.created_at,
                created_by=r.created_by,
                digest=r.digest,
                criteria=len(r.data.get("criteria") or []),
            )
            for r in s.scalars(stmt)
        ]


def as_toml(out: ProfileOut) -> str:
    """The canonical TOML of a stored (or built-in) profile."""
    return profile_to_toml(SelectivityProfile.model_validate(out.profile))


# --------------------------------------------------------------------------- for API callers


def get_for(
    platform: Platform, caller: Caller, office: str, direction: str, version: int | None = None
) -> ProfileOut:
    require_office(caller, office)
    return get(platform, office, direction, version)


def save_for(
    platform: Platform,
    caller: Caller,
    office: str,
    direction: str,
    raw: bytes,
    as_toml_body: bool,
) -> ProfileOut:
    require_office(caller, office)
    return save(platform, caller.member_id, office, direction, parse_body(raw, as_toml_body))


def versions_for(platform: Platform, caller: Caller, office: str) -> list[ProfileVersionOut]:
    require_office(caller, office)
    return versions(platform, office)
