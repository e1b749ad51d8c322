"""The selectivity engine: criteria language, value controls, lane selection in ASYCUDA order,
profiles as TOML, and the engine that turns a profile (and a model) into a lane.
"""
