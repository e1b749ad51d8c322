"""A small, safe condition language for selectivity criteria.

Rules are text an officer writes, for example::

    hs6 = "080810" and origin = "US"
    importer in @watchlist and unit_value < 0.5
    hs_code startswith ["8703", "8704"] and not (origin in ["KZ", "CN"])

The text is tokenised and parsed by hand (recursive descent) into a typed tree; nothing is ever
passed to ``eval``/``exec`` and only whitelisted fields, lists and functions can be named, so a rule
can read a declaration and nothing else. Errors carry the 0-based character position and a reason.

Grammar (keywords are case-insensitive)::

    rule       := or_expr END
    or_expr    := and_expr ( "or" and_expr )*
    and_expr   := not_expr ( "and" not_expr )*
    not_expr   := "not" not_expr | predicate
    predicate  := sum [ cmp sum
                      | ["not"] "in" set
                      | ["not"] "startswith" ( sum | set ) ]
    cmp        := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    set        := "[" [ literal ( "," literal )* [","] ] "]" | "@" NAME
    sum        := product ( ( "+" | "-" ) product )*
    product    := unary ( ( "*" | "/" ) unary )*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | "true" | "false" | NAME | NAME "(" args ")" | "(" or_expr ")"
    literal    := STRING | ["-"] NUMBER

Missing values: arithmetic with a missing value is missing, a comparison, ``in`` or
``startswith`` involving a missing value is false; ``missing(x)`` tests for it; division by zero
gives a missing value. Evaluation therefore never raises, whatever the declaration holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from silkgate.risk.fields import ALIASES, FieldType, clean_num, clean_str

MAX_RULE_LENGTH = 4000
MAX_DEPTH = 48
MAX_LIST_ITEMS = 10_000

BOOL = "bool"
NUM = "num"
STR = "str"
_TYPE_WORDS = {BOOL: "a condition", NUM: "a number", STR: "text"}


class ExpressionError(ValueError):
    """A rule was refused; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, reason: str, position: int, text: str = "") -> None:
        super().__init__(f"{reason} (at position {position + 1})")
        self.reason = reason
        self.position = position
        self.text = text

    def pointer(self) -> str:
        """The rule text with a caret under the offending character, for officers and logs."""
        line = self.text.replace("\n", " ").replace("\t", " ")
        return f"{line}\n{' ' * self.position}^"


# --------------------------------------------------------------------------- tokens

_KEYWORDS = {"and", "or", "not", "in", "startswith", "true", "false"}
_TWO_CHAR_OPS = ("==", "!=", "<>", "<=", ">=")
_ONE_CHAR_OPS = "=<>+-*/()[],"
_DIGITS = "0123456789"
_IDENT_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_IDENT_CHARS = _IDENT_START + _DIGITS


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: kind is NUM, STR, NAME, LIST, KW, OP or END."""

    kind: str
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split rule text into tokens or raise :class:`ExpressionError` at the first bad character."""
    if len(text) > MAX_RULE_LENGTH:
        raise ExpressionError(f"rule is longer than {MAX_RULE_LENGTH} characters", 0, text)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            start = i
            while i < n and text[i] in _DIGITS:
                i += 1
            if i < n and text[i] == ".":
                i += 1
                while i < n and text[i] in _DIGITS:
                    i += 1
            if i < n and text[i] in "eE":
                j = i + 1
                if j < n and text[j] in "+-":
                    j += 1
                if j < n and text[j] in _DIGITS:
                    i = j
                    while i < n and text[i] in _DIGITS:
                        i += 1
            if i < n and text[i] in _IDENT_CHARS:
                raise ExpressionError("a number must not run into letters", i, text)
            number = float(text[start:i])
            if not math.isfinite(number):
                raise ExpressionError("number is too large", start, text)
            tokens.append(Token("NUM", number, start))
        elif ch in "\"'":
            start, quote = i, ch
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ExpressionError("text is not closed with a quote", start, text)
                c = text[i]
                if c == "\\" and i + 1 < n and text[i + 1] in "\\\"'":
                    chars.append(text[i + 1])
                    i += 2
                elif c == quote:
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            tokens.append(Token("STR", "".join(chars), start))
        elif ch in _IDENT_START:
            start = i
            while i < n and text[i] in _IDENT_CHARS:
                i += 1
            word = text[start:i]
            if word.lower() in _KEYWORDS:
                tokens.append(Token("KW", word.lower(), start))
            else:
                tokens.append(Token("NAME", word, start))
        elif ch == "@":
            start = i
            i += 1
            if i >= n or text[i] not in _IDENT_START:
                raise ExpressionError("expected a list name after '@'", i, text)
            while i < n and text[i] in _IDENT_CHARS:
                i += 1
            tokens.append(Token("LIST", text[start + 1 : i], start))
        elif text[i : i + 2] in _TWO_CHAR_OPS:
            op = text[i : i + 2]
            tokens.append(Token("OP", "!=" if op == "<>" else op, i))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            tokens.append(Token("OP", "==" if ch == "=" else ch, i))
            i += 1
        else:
            raise ExpressionError(f"unexpected character {ch!r}", i, text)
    tokens.append(Token("END", None, n))
    return tokens


