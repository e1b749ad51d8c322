"""Data categories, purposes and each category's field catalogue (JSON pointers, personal data).

A category's catalogue lists every JSON pointer an agreement may name in the document a reader
gets for that category (``*`` stands for every element of an array). A pointer allows the whole
subtree below it. Pointers marked personal name data about natural persons (drivers): they are
shared only by an agreement that sets ``personal_data``.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from silkgate.registry.schemas import Role

ARRAY = "*"


class Category(StrEnum):
    DECLARATION = "declaration"
    PRE_ARRIVAL = "pre_arrival"
    RISK_LANE = "risk_lane"
    RISK_SCORE = "risk_score"
    INSPECTION_RESULT = "inspection_result"
    BOOKING = "booking"
    GATE_EVENTS = "gate_events"
    TIMELINE = "timeline"
    KPI_AGGREGATES = "kpi_aggregates"


class Purpose(StrEnum):
    CUSTOMS_CONTROL = "customs_control"
    RISK_ANALYSIS = "risk_analysis"
    TRANSIT_GUARANTEE = "transit_guarantee"
    STATISTICS = "statistics"
    QUEUE_MANAGEMENT = "queue_management"


@dataclass(frozen=True)
class CategorySpec:
    """What the platform knows about a category: its document's pointers and who holds it.

    ``authority_roles``: roles of the organizations of the member state the data is lodged
    with that read it in full by law (no agreement needed), at the crossings they serve.
    ``includes``: agreements of these categories also apply to reads of this one (a
    declaration read by the other side is pre-arrival information).
    """

    category: Category
    pointers: frozenset[str]
    personal: frozenset[str]
    authority_roles: frozenset[str]
    includes: tuple[Category, ...] = ()
    document: str = ""

    @cached_property
    def scope(self) -> frozenset[str]:
        """The categories whose agreements a read of this one consults."""
        return frozenset((self.category, *self.includes))


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is not None and getattr(annotation, "__metadata__", None) is not None:
        return _unwrap(get_args(annotation)[0])  # Annotated[...]
    return annotation


def _walk(annotation: Any, prefix: str, out: set[str]) -> None:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            out.add(f"{prefix}/{name}")
            _walk(info.annotation, f"{prefix}/{name}", out)
    elif origin in (list, tuple):
        args = get_args(annotation)
        out.add(f"{prefix}/{ARRAY}")
        if args:
            _walk(args[0], f"{prefix}/{ARRAY}", out)


def pointers_of(model: type[BaseModel], extra: Iterable[str] = ()) -> frozenset[str]:
    """Every pointer into a document of ``model`` (free-form dicts are one leaf), plus ``extra``."""
    out: set[str] = set()
    _walk(model, "", out)
    for p in extra:
        parts = p.split("/")
        out.update("/".join(parts[:i]) for i in range(2, len(parts) + 1))
    return frozenset(out)


def _under(pointers: frozenset[str], *roots: str) -> frozenset[str]:
    return frozenset(p for p in pointers if any(p == r or p.startswith(r + "/") for r in roots))


@cache
def catalogue() -> dict[Category, CategorySpec]:
    """The field catalogue of every category (built from the API shapes of each domain)."""
    from silkgate.declarations.schemas import DeclarationIn, DeclarationOut
    from silkgate.gates.schemas import GateEventIn, Timeline
    from silkgate.queue.schemas import BookingOut, DriverIn, Truck
    from silkgate.risk.platform.schemas import AssessmentOut, InspectionOut

    customs = frozenset({Role.CUSTOMS.value})
    officials = frozenset({Role.CUSTOMS.value, Role.E_PORT.value})

    decl = pointers_of(DeclarationOut) | {"/data" + p for p in pointers_of(DeclarationIn)}
    decl_personal = _under(decl, "/data/driver")
    assessment = pointers_of(AssessmentOut)
    ids = ("/declaration_id", "/version", "/office", "/direction", "/assessed_at")
    lane = _under(assessment, *ids, "/lane", "/assessed_lane", "/source", "/override")
    score = _under(
        assessment,
        *ids,
        "/score",
        "/model_id",
        "/profile_version",
        "/fired",
        "/explanation",
        "/reasons",
    )
    booking = pointers_of(
        BookingOut,
        [f"/truck/{f}" for f in Truck.model_fields]
        + [f"/driver/{f}" for f in DriverIn.model_fields],
    )
    gate = pointers_of(GateEventIn, ["/event_id", "/reporter", "/recordTime"])
    kpi = frozenset(
        {
            "/crossing",
            "/target_h",
            "/as_of",
            "/passages",
            "/released",
            "/refused",
            "/overall",
            "/splits",
            "/unreleased",
        }
    )
    specs = [
        CategorySpec(
            Category.DECLARATION,
            decl,
            decl_personal,
            customs,
            (Category.PRE_ARRIVAL,),
            "DeclarationOut: the envelope and /data (the lodged declaration)",
        ),
        CategorySpec(
            Category.PRE_ARRIVAL,
            decl,
            decl_personal,
            customs,
            document="DeclarationOut read as pre-arrival information by the other side",
        ),
        CategorySpec(Category.RISK_LANE, lane, frozenset(), customs, document="AssessmentOut"),
        CategorySpec(Category.RISK_SCORE, score, frozenset(), customs, document="AssessmentOut"),
        CategorySpec(
            Category.INSPECTION_RESULT,
            pointers_of(InspectionOut),
            frozenset(),
            customs,
            document="InspectionOut",
        ),
        CategorySpec(
            Category.BOOKING,
            booking,
            _under(booking, "/driver"),
            officials,
            document="BookingOut",
        ),
        CategorySpec(
            Category.GATE_EVENTS,
            gate,
            frozenset(),
            officials,
            document="a stored gate event (EPCIS-shaped, GateEventIn plus id and reporter)",
        ),
        CategorySpec(
            Category.TIMELINE, pointers_of(Timeline), frozenset(), customs, document="Timeline"
        ),
        CategorySpec(Category.KPI_AGGREGATES, kpi, frozenset(), officials, document="TRS report"),
    ]
    return {s.category: s for s in specs}


def spec(category: Category | str) -> CategorySpec:
    """The spec of a category (a plain string finds it too: categories are string enums)."""
    return catalogue()[category]  # type: ignore[index]
