"""A seeded platform with caps on Khorgos–Nur Zholy, a frozen clock and accepted declarations."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from silkgate.core.platform import Platform
from silkgate.declarations import service as declarations
from silkgate.queue import service as queue
from silkgate.queue.schemas import BookingIn, CapIn
from silkgate.registry.service import Caller
from tests.factories import caller, export_cn_to_kz, seeded

NOW = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)  # 08:00 on 10 Dec at the crossing (UTC+8)
DAY = dt.date(2026, 12, 11)
_N = itertools.count(1)


@dataclass
class Env:
    platform: Platform
    ids: dict[str, str]
    now: list[datetime] = field(default_factory=lambda: [NOW])

    def who(self, key: str) -> Caller:
        return caller(self.platform, self.ids, key)

    def set_now(self, when: datetime) -> None:
        self.now[0] = when

    def cap(
        self, side_key: str, cap: int, valid_from: dt.date = dt.date(2026, 12, 1), **kw: Any
    ) -> Any:
        body = CapIn(
            crossing="KHG-NZH",
            exit_country="CN",
            entry_country="KZ",
            valid_from=valid_from,
            daily_cap=cap,
            **kw,
        )
        return queue.set_cap(self.platform, self.who(side_key), body)

    def declaration(self, who: str = "cn-broker", **overrides: Any) -> tuple[str, dict[str, str]]:
        """An accepted CN→KZ export with its own tractor; returns its id and the truck."""
        n = next(_N)
        truck = {"tractor_plate": f"新F{n:05d}", "tractor_nationality": "CN"}
        body = export_cn_to_kz(
            f"Q-{n}",
            transport={
                **truck,
                "trailer_plate": f"新F{n % 10000:04d}挂",
                "trailer_nationality": "CN",
            },
            **overrides,
        )
        out, _ = declarations.create(self.platform, self.who(who), body)
        return out.id, truck

    def booking_body(self, hour: int = 10, day: dt.date = DAY, **overrides: Any) -> dict[str, Any]:
        decl_id, truck = self.declaration()
        n = next(_N)
        body: dict[str, Any] = {
            "crossing": "KHG-NZH",
            "exit_country": "CN",
            "entry_country": "KZ",
            "slot": {"day": day.isoformat(), "hour": hour},
            "truck": {**truck, "vin": f"LZZ1CCND0J{n:07d}"[:17]},
            "driver": {"name": "Wang Lei", "document_number": f"E{n:08d}"},
            "declaration_ids": [decl_id],
        }
        body.update(overrides)
        return body

    def book(self, who: str = "cn-broker", **kw: Any) -> Any:
        return queue.book(
            self.platform, self.who(who), BookingIn.model_validate(self.booking_body(**kw))
        )


def make_env(platform: Platform, cap: int = 240) -> Env:
    env = Env(platform, seeded(platform))
    platform.clock = lambda: env.now[0]
    env.cap("cn-customs", cap)
    env.cap("kz-customs", cap)
    return env
