"""Measure tensor programs of real networks into the dataset (``tpgnn collect``).

One concept per module: :mod:`.config` (settings), :mod:`.workloads` (distinct workloads of
networks), :mod:`.candidates` (random and evolutionary programs), :mod:`.workers` (warm
builder and runner), :mod:`.measure` (one batch), :mod:`.shard` (the on-disk format),
:mod:`.manifest` (provenance), :mod:`.split` (train/val/test), :mod:`.loader` (reading it
back), :mod:`.collector` (the loop), :mod:`.cli` (the subcommand).
TVM is imported by the submodules, not here.
"""

from __future__ import annotations

__all__ = [
    "CollectConfig",
    "MeasureConfig",
    "SearchConfig",
    "RPCSettings",
    "collect",
    "load_dataset",
]


def __getattr__(name: str):
    if name in ("CollectConfig", "MeasureConfig", "SearchConfig", "RPCSettings"):
        from . import config

        return getattr(config, name)
    if name == "collect":
        from .collector import collect

        return collect
    if name == "load_dataset":
        from .loader import load_dataset

        return load_dataset
    raise AttributeError(f"module 'tpgnn.collect' has no attribute {name!r}")
