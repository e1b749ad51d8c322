"""The benchmark scripts importable by the tests of this folder, and the job tests' hand lakes
as fixtures here (each job's own lake, by the name ``OWN`` gives it)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.analytics.jobs.test_clearance_times import lake as clearance_lake  # noqa: F401
from tests.analytics.jobs.test_equeue_use import lake as equeue_lake  # noqa: F401
from tests.analytics.jobs.test_lane_shares import lake as lanes_lake  # noqa: F401
from tests.analytics.jobs.test_mirror_statistics import lake as mirror_lake  # noqa: F401
from tests.analytics.jobs.test_model_drift import lake as drift_lake  # noqa: F401
from tests.analytics.jobs.test_trade_flows import lake as flows_lake  # noqa: F401
from tests.analytics.jobs.test_unit_values import lake as unit_lake  # noqa: F401

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
