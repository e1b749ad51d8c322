"""Fixtures for the risk engine tests: synthetic data, a small trained model, KCS paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

try:  # the package is normally installed (editable); fall back to the source tree
    import silkgate.risk  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from silkgate.risk import paths
from silkgate.risk.learning.synthetic import synthetic_declarations


@pytest.fixture(scope="session")
def synthetic():
    """6,000 labelled synthetic declarations over 150 days."""
    return synthetic_declarations(6000, days=150, seed=1)


@pytest.fixture(scope="session")
def trained(synthetic):
    """A model trained on the first 105 days, validated on the rest (one hyper-parameter set)."""
    from silkgate.risk.learning.datasets import frame_sha256
    from silkgate.risk.learning.training import TrainOptions, summarise, train_model

    cut = synthetic["date"].min() + pd.Timedelta(days=105)
    train = synthetic[synthetic["date"] < cut].reset_index(drop=True)
    valid = synthetic[synthetic["date"] >= cut].reset_index(drop=True)
    options = TrainOptions(grid=[{"num_leaves": 15, "min_data_in_leaf": 20}])
    result = train_model(
        train,
        valid,
        summarise(train, "synthetic-train", frame_sha256(train)),
        summarise(valid, "synthetic-valid", frame_sha256(valid)),
        options,
    )
    return result.model, train, valid


@pytest.fixture(scope="session")
def kcs_dir() -> Path:
    """The shared KCS data directory; tests using it are skipped when it is absent."""
    folder = paths.kcs_dir()
    if not (folder / "train-2020.csv").is_file():
        pytest.skip(f"KCS data not found in {folder} (set SILKGATE_SHARED_DIR)")
    return folder


# --------------------------------------------------------------------------- platform (phase 2)


@pytest.fixture
def env(platform):
    """A seeded platform with demo keys and an API client (no worker thread: no lifespan)."""
    from tests.risk.platform_env import Env

    return Env.build(platform)
