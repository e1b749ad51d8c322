"""The demo's selectivity profiles: criteria on the demo catalogue's commodities plus random quotas.

Without them every lane would come from the built-in random quotas alone (red 2 %, yellow 5 %),
so whether a small demo showed any inspection at all depended on the declaration ids drawn.
Criteria on commodities the seeded traffic carries make the lanes an officer sees, and their
reasons, the same on every run of a seed. A profile already saved for an office and direction
(an earlier demo's, or an officer's) is left as it is.
"""

from __future__ import annotations

import tomllib
from importlib import resources

from silkgate.core.platform import Platform
from silkgate.risk.platform import profiles

#: (office, direction) → the profile's data file in ``silkgate/demo/profiles``.
DEMO_PROFILES: dict[tuple[str, str], str] = {
    ("CN-KHORGOS", "export"): "CN-KHORGOS-export.toml",
    ("KZ-NURZHOLY", "export"): "KZ-NURZHOLY-export.toml",
}


def install(platform: Platform, officers: dict[str, str]) -> list[str]:
    """Save each demo profile whose office and direction have none yet, as that office's
    customs (``officers``: office → member id); returns the profiles saved, as office/direction."""
    saved = []
    stored = {(v.office, v.direction) for v in profiles.versions(platform)}
    folder = resources.files("silkgate.demo") / "profiles"
    for (office, direction), name in DEMO_PROFILES.items():
        if (office, direction) in stored:
            continue
        data = tomllib.loads((folder / name).read_text(encoding="utf-8"))
        profiles.save(platform, officers[office], office, direction, data)
        saved.append(f"{office}/{direction}")
    return saved
