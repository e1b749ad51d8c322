"""The operators' board and caps reads (``queue.board``) and calling forward at once
(``queue.waiting.call_next``): who may read and call, what each side sees, the limit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from silkgate.core.errors import Forbidden, NotFound
from silkgate.core.platform import Platform
from silkgate.queue import board, waiting
from silkgate.queue.models import Stage
from silkgate.queue.schemas import StageIn
from tests.queue.env import DAY, NOW, make_env

ROUTE = ("KHG-NZH", "CN", "KZ")


def test_board_counts_both_sides_and_lists_only_the_own_sides_trucks(platform: Platform) -> None:
    env = make_env(platform)
    cn = env.who("cn-eport")
    with platform.db.session() as s:  # reading makes no stage row
        assert s.scalar(select(func.count()).select_from(Stage)) == 0
    assert board.stage_capacity(platform, cn, ROUTE) == platform.settings.queue_stage_capacity
    waiting.set_stage(platform, cn, StageIn(crossing="KHG-NZH", exit_country="CN",
                                            entry_country="KZ", capacity=0))  # fmt: skip
    ids = []
    for _ in range(3):
        b = env.book(hour=9, day=NOW.date())
        waiting.move(platform, cn, b.id, "check_in", NOW)
        ids.append(b.id)
    mine = {d.exit_country: d for d in board.board(platform, cn, "KHG-NZH")}
    assert mine["CN"].own and mine["CN"].counts == {"waiting": 3, "called": 0, "in_stage": 0}
    assert [t.booking_id for t in mine["CN"].trucks] == ids and mine["CN"].capacity == 0
    assert not mine["KZ"].own and mine["KZ"].counts["waiting"] == 0
    theirs = {d.exit_country: d for d in board.board(platform, env.who("kz-eport"), "KHG-NZH")}
    assert theirs["CN"].counts["waiting"] == 3 and theirs["CN"].trucks == []
    # call_next: at most the limit, only while the stage has room, only the exit side
    with platform.db.session() as s:
        s.execute(update(Stage).values(capacity=5))
    with pytest.raises(Forbidden):
        waiting.call_next(platform, env.who("kz-eport"), ROUTE, 1)
    out = waiting.call_next(platform, cn, ROUTE, 2)
    assert len(out.called) == 2 and out.waiting == 1 and out.occupied == 2
    assert len(waiting.call_next(platform, cn, ROUTE).called) == 1
    assert waiting.call_next(platform, cn, ROUTE).called == []  # nobody waits


def test_caps_and_board_refuse_who_does_not_serve_the_crossing(platform: Platform) -> None:
    env = make_env(platform)
    env.cap("cn-eport", 100, valid_from=DAY)
    views = {v.exit_country: v for v in board.caps(platform, env.who("cn-eport"), "KHG-NZH", DAY)}
    cn_kz = views["CN"]
    assert cn_kz.binding == 100 and cn_kz.latest["CN"].daily_cap == 100
    assert cn_kz.latest["KZ"].daily_cap == 240 and cn_kz.stage_capacity is not None
    assert views["KZ"].stage_capacity is None  # the Kazakh side runs that stage
    for who, crossing in (("cn-broker", "KHG-NZH"), ("cn-eport", "ALA-DOS")):
        with pytest.raises(NotFound):
            board.board(platform, env.who(who), crossing)
        with pytest.raises(NotFound):
            board.caps(platform, env.who(who), crossing, DAY)
