"""Reading labelled declaration files (CSV/Parquet) through a TOML column mapping.

A mapping names, for each canonical field, the column of the file that holds it; everything
downstream (features, rules, value controls, metrics) reads the canonical frame only, so a new
data source needs a mapping file, not code.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from silkgate.core.text import control_message, find_control
from silkgate.risk.fields import (
    COUNTRY_FIELDS,
    NUMERIC_FIELDS,
    STRING_FIELDS,
    DeclarationRecord,
    clean_hs,
)
from silkgate.risk.learning.datacheck import DataFileError, RowProblem, check_csv_shape

CANONICAL_COLUMNS: tuple[str, ...] = ("date", *STRING_FIELDS, *NUMERIC_FIELDS)


class LabelSpec(BaseModel):
    """Which column holds the inspection outcome and which of its values mean 'discrepancy'."""

    model_config = ConfigDict(extra="forbid")
    column: str
    positive: list[str] = Field(default_factory=lambda: ["1", "true", "True", "yes"])
    #: any other non-blank value is refused (it is never read as "no discrepancy")
    negative: list[str] = Field(default_factory=lambda: ["0", "false", "False", "no"])


class ColumnMapping(BaseModel):
    """Canonical field -> source column, plus extra categorical columns, label and revenue."""

    model_config = ConfigDict(extra="forbid")
    name: str = "custom"
    description: str = ""
    columns: dict[str, str]
    extra: dict[str, str] = Field(default_factory=dict)
    label: LabelSpec | None = None
    revenue: str | None = None
    defaults: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    hs_code_digits: int = Field(default=6, ge=2, le=12)

    @field_validator("columns")
    @classmethod
    def _known(cls, cols: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(cols) - set(CANONICAL_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown canonical fields {unknown}; known: {', '.join(CANONICAL_COLUMNS)}"
            )
        for required in ("declaration_id", "date"):
            if required not in cols:
                raise ValueError(f"the mapping must name the column for '{required}'")
        return cols

    @field_validator("extra")
    @classmethod
    def _extra_names(cls, extra: dict[str, str]) -> dict[str, str]:
        clash = sorted(set(extra) & set(CANONICAL_COLUMNS))
        if clash:
            raise ValueError(f"extra fields {clash} clash with canonical names")
        return extra

    @property
    def extra_fields(self) -> list[str]:
        """Names of the extra categorical fields, as rules and features see them."""
        return list(self.extra)


class MappingError(ValueError):
    """A mapping file or a data file did not fit together."""


def builtin_mappings() -> list[str]:
    """Names of the mappings shipped with Silkgate (``kcs`` for the KCS data set)."""
    folder = resources.files("silkgate.risk").joinpath("mappings")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_mapping(ref: str | Path) -> ColumnMapping:
    """Load a mapping from a TOML path or by the name of a shipped mapping (e.g. ``kcs``)."""
    path = Path(ref)
    if path.suffix != ".toml" and not path.exists():
        resource = resources.files("silkgate.risk").joinpath("mappings").joinpath(f"{ref}.toml")
        if not resource.is_file():
            raise MappingError(f"no mapping file {ref!r} and no shipped mapping of that name")
        text = resource.read_text(encoding="utf-8")
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(f"cannot read mapping {ref}: {exc}") from exc
    try:
        return ColumnMapping.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise MappingError(f"mapping {ref}: {exc}") from exc


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, recorded in model artifacts as the training-data digest."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a canonical frame's content, for data that did not come from one file."""
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()


