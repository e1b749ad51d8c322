"""Bulk inserts (COPY on PostgreSQL) and array IN lists behave like their plain forms."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from silkgate.audit.models import SigningKey
from silkgate.core.bulk import among, insert_rows
from silkgate.core.db import table_of
from silkgate.core.platform import Platform
from silkgate.gates.models import GateEvent
from silkgate.registry.models import Organization


def _keys(n: int, prefix: str = "k") -> list[dict[str, object]]:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "key_id": f"{prefix}{i:03d}",
            "owner": f"o'w\tn\\er {i}",
            "public_key": "x" * 44,
            "created_at": now,
        }
        for i in range(n)
    ]


def test_rows_go_in_as_given_and_read_back(platform: Platform) -> None:
    with platform.db.session() as s:
        insert_rows(s, table_of(SigningKey), _keys(300))
        insert_rows(s, table_of(SigningKey), [])
    with platform.db.session() as s:
        rows = list(
            s.scalars(
                select(SigningKey).where(among(s, SigningKey.key_id, ["k007", "k299", "nope"]))
            )
        )
        assert sorted(r.key_id for r in rows) == ["k007", "k299"]
        assert {r.owner for r in rows} == {"o'w\tn\\er 7", "o'w\tn\\er 299"}
        assert rows[0].created_at.year == 2026
        assert list(s.scalars(select(SigningKey).where(among(s, SigningKey.key_id, [])))) == []


def test_duplicate_key_is_an_integrity_error_and_nothing_is_written(platform: Platform) -> None:
    with platform.db.session() as s:
        insert_rows(s, table_of(SigningKey), _keys(3))
    with pytest.raises(IntegrityError), platform.db.session() as s:
        insert_rows(s, table_of(SigningKey), _keys(5, "z") + _keys(1))
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SigningKey)) == 3


def test_json_columns_keep_their_values(platform: Platform) -> None:
    from datetime import UTC, datetime

    from tests.factories import seeded

    seeded(platform)
    with platform.db.session() as s:
        org = s.scalars(select(Organization).limit(1)).one()
        content = {
            "eventTime": "2025-11-10T08:00:00+08:00",
            "truck": {"plate": "ÄБ"},
            "n": [1, 2.5, None],
        }
        now = datetime.now(UTC)
        insert_rows(
            s,
            table_of(GateEvent),
            [
                {
                    "event_id": "a" * 64, "crossing_code": "KHG-NZH", "side": "CN",
                    "read_point": "gate_in", "biz_step": "arriving", "disposition": None,
                    "truck": "KZ:1", "event_time": now, "event_offset": "+08:00",
                    "record_time": now, "corrects": None, "reporter_org_id": org.id,
                    "reporter": org.member_id, "content": content, "signature": "s",
                    "key_id": "k", "audit_batch": None,
                }
            ],
        )  # fmt: skip
    with platform.db.session() as s:
        row = s.get(GateEvent, "a" * 64)
        assert row is not None and row.content == content and row.disposition is None
        assert row.audit_batch is None
