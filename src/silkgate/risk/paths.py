"""Where the risk engine finds shared data and keeps model artifacts (overridable by env vars)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root (``src/silkgate/risk`` is three levels below it)."""
    return Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    """``$SILKGATE_SHARED_DIR``, else ``<project root>/../shared``."""
    env = os.environ.get("SILKGATE_SHARED_DIR")
    return Path(env) if env else project_root().parent / "shared"


def kcs_dir() -> Path:
    """The KCS customs declarations data set (train-2020.csv, valid-2021q1.csv)."""
    return shared_dir() / "data" / "kcs-customs-declarations"


def artifact_dir() -> Path:
    """``$SILKGATE_RISK_ARTIFACTS``, else ``$SILKGATE_DATA_DIR/risk-models``, else
    ``<project root>/var/risk-models`` (the platform's default data dir, git-ignored)."""
    env = os.environ.get("SILKGATE_RISK_ARTIFACTS")
    if env:
        return Path(env)
    data_dir = os.environ.get("SILKGATE_DATA_DIR")
    return (Path(data_dir) if data_dir else project_root() / "var") / "risk-models"
