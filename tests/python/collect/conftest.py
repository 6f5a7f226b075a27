"""Shared fixtures for the collector tests: a tiny workload and one small collection."""

from __future__ import annotations

from pathlib import Path

import pytest
from collect_helpers import matmul_workload, small_config


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """One small collection on the tiny matmul, shared by the read-only tests."""
    from tpgnn.collect.collector import collect

    data_dir = tmp_path_factory.mktemp("data")
    stats = collect(small_config(data_dir), [matmul_workload()])
    return data_dir, stats
