"""Self-contained HTML report for a planner: the figures that matter first, in names rather
than model keys, queues over days, and the trucks still waiting when the run ends."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from silkgate.twin import labels
from silkgate.twin.charts import Line, fmt, histogram, line_chart
from silkgate.twin.schemas import DIRECTIONS
from silkgate.twin.service import CompareReport, RunReport, traffic_label
from silkgate.twin.stats import Estimate

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:4px 9px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}.note{color:#555;font-size:.9em}
.key td{font-size:1.05em;white-space:nowrap}.key td:first-child{white-space:normal}
.l{text-align:left!important}td[rowspan]{vertical-align:top}
details{margin:1em 0}summary{cursor:pointer}"""

FIGURE_NAMES = {
    "demand_per_day": "trucks ready to cross per day",
    "released_per_day": "trucks across per day",
    "arrived_per_day": "trucks reaching the first gate per day",
    "time_in_system_h.mean": "mean time to cross* (ready → released)",
    "time_in_system_h.p50": "half of the trucks cross within*",
    "time_in_system_h.p90": "9 in 10 trucks cross within*",
    "time_in_system_h.p99": "99 in 100 trucks cross within*",
    "time_in_system_released_h.mean": "mean time to cross, released trucks only",
    "time_in_system_released_h.p90": "p90 time to cross, released trucks only",
    "censored_share": "share of trucks still waiting at the end",
    "over_24h_share": "trucks taking over 24 h*",
    "waiting_h.mean": "mean waiting per truck*",
    "service_h.mean": "mean time being checked or driving*",
    "time_at_border_h.mean": "mean time at the border",
    "equeue_wait_h.mean": "mean wait for an e-queue slot, away from the border*",
    "waiting_area_h.mean": "mean time in the e-queue waiting area*",
    "unreleased_end": "trucks not yet across at the end",
    "unreleased_over_24h_end": "… of them waiting over 24 h",
    "unreleased_wait_h.mean": "their mean wait so far",
    "unreleased_wait_h.max": "the longest wait so far",
    "in_system_end": "trucks at the checkpoints at the end",
    "equeue_backlog_end": "trucks waiting for a slot at the end",
    "no_shows": "e-queue no-shows (whole run)",
    "booked_beyond_horizon": "slots booked after the end of the run",
    "waiting_area_peak": "most trucks in the waiting area at once",
    "little_rel_gap": "Little's law check (0 = every truck accounted for)",
}
STAGE_FIGURES = {
    "utilization": "busy share of staffed time",
    "wait_h": "mean wait per truck",
    "queue_mean": "mean queue",
    "visits_per_day": "trucks per day",
    "cap_reached_days": "days the acceptance cap was reached",
}
KEY_FIGURES = (
    "demand_per_day",
    "released_per_day",
    "time_in_system_h.mean",
    "time_in_system_h.p90",
    "over_24h_share",
    "unreleased_end",
    "unreleased_over_24h_end",
    "unreleased_wait_h.max",
    "waiting_h.mean",
    "time_at_border_h.mean",
)
SHARES = ("censored_share", "over_24h_share")


def fmt_estimate(e: Estimate) -> str:
    if not math.isfinite(e.half_width):
        return fmt(e.mean)
    return f"{fmt(e.mean)} ± {fmt(e.half_width)}"


def _value(key: str, e: Estimate) -> str:
    """An estimate in the unit a planner reads: %, trucks, or hours (and days when long)."""
    if key.endswith(SHARES):
        return f"{e.mean:.0%}" + (f" ± {e.half_width:.0%}" if math.isfinite(e.half_width) else "")
    text = fmt_estimate(e)
    if "_h." in key or key.endswith("_h"):
        text += " h"
        if abs(e.mean) >= 48:
            text += f" ({e.mean / 24:.1f} days)"
    return text