# --------------------------------------------------------------------------- tree


class Frame:
    """Column access for vectorised evaluation: converts each column once, caches the result."""

    def __init__(self, columns: Mapping[str, Any], length: int) -> None:
        self.columns = columns
        self.length = length
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def get(self, name: str, kind: str) -> np.ndarray:
        """The column as float64 (NaN missing) for numbers or object (None missing) for text."""
        key = (name, kind)
        if key in self._cache:
            return self._cache[key]
        raw = self.columns.get(name) if name in self.columns else None
        if raw is None:
            arr = (
                np.full(self.length, np.nan)
                if kind == NUM
                else np.full(self.length, None, dtype=object)
            )
        else:
            values = list(raw) if not isinstance(raw, np.ndarray) else raw
            if kind == NUM:
                arr = np.array([_num(v) for v in values], dtype=float)
            else:
                arr = np.array([clean_str(v) for v in values] + [None], dtype=object)[:-1]
        self._cache[key] = arr
        return arr


def _num(value: Any) -> float:
    number = clean_num(value)
    return math.nan if number is None else number


class Node:
    """A typed node of a parsed rule."""

    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:  # pragma: no cover - abstract
        """Evaluate on one record; missing is ``None``."""
        raise NotImplementedError

    def vec(self, frame: Frame) -> Any:  # pragma: no cover - abstract
        """Evaluate on a frame of columns; may return a scalar for constants."""
        raise NotImplementedError


@dataclass(slots=True)
class Literal(Node):
    value: Any
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        return self.value

    def vec(self, frame: Frame) -> Any:
        return self.value


@dataclass(slots=True)
class FieldRef(Node):
    name: str
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        raw = rec.get(self.name)
        return clean_num(raw) if self.type == NUM else clean_str(raw)

    def vec(self, frame: Frame) -> Any:
        return frame.get(self.name, self.type)


@dataclass(slots=True)
class Negate(Node):
    operand: Node
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        value = self.operand.ev(rec)
        return None if value is None else -value

    def vec(self, frame: Frame) -> Any:
        value = self.operand.vec(frame)
        if value is None:
            return None
        return -value


@dataclass(slots=True)
class Not(Node):
    operand: Node
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        return not self.operand.ev(rec)

    def vec(self, frame: Frame) -> Any:
        return ~_bool_vec(self.operand.vec(frame), frame)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(slots=True)
