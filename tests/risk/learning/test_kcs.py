"""The shipped KCS mapping and a short training run on a sample of the real files."""

from __future__ import annotations

import pandas as pd
import pytest

from silkgate.risk.learning.datasets import file_sha256, load_mapping, read_table
from silkgate.risk.learning.training import TrainOptions, summarise, train_model


@pytest.fixture(scope="module")
def kcs(kcs_dir):
    mapping = load_mapping("kcs")
    train = read_table(kcs_dir / "train-2020.csv", mapping)
    valid = read_table(kcs_dir / "valid-2021q1.csv", mapping)
    return mapping, train, valid


def test_mapping_reads_the_files(kcs):
    mapping, train, valid = kcs
    assert len(train) == 37385 and len(valid) == 8134
    assert train["label"].mean() == pytest.approx(0.217, abs=0.001)
    assert "071080" in set(train["hs_code"])  # leading zeros kept
    assert train["date"].is_monotonic_increasing
    assert train["carrier"].isna().mean() > 0.7  # Courier ID is mostly empty
    assert set(mapping.extra_fields) <= set(train.columns)
    assert train["direction"].eq("import").all()


def test_a_half_year_of_training_clears_the_targets_on_2021q1(kcs, kcs_dir):
    mapping, train, valid = kcs
    half = train[train["date"] < pd.Timestamp("2020-07-01")].reset_index(drop=True)
    result = train_model(
        half,
        valid,
        summarise(half, "train-2020 H1", file_sha256(kcs_dir / "train-2020.csv")),
        summarise(valid, "valid-2021q1", ""),
        TrainOptions(
            grid=[{"num_leaves": 15, "min_data_in_leaf": 20}], extra_fields=mapping.extra_fields
        ),
    )
    report = result.report
    assert report is not None
    assert report.at_n(5).precision >= 0.95
    assert report.at_n(10).precision >= 0.88
    assert "hist_hs6_value_rate" in result.model.feature_names
