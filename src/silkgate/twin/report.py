"""Self-contained HTML report with hand-made inline SVG plots (no plotting library needed)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from silkgate.twin.service import CompareReport, RunReport, traffic_label
from silkgate.twin.stats import Estimate

COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#e377c2",
    "#7f7f7f",
)
W, H, PAD = 1000, 300, 50
RIGHT = 270  # legend column right of the plot
MAX_POINTS = 1500

Line = tuple[str, Sequence[float], Sequence[float]]

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}.note{color:#555;font-size:.9em}"""


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.3g}" if abs(x) < 10 else f"{x:,.1f}"


def fmt_estimate(e: Estimate) -> str:
    if not math.isfinite(e.half_width):
        return _fmt(e.mean)
    return f"{_fmt(e.mean)} ± {_fmt(e.half_width)}"


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    step = max(1, len(xs) // MAX_POINTS)
    return list(xs[::step]), list(ys[::step])


def line_chart(title: str, lines: Sequence[Line], xlabel: str, ylabel: str) -> str:
    """Polylines on shared axes with a legend."""
    pts = [(lab, *_thin(x, y)) for lab, x, y in lines if len(x)]
    if not pts:
        return ""
    x_max = max(max(x) for _, x, _ in pts) or 1.0
    y_max = max(max(y) for _, _, y in pts) or 1.0
    sx = (W - PAD - RIGHT) / x_max
    sy = (H - 2 * PAD) / y_max
    out = [_frame(title, xlabel, ylabel, x_max, y_max)]
    for i, (label, xs, ys) in enumerate(pts):
        color = COLORS[i % len(COLORS)]
        path = " ".join(
            f"{PAD + x * sx:.1f},{H - PAD - y * sy:.1f}" for x, y in zip(xs, ys, strict=True)
        )
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.4" points="{path}"/>')
        out.append(_legend(i, label, color))
    return f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">{"".join(out)}</svg>'


def histogram(title: str, groups: Sequence[tuple[str, Sequence[float]]], xlabel: str) -> str:
    """Share of trucks per bin, one outline per group, bins shared (up to the 99.5th pct)."""
    data = [(lab, np.asarray(v, dtype=float)) for lab, v in groups if len(v)]
    if not data:
        return ""
    hi = max(float(np.percentile(v, 99.5)) for _, v in data) or 1.0
    edges = np.linspace(0, hi, 41)
    shares = [(lab, np.histogram(np.clip(v, 0, hi), edges)[0] / v.size) for lab, v in data]
    y_max = max(float(s.max()) for _, s in shares) or 1.0
    sx, sy = (W - PAD - RIGHT) / hi, (H - 2 * PAD) / y_max
    out = [_frame(title, xlabel, "share of trucks", hi, y_max)]
    for i, (label, s) in enumerate(shares):
        color = COLORS[i % len(COLORS)]
        pts = [f"{PAD:.1f},{H - PAD:.1f}"]
        for k, v in enumerate(s):
            y = H - PAD - v * sy
            pts += [f"{PAD + edges[k] * sx:.1f},{y:.1f}", f"{PAD + edges[k + 1] * sx:.1f},{y:.1f}"]
        pts.append(f"{PAD + hi * sx:.1f},{H - PAD:.1f}")
        out.append(
            f'<polyline fill="{color}" fill-opacity="0.15" stroke="{color}" '
            f'points="{" ".join(pts)}"/>'
        )
        out.append(_legend(i, label, color))
    return f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">{"".join(out)}</svg>'


def _frame(title: str, xlabel: str, ylabel: str, x_max: float, y_max: float) -> str:
    parts = [
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-weight="bold">'
        f"{html.escape(title)}</text>",
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - RIGHT}" y2="{H - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
        f'<text x="{(W - RIGHT + PAD) / 2}" y="{H - 12}" text-anchor="middle" font-size="12">'
        f"{html.escape(xlabel)}</text>",
        f'<text x="14" y="{H / 2}" font-size="12" transform="rotate(-90 14 {H / 2})" '
        f'text-anchor="middle">{html.escape(ylabel)}</text>',
    ]
    for k in range(5):
        fx, fy = k / 4, k / 4
        x = PAD + fx * (W - PAD - RIGHT)
        y = H - PAD - fy * (H - 2 * PAD)
        parts.append(
            f'<text x="{x:.0f}" y="{H - PAD + 14}" font-size="10" text-anchor="middle">'
            f"{_fmt(fx * x_max)}</text>"
        )
        parts.append(
            f'<text x="{PAD - 4}" y="{y:.0f}" font-size="10" text-anchor="end">'
            f"{_fmt(fy * y_max)}</text>"
        )
    return "".join(parts)


def _legend(i: int, label: str, color: str) -> str:
    y = PAD + 4 + 14 * i
    return (
        f'<rect x="{W - RIGHT + 15}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
        f'<text x="{W - RIGHT + 30}" y="{y}" font-size="11">{html.escape(label)}</text>'
    )


def _mean_series(rep: RunReport, key: str) -> tuple[list[float], list[float]]:
    runs = [r.series[key] for r in rep.replications if key in r.series]
    if not runs:
        return [], []
    n = min(len(s) for s in runs)
    mean = np.mean([s[:n] for s in runs], axis=0)
    return rep.replications[0].sample_t_h[:n], mean.tolist()


def _queue_keys(rep: RunReport) -> list[tuple[str, str]]:
    """Per direction: trucks in the system, the waiting area and the three longest queues."""
    keys: list[tuple[str, str]] = []
    for d in rep.scenario.directions:
        keys.append((f"{d}: trucks at the checkpoints", f"{d}.in_system"))
        if rep.scenario.directions[d].equeue is not None:
            keys.append((f"{d}: e-queue waiting area", f"{d}.waiting_area"))
            keys.append((f"{d}: waiting for a slot", f"{d}.equeue_backlog"))
    stage_q = {
        k[6:-11]: e.mean
        for k, e in rep.estimates.items()
        if k.startswith("stage.") and k.endswith(".queue_mean")
    }
    for name, _ in sorted(stage_q.items(), key=lambda kv: -kv[1])[:3]:
        keys.append((f"queue at {name}", name))
    return keys


def _metrics_table(reports: list[RunReport], diff: dict[str, Estimate] | None) -> str:
    keys = [k for k in reports[0].estimates if not k.startswith("stage.")]
    keys += sorted(
        (
            k
            for k in reports[0].estimates
            if k.startswith("stage.") and k.endswith(("utilization", "wait_h"))
        ),
    )
    head = "".join(f"<th>{html.escape(r.scenario.name)} (mean ± 95% CI)</th>" for r in reports)
    if diff is not None:
        head += "<th>B − A (paired, 95% CI)</th>"
    rows = []
    for k in keys:
        cells = "".join(
            f"<td>{fmt_estimate(r.estimates[k]) if k in r.estimates else '–'}</td>" for r in reports
        )
        if diff is not None:
            cells += f"<td>{fmt_estimate(diff[k]) if k in diff else '–'}</td>"
        rows.append(f"<tr><td>{html.escape(k)}</td>{cells}</tr>")
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"


def _section(rep: RunReport) -> str:
    lines = []
    for label, key in _queue_keys(rep):
        x, y = _mean_series(rep, key)
        lines.append((label, x, y))
    tis = [
        (d, [v for r in rep.replications for v in r.time_in_system_h.get(d, [])])
        for d in rep.scenario.directions
    ]
    bott = "".join(
        f"<li>{html.escape(d)}: {html.escape(b)}</li>" for d, b in rep.bottleneck.items()
    )
    return (
        f"<h2>{html.escape(rep.scenario.name)}</h2><p>{html.escape(rep.scenario.description)}</p>"
        f"<p class='note'>{len(rep.replications)} replications × {rep.days} days "
        f"(first {rep.warmup_days} days warm-up), seed {rep.seed}, "
        f"traffic {html.escape(traffic_label(rep.scenario))}, {rep.wall_seconds:.1f} s.</p>"
        f"<h3>Bottleneck (most truck-hours waited)</h3><ul>{bott}</ul>"
        + line_chart(
            f"{rep.scenario.name}: queue length over time (mean of replications)",
            lines,
            "hours since start",
            "trucks",
        )
        + histogram(f"{rep.scenario.name}: time in system", tis, "hours (ready to released)")
    )


def _page(title: str, body: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='note'>Silkgate digital twin, generated {stamp}.</p>{body}</body></html>"
    )


def render_run(rep: RunReport) -> str:
    return _page(f"Twin run: {rep.scenario.name}", _section(rep) + _metrics_table([rep], None))


def render_compare(cmp: CompareReport) -> str:
    tis = [
        (
            f"{r.scenario.name} {d}",
            [v for x in r.replications for v in x.time_in_system_h.get(d, [])],
        )
        for r in (cmp.a, cmp.b)
        for d in r.scenario.directions
    ]
    body = (
        histogram("time in system, A and B", tis, "hours (ready to released)")
        + _section(cmp.a)
        + _section(cmp.b)
        + "<h2>Figures</h2>"
        + _metrics_table([cmp.a, cmp.b], cmp.differences)
    )
    return _page(f"Twin compare: {cmp.a.scenario.name} vs {cmp.b.scenario.name}", body)
