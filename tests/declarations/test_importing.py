"""Reading import files: every line is read or reported, whatever the bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from silkgate.declarations.importing import FileFormat, read_records

LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from(
        [b"{}", b'{"lrn": "A"}', b"[" * 5000, b"\xff\xfe", b'"caf\xe9"', b"  ", b"\x1c", b"\x0c"]
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(LINE, max_size=8))
def test_jsonl_every_nonblank_line_is_a_record_or_reported(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes(b"\n".join(lines))
        records, unreadable = read_records(path, FileFormat.JSONL)
    numbered = [n for n, _ in records] + [u.row for u in unreadable]
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines = [lines[0][3:], *lines[1:]]  # a byte-order mark is not content
    expected = [n for n, line in enumerate(lines, start=1) if line.strip(b" \t\r\n")]
    assert sorted(numbered) == expected
    for u in unreadable:
        assert f"line {u.row}" in u.error.message and u.error.code in {
            "encoding",
            "too_deep",
            "malformed_json",
        }


@settings(max_examples=60, deadline=None)
@given(st.lists(LINE, max_size=8))
def test_csv_any_bytes_are_read_or_reported_without_raising(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.csv"
        path.write_bytes(b"lrn,type\n" + b"\n".join(lines))
        _, unreadable = read_records(path, FileFormat.CSV)
    for u in unreadable:
        assert u.row >= 1 and u.error.message
