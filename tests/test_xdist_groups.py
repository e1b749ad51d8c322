"""The suite's own scheduling: a test marked ``xdist_group`` carries the ``@<group>`` suffix
``--dist loadgroup`` schedules by (``scripts/test`` runs that way), so a group's tests share
one worker and its one Spark JVM, browser or demo database."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("probe")
def test_a_grouped_test_is_scheduled_with_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run with --dist loadgroup: no group to keep")
    assert request.node.nodeid.endswith("@probe"), request.node.nodeid
