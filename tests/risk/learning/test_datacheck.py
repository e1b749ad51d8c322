"""Training and evaluation files: every unreadable value is refused naming its line and column."""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkgate.risk.learning import service
from silkgate.risk.learning.datacheck import DataFileError
from silkgate.risk.learning.datasets import load_mapping, read_table

KCS = load_mapping("kcs")
HEADER = [
    "Declaration ID",
    "Date",
    "Office ID",
    "Process Type",
    "Import Type",
    "Import Use",
    "Payment Type",
    "Mode of Transport",
    "Declarant ID",
    "Importer ID",
    "Seller ID",
    "Courier ID",
    "HS6 Code",
    "Country of Departure",
    "Country of Origin",
    "Tax Rate",
    "Tax Type",
    "Country of Origin Indicator",
    "Net Mass",
    "Item Price",
    "Fraud",
    "Critical Fraud",
]


def _row(i: int, fraud: int = 0, **changes: str) -> list[str]:
    row = {
        "Declaration ID": f"{10000000 + i}",
        "Date": f"2020-01-{1 + i % 28:02d}",
        "Office ID": "30",
        "Process Type": "B",
        "Import Type": "11",
        "Import Use": "21",
        "Payment Type": "11",
        "Mode of Transport": "10",
        "Declarant ID": "ZZR1LT6",
        "Importer ID": f"IMP{i % 7}",
        "Seller ID": "0VKY2BR",
        "Courier ID": "",
        "HS6 Code": "440890",
        "Country of Departure": "BE",
        "Country of Origin": "BE",
        "Tax Rate": "0.0",
        "Tax Type": "FEU1",
        "Country of Origin Indicator": "G",
        "Net Mass": f"{100 + i}.5",
        "Item Price": f"{3000 + 7 * i}.25",
        "Fraud": str(fraud),
        "Critical Fraud": "0",
    }
    row.update(changes)
    return [row[c] for c in HEADER]


def _write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _rows(n: int = 12) -> list[list[str]]:
    return [_row(i, fraud=int(i % 3 == 0)) for i in range(n)]


def _refused(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as info:
        read_table(path, KCS, labels_required=True)
    return info.value


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Net Mass", "12 kg", "is not a finite number"),
        ("Item Price", "inf", "is not a finite number"),
        ("Tax Rate", "eight", "is not a finite number"),
        ("Date", "2020-13-45", "is not a date (expected %Y-%m-%d)"),
        ("Date", "", "is blank (every row needs a date)"),
        ("Fraud", "2", "is not an outcome value"),
        ("Fraud", "", "is blank (every row needs an outcome)"),
    ],
)
def test_a_bad_value_is_named_with_its_line_and_column(tmp_path, column, value, reason):
    rows = _rows()
    rows[4] = _row(4, **{column: value})
    err = _refused(_write(tmp_path / "bad.csv", rows))
    assert len(err.problems) == 1
    problem = err.problems[0]
    assert (problem.line, problem.column) == (6, column)  # header is line 1, row 4 is line 6
    assert reason in str(err)
    assert "bad.csv" in str(err) and "line 6" in str(err) and repr(column) in str(err)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x85"])
def test_control_characters_in_text_are_refused(tmp_path, char):
    """The platform's one rule for control characters applies to data files too."""
    rows = _rows()
    rows[2] = _row(2, **{"Importer ID": f"IMP{char}2"})
    err = _refused(_write(tmp_path / "ctl.csv", rows))
    assert [(p.line, p.column) for p in err.problems] == [(4, "Importer ID")]
    assert f"control character U+{ord(char):04X} at position 4 is not allowed" in str(err)


def test_truncated_and_overlong_rows_are_refused_by_line(tmp_path):
    rows = _rows()
    rows[2] = rows[2][:10]
    rows[7] = [*rows[7], "surplus"]
    err = _refused(_write(tmp_path / "cut.csv", rows))
    assert [(p.line, p.reason.split(":")[0]) for p in err.problems] == [
        (4, "truncated row"),
        (9, "too many fields"),
    ]


