"""A realistic demo year straight into the lake: both directions through five crossings,
mirror declarations, lanes, inspections, e-queue bookings and both checkpoints' gate events.

``generate`` writes the same lake ``analytics export`` writes (same datasets, file schemas,
Hive partitions and manifests), so ``lake.connect`` and the analytics jobs read it unchanged;
it is for benchmarks and demos at a scale the operational database would take hours to fill.
A few days at a time are simulated (numpy, vectorised) and written on worker threads while
the next are simulated, so memory stays bounded. The same seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from silkgate.analytics import lake as lk
from silkgate.analytics.generator_lake import LakeWriter, has_manifests, targets
from silkgate.analytics.generator_sim import World, simulate
from silkgate.analytics.generator_tables import tables
from silkgate.analytics.generator_trade import chunk_targets, chunks
from silkgate.analytics.generator_world import COUNTRIES, YEARS
from silkgate.core.errors import FieldError, ValidationFailed

MAX_GOODS_ITEMS = 1_000_000_000
MAX_SEED = 2**31 - 1
OnProgress = Callable[[int, int, str], None]  # goods items done, goods items asked, what


class DatasetRows(BaseModel):
    dataset: str
    rows: int
    partitions: int
    files: int
    bytes: int
    assumed_columns: list[str] = Field(
        default_factory=list,
        description="Columns generated as agreed but not (yet) in the lake's dataset definition.",
    )


class GenerateReport(BaseModel):
    lake: str
    run: str
    seed: int
    year: int
    goods_items: int
    datasets: list[DatasetRows]
    rows: int
    seconds: float
    rows_per_second: float
    peak_rss_mb: float = Field(description="Peak resident memory of this process so far (MB).")


def check(goods_items: int, year: int, seed: int, lake: Path, replace: bool) -> None:
    """Every bad option at once, named; nothing is read or written before this passes."""
    errors = []
    if goods_items < 1:
        errors.append(
            FieldError(
                "/goods_items", "not_positive", f"goods items must be 1 or more, not {goods_items}"
            )
        )
    elif goods_items > MAX_GOODS_ITEMS:
        errors.append(
            FieldError(
                "/goods_items",
                "too_large",
                f"at most {MAX_GOODS_ITEMS} goods items, not {goods_items}",
            )
        )
    if not YEARS[0] <= year <= YEARS[1]:
        errors.append(
            FieldError(
                "/year",
                "out_of_range",
                f"year must be {YEARS[0]}-{YEARS[1]} (the calendar's holidays "
                f"are known for those), not {year}",
            )
        )
    if not 0 <= seed <= MAX_SEED:
        errors.append(FieldError("/seed", "out_of_range", f"seed must be 0-{MAX_SEED}, not {seed}"))
    if lake.exists() and not lake.is_dir():
        errors.append(FieldError("/lake", "not_a_directory", f"{lake} is not a directory"))
    elif not replace and (found := has_manifests(lake)):
        errors.append(
            FieldError(
                "/lake",
                "lake_not_empty",
                f"the lake at {lake} already holds {', '.join(found)}; "
                "pass --replace to delete and regenerate it",
            )
        )
    if errors:
        raise ValidationFailed(errors)


def generate(
    lake: Path,
    goods_items: int,
    year: int,
    seed: int,
    replace: bool = False,
    utc_offset_hours: int = 8,
    on_progress: OnProgress | None = None,
) -> GenerateReport:
    """Generate the year into ``lake`` (``replace``: delete the lake's datasets first)."""
    check(goods_items, year, seed, lake, replace)
    started = time.perf_counter()
    run = f"gen{year}-seed{seed}-{goods_items}"  # the same options give the same bytes
    names = list(targets())
    with lk.locked(lake):  # an export into the same lake waits for another day
        for name in names:
            if replace:
                shutil.rmtree(lake / name, ignore_errors=True)
            else:  # no manifest: whatever is there was never committed
                lk.sweep(lake, lk.Manifest(name))
        lk.clear_staging(lake)
        world = World.build(seed, year, goods_items, utc_offset_hours)
        parts = chunks(world.calendar, goods_items)
        per_part = chunk_targets(world.calendar, goods_items, world.per_shipment, parts)
        writer = LakeWriter(lake, run, [c.code for c in world.crossings], COUNTRIES)
        try:
            done = 0
            for i, (days, target) in enumerate(zip(parts, per_part.tolist(), strict=True)):
                writer.settle(1)  # one chunk being written while the next is made
                if target:
                    writer.add(tables(world, simulate(world, i, days, target), writer.targets))
                done += target
                if on_progress:
                    last = dt.date(year, 1, 1) + dt.timedelta(days=int(days[-1]))
                    on_progress(done, goods_items, f"to {last:%m-%d}")
            writer.commit({"seed": seed, "year": year, "goods_items": goods_items})
            lk.clear_staging(lake)  # the markers' staging folders, emptied
        except BaseException:
            writer.abort()
            raise
    seconds = time.perf_counter() - started
    rows = sum(writer.rows.values())
    return GenerateReport(
        lake=str(lake),
        run=run,
        seed=seed,
        year=year,
        goods_items=goods_items,
        datasets=[
            DatasetRows(
                dataset=name,
                rows=writer.rows[name],
                partitions=len({p for p, *_ in writer.files[name]}),
                files=len(writer.files[name]),
                bytes=writer.bytes[name],
                assumed_columns=list(t.assumed),
            )
            for name, t in writer.targets.items()
        ],
        rows=rows,
        seconds=round(seconds, 3),
        rows_per_second=round(rows / seconds, 1) if seconds else 0.0,
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
