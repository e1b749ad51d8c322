"""ODRL 2.2 JSON-LD export and import: the terms survive a round trip; other shapes are named."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from silkgate.core.errors import ValidationFailed
from silkgate.core.platform import Platform
from silkgate.exchange.agreements import odrl, service
from silkgate.exchange.agreements.schemas import AgreementIn
from tests.factories import caller, seeded

START = datetime(2026, 1, 1, tzinfo=UTC)


def terms(ids: dict[str, str]) -> AgreementIn:
    return AgreementIn(
        provider="CN",
        consumers=[ids["kz-service"], ids["kz-carrier"]],
        category="pre_arrival",
        fields=["/id", "/data/goods_items/*/hs_code", "/data/driver"],
        purposes=["transit_guarantee", "customs_control"],
        places=["KZ", "CN"],
        crossings=["KHG-NZH", "ALA-DOS"],
        valid_from=START,
        valid_until=START + timedelta(days=365 * 5),
        condition='declaration_type == "transit" && status != "submitted"',
        personal_data=True,
    )


def comparable(body: AgreementIn) -> dict[str, Any]:
    d = body.model_dump(mode="json", exclude={"agreement_id"})
    return {k: sorted(v) if isinstance(v, list) else v for k, v in d.items()}


def test_round_trip_keeps_every_term(platform: Platform) -> None:
    ids = seeded(platform)
    cn = caller(platform, ids, "cn-customs")
    original = terms(ids)
    a = service.propose(platform, cn, original)
    doc = service.export_odrl(platform, cn, a.agreement_id, a.version)
    assert doc["@type"] == "Agreement" and doc["@context"][0] == odrl.ODRL_CONTEXT
    perm = doc["permission"][0]  # type: ignore[index]
    assert perm["action"] == "use" and perm["target"]["@type"] == "AssetCollection"
    lefts = {c["leftOperand"] for c in perm["constraint"]}
    assert {"purpose", "spatial", "dateTime", "silkgate:crossing", "silkgate:condition"} <= lefts
    back = odrl.parse(doc)
    assert back.agreement_id == a.agreement_id
    assert comparable(back) == comparable(original)
    # importing it proposes it again: as the next version of the same agreement
    service.revoke(platform, cn, a.agreement_id, "replaced by the imported copy")
    again = service.import_odrl(platform, caller(platform, ids, "kz-service"), doc)
    assert again.agreement_id == a.agreement_id and again.version == 2
    assert again.terms_digest != a.terms_digest  # the version is part of the signed terms
    assert {k: v for k, v in again.model_dump().items() if k in comparable(original)} == {
        k: v for k, v in a.model_dump().items() if k in comparable(original)
    }


def test_without_optional_terms(platform: Platform) -> None:
    ids = seeded(platform)
    body = terms(ids).model_copy(
        update={"valid_until": None, "condition": None, "crossings": [], "personal_data": False,
                "fields": ["/id"]}
    )  # fmt: skip
    a = service.propose(platform, caller(platform, ids, "kz-service"), body)
    doc = service.export_odrl(platform, caller(platform, ids, "kz-service"), a.agreement_id)
    assert comparable(odrl.parse(doc)) == comparable(body)


@pytest.mark.parametrize(
    ("mutate", "field", "code"),
    [
        (lambda d: d.update({"@type": "Offer"}), "/@type", "format"),
        (lambda d: d["assigner"].update({"uid": "CN"}), "/assigner/uid", "format"),
        (lambda d: d.pop("assignee"), "/assignee", "required"),
        (lambda d: d["permission"][0].update({"action": "distribute"}), "/permission/0/action",
         "format"),
        (lambda d: d["permission"][0]["constraint"].append(
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 5}),
         "/permission/0/constraint/6", "unsupported_constraint"),
        (lambda d: d["permission"][0]["target"].update({"source": "urn:x"}),
         "/permission/0/target/source", "format"),
    ],
)  # fmt: skip
def test_other_shapes_are_refused_naming_the_place(
    platform: Platform, mutate: Any, field: str, code: str
) -> None:
    ids = seeded(platform)
    cn = caller(platform, ids, "cn-customs")
    a = service.propose(platform, cn, terms(ids))
    doc = copy.deepcopy(service.export_odrl(platform, cn, a.agreement_id))
    mutate(doc)
    with pytest.raises(ValidationFailed) as exc:
        odrl.parse(doc)
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == (field, code)
