"""Hand-made inline SVG charts for the twin's HTML report (no plotting library needed)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
W, H, PAD, TOP = 1000, 340, 60, 40
RIGHT = 300  # legend column right of the plot
MAX_POINTS = 1500


@dataclass(frozen=True)
class Line:
    """One series: its legend label, points, colour index and dash pattern."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: int = 0
    dashed: bool = False


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.3g}" if abs(x) < 10 else f"{x:,.1f}"


def tick(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else fmt(x)


def nice_ticks(top: float, n: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [k * step for k in range(math.ceil(top / step - 1e-9) + 1)]


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    step = max(1, len(xs) // MAX_POINTS)
    return list(xs[::step]), list(ys[::step])


class Frame:
    """Axes with round ticks; maps data to pixels."""

    def __init__(self, x_ticks: list[float], y_ticks: list[float]):
        self.x_max, self.y_max = x_ticks[-1] or 1.0, y_ticks[-1] or 1.0
        self.x_ticks, self.y_ticks = x_ticks, y_ticks

    def px(self, x: float) -> float:
        return PAD + x / self.x_max * (W - PAD - RIGHT)

    def py(self, y: float) -> float:
        return H - PAD - y / self.y_max * (H - PAD - TOP)

    def draw(self, title: str, xlabel: str, ylabel: str) -> str:
        x0, x1, y0, y1 = PAD, W - RIGHT, H - PAD, TOP
        parts = [
            f'<text x="{PAD}" y="22" font-weight="bold" font-size="15">{html.escape(title)}</text>'
        ]
        for t in self.y_ticks:
            y = self.py(t)
            parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#eee"/>')
            parts.append(
                f'<text x="{x0 - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">'
                f"{tick(t)}</text>"
            )
        for t in self.x_ticks:
            x = self.px(t)
            parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 5}" stroke="#333"/>')
            parts.append(
                f'<text x="{x:.1f}" y="{y0 + 19}" font-size="12" text-anchor="middle">'
                f"{tick(t)}</text>"
            )
        parts += [
            f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>',
            f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>',
            f'<text x="{(x0 + x1) / 2}" y="{H - 14}" text-anchor="middle" font-size="13">'
            f"{html.escape(xlabel)}</text>",
            f'<text x="16" y="{(y0 + y1) / 2}" font-size="13" text-anchor="middle" '
            f'transform="rotate(-90 16 {(y0 + y1) / 2})">{html.escape(ylabel)}</text>',
        ]
        return "".join(parts)


def _svg(body: str) -> str:
    return (
        f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif">{body}</svg>'
    )


def _legend(i: int, label: str, color: str, dashed: bool = False) -> str:
    y = TOP + 6 + 18 * i
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return (
        f'<line x1="{W - RIGHT + 15}" y1="{y - 4}" x2="{W - RIGHT + 40}" y2="{y - 4}" '
        f'stroke="{color}" stroke-width="2.5"{dash}/>'
        f'<text x="{W - RIGHT + 46}" y="{y}" font-size="12">{html.escape(label)}</text>'
    )


def line_chart(
    title: str,
    lines: Sequence[Line],
    xlabel: str,
    ylabel: str,
    shade_until: float = 0.0,
    shade_label: str = "",
) -> str:
    """Polylines on shared axes with a legend; an optional grey band from 0 (e.g. warm-up)."""
    pts = [(ln, *_thin(ln.x, ln.y)) for ln in lines if len(ln.x)]
    if not pts:
        return ""
    x_top = max(max(x) for _, x, _ in pts)
    y_top = max(max(y) for _, _, y in pts)
    frame = Frame(nice_ticks(x_top, 8), nice_ticks(max(y_top, 1.0)))
    out = [frame.draw(title, xlabel, ylabel)]
    if shade_until > 0:
        w = frame.px(shade_until) - PAD
        out.append(
            f'<rect x="{PAD}" y="{TOP}" width="{w:.1f}" height="{H - PAD - TOP}" '
            f'fill="#000" fill-opacity="0.05"/>'
            f'<text x="{PAD + 4}" y="{TOP + 12}" font-size="11" fill="#666">'
            f"{html.escape(shade_label)}</text>"
        )
    for i, (ln, xs, ys) in enumerate(pts):
        color = COLORS[ln.color % len(COLORS)]
        path = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in zip(xs, ys, strict=True))
        dash = ' stroke-dasharray="6 4"' if ln.dashed else ""
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{path}"/>'
        )
        out.append(_legend(i, ln.label, color, ln.dashed))
    return _svg("".join(out))


def histogram(
    title: str,
    groups: Sequence[tuple[str, Sequence[float]]],
    xlabel: str,
    marker: float | None = None,
    marker_label: str = "",
) -> str:
    """Share of trucks per bin, one outline per group, bins shared (up to the 99.5th pct)."""
    data = [(lab, np.asarray(v, dtype=float)) for lab, v in groups if len(v)]
    if not data:
        return ""
    hi = max(float(np.percentile(v, 99.5)) for _, v in data) or 1.0
    x_ticks = nice_ticks(hi, 8)
    edges = np.linspace(0, x_ticks[-1], 41)
    shares = [(lab, np.histogram(np.clip(v, 0, edges[-1]), edges)[0] / v.size) for lab, v in data]
    y_top = max(float(s.max()) for _, s in shares) or 1.0
    frame = Frame(x_ticks, nice_ticks(y_top * 100))
    out = [frame.draw(title, xlabel, "% of trucks")]
    for i, (label, s) in enumerate(shares):
        color = COLORS[i % len(COLORS)]
        pts = [f"{PAD:.1f},{H - PAD:.1f}"]
        for k, v in enumerate(s):
            y = frame.py(v * 100)
            pts += [f"{frame.px(edges[k]):.1f},{y:.1f}", f"{frame.px(edges[k + 1]):.1f},{y:.1f}"]
        pts.append(f"{frame.px(edges[-1]):.1f},{H - PAD:.1f}")
        out.append(
            f'<polyline fill="{color}" fill-opacity="0.15" stroke="{color}" '
            f'points="{" ".join(pts)}"/>'
        )
        out.append(_legend(i, label, color))
    if marker is not None and marker < edges[-1]:
        x = frame.px(marker)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - PAD}" stroke="#555" '
            f'stroke-dasharray="3 3"/><text x="{x + 4:.1f}" y="{TOP + 12}" font-size="11" '
            f'fill="#555">{html.escape(marker_label)}</text>'
        )
    return _svg("".join(out))