class Arith(Node):
    op: str
    left: Node
    right: Node
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        a = self.left.ev(rec)
        b = self.right.ev(rec)
        if a is None or b is None:
            return None
        if self.op == "+":
            return _finite(a + b)
        if self.op == "-":
            return _finite(a - b)
        if self.op == "*":
            return _finite(a * b)
        if b == 0:
            return None
        return _finite(a / b)

    def vec(self, frame: Frame) -> Any:
        a = _num_vec(self.left.vec(frame), frame)
        b = _num_vec(self.right.vec(frame), frame)
        with np.errstate(all="ignore"):
            if self.op == "+":
                out = a + b
            elif self.op == "-":
                out = a - b
            elif self.op == "*":
                out = a * b
            else:
                out = np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
        return np.where(np.isfinite(out), out, np.nan)


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(slots=True)
class Compare(Node):
    op: str
    left: Node
    right: Node
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        a = self.left.ev(rec)
        b = self.right.ev(rec)
        if a is None or b is None:
            return False
        return bool(_CMP[self.op](a, b))

    def vec(self, frame: Frame) -> Any:
        fn = _CMP[self.op]
        if self.left.type == NUM:
            a = _num_vec(self.left.vec(frame), frame)
            b = _num_vec(self.right.vec(frame), frame)
            with np.errstate(invalid="ignore"):
                out = fn(a, b)
            return np.asarray(out, dtype=bool) & ~np.isnan(a) & ~np.isnan(b)
        a = _str_vec(self.left.vec(frame), frame)
        b = _str_vec(self.right.vec(frame), frame)
        return np.fromiter(
            (x is not None and y is not None and fn(x, y) for x, y in zip(a, b, strict=True)),
            dtype=bool,
            count=frame.length,
        )


@dataclass(slots=True)
class InSet(Node):
    left: Node
    values: frozenset[Any]
    negated: bool
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        value = self.left.ev(rec)
        if value is None:
            return False
        return (value in self.values) != self.negated

    def vec(self, frame: Frame) -> Any:
        if self.left.type == NUM:
            a = _num_vec(self.left.vec(frame), frame)
            hit = np.isin(a, np.array(sorted(self.values), dtype=float))
            present = ~np.isnan(a)
        else:
            s = _str_vec(self.left.vec(frame), frame)
            hit = np.fromiter((x in self.values for x in s), dtype=bool, count=frame.length)
            present = np.fromiter((x is not None for x in s), dtype=bool, count=frame.length)
        return present & (hit != self.negated)


@dataclass(slots=True)
class StartsWith(Node):
    left: Node
    prefixes: Node | tuple[str, ...]
    negated: bool
    type: str
    pos: int

    def _prefixes(self, rec: Mapping[str, Any]) -> tuple[str, ...] | None:
        if isinstance(self.prefixes, tuple):
            return self.prefixes
        value = self.prefixes.ev(rec)
        return None if value is None else (value,)

    def ev(self, rec: Mapping[str, Any]) -> Any:
        value = self.left.ev(rec)
        prefixes = self._prefixes(rec)
        if value is None or prefixes is None:
            return False
        return value.startswith(prefixes) != self.negated

    def vec(self, frame: Frame) -> Any:
        s = _str_vec(self.left.vec(frame), frame)
        if isinstance(self.prefixes, tuple):
            fixed = self.prefixes
            return np.fromiter(
                (x is not None and x.startswith(fixed) != self.negated for x in s),
                dtype=bool,
                count=frame.length,
            )
        p = _str_vec(self.prefixes.vec(frame), frame)
        return np.fromiter(
            (
                x is not None and y is not None and x.startswith(y) != self.negated
                for x, y in zip(s, p, strict=True)
            ),
            dtype=bool,
            count=frame.length,
        )


@dataclass(slots=True)
class BoolOp(Node):
    op: str
    operands: tuple[Node, ...]
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        if self.op == "and":
            return all(o.ev(rec) for o in self.operands)
        return any(o.ev(rec) for o in self.operands)

    def vec(self, frame: Frame) -> Any:
        parts = [_bool_vec(o.vec(frame), frame) for o in self.operands]
        out = parts[0].copy()
        for part in parts[1:]:
            out = (out & part) if self.op == "and" else (out | part)
        return out


