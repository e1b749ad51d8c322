"""Every job, by name; each module lists its own in ``JOBS``."""

from __future__ import annotations

from silkgate.analytics.jobs import clearance, equeue, selectivity, trade
from silkgate.analytics.jobs.spec import Job

MODULES = (trade, selectivity, clearance, equeue)
JOBS: dict[str, Job] = {j.name: j for module in MODULES for j in module.JOBS}
