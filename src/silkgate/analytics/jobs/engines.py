"""The two engines a job runs on: DuckDB embedded (default) and Apache Spark.

Both get the same views over the same Parquet files — ``<dataset>_all`` (every exported row),
``<dataset>_moves`` (supersession markers, ``moves.py``) and ``<dataset>`` (each record's
latest version, in SQL both accept) — and run the job's one
SQL text. The few functions whose names differ are given the Spark name in DuckDB as macros
(``PORTABLE_MACROS``); nothing is translated per job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from silkgate.analytics.datasets import DATASETS
from silkgate.analytics.lake import (
    derived_views,
    duckdb_views,
    file_schema,
    moves_schema,
    split_moves,
)

#: Spark SQL built-ins DuckDB lacks, defined there under the same name and meaning.
PORTABLE_MACROS = ("CREATE OR REPLACE MACRO unix_seconds(ts) AS CAST(floor(epoch(ts)) AS BIGINT)",)

_SPARK_TYPES = {
    pa.string(): "STRING",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


class Engine(Protocol):
    name: str

    def load(self, files: Mapping[str, Sequence[Path]]) -> None:
        """Define every dataset's views over exactly these files (none: an empty view)."""

    def query(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """In-process DuckDB; ``threads``/``memory_limit`` as DuckDB takes them (None: its own)."""

    name = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(config=config)
        # a lake is thousands of small files and a job scans a view several times: parse each
        # file's footer once per connection
        self.con.execute("SET parquet_metadata_cache = true")
        for macro in PORTABLE_MACROS:
            self.con.execute(macro)

    def load(self, files: Mapping[str, Sequence[Path]]) -> None:
        duckdb_views(self.con, files)

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.con.sql(sql).to_arrow_table()
        return table

    def close(self) -> None:
        self.con.close()


class SparkEngine:
    """PySpark: ``master`` ``local[N]`` in one process, or a cluster's URL (see docs).

    Starting a session costs seconds (a JVM); ``started_in`` says how many, so benchmarks
    can show it apart from the queries. One session per process is reused."""

    name = "spark"
    _session: Any = None
    started_in: float = 0.0

    def __init__(
        self,
        master: str | None = "local[*]",
        shuffle_partitions: int = 8,
        driver_memory: str = "4g",
    ) -> None:
        root = self.session(master, shuffle_partitions, driver_memory)
        # views are a session's: runs on threads of one process (the API's) each get their own,
        # or one run's load would swap in files another run's residency decision excluded
        self.spark = root.newSession()
        for key, value in _sql_settings(root, shuffle_partitions).items():
            self.spark.conf.set(key, value)

    @classmethod
    def session(cls, master: str | None, shuffle_partitions: int, driver_memory: str) -> Any:
        """The process's session; ``master`` None: the one spark-submit was given (and with it
        the driver's memory). The first call's settings hold for the process."""
        if cls._session is None:
            from pyspark.sql import SparkSession

            began = time.perf_counter()
            builder = SparkSession.builder
            if master is not None:  # under spark-submit the JVM is already running
                builder = builder.master(master).config("spark.driver.memory", driver_memory)
            builder = (
                builder.appName("silkgate-analytics")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                # a lake is many small files (one per owner, crossing and day): list them on the
                # driver, not in a Spark job, and pack many into one task
                .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
                .config("spark.sql.files.openCostInBytes", str(64 * 1024))
            )
            for key, value in _sql_settings(None, shuffle_partitions).items():
                builder = builder.config(key, value)
            cls._session = builder.getOrCreate()
            cls._session.sparkContext.setLogLevel("ERROR")
            cls.started_in = time.perf_counter() - began
        return cls._session

    def load(self, files: Mapping[str, Sequence[Path]]) -> None:
        for name, ds in DATASETS.items():
            data, moves = split_moves(files.get(name, ()))
            for view, listed, schema in (
                (f"{name}_all", data, file_schema(ds)),
                (f"{name}_moves", moves, moves_schema(ds)),
            ):
                ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
                if listed:
                    # the partition values are columns of every file: no inference from paths
                    reader = self.spark.read.schema(ddl).option("recursiveFileLookup", "true")
                    frame = reader.parquet(*(str(f) for f in listed))
                else:
                    frame = self.spark.createDataFrame([], ddl)
                frame.createOrReplaceTempView(view)
            for view, sql in derived_views(ds, bool(moves)):
                self.spark.sql(sql).createOrReplaceTempView(view)

    def query(self, sql: str) -> pa.Table:
        result: pa.Table = self.spark.sql(sql).toArrow()
        return result

    def close(self) -> None:
        """Views are dropped; the session stays for the next run in this process."""
        for name in DATASETS:
            self.spark.catalog.dropTempView(name)
            self.spark.catalog.dropTempView(f"{name}_all")
            self.spark.catalog.dropTempView(f"{name}_moves")
            self.spark.catalog.dropTempView(f"{name}_current")

    @classmethod
    def stop(cls) -> None:
        if cls._session is not None:
            cls._session.stop()
            cls._session = None


def _sql_settings(root: Any, shuffle_partitions: int) -> dict[str, str]:
    """The SQL settings every session of ours runs with (``root``: the process's session,
    whose shuffle partitions a later session keeps)."""
    if root is not None:
        shuffle_partitions = int(root.conf.get("spark.sql.shuffle.partitions"))
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.ansi.enabled": "false",
        # ${...} in SQL text is data here, never a variable (params.literal also keeps "$" out
        # of quotes)
        "spark.sql.variable.substitute": "false",
    }


def _spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    return _SPARK_TYPES[t]


ENGINES = ("duckdb", "spark")