def figure_label(rep: RunReport, key: str) -> str:
    """'kz_to_cn.unreleased_at.equeue' → 'KZ → CN: waiting for an e-queue slot, …'."""
    sc = rep.scenario
    if key.startswith("stage."):
        name, _, fig = key[6:].rpartition(".")
        return f"{labels.stage(sc, name)}: {STAGE_FIGURES.get(fig, fig)}"
    d, _, rest = key.partition(".")
    head = labels.direction(d, short=True)
    if rest.startswith("unreleased_at."):
        return f"{head}: not yet across, {labels.place(sc, d, rest[len('unreleased_at.') :])}"
    return f"{head}: {FIGURE_NAMES.get(rest, rest)}"


def _key_table(reports: list[RunReport], diff: dict[str, Estimate] | None) -> str:
    dirs = list(reports[0].scenario.directions)
    per = len(reports) + (diff is not None)
    head1 = "".join(f"<th colspan='{per}'>{html.escape(labels.direction(d))}</th>" for d in dirs)
    names = [html.escape(r.scenario.name) for r in reports] + (["B − A"] if diff else [])
    head2 = "".join(f"<th>{n}</th>" for _ in dirs for n in names) if per > 1 else ""
    rows = []
    for fig in KEY_FIGURES:
        cells = []
        for d in dirs:
            k = f"{d}.{fig}"
            for r in reports:
                cells.append(_value(k, r.estimates[k]) if k in r.estimates else "–")
            if diff is not None:
                cells.append(_value(k, diff[k]) if k in diff else "–")
        label = FIGURE_NAMES.get(fig, fig)
        rows.append(f"<tr><td>{html.escape(label)}</td>{''.join(f'<td>{c}</td>' for c in cells)}")
    head = f"<tr><th rowspan='{2 if head2 else 1}'>figure</th>{head1}</tr>"
    if head2:
        head += f"<tr>{head2}</tr>"
    return f"<table class='key'>{head}{''.join(rows)}</table>"


def _censor_note(rep: RunReport) -> str:
    parts = []
    for d in rep.scenario.directions:
        n = rep.estimates.get(f"{d}.unreleased_end")
        share = rep.estimates.get(f"{d}.censored_share")
        if n is not None and share is not None:
            parts.append(f"{labels.direction(d, short=True)} {fmt(n.mean)} ({share.mean:.0%})")
    return (
        "* Over every truck that crossed after the warm-up <b>and every truck still waiting "
        f"when the run ends</b> ({html.escape(', '.join(parts))}), counted with its wait so "
        "far. Where many trucks are still waiting, these are lower bounds: their waits go on."
    )


def unreleased_rows(reports: list[RunReport]) -> list[tuple[str, str, list[Estimate | None]]]:
    """(direction, place, trucks per report) for the trucks still waiting at the end: away
    from the border, in the waiting area, in each checkpoint queue; trucks being checked or
    driving between checkpoints are summed into one row. Places with no truck are dropped."""
    from silkgate.twin.stats import estimate

    rep0 = reports[0]
    rows: list[tuple[str, str, list[Estimate | None]]] = []
    for d in rep0.scenario.directions:
        prefix = f"{d}.unreleased_at."
        keys = sorted(
            {k for r in reports for k in r.estimates if k.startswith(prefix)},
            key=lambda k: (PLACE_ORDER.get(k[len(prefix) :].split(".")[0], 9), k),
        )
        groups: dict[str, list[str]] = {}
        for k in keys:
            place = k[len(prefix) :]
            label = (
                "being checked, or driving between checkpoints"
                if place.startswith("service.")
                else labels.place(rep0.scenario, d, place)
            )
            groups.setdefault(label, []).append(k)
        for label, members in groups.items():
            values: list[Estimate | None] = []
            for r in reports:
                if not any(k in r.estimates for k in members):
                    values.append(None)
                    continue
                values.append(estimate([sum(m.get(k, 0.0) for k in members) for m in r.per_rep]))
            if any(v is not None and v.mean >= 0.5 for v in values):
                rows.append((labels.direction(d), label, values))
    return rows


PLACE_ORDER = {"equeue": 0, "waiting_area": 1, "call_forward": 2, "queue": 3, "service": 4}


