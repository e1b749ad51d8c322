"""Named analyses over the lake: each defined once in SQL that DuckDB and Spark both run.

``spec`` (what a job is), ``params`` (checking analysts' parameters), ``catalogue`` (the jobs),
``engines`` (DuckDB embedded, Spark local or on a cluster), ``residency`` (which partitions a
job may read where it runs), ``service`` (one run: check, decide, query, suppress small cells).
"""
