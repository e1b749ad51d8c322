"""What was observed at Khorgos, to check the baseline against each year on its own."""

from __future__ import annotations

# ADB CAREC corridor monitoring (CPMM), average time to cross Khorgos, from carriers' trip
# records (domain-notes.md [The crossings]; crossing-operations.md). Hours.
CROSSING_TIME_H = {2021: 77.5, 2022: 23.5, 2023: 51.4}

# What else the notes say about each year, for reading the gaps (domain-notes.md).
CONTEXT = {
    2021: "COVID: acceptance <= 50 trucks a day in Dec 2021",
    2022: "e-queue (CarGoRuqsat) from Nov 2022",
    2023: "~100 trucks a day accepted early 2023, 680 a day into KZ by 19 Mar 2023",
}
