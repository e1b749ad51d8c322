"""Gate events carry Chinese plates as bookings store them, so a Chinese truck's events reach
its booking; a plate of another country stays Latin capitals and digits."""

from __future__ import annotations

import pytest

from silkgate.core.platform import Platform
from silkgate.gates import service
from silkgate.gates.schemas import Truck
from tests.gates.helpers import World, event


def test_a_chinese_plate_is_stored_and_names_the_truck(platform: Platform) -> None:
    w = World(platform)
    body = event("waiting_area", 0, side="CN", decl=w.decl)
    body["truck"] = {"nationality": "CN", "plate": "新F12345"}
    rep = service.ingest(platform, w.callers["cn-customs"], [w.signed("cn-customs", body)])
    assert rep.stored == 1
    body["truck"] = {"nationality": "KZ", "plate": "新F12345"}
    rep = service.ingest(platform, w.callers["cn-customs"], [w.signed("cn-customs", body)])
    assert rep.rejected == 1 and rep.lines[0].errors[0]["field"] == "/event/truck/plate"


@pytest.mark.parametrize(
    ("nationality", "plate", "ok"),
    [
        ("CN", "新F12345", True),
        ("CN", "LZ12345", True),
        ("KZ", "123ABC02", True),
        ("KZ", "新F12345", False),
        ("CN", "新F1234", False),  # one character short
        ("CN", "新f12345", False),  # not as bookings store it
        ("KZ", "123abc02", False),
    ],
)
def test_plate_forms(nationality: str, plate: str, ok: bool) -> None:
    try:
        Truck(nationality=nationality, plate=plate)
    except ValueError:
        assert not ok
    else:
        assert ok
