"""ODRL 2.2 JSON-LD form of an agreement, for dataspace connectors (Eclipse EDC) to read.

Shape (``odrl:Agreement``): ``assigner`` the provider, ``assignee`` the consumers (parties as
``urn:silkgate:party:<member id or alpha-2>``), one ``permission`` with action ``use`` on the
category as an ``AssetCollection`` whose ``refinement`` lists the allowed fields, and
constraints: ``purpose`` (isAnyOf), ``spatial`` (isAnyOf, ISO 3166 alpha-2), ``dateTime``
(gteq valid_from, lt valid_until), ``silkgate:crossing`` (isAnyOf) and ``silkgate:condition``
(eq, a CEL expression). ``silkgate:personalData`` says whether personal fields are named.
Importing reads this shape back into a proposal; anything else is refused naming its place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from silkgate.core.errors import FieldError, ValidationFailed
from silkgate.core.validation import field_errors
from silkgate.exchange.agreements.schemas import AgreementIn, AgreementOut

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
SILKGATE_NS = "https://silkgate.org/ns/exchange#"
CONTEXT: list[Any] = [
    ODRL_CONTEXT,
    {"silkgate": SILKGATE_NS, "xsd": "http://www.w3.org/2001/XMLSchema#"},
]
PARTY = "urn:silkgate:party:"
AGREEMENT = "urn:silkgate:agreement:"
CATEGORY = "urn:silkgate:category:"
MEDIA_TYPE = "application/ld+json"


def _dt(value: datetime) -> dict[str, str]:
    return {"@value": value.strftime("%Y-%m-%dT%H:%M:%SZ"), "@type": "xsd:dateTime"}


def _any_of(left: str, values: list[str]) -> dict[str, Any]:
    return {"leftOperand": left, "operator": "isAnyOf", "rightOperand": values}


def export(a: AgreementOut) -> dict[str, Any]:
    """The ODRL 2.2 Agreement of one version."""
    constraints = [
        _any_of("purpose", a.purposes),
        _any_of("spatial", a.places),
        {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": _dt(a.valid_from)},
    ]
    if a.valid_until is not None:
        constraints.append(
            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": _dt(a.valid_until)}
        )
    if a.crossings:
        constraints.append(_any_of("silkgate:crossing", a.crossings))
    if a.condition is not None:
        constraints.append(
            {
                "leftOperand": "silkgate:condition",
                "operator": "eq",
                "rightOperand": {"@value": a.condition, "@type": "silkgate:cel"},
            }
        )
    return {
        "@context": CONTEXT,
        "@type": "Agreement",
        "uid": f"{AGREEMENT}{a.agreement_id}:{a.version}",
        "assigner": {"@type": "Party", "uid": PARTY + a.provider},
        "assignee": [{"@type": "Party", "uid": PARTY + c} for c in a.consumers],
        "silkgate:personalData": a.personal_data,
        "silkgate:termsDigest": a.terms_digest,
        "permission": [
            {
                "action": "use",
                "target": {
                    "@type": "AssetCollection",
                    "source": CATEGORY + a.category.value,
                    "refinement": [_any_of("silkgate:field", a.fields)],
                },
                "constraint": constraints,
            }
        ],
    }


class _Reader:
    """Reads the exported shape, collecting errors as JSON pointers into the document."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, where: str, code: str, message: str) -> None:
        self.errors.append(FieldError(where, code, message))

    def get(self, obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
        value = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(value, kind):
            self.fail(f"{where}/{key}", "required", f"expected {key} here")
            return None
        return value

    def party(self, obj: Any, where: str) -> str | None:
        uid = self.get(obj, "uid", where, str)
        if uid is None:
            return None
        if not uid.startswith(PARTY):
            self.fail(f"{where}/uid", "format", f"a party uid starts with {PARTY}")
            return None
        return uid[len(PARTY) :]


def parse(doc: Any) -> AgreementIn:
    """A proposal from an ODRL Agreement in the exported shape (422 naming what is wrong)."""
    r = _Reader()
    if not isinstance(doc, dict) or doc.get("@type") not in ("Agreement", "odrl:Agreement"):
        raise ValidationFailed([FieldError("/@type", "format", "expected an ODRL Agreement")])
    body: dict[str, Any] = {}
    uid = r.get(doc, "uid", "", str)
    if uid is not None and uid.startswith(AGREEMENT) and ":" in uid[len(AGREEMENT) :]:
        body["agreement_id"] = uid[len(AGREEMENT) :].rsplit(":", 1)[0]
    elif uid is not None:
        r.fail("/uid", "format", f"expected {AGREEMENT}<id>:<version>")
    body["provider"] = r.party(doc.get("assigner"), "/assigner")
    assignees = r.get(doc, "assignee", "", list) or []
    body["consumers"] = [r.party(a, f"/assignee/{i}") for i, a in enumerate(assignees)]
    body["personal_data"] = doc.get("silkgate:personalData", False)
    perms = r.get(doc, "permission", "", list) or [None]
    if len(perms) != 1:
        r.fail("/permission", "format", "expected exactly one permission")
    perm = perms[0]
    if isinstance(perm, dict) and perm.get("action") not in ("use", "odrl:use"):
        r.fail("/permission/0/action", "format", 'expected action "use"')
    target = r.get(perm, "target", "/permission/0", dict) or {}
    source = r.get(target, "source", "/permission/0/target", str) or ""
    if source and not source.startswith(CATEGORY):
        r.fail("/permission/0/target/source", "format", f"expected {CATEGORY}<category>")
    body["category"] = source[len(CATEGORY) :]
    refinement = r.get(target, "refinement", "/permission/0/target", list) or []
    body["fields"] = next(
        (
            c.get("rightOperand")
            for c in refinement
            if isinstance(c, dict) and c.get("leftOperand") == "silkgate:field"
        ),
        [],
    )
    constraints = r.get(perm, "constraint", "/permission/0", list) or []
    for i, c in enumerate(constraints):
        _constraint(r, c, f"/permission/0/constraint/{i}", body)
    if r.errors:
        raise ValidationFailed(r.errors, "The ODRL document is not a Silkgate agreement.")
    try:
        return AgreementIn.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc), "The agreement is not valid.") from exc


def _constraint(r: _Reader, c: Any, where: str, body: dict[str, Any]) -> None:
    if not isinstance(c, dict):
        r.fail(where, "format", "expected a constraint object")
        return
    left, op, right = c.get("leftOperand"), c.get("operator"), c.get("rightOperand")
    value = right.get("@value") if isinstance(right, dict) else right
    known = {
        ("purpose", "isAnyOf"): "purposes",
        ("spatial", "isAnyOf"): "places",
        ("silkgate:crossing", "isAnyOf"): "crossings",
        ("dateTime", "gteq"): "valid_from",
        ("dateTime", "lt"): "valid_until",
        ("silkgate:condition", "eq"): "condition",
    }
    name = known.get((str(left), str(op)))
    if name is None:
        r.fail(where, "unsupported_constraint", f"{left} {op} is not a Silkgate term")
    elif name in body:
        r.fail(where, "duplicate", f"{left} {op} appears twice")
    else:
        body[name] = value