@dataclass(slots=True)
class Call(Node):
    name: str
    arg: Node
    type: str
    pos: int

    def ev(self, rec: Mapping[str, Any]) -> Any:
        value = self.arg.ev(rec)
        if self.name == "missing":
            return value is None
        if self.name == "present":
            return value is not None
        if value is None:
            return None
        if self.name == "abs":
            return abs(value)
        return float(len(value))  # len

    def vec(self, frame: Frame) -> Any:
        if self.name in ("missing", "present"):
            if self.arg.type == NUM:
                isnull = np.isnan(_num_vec(self.arg.vec(frame), frame))
            else:
                s = _str_vec(self.arg.vec(frame), frame)
                isnull = np.fromiter((x is None for x in s), dtype=bool, count=frame.length)
            return isnull if self.name == "missing" else ~isnull
        if self.name == "abs":
            return np.abs(_num_vec(self.arg.vec(frame), frame))
        s = _str_vec(self.arg.vec(frame), frame)
        return np.array([np.nan if x is None else float(len(x)) for x in s], dtype=float)


# Functions: name -> (argument types accepted, result type)
_FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "missing": ((NUM, STR), BOOL),
    "present": ((NUM, STR), BOOL),
    "abs": ((NUM,), NUM),
    "len": ((STR,), NUM),
}


def _num_vec(value: Any, frame: Frame) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return np.full(frame.length, np.nan if value is None else float(value))


def _str_vec(value: Any, frame: Frame) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    out = np.empty(frame.length, dtype=object)
    out[:] = value
    return out


