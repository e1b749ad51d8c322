"""The learned risk model: features with leak-free history, training, data files, the scored
artifact, explanations, selection metrics and the backtest.
"""
