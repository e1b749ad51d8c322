"""Risk engine benchmark: quality on the KCS set and speed, printed beside the targets.

Run from the project root::

    .venv/bin/python bench/risk.py            # table
    .venv/bin/python bench/risk.py --json     # machine-readable

Quality: train on train-2020.csv, choose hyper-parameters on valid-2021q1.csv (the validation
labels are used for nothing else), report the validation figures (DATE definitions) on all
rows and on the rows whose (HS6, net mass, value) triple never occurs in 2020, beside a plain
LightGBM without history features trained on the same rows (paired bootstrap intervals of the
difference, 1,000 resamples).
Speed: batch scoring rate, one-declaration latency (p99), and the wall time of the full training
command (features + hyper-parameter search + artifact) on the 2020 file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import silkgate.risk  # noqa: F401
except ImportError:  # not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
import pandas as pd

from silkgate.risk import paths
from silkgate.risk.learning import service
from silkgate.risk.learning.datasets import frame_to_records, load_mapping, read_table
from silkgate.risk.learning.scorer import RiskModel
from silkgate.risk.selectivity.engine import RiskEngine
from silkgate.risk.selectivity.profiles import load_profile

TARGETS = {
    "precision_at_5": 0.95,
    "precision_at_10": 0.88,
    "batch_per_second": 20_000,
    "one_p99_ms": 5.0,
    "train_seconds": 60.0,
}
PAPER_LIGHTGBM = {"precision_at_5": 0.762, "precision_at_10": 0.641}


def quality_and_training(kcs: Path, artifacts: Path) -> tuple[dict, RiskModel]:
    """Train with the shipped command path; return validation figures and the model."""
    started = time.perf_counter()
    meta, folder = service.train(kcs / "train-2020.csv", "kcs", kcs / "valid-2021q1.csv", artifacts)
    train_seconds = time.perf_counter() - started
    report = meta.validation_report
    assert report is not None
    online = service.evaluate(folder, kcs / "valid-2021q1.csv", "kcs", history="online")
    out = {
        "model_id": meta.model_id,
        "train_seconds": round(train_seconds, 2),
        "chosen": {
            k: meta.params.get(k) for k in ("num_leaves", "min_data_in_leaf", "trader_categoricals")
        },
        "trees": meta.best_iteration,
        "trials": len(meta.search),
        "auc": report.auc,
        "at": {
            f"{a.n:g}": {"precision": a.precision, "recall": a.recall, "selected": a.selected}
            for a in report.at
        },
        "online_history": {f"{a.n:g}": a.precision for a in online.at} | {"auc": online.auc},
        "slices": [_slice(sl) for sl in report.slices],
        "online_slices": [_slice(sl) for sl in online.slices],
    }
    return out, RiskModel.load(folder)


def _slice(sl: Any) -> dict:
    """One slice of the comparison with the plain baseline, as plain numbers."""
    return {
        "name": sl.name,
        "rows": sl.rows,
        "positives": sl.positives,
        "resamples": sl.resamples,
        "figures": {
            d.metric: {
                "model": d.model,
                "baseline": d.baseline,
                "difference": d.difference,
                "interval": [d.low, d.high],
            }
            for d in sl.differences
        },
    }


def _print_slices(title: str, slices: list[dict]) -> None:
    print(f"  {title}")
    print(f"  {'rows':<24}{'figure':<15}{'model':>7}{'plain':>7}{'diff':>8}  95% interval")
    for sl in slices:
        label = f"{sl['name']} {sl['rows']} ({sl['positives']})"
        for i, (metric, f) in enumerate(sl["figures"].items()):
            low, high = f["interval"]
            print(
                f"  {label if i == 0 else '':<24}{metric:<15}{f['model']:>7.3f}"
                f"{f['baseline']:>7.3f}{f['difference']:>+8.3f}  [{low:+.3f}, {high:+.3f}]"
            )


def speed(model: RiskModel, kcs: Path, repeats: int = 3) -> dict:
    """Batch rate over 5x the validation file and one-at-a-time latency percentiles."""
    mapping = load_mapping("kcs")
    valid = read_table(kcs / "valid-2021q1.csv", mapping)
    big = pd.concat([valid] * 5, ignore_index=True)
    model.score_frame(big.head(100))  # warm up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.score_frame(big)
        rates.append(len(big) / (time.perf_counter() - t0))
    records = frame_to_records(valid.head(2000), mapping.extra_fields)
    for rec in records[:50]:
        model.score(rec)
    lat = []
    for rec in records:
        t0 = time.perf_counter()
        model.score(rec)
        lat.append((time.perf_counter() - t0) * 1000)
    profile_path = (
        Path(__file__).resolve().parents[1] / "src/silkgate/risk/examples/kcs-import.toml"
    )
    engine = RiskEngine(load_profile(profile_path), model)
    full = []
    for rec in records:
        t0 = time.perf_counter()
        engine.assess(rec, explain=True)
        full.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    engine.assess_batch(records)
    engine_rate = len(records) / (time.perf_counter() - t0)
    return {
        "batch_rows": len(big),
        "batch_per_second": round(max(rates)),
        "batch_per_second_runs": [round(r) for r in rates],
        "one_p50_ms": round(float(np.percentile(lat, 50)), 3),
        "one_p99_ms": round(float(np.percentile(lat, 99)), 3),
        "assess_with_explanation_p99_ms": round(float(np.percentile(full, 99)), 3),
        "engine_batch_per_second": round(engine_rate),
    }


def verdict(value: float | None, target: float, higher: bool = True) -> str:
    if value is None:
        return "n/a"
    return "PASS" if (value >= target if higher else value <= target) else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--artifacts", type=Path, help="keep the model here (default: temp dir)")
    args = parser.parse_args()
    kcs = paths.kcs_dir()
    if not (kcs / "train-2020.csv").is_file():
        print(f"KCS data not found in {kcs}; set SILKGATE_SHARED_DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = args.artifacts or Path(tmp)
        quality, model = quality_and_training(kcs, artifacts)
        timing = speed(model, kcs)
    result = {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "quality": quality,
        "speed": timing,
        "targets": TARGETS,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p5 = quality["at"]["5"]["precision"]
    p10 = quality["at"]["10"]["precision"]
    print(f"Risk engine benchmark — model {quality['model_id']}")
    print("Quality: trained on train-2020.csv, hyper-parameters chosen on valid-2021q1.csv")
    print(f"  chosen {quality['chosen']}, {quality['trees']} trees, {quality['trials']} trials")
    print("  n%   precision  recall  selected   (valid-2021q1, frozen history)")
    for n, row in quality["at"].items():
        print(f"  {n:>3}  {row['precision']:.3f}      {row['recall']:.3f}   {row['selected']}")
    print(
        f"  AUC {quality['auc']:.4f}; with online history (daily outcome updates, no "
        f"retraining): P@5 {quality['online_history']['5']:.3f}, "
        f"P@10 {quality['online_history']['10']:.3f}"
    )
    print()
    _print_slices(
        "Model vs plain LightGBM (no history; same rows, same early stopping), frozen history; "
        "never-seen = (HS6, mass, value) not in 2020",
        quality["slices"],
    )
    _print_slices("The same with online history", quality["online_slices"])
    rows = [
        ("Precision@5%", p5, TARGETS["precision_at_5"], True, PAPER_LIGHTGBM["precision_at_5"]),
        ("Precision@10%", p10, TARGETS["precision_at_10"], True, PAPER_LIGHTGBM["precision_at_10"]),
        ("batch scoring /s", timing["batch_per_second"], TARGETS["batch_per_second"], True, None),
        ("one declaration p99 ms", timing["one_p99_ms"], TARGETS["one_p99_ms"], False, None),
        ("train on 2020 file s", quality["train_seconds"], TARGETS["train_seconds"], False, None),
    ]
    print()
    print(f"  {'figure':<24}{'measured':>12}{'target':>12}{'paper LGBM':>12}  verdict")
    for name, value, target, higher, paper in rows:
        paper_txt = f"{paper:.3f}" if paper is not None else ""
        sign = "≥" if higher else "≤"
        shown = f"{value:.3f}" if isinstance(value, float) and value < 100 else f"{value:,}"
        print(
            f"  {name:<24}{shown:>12}{sign + ' ' + format(target, 'g'):>12}{paper_txt:>12}  "
            f"{verdict(value, target, higher)}"
        )
    print(
        f"  (one declaration with lanes and explanation: p99 "
        f"{timing['assess_with_explanation_p99_ms']} ms; engine batch with profile "
        f"{timing['engine_batch_per_second']:,}/s; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
