"""Risk engine: selectivity profiles (criteria, value controls, random quotas, model top-ups),
a LightGBM risk model with explanations, and the evaluation and backtest around it.

Importing this package is cheap: LightGBM, pandas and the model code load only when used.
"""

from silkgate.risk.selectivity.schemas import Lane

__all__ = ["Lane"]