def _unreleased_table(reports: list[RunReport]) -> str:
    rows, last = [], None
    found = unreleased_rows(reports)
    for d, place, values in found:
        span = sum(1 for x in found if x[0] == d)
        head = f"<td rowspan='{span}' class='l'><b>{html.escape(d)}</b></td>" if d != last else ""
        last = d
        cells = "".join(f"<td>{fmt_estimate(v) if v else '–'}</td>" for v in values)
        rows.append(f"<tr>{head}<td class='l'>{html.escape(place)}</td>{cells}</tr>")
    if not rows:
        return "<p>Every truck that became ready was across by the end of the run.</p>"
    names = "".join(f"<th>{html.escape(r.scenario.name)}: trucks</th>" for r in reports)
    return (
        f"<table><tr><th>direction</th><th class='l'>where</th>{names}</tr>{''.join(rows)}</table>"
    )


def _mean_series(rep: RunReport, key: str | Callable[[str], bool]) -> list[float]:
    """Mean over replications of one series, or of the sum of the series a key test picks."""
    runs = []
    for r in rep.replications:
        keys = [key] if isinstance(key, str) else [k for k in r.series if key(k)]
        parts = [r.series[k] for k in keys if k in r.series]
        if parts:
            n = min(len(p) for p in parts)
            runs.append(np.sum([p[:n] for p in parts], axis=0))
    if not runs:
        return []
    n = min(len(s) for s in runs)
    return np.mean([s[:n] for s in runs], axis=0).tolist()


def _queue_lines(rep: RunReport) -> list[Line]:
    """One line per direction and place: waiting for a slot, in the waiting area, in the
    queues of the exit side's and of the entry side's checkpoint."""
    sc = rep.scenario
    t_days = [t / 24 for t in rep.replications[0].sample_t_h]
    stage_dir = {s: d for d in sc.directions for s in _stage_names(rep, d)}
    lines = []
    for i, d in enumerate(sc.directions):
        exit_side, entry_side = DIRECTIONS[d]
        head = labels.direction(d, short=True)
        places: list[tuple[str, str | Callable[[str], bool], int]] = []
        if sc.directions[d].equeue is not None:
            places.append(("waiting for an e-queue slot", f"{d}.equeue_backlog", 0))
            places.append(("e-queue waiting area", f"{d}.waiting_area", 1))
        for j, (side, role) in enumerate(((exit_side, "exit"), (entry_side, "entry"))):

            def pick(k: str, side: str = side, role: str = role, d: str = d) -> bool:
                return k.startswith(f"{side}.{role}.") and stage_dir.get(k) == d

            places.append((f"queues at {labels.side(sc, side)} {role}", pick, 2 + j))
        for label, key, color in places:
            y = _mean_series(rep, key)
            if y and max(y) >= 0.5:
                n = min(len(y), len(t_days))
                lines.append(Line(f"{head}: {label}", t_days[:n], y[:n], color, i == 1))
    return lines


def _stage_names(rep: RunReport, d: str) -> list[str]:
    """Stage names of a direction, from the per-stage figures (stages are per direction)."""
    exit_side, entry_side = DIRECTIONS[d]
    names = {
        k[6:].rsplit(".", 1)[0]
        for k in rep.estimates
        if k.startswith("stage.") and k.endswith(".queue_mean")
    }
    return [n for n in names if n.startswith((f"{exit_side}.exit.", f"{entry_side}.entry."))]


