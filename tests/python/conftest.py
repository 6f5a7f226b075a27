"""Shared fixtures: real scheduled programs sampled by MetaSchedule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The reference walker is a test helper, not part of the package.
sys.path.insert(0, str(Path(__file__).parent))

#: Schedules sampled per workload; enough to cover tiling, parallel, vectorize and unroll.
SCHEDULES_PER_WORKLOAD = 6


@pytest.fixture(scope="session")
def scheduled_programs() -> dict:
    """Workload name -> list of scheduled IRModules (``candidate.sch.mod``)."""
    from tpgnn.operators import OPERATORS
    from tpgnn.sampling import sample_candidates

    return {
        name: [c.sch.mod for c in sample_candidates(build(), SCHEDULES_PER_WORKLOAD, seed=7)]
        for name, build in OPERATORS.items()
    }
