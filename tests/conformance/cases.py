"""The conformance suite: peers' cases (peers.py) and the models people build (people.py).

Run `python tests/conformance/table.py` for the table (case, source, format x backend result).
"""

from __future__ import annotations

from . import peers, people
from .base import Case, build_seeded

CASES: tuple[Case, ...] = (*peers.CASES, *people.CASES)
BY_ID = {c.id: c for c in CASES}

__all__ = ["CASES", "BY_ID", "Case", "build_seeded"]
