"""Every job, by name; each module lists its own in ``JOBS``."""

from __future__ import annotations

from silkgate.analytics.jobs import selectivity, trade
from silkgate.analytics.jobs.spec import Job

JOBS: dict[str, Job] = {j.name: j for module in (trade, selectivity) for j in module.JOBS}