def test_header_only_and_empty_files_are_refused(tmp_path):
    assert "has a header but no rows" in str(_refused(_write(tmp_path / "h.csv", [])))
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in str(_refused(tmp_path / "empty.csv"))


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    path = _write(tmp_path / "latin.csv", _rows())
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"FEU1", b"F\xe9U1")
    path.write_bytes(b"\n".join(lines))
    err = _refused(path)
    assert err.problems[0].line == 4 and "not UTF-8" in str(err)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = _write(tmp_path / "bom.csv", _rows())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_table(path, KCS, labels_required=True)) == 12


def test_single_class_files_are_refused_for_training_and_evaluation(tmp_path, trained):
    model, _, _ = trained
    folder = model.save(tmp_path / "models")
    ones = _write(tmp_path / "ones.csv", [_row(i, fraud=1) for i in range(12)])
    good = _write(tmp_path / "good.csv", _rows())
    with pytest.raises(DataFileError, match=r"ones\.csv: .*only rows with outcome discrepancy"):
        service.train(ones, "kcs", good, tmp_path)
    with pytest.raises(DataFileError, match=r"ones\.csv: .*validation needs both outcomes"):
        service.train(good, "kcs", ones, tmp_path)
    with pytest.raises(DataFileError, match=r"ones\.csv: .*evaluation needs both outcomes"):
        service.evaluate(folder, ones, "kcs")


def test_a_file_to_score_may_leave_the_outcome_blank(tmp_path):
    rows = _rows()
    rows[3] = _row(3, Fraud="")
    frame = read_table(_write(tmp_path / "score.csv", rows), KCS)
    assert frame["label"].isna().sum() == 1


def test_the_cli_reports_the_problem_not_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from silkgate.risk.cli import app

    rows = _rows()
    rows[1] = _row(1, **{"Net Mass": "n/a"})
    path = _write(tmp_path / "t.csv", rows)
    result = CliRunner().invoke(
        app, ["train", "--data", str(path), "--mapping", "kcs", "--artifacts", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "line 3" in result.output and "Net Mass" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


NUMBER_COLUMNS = ["Net Mass", "Item Price", "Tax Rate"]
junk = st.text(string.ascii_letters + " -/,;#", min_size=1, max_size=8).filter(
    # spellings of numbers or outcomes that are legitimately readable
    lambda t: (
        t.strip()
        and t.strip().lower() not in {"nan", "inf", "infinity", "e", "false", "true", "no", "yes"}
    )
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.integers(0, 11),
    column=st.sampled_from([*NUMBER_COLUMNS, "Date", "Fraud"]),
    text=junk,
)
def test_any_corrupted_cell_is_reported_at_its_place(tmp_path, row, column, text):
    """Whatever text lands in a number, date or outcome cell, the file is refused naming it."""
    rows = _rows()
    rows[row] = _row(row, fraud=int(row % 3 == 0), **{column: text})
    err = _refused(_write(tmp_path / "h.csv", rows))
    assert [(p.line, p.column) for p in err.problems] == [(row + 2, column)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    masses=st.lists(
        st.floats(0, 1e9, allow_nan=False, allow_infinity=False), min_size=2, max_size=15
    ),
    blanks=st.sets(st.integers(0, 14)),
)
def test_readable_files_are_read_exactly(tmp_path, masses, blanks):
    """Numbers read back as written; blank numbers are missing (never 0); no row is lost."""
    rows = [
        _row(i, fraud=i % 2, **{"Net Mass": "" if i in blanks else repr(m)})
        for i, m in enumerate(masses)
    ]
    frame = read_table(_write(tmp_path / "ok.csv", rows), KCS, labels_required=True)
    assert len(frame) == len(masses)
    by_id = dict(zip(frame["declaration_id"], frame["net_mass"], strict=True))
    for i, m in enumerate(masses):
        got = by_id[f"{10000000 + i}"]
        assert (got != got) if i in blanks else got == m
