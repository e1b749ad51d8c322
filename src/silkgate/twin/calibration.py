"""Fit stage service times from gate-event records (stage, truck, start, end).

Start and end are either ISO 8601 timestamps or numbers of minutes. Each stage gets a
lognormal fit by maximum likelihood, kept unless a Kolmogorov–Smirnov test rejects it on a
large sample, in which case the observed quantiles are shipped as an empirical distribution.
The output is a TOML fragment in scenario shape, to paste into a scenario file.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REQUIRED = ("stage", "truck", "start", "end")
FAMILIES = ("auto", "lognormal", "triangular", "empirical")
KS_REJECT_P = 0.01
KS_MIN_N = 50
EMPIRICAL_POINTS = 200
FEW_RECORDS = 30  # below this a fitted shape is mostly guesswork: warn


class CalibrationError(ValueError):
    """Gate-event records that cannot be used; names the file, line and reason."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file, self.line, self.reason = file, line, reason
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Event:
    stage: str
    truck: str
    start: float  # minutes
    end: float


@dataclass(frozen=True)
class Fit:
    """One stage's fitted service time and what supports it."""

    stage: str
    n: int
    family: str
    params: dict[str, float | list[float]]
    ks_d: float
    ks_p: float
    mean_min: float
    servers_seen: int

    def warnings(self) -> list[str]:
        """Why this fit should not be trusted as is (empty when it looks fine)."""
        out = []
        if self.ks_p < KS_REJECT_P:
            out.append(
                f"{self.stage}: poor {self.family} fit (KS D={self.ks_d:.3f}, "
                f"p={self.ks_p:.2g} < {KS_REJECT_P}); try --family empirical or check the data"
            )
        if self.n < FEW_RECORDS:
            out.append(f"{self.stage}: only {self.n} records; the fit is uncertain")
        return out


def _parse_time(value: str) -> tuple[float, str]:
    """Minutes and the format they came in: "minutes", "naive" or "offset" (ISO 8601)."""
    value = value.strip()
    try:
        return float(value), "minutes"
    except ValueError:
        pass
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if ts.tzinfo is None:  # naive times: read as UTC so no local DST shift enters
        return ts.replace(tzinfo=UTC).timestamp() / 60.0, "naive"
    return ts.timestamp() / 60.0, "offset"


FORMAT_NAMES = {
    "minutes": "minutes",
    "naive": "an ISO 8601 time without offset",
    "offset": "an ISO 8601 time with an offset",
}


def _decode(path: str | Path, file: str) -> str:
    """The file's text as UTF-8 (a byte-order mark is dropped); a bad byte names its line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CalibrationError(file, None, exc.strerror or str(exc)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CalibrationError(
            file, line, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_events(path: str | Path) -> list[Event]:
    """Read and check the records; refuse the file on the first bad line.

    One time format per file: minutes, naive ISO 8601 or ISO 8601 with an offset. Mixing
    them would silently shift durations (a naive time has no zone), so it is refused.
    """
    file = str(path)
    reader = csv.DictReader(io.StringIO(_decode(path, file), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CalibrationError(file, 1, f"missing column(s): {', '.join(missing)}")
    reader.fieldnames = header
    events = []
    first: tuple[str, int] | None = None  # time format of the first record, and its line
    for row in reader:
        line = reader.line_num
        if None in row or any(row.get(c) is None for c in REQUIRED):
            raise CalibrationError(file, line, f"expected {len(header)} fields")
        try:
            (start, f_start), (end, f_end) = _parse_time(row["start"]), _parse_time(row["end"])
        except ValueError:
            raise CalibrationError(file, line, "start/end must be ISO 8601 or minutes") from None
        if f_start != f_end:
            raise CalibrationError(
                file,
                line,
                f"start is {FORMAT_NAMES[f_start]} but end is {FORMAT_NAMES[f_end]}; "
                "use one time format",
            )
        if first is None:
            first = (f_start, line)
        elif f_start != first[0]:
            raise CalibrationError(
                file,
                line,
                f"times are {FORMAT_NAMES[f_start]} but line {first[1]} has "
                f"{FORMAT_NAMES[first[0]]}; use one time format in a file",
            )
        if not (math.isfinite(start) and math.isfinite(end)):
            raise CalibrationError(file, line, "start/end must be finite")
        if end < start:
            raise CalibrationError(file, line, "end is before start")
        stage = (row["stage"] or "").strip()
        if not stage:
            raise CalibrationError(file, line, "empty stage")
        events.append(Event(stage, (row["truck"] or "").strip(), start, end))
    if not events:
        raise CalibrationError(file, None, "no event records")
    return events


def max_concurrency(starts: np.ndarray, ends: np.ndarray) -> int:
    """Most services in progress at once: a lower bound on the stage's servers."""
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(starts.size), -np.ones(ends.size)])
    order = np.lexsort((steps, times))  # at equal times, ends (-1) before starts
    return int(np.cumsum(steps[order]).max())