def _bool_vec(value: Any, frame: Frame) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value.astype(bool, copy=False)
    return np.full(frame.length, bool(value))


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(
        self, text: str, fields: Mapping[str, FieldType], lists: Mapping[str, Sequence[str]]
    ) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.fields = fields
        self.lists = lists
        self.depth = 0
        self.fields_used: set[str] = set()
        self.lists_used: set[str] = set()

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, reason: str, pos: int | None = None) -> ExpressionError:
        return ExpressionError(reason, self.tok.pos if pos is None else pos, self.text)

    def describe(self, tok: Token) -> str:
        if tok.kind == "END":
            return "the end of the rule"
        if tok.kind == "STR":
            return f"text {tok.value!r}"
        if tok.kind == "LIST":
            return f"list @{tok.value}"
        if tok.kind == "NUM":
            return f"number {tok.value:g}"
        return repr(tok.value)

    def accept(self, kind: str, value: Any = None) -> Token | None:
        tok = self.tok
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: str, what: str) -> Token:
        tok = self.accept(kind, value)
        if tok is None:
            raise self.error(f"expected {what} but found {self.describe(self.tok)}")
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"rule is nested more than {MAX_DEPTH} levels deep")

    def require(self, node: Node, want: str, what: str) -> None:
        if node.type != want:
            raise self.error(
                f"{what} needs {_TYPE_WORDS[want]}, got {_TYPE_WORDS[node.type]}", node.pos
            )

    # grammar
    def parse(self) -> Node:
        node = self.or_expr()
        if self.tok.kind != "END":
            raise self.error(f"unexpected {self.describe(self.tok)}")
        if node.type != BOOL:
            raise self.error(
                f"a rule must be a condition (true or false), not {_TYPE_WORDS[node.type]}", 0
            )
        return node

    def or_expr(self) -> Node:
        self.enter()
        parts = [self.and_expr()]
        pos = parts[0].pos
        while (tok := self.accept("KW", "or")) is not None:
            parts.append(self.and_expr())
            for part in parts:
                self.require(part, BOOL, f"'or' (position {tok.pos + 1})")
        self.depth -= 1
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts), BOOL, pos)

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        pos = parts[0].pos
        while (tok := self.accept("KW", "and")) is not None:
            parts.append(self.not_expr())
            for part in parts:
                self.require(part, BOOL, f"'and' (position {tok.pos + 1})")
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts), BOOL, pos)

    def not_expr(self) -> Node:
        tok = self.accept("KW", "not")
        if tok is not None:
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            self.require(operand, BOOL, "'not'")
            return Not(operand, BOOL, tok.pos)
        return self.predicate()

    def predicate(self) -> Node:
        left = self.sum()
        tok = self.tok
        if tok.kind == "OP" and tok.value in _CMP:
            self.i += 1
            right = self.sum()
            if left.type == BOOL or right.type == BOOL:
                raise self.error("conditions cannot be compared; use 'and', 'or', 'not'", tok.pos)
            if left.type != right.type:
                raise self.error(
                    f"cannot compare {_TYPE_WORDS[left.type]} with {_TYPE_WORDS[right.type]}",
                    tok.pos,
                )
            return Compare(tok.value, left, right, BOOL, tok.pos)
        negated = False
        if tok.kind == "KW" and tok.value == "not":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "KW" and nxt.value in ("in", "startswith"):
                self.i += 1
                negated = True
            else:
                raise self.error("expected 'in' or 'startswith' after 'not' here")
        if (kw := self.accept("KW", "in")) is not None:
            if left.type == BOOL:
                raise self.error("'in' needs text or a number on its left", kw.pos)
            values = self.set_values(left.type)
            return InSet(left, frozenset(values), negated, BOOL, kw.pos)
        if (kw := self.accept("KW", "startswith")) is not None:
            self.require(left, STR, "'startswith'")
            if self.tok.kind in ("LIST",) or (self.tok.kind == "OP" and self.tok.value == "["):
                prefixes: Node | tuple[str, ...] = tuple(self.set_values(STR))
            else:
                right = self.sum()
                self.require(right, STR, "'startswith'")
                prefixes = right
            return StartsWith(left, prefixes, negated, BOOL, kw.pos)
        if negated:  # pragma: no cover - guarded above
            raise self.error("expected 'in' or 'startswith'")
        return left

    def set_values(self, elem_type: str) -> list[Any]:
        tok = self.tok
        if tok.kind == "LIST":
            self.i += 1
            if tok.value not in self.lists:
                known = ", ".join(f"@{k}" for k in sorted(self.lists)) or "none defined"
                raise self.error(f"unknown list @{tok.value} (known: {known})", tok.pos)
            if elem_type != STR:
                raise self.error("named lists hold text; compare them with a text field", tok.pos)
            self.lists_used.add(tok.value)
            return [str(v) for v in self.lists[tok.value]]
        self.expect("OP", "[", 'a list such as ["A", "B"] or @name')
        values: list[Any] = []
        while not (self.tok.kind == "OP" and self.tok.value == "]"):
            item = self.tok
            sign = 1.0
            if item.kind == "OP" and item.value == "-":
                self.i += 1
                sign = -1.0
                item = self.tok
            if item.kind == "NUM" and elem_type == NUM:
                values.append(sign * item.value)
            elif item.kind == "STR" and elem_type == STR and sign > 0:
                values.append(item.value)
            elif item.kind in ("NUM", "STR"):
                raise self.error(f"list items must be {_TYPE_WORDS[elem_type]}", item.pos)
            else:
                raise self.error(f"expected a list item but found {self.describe(item)}")
            self.i += 1
            if len(values) > MAX_LIST_ITEMS:
                raise self.error(f"a list may hold at most {MAX_LIST_ITEMS} items", item.pos)
            if self.accept("OP", ",") is None:
                break
        self.expect("OP", "]", "',' or ']'")
        return values

    def sum(self) -> Node:
        left = self.product()
        while self.tok.kind == "OP" and self.tok.value in "+-":
            tok = self.tok
            self.i += 1
            right = self.product()
            self.require(left, NUM, f"'{tok.value}'")
            self.require(right, NUM, f"'{tok.value}'")
            left = Arith(tok.value, left, right, NUM, tok.pos)
        return left

    def product(self) -> Node:
        left = self.unary()
        while self.tok.kind == "OP" and self.tok.value in "*/":
            tok = self.tok
            self.i += 1
            right = self.unary()
            self.require(left, NUM, f"'{tok.value}'")
            self.require(right, NUM, f"'{tok.value}'")
            left = Arith(tok.value, left, right, NUM, tok.pos)
        return left

    def unary(self) -> Node:
        tok = self.accept("OP", "-")
        if tok is not None:
            self.enter()
            operand = self.unary()
            self.depth -= 1
            self.require(operand, NUM, "'-'")
            if isinstance(operand, Literal):
                return Literal(-operand.value, NUM, tok.pos)
            return Negate(operand, NUM, tok.pos)
        return self.atom()

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "NUM":
            self.i += 1
            return Literal(tok.value, NUM, tok.pos)
        if tok.kind == "STR":
            self.i += 1
            return Literal(tok.value, STR, tok.pos)
        if tok.kind == "KW" and tok.value in ("true", "false"):
            self.i += 1
            return Literal(tok.value == "true", BOOL, tok.pos)
        if tok.kind == "NAME":
            self.i += 1
            if self.tok.kind == "OP" and self.tok.value == "(":
                return self.call(tok)
            name = tok.value
            if name not in self.fields:
                lowered = name.lower()
                hint = f"; did you mean '{lowered}'?" if lowered in self.fields else ""
                raise self.error(f"unknown field '{name}'{hint}", tok.pos)
            ftype = self.fields[name]
            target = ALIASES.get(name, name)
            self.fields_used.add(target)
            return FieldRef(target, NUM if ftype == FieldType.NUM else STR, tok.pos)
        if tok.kind == "OP" and tok.value == "(":
            self.i += 1
            node = self.or_expr()
            self.expect("OP", ")", "')'")
            return node
        if tok.kind == "LIST":
            raise self.error("a list can only follow 'in' or 'startswith'")
        raise self.error(f"expected a field, number or text but found {self.describe(tok)}")

    def call(self, name_tok: Token) -> Node:
        name = name_tok.value
        if name not in _FUNCTIONS:
            known = ", ".join(sorted(_FUNCTIONS))
            raise self.error(f"unknown function '{name}' (known: {known})", name_tok.pos)
        self.expect("OP", "(", "'('")
        self.enter()
        arg = self.sum()
        self.depth -= 1
        self.expect("OP", ")", f"')' to close {name}(")
        accepted, result = _FUNCTIONS[name]
        if arg.type not in accepted:
            words = " or ".join(_TYPE_WORDS[t] for t in accepted)
            raise self.error(f"{name}() needs {words}", arg.pos)
        return Call(name, arg, result, name_tok.pos)


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A parsed, type-checked rule ready to evaluate on records or on columns."""

    text: str
    root: Node
    fields_used: frozenset[str]
    lists_used: frozenset[str]

    def matches(self, record: Mapping[str, Any]) -> bool:
        """True when the rule holds for one record (a mapping of field name to value)."""
        return bool(self.root.ev(record))

    def matches_columns(self, columns: Mapping[str, Any], length: int) -> np.ndarray:
        """Boolean array: the rule evaluated row by row over equal-length columns."""
        if length == 0:
            return np.zeros(0, dtype=bool)
        frame = Frame(columns, length)
        return _bool_vec(self.root.vec(frame), frame).copy()


def compile_rule(
    text: str,
    fields: Mapping[str, FieldType] | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
) -> CompiledRule:
    """Parse and type-check ``text``; raise :class:`ExpressionError` with position and reason."""
    if not isinstance(text, str):
        raise ExpressionError("a rule must be text", 0, "")
    if fields is None:
        from silkgate.risk.fields import rule_fields

        fields = rule_fields()
    parser = _Parser(text, fields, lists or {})
    if parser.tokens[0].kind == "END":
        raise ExpressionError("the rule is empty", 0, text)
    root = parser.parse()
    return CompiledRule(text, root, frozenset(parser.fields_used), frozenset(parser.lists_used))
