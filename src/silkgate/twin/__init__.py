"""Digital twin of a road border crossing, both sides simulated (SimPy).

Kept light on import: the CLI, the service and the engine load numpy, scipy and simpy
only when a command needs them. Entry points: ``silkgate.twin.service`` (run, compare,
calibrate) and ``silkgate.twin.cli.app`` (mounted as ``silkgate twin``).
"""

SHIPPED_SCENARIOS = ("khorgos-2023-baseline", "khorgos-digital", "khorgos-2025-november")