def _section(rep: RunReport, title: str) -> str:
    sc = rep.scenario
    tis = [
        (
            labels.direction(d),
            [v for r in rep.replications for v in r.time_in_system_h.get(d, [])],
        )
        for d in sc.directions
    ]
    bott = "".join(
        f"<li><b>{html.escape(labels.direction(d))}</b>: {html.escape(labels.humanize(sc, b))}</li>"
        for d in sc.directions
        if (b := rep.bottleneck.get(d))
    )
    days = rep.days
    return (
        f"<h2>{html.escape(title)}</h2>"
        f"<h3>Where the trucks not yet across stand at the end (day {days})</h3>"
        + _unreleased_table([rep])
        + f"<h3>Where the waiting happens</h3><ul>{bott}</ul>"
        + line_chart(
            f"Trucks waiting, by direction and place (mean of {len(rep.replications)} runs)",
            _queue_lines(rep),
            "days since the start of the run",
            "trucks",
            shade_until=rep.warmup_days,
            shade_label="warm-up (not measured)" if rep.warmup_days else "",
        )
        + "<p class='note'>Solid lines: China → Kazakhstan; dashed: Kazakhstan → China. "
        "Places with no queue are left out.</p>"
        + histogram(
            "Time to cross (trucks still waiting: time so far)",
            tis,
            "hours from ready to cross to released",
            marker=24,
            marker_label="24 h",
        )
    )


def _full_table(reports: list[RunReport], diff: dict[str, Estimate] | None) -> str:
    rep0 = reports[0]
    keys = [k for k in rep0.estimates if not k.startswith("stage.") and ".unreleased_at." not in k]
    keys += sorted(k for k in rep0.estimates if k.startswith("stage."))
    names = "".join(f"<th>{html.escape(r.scenario.name)}</th>" for r in reports)
    if diff is not None:
        names += "<th>B − A (paired)</th>"
    rows = []
    for k in keys:
        cells = "".join(
            f"<td>{_value(k, r.estimates[k]) if k in r.estimates else '–'}</td>" for r in reports
        )
        if diff is not None:
            cells += f"<td>{_value(k, diff[k]) if k in diff else '–'}</td>"
        rows.append(
            f"<tr><td>{html.escape(figure_label(rep0, k))}</td>{cells}"
            f"<td class='note'>{html.escape(k)}</td></tr>"
        )
    return (
        "<details><summary>All figures (mean ± 95% interval over the runs; last column: the "
        f"key in the JSON output)</summary><table><tr><th>figure</th>{names}<th>key</th></tr>"
        f"{''.join(rows)}</table></details>"
    )


def _run_note(rep: RunReport) -> str:
    return (
        f"<p class='note'>{len(rep.replications)} runs × {rep.days} days (first "
        f"{rep.warmup_days} days warm-up, not measured), seed {rep.seed}, traffic "
        f"{html.escape(traffic_label(rep.scenario))}, computed in {rep.wall_seconds:.1f} s.</p>"
    )


def _page(title: str, body: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        f"<p class='note'>Silkgate digital twin, generated {stamp}.</p></body></html>"
    )


def render_run(rep: RunReport) -> str:
    body = (
        f"<p>{html.escape(rep.scenario.description)}</p>{_run_note(rep)}"
        "<h2>The figures that matter</h2>"
        + _key_table([rep], None)
        + f"<p class='note'>{_censor_note(rep)}</p>"
        + _section(rep, "Queues and waiting")
        + _full_table([rep], None)
    )
    return _page(f"{rep.scenario.name}: simulated crossing", body)


def render_compare(cmp: CompareReport) -> str:
    a, b = cmp.a, cmp.b
    tis = [
        (
            f"{r.scenario.name}, {labels.direction(d, short=True)}",
            [v for x in r.replications for v in x.time_in_system_h.get(d, [])],
        )
        for r in (a, b)
        for d in r.scenario.directions
    ]
    body = (
        f"<p><b>A</b>: {html.escape(a.scenario.description)}<br><b>B</b>: "
        f"{html.escape(b.scenario.description)}</p>{_run_note(a)}"
        "<h2>The figures that matter</h2>"
        + _key_table([a, b], cmp.differences)
        + f"<p class='note'>{_censor_note(a)} B − A: paired 95% intervals (same seeds).</p>"
        + "<h3>Trucks not yet across at the end</h3>"
        + _unreleased_table([a, b])
        + histogram("Time to cross, A and B", tis, "hours from ready to released", 24, "24 h")
        + _section(a, f"A: {a.scenario.name}")
        + _section(b, f"B: {b.scenario.name}")
        + _full_table([a, b], cmp.differences)
    )
    return _page(f"{a.scenario.name} (A) against {b.scenario.name} (B)", body)
