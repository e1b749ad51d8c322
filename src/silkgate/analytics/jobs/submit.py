"""Entry point for ``spark-submit``: the same ``silkgate analytics run`` on a Spark cluster.

``spark-submit --master spark://host:7077 …/silkgate/analytics/jobs/submit.py JOB [options]``
takes the options of ``silkgate analytics run`` (the engine is always Spark); the master is the
one spark-submit was given. The driver reads the lake's manifests and the agreements (it needs
SILKGATE_DATABASE_URL and the lake path); executors read the Parquet files by the same path,
so the lake must be on storage every node mounts at that path.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ["SILKGATE_ANALYTICS_SPARK_MASTER"] = ""  # spark-submit's --master decides
    from silkgate.cli import app

    args = list(sys.argv[1:] if argv is None else argv)
    app(["analytics", "run", *args, "--engine", "spark"])


if __name__ == "__main__":
    main()
