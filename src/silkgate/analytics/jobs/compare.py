"""Two results of one job compared cell by cell: how the engines are shown to agree (the
engine test, the benchmark) — one definition, so both hold them to the same tolerance."""

from __future__ import annotations

import math

import pyarrow as pa

#: Floats are equal within this relative (and absolute, near zero) tolerance: the engines sum
#: in different orders.
TOLERANCE = 1e-9


def differences(a: pa.Table, b: pa.Table, most: int = 10, types: bool = True) -> list[str]:
    """What differs between two results, at most ``most`` cells (empty: they agree).
    ``types`` False compares column names only (an engine outside the product, such as
    PostgreSQL or pandas in the benchmark, may type a column its own way)."""
    if types and a.schema != b.schema:
        return [f"schema {a.schema} vs {b.schema}"]
    if a.column_names != b.column_names:
        return [f"columns {a.column_names} vs {b.column_names}"]
    if a.num_rows != b.num_rows:
        return [f"{a.num_rows} vs {b.num_rows} rows"]
    out: list[str] = []
    for name in a.column_names:
        for i, (x, y) in enumerate(zip(a[name].to_pylist(), b[name].to_pylist(), strict=True)):
            if isinstance(x, float) and isinstance(y, float):
                close = math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            else:
                close = x == y
            if not close:
                out.append(f"{name} row {i}: {x!r} vs {y!r}")
                if len(out) >= most:
                    return out
    return out
