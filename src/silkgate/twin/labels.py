"""Names a planner reads instead of the model's keys ("cn.exit.documents" → "Khorgos (CN)
exit: document control"), shared by the CLI tables and the HTML report."""

from __future__ import annotations

import re

from silkgate.twin.schemas import DIRECTIONS, Scenario

DIRECTION_NAMES = {"cn_to_kz": "China → Kazakhstan", "kz_to_cn": "Kazakhstan → China"}
DIRECTION_SHORT = {"cn_to_kz": "CN → KZ", "kz_to_cn": "KZ → CN"}
KIND_NAMES = {
    "gate_in": "gate in",
    "documents": "document control",
    "weighing": "weighing",
    "scanning": "X-ray scan",
    "inspection": "physical inspection",
    "gate_out": "gate out",
    "release": "release",
}
ROLE_NAMES = {"exit": "exit", "entry": "entry"}


def direction(d: str, short: bool = False) -> str:
    return (DIRECTION_SHORT if short else DIRECTION_NAMES).get(d, d)


def side(sc: Scenario, key: str) -> str:
    spec = sc.sides.get(key)
    return spec.name if spec is not None else key.upper()


def stage(sc: Scenario, name: str) -> str:
    """'kz.exit.gate_in' → 'Nur Zholy (KZ) exit: gate in'."""
    parts = name.split(".")
    if len(parts) == 3 and parts[1] in ROLE_NAMES:
        return f"{side(sc, parts[0])} {parts[1]}: {KIND_NAMES.get(parts[2], parts[2])}"
    if parts[0] == "neutral_zone":
        return "neutral zone"
    return name


def place(sc: Scenario, d: str, key: str) -> str:
    """Where an unreleased truck stands at the end of the run, in words."""
    exit_side = side(sc, DIRECTIONS[d][0]) if d in DIRECTIONS else "the border"
    if key == "equeue":
        return f"waiting for an e-queue slot, away from {exit_side} (roadside or parking)"
    if key == "waiting_area":
        return f"e-queue waiting area before {exit_side}"
    if key == "call_forward":
        return "called forward, driving to the gate"
    kind, _, rest = key.partition(".")
    if rest.startswith("neutral_zone"):
        return "driving through the neutral zone"
    if kind == "queue":
        return f"queue at {stage(sc, rest)}"
    if kind == "service":
        return f"being checked at {stage(sc, rest)}"
    return key


def humanize(sc: Scenario, text: str) -> str:
    """Replace the model's keys inside a sentence (e.g. a bottleneck label) by names."""

    def one(m: re.Match[str]) -> str:
        key = m.group(0)
        d, _, rest = key.partition(".")
        if d in DIRECTIONS and rest == "equeue_booking":
            return "waiting for an e-queue slot, away from the border"
        if d in DIRECTIONS and rest == "waiting_area":
            return "the e-queue waiting area"
        return stage(sc, key)

    return re.sub(r"\b(?:cn|kz)_to_(?:cn|kz)\.\w+|\b(?:cn|kz)\.(?:exit|entry)\.\w+", one, text)
