"""The verifier derives goods items and header columns from a payload exactly as lodging
stores them; checkpoint files are parsed with a clear error, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.audit.checkpoints import BadCheckpoint, Checkpoint, read
from silkgate.audit.declaration_state import header_of, item_rows
from silkgate.declarations import service as svc
from silkgate.demo.traffic import TrafficGenerator
from silkgate.registry.service import Caller


def test_item_rows_and_header_match_what_lodging_stores() -> None:
    gen = TrafficGenerator(seed=3)
    who = Caller(1, "CN/COM/X", "CN", frozenset({"broker"}), frozenset())
    for _ in range(30):
        p = svc.prepare(gen.declaration())
        decl, _, items = svc.rows_for(p, who, "x", 1, datetime.now(UTC))
        derived = item_rows(p.payload)
        assert [derived[it["item_no"]] for it in items] == [
            {k: v for k, v in it.items() if k not in ("declaration_id", "version", "item_no")}
            for it in items
        ]
        assert header_of(p.payload) == {k: decl[k] for k in header_of(p.payload)}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=6)
    ),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["silkgate.audit.checkpoint.v1", "other"]) | JSON,
        "seq": st.integers(min_value=-2, max_value=10**12) | JSON,
        "head_hash": st.text(max_size=70) | JSON,
        "at": st.text(max_size=30) | JSON,
        "key_id": st.text(max_size=20) | JSON,
        "signature": st.text(max_size=100) | JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(data=JSON | FIELDS)
def test_checkpoint_from_any_json_is_read_or_refused_with_a_reason(data: object) -> None:
    try:
        cp = Checkpoint.from_dict(data)
    except BadCheckpoint as exc:
        assert str(exc).startswith("checkpoint:")
    else:
        assert isinstance(cp.seq, int) and cp.verify({}) is False


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=300))
def test_checkpoint_file_of_any_text_is_read_or_refused_naming_the_file(text: str) -> None:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "cp.jsonl"
    path.write_text(text, encoding="utf-8")
    try:
        found = read(path)
    except BadCheckpoint as exc:
        assert str(path) in str(exc)
    else:
        assert found and all(isinstance(c, Checkpoint) for _, c in found)
        json.dumps([c.as_dict() for _, c in found])