def _read_raw(path: Path, columns: list[str]) -> tuple[pd.DataFrame, list[int] | None]:
    """The mapped columns as text, and the file line of each row (``None``: Parquet rows)."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        raw = pd.read_parquet(path)
        missing = [c for c in columns if c not in raw.columns]
        if missing:
            raise MappingError(f"{path.name} has no columns {missing}; it has {list(raw.columns)}")
        if raw.empty:
            raise DataFileError(path.name, [RowProblem(0, None, None, "has no rows")])
        return raw[columns].astype(object), None
    problems, lines = check_csv_shape(path)
    if problems:
        raise DataFileError(path.name, problems)
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    missing = [c for c in columns if c not in header]
    if missing:
        raise MappingError(f"{path.name} has no columns {missing}; it has {list(header)}")
    raw = pd.read_csv(
        path,
        usecols=columns,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        low_memory=False,
        encoding="utf-8-sig",
    )
    return raw, lines


def _text(series: pd.Series) -> pd.Series:
    return pd.Series([_norm_text(v) for v in series.to_numpy(dtype=object)], dtype=object)


def _norm_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        if np.isnan(v):
            return None
        if v.is_integer():
            v = int(v)
    text = str(v).strip()
    return text or None


def _label_text(value: Any) -> str | None:
    """Outcome value as comparable text: '1', '1.0' and 1 all read as '1'; blank is unknown."""
    text = _norm_text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return text.lower()
    return str(int(number)) if number.is_integer() else text.lower()


def read_table(
    path: str | Path, mapping: ColumnMapping, labels_required: bool = False
) -> pd.DataFrame:
    """Read a CSV or Parquet file into a canonical frame sorted by date (stable).

    Every value is checked (see :mod:`silkgate.risk.learning.datacheck`); with ``labels_required``
    (training, evaluation) a row without an outcome is a problem too.
    """
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"no data file {path}")
    wanted: dict[str, str] = dict(mapping.columns)
    for name, col in mapping.extra.items():
        wanted[f"extra:{name}"] = col
    if mapping.label is not None:
        wanted["label"] = mapping.label.column
    if mapping.revenue is not None:
        wanted["revenue"] = mapping.revenue
    source_cols = sorted(set(wanted.values()))
    raw, lines = _read_raw(path, source_cols)
    return canonicalise(
        raw, mapping, wanted, lines=lines, source=path.name, labels_required=labels_required
    )


def canonicalise(
    raw: pd.DataFrame,
    mapping: ColumnMapping,
    wanted: Mapping[str, str] | None = None,
    lines: Sequence[int] | None = None,
    source: str = "data",
    labels_required: bool = False,
) -> pd.DataFrame:
    """Turn a raw frame into the canonical one: typed, normalised, with ``label``/``revenue``.

    Raises :class:`DataFileError` naming each unreadable value (``lines``: the file line of
    each raw row; without, rows are numbered from 1).
    """
    problems = _Problems(lines)
    if wanted is None:
        wanted = dict(mapping.columns)
        wanted.update({f"extra:{k}": v for k, v in mapping.extra.items()})
        if mapping.label is not None:
            wanted["label"] = mapping.label.column
        if mapping.revenue is not None:
            wanted["revenue"] = mapping.revenue
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    raw = raw.reset_index(drop=True)
    text_columns = [wanted[c] for c in STRING_FIELDS if c in wanted]
    text_columns += [wanted[f"extra:{name}"] for name in mapping.extra]
    for column in dict.fromkeys(text_columns):  # numbers, dates, outcomes: checked below
        problems.controls(raw[column], column)
    for canon in STRING_FIELDS:
        if canon in wanted:
            out[canon] = pd.Series(_text(raw[wanted[canon]]).to_numpy(), dtype=object)
        elif canon in mapping.defaults:
            out[canon] = pd.Series([mapping.defaults[canon]] * len(raw), dtype=object)
        else:
            out[canon] = pd.Series([None] * len(raw), dtype=object)
    out["declaration_id"] = out["declaration_id"].astype(object)
    if out["declaration_id"].isna().any():
        out.loc[out["declaration_id"].isna(), "declaration_id"] = [
            f"row-{i}" for i in np.flatnonzero(out["declaration_id"].isna().to_numpy())
        ]
    for canon in COUNTRY_FIELDS:
        out[canon] = pd.Series(
            [v.upper() if isinstance(v, str) else None for v in out[canon]], dtype=object
        )
    out["hs_code"] = pd.Series(
        [clean_hs(v, mapping.hs_code_digits) for v in out["hs_code"]], dtype=object
    )
    for canon in NUMERIC_FIELDS:
        if canon in wanted:
            out[canon] = problems.numbers(raw[wanted[canon]], wanted[canon])
        else:
            out[canon] = np.nan
    out["date"] = problems.dates(raw[wanted["date"]], wanted["date"], mapping.date_format)
    for name in mapping.extra:
        out[name] = pd.Series(_text(raw[wanted[f"extra:{name}"]]).to_numpy(), dtype=object)
    if "label" in wanted and mapping.label is not None:
        out["label"] = problems.labels(
            raw[wanted["label"]], wanted["label"], mapping.label, labels_required
        )
    elif labels_required:
        raise MappingError("the mapping names no label column (add a [label] section)")
    if "revenue" in wanted:
        out["revenue"] = problems.numbers(raw[wanted["revenue"]], wanted["revenue"], True)
    if problems.found:
        raise DataFileError(source, problems.found)
    return out.sort_values("date", kind="stable").reset_index(drop=True)


class _Problems:
    """Collects the unreadable values of one file while its columns are converted."""

    def __init__(self, lines: Sequence[int] | None) -> None:
        self.lines = lines
        self.found: list[RowProblem] = []

    def add(self, rows: np.ndarray, column: str, values: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(rows):
            line = self.lines[int(i)] if self.lines is not None else int(i) + 1
            unit = "line" if self.lines is not None else "row"
            value = None if values[i] is None else str(values[i])
            self.found.append(RowProblem(line, column, value, reason, unit))

    @staticmethod
    def _blank(texts: np.ndarray) -> np.ndarray:
        return np.array([_norm_text(v) is None for v in texts], dtype=bool)

    def controls(self, col: pd.Series, column: str) -> None:
        """Control characters (the platform's one rule, ``core.text``) in any text cell."""
        texts = col.to_numpy(dtype=object)
        found = [find_control(v) if isinstance(v, str) else None for v in texts]
        for i, hit in enumerate(found):
            if hit is not None:
                line = self.lines[i] if self.lines is not None else i + 1
                unit = "line" if self.lines is not None else "row"
                self.found.append(RowProblem(line, column, None, control_message(*hit), unit))

    def numbers(self, col: pd.Series, column: str, required: bool = False) -> np.ndarray:
        """Finite floats; text, inf and NaN spelt out are problems, blanks are missing."""
        texts = col.to_numpy(dtype=object)
        blank = self._blank(texts)
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        bad = ~blank & ~np.isfinite(values)
        self.add(bad, column, texts, "is not a finite number")
        if required:
            self.add(blank, column, texts, "is blank (a number is required)")
        return np.where(np.isfinite(values), values, np.nan)

    def dates(self, col: pd.Series, column: str, fmt: str | None) -> np.ndarray:
        """Dates (normalised to midnight); every row needs one."""
        texts = col.to_numpy(dtype=object)
        dates = pd.to_datetime(col, format=fmt, errors="coerce")
        bad = dates.isna().to_numpy()
        blank = self._blank(texts)
        expected = f" (expected {fmt})" if fmt else ""
        self.add(bad & ~blank, column, texts, f"is not a date{expected}")
        self.add(bad & blank, column, texts, "is blank (every row needs a date)")
        return dates.dt.normalize().to_numpy()

    def labels(self, col: pd.Series, column: str, spec: LabelSpec, required: bool) -> list[float]:
        """1.0 / 0.0 per the mapping's positive / negative values; anything else is refused."""
        positives = {_label_text(p) for p in spec.positive}
        negatives = {_label_text(n) for n in spec.negative}
        texts = col.to_numpy(dtype=object)
        out: list[float] = []
        unknown = np.zeros(len(texts), dtype=bool)
        blank = np.zeros(len(texts), dtype=bool)
        for i, value in enumerate(texts):
            t = _label_text(value)
            if t is None:
                blank[i] = True
                out.append(np.nan)
            elif t in positives:
                out.append(1.0)
            elif t in negatives:
                out.append(0.0)
            else:
                unknown[i] = True
                out.append(np.nan)
        self.add(
            unknown,
            column,
            texts,
            f"is not an outcome value (discrepancy: {', '.join(spec.positive)}; "
            f"none: {', '.join(spec.negative)})",
        )
        if required:
            self.add(blank, column, texts, "is blank (every row needs an outcome)")
        return out


def records_to_frame(
    records: Iterable[DeclarationRecord], extra_fields: Iterable[str] = ()
) -> pd.DataFrame:
    """Canonical frame from records (for batch scoring of declarations held in memory)."""
    extra = list(extra_fields)
    rows = []
    for rec in records:
        row: dict[str, Any] = {name: getattr(rec, name) for name in STRING_FIELDS}
        for name in NUMERIC_FIELDS:
            row[name] = getattr(rec, name)
        row["date"] = rec.date
        for name in extra:
            row[name] = rec.extra.get(name)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*CANONICAL_COLUMNS, *extra])
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
    for name in NUMERIC_FIELDS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name in (*STRING_FIELDS, *extra):
        frame[name] = pd.Series(
            [v if isinstance(v, str) else None for v in frame[name]], dtype=object
        )
    return frame


def frame_to_records(
    frame: pd.DataFrame, extra_fields: Iterable[str] = ()
) -> list[DeclarationRecord]:
    """Records from a canonical frame (the inverse of :func:`records_to_frame`)."""
    extra = [e for e in extra_fields if e in frame]
    out = []
    cols = [c for c in (*CANONICAL_COLUMNS, *extra) if c in frame]
    for row in frame[cols].itertuples(index=False, name=None):
        data = dict(zip(cols, row, strict=True))
        when = data.get("date")
        data["date"] = None if when is None or pd.isna(when) else pd.Timestamp(when).date()
        extras = {name: data.pop(name) for name in extra}
        rec = DeclarationRecord.from_mapping(data)
        rec.extra = {k: (v if isinstance(v, str) else None) for k, v in extras.items()}
        out.append(rec)
    return out