def fit_stage(stage: str, durations: np.ndarray, servers_seen: int, family: str) -> Fit:
    from scipy import stats

    x = np.asarray(durations, dtype=float)
    positive = x[x > 0]
    choice = family
    params: dict[str, float | list[float]]
    if family in ("auto", "lognormal") and positive.size >= 2:
        logs = np.log(positive)
        mu, sigma = float(logs.mean()), max(float(logs.std()), 1e-9)
        mean = math.exp(mu + sigma**2 / 2)
        sd = mean * math.sqrt(math.expm1(sigma**2))
        ks = stats.kstest(x, "lognorm", args=(sigma, 0, math.exp(mu)))
        params = {"mean_min": round(mean, 4), "sd_min": round(sd, 4)}
        choice = "lognormal"
        if family == "auto" and x.size >= KS_MIN_N and ks.pvalue < KS_REJECT_P:
            choice = "empirical"
    elif family == "lognormal":
        raise ValueError(f"stage {stage}: a lognormal needs at least two positive durations")
    if choice in ("auto", "empirical"):
        qs = np.quantile(x, np.linspace(0, 1, min(EMPIRICAL_POINTS, x.size)))
        params = {"samples": [round(float(v), 4) for v in qs]}
        ks = stats.kstest(x, lambda v: np.searchsorted(np.sort(qs), v, side="right") / qs.size)
        choice = "empirical"
    elif choice == "triangular":
        low, high = float(x.min()), float(x.max())
        if high <= low:
            raise ValueError(f"stage {stage}: all durations equal; use a fixed time")
        mode = min(max(3 * float(x.mean()) - low - high, low), high)
        params = {"low": round(low, 4), "mode": round(mode, 4), "high": round(high, 4)}
        c = (mode - low) / (high - low)
        ks = stats.kstest(x, "triang", args=(c, low, high - low))
    return Fit(
        stage=stage,
        n=int(x.size),
        family=choice,
        params=params,
        ks_d=float(ks.statistic),
        ks_p=float(ks.pvalue),
        mean_min=float(x.mean()),
        servers_seen=servers_seen,
    )


def fit_events(events: list[Event], family: str = "auto") -> list[Fit]:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; use one of {', '.join(FAMILIES)}")
    fits = []
    for stage in sorted({e.stage for e in events}):
        mine = [e for e in events if e.stage == stage]
        starts = np.array([e.start for e in mine])
        ends = np.array([e.end for e in mine])
        fits.append(fit_stage(stage, ends - starts, max_concurrency(starts, ends), family))
    return fits


def _inline(fit: Fit) -> str:
    parts = [f'dist = "{fit.family}"']
    for k, v in fit.params.items():
        parts.append(
            f"{k} = [{', '.join(repr(x) for x in v)}]" if isinstance(v, list) else f"{k} = {v!r}"
        )
    return "{ " + ", ".join(parts) + " }"


def to_toml(fits: list[Fit], source: str) -> str:
    """Scenario-shaped fragment: stages named side.role.kind go where the scenario has them."""
    lines = [
        f"# Service times fitted by `silkgate twin calibrate` from {source}.",
        "# servers = the most services seen at once: a lower bound, check staffing rosters.",
        "",
    ]
    for f in fits:
        parts = f.stage.split(".")
        note = (
            f"# {f.stage}: n={f.n}, observed mean {f.mean_min:.2f} min, {f.family} fit, "
            f"KS D={f.ks_d:.3f} (p={f.ks_p:.3g})"
        )
        if len(parts) == 3 and parts[0] in ("cn", "kz") and parts[1] in ("exit", "entry"):
            lines += [note, f"[[sides.{parts[0]}.{parts[1]}.stages]]", f'kind = "{parts[2]}"']
        else:
            lines += [note, f'[calibration."{f.stage}"]']
        lines += [f"# WARNING: {w}" for w in f.warnings()]
        lines += [f"servers = {max(f.servers_seen, 1)}", f"service = {_inline(f)}", ""]
    return "\n".join(lines)
