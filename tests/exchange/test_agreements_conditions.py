"""CEL conditions: refused on save with position and reason; evaluated on the activation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from silkgate.core.errors import ValidationFailed
from silkgate.exchange.agreements import conditions
from silkgate.exchange.agreements.conditions import SAMPLE_ACTIVATION, check, compile_condition


@pytest.mark.parametrize(
    ("source", "code", "line", "column", "says"),
    [
        ('crossing == "KHG-NZH" &&', "cel_syntax", 1, 25, "Syntax error"),
        ('crossing in ["a" "b"]', "cel_syntax", 1, 18, "Syntax error"),
        ('crossing == "a" &&\n  lane == "red"', "cel_unknown_variable", 2, 3, "'lane'"),
        ('consumer.roles.exists(r, r == "customs")', "cel_function_not_allowed", 1, 16, "exists"),
        ('system("ls")', "cel_function_not_allowed", 1, 1, "system"),
        ("crossing + 1 == 2", "cel_type", None, None, "string + int"),
        ("size(crossing)", "cel_not_bool", None, None, "true or false"),
        ("   ", "cel_empty", None, None, "empty"),
        ("true || " * 400 + "true", "cel_too_long", None, None, "2000"),
    ],
)
def test_invalid_conditions_are_refused_with_position_and_reason(
    source: str, code: str, line: int | None, column: int | None, says: str
) -> None:
    problem = check(source)
    assert problem is not None and problem.code == code, problem
    assert (problem.line, problem.column) == (line, column)
    assert says in problem.reason
    with pytest.raises(ValidationFailed) as exc:
        compile_condition(source)
    err = exc.value.errors[0]
    assert err.field == "/condition" and err.code == code
    if line is not None:
        assert err.message.startswith(f"line {line}, column {column}: ")


def test_names_inside_strings_are_not_variables() -> None:
    assert check('crossing != "lane && foo(x)" && "customs" in consumer.roles') is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('declaration_type in ["export", "transit"] && status != "submitted"', True),
        ('direction == "CN-KZ" && place == entry_country', True),
        ('crossing.startsWith("ALA")', False),
        ("now.getHours() < 6", False),
        ('has(consumer.member_id) && consumer.country == "KZ"', True),
    ],
)
def test_conditions_read_the_documented_activation(source: str, expected: bool) -> None:
    assert check(source) is None
    act = {**SAMPLE_ACTIVATION, "now": datetime(2026, 1, 1, 12, tzinfo=UTC)}
    assert conditions.evaluate(source, act) is expected


def test_an_error_at_run_time_shares_nothing() -> None:
    assert conditions.evaluate('consumer.nokey == "x"', SAMPLE_ACTIVATION) is False


def test_memoised_results_follow_the_values_and_never_the_clock() -> None:
    source = 'status != "submitted" && now.getHours() >= 12'
    day = {**SAMPLE_ACTIVATION, "now": datetime(2026, 1, 1, 13, tzinfo=UTC)}
    night = {**day, "now": datetime(2026, 1, 1, 2, tzinfo=UTC)}
    assert conditions.evaluate(source, day) and not conditions.evaluate(source, night)
    plain = 'status != "submitted"'
    assert conditions.evaluate(plain, day)
    assert not conditions.evaluate(plain, {**day, "status": "submitted"})
    assert conditions.evaluate(plain, day)
