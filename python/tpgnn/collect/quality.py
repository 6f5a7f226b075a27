"""How quietly each collection session measured: load average and repeat spread per session.

A sample's spread, ``(max - min) / median`` of its timing repeats, says how far its latency
can be trusted, and the load average the collector records beside it says why. Timing on a
machine that is busy with other work (training, tests) scatters repeats by tens of percent,
and the median of three such repeats still carries that noise into the labels. This report
finds the sessions to re-measure or leave out; nothing here changes the data.

    .venv/bin/python -m tpgnn.collect.quality data
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .loader import Sample, load_shard, shard_dirs
from .shard import SHARDS_DIR

__all__ = ["NOISY_SPREAD", "SessionQuality", "dataset_quality", "format_quality", "main",
           "sample_spreads", "session_quality"]

#: A sample whose repeats differ by more than this fraction of their median counts as noisy.
NOISY_SPREAD = 0.2


@dataclass(frozen=True)
class SessionQuality:
    """Timing quality of the successful samples one collector session measured."""

    session: str
    samples: int
    median_load: float  # 1-minute load average; NaN where none was recorded
    median_spread: float
    noisy_fraction: float  # share of samples with spread > the threshold


def session_quality(
    samples: Iterable[Sample], noisy_spread: float = NOISY_SPREAD
) -> list[SessionQuality]:
    """Per session (in session order), figures over its successful samples; samples from a
    plain MetaSchedule database carry no session and are grouped as ``"unknown"``."""
    spreads: dict[str, list[float]] = defaultdict(list)
    loads: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        if not sample.ok:
            continue
        meta = sample.meta or {}
        session = str(meta.get("session") or "unknown")
        spreads[session].append(sample.spread)
        if isinstance(meta.get("load"), int | float):
            loads[session].append(float(meta["load"]))
    return [
        SessionQuality(
            session=session,
            samples=len(values),
            median_load=statistics.median(loads[session]) if loads[session] else math.nan,
            median_spread=statistics.median(values),
            noisy_fraction=sum(v > noisy_spread for v in values) / len(values),
        )
        for session, values in sorted(spreads.items())
    ]


def dataset_quality(
    data_dir: str | Path, noisy_spread: float = NOISY_SPREAD
) -> list[SessionQuality]:
    """:func:`session_quality` over every shard of a dataset directory."""
    root = Path(data_dir)
    samples = (s for d in shard_dirs(root) for s in load_shard(d).samples)
    return session_quality(samples, noisy_spread)


def sample_spreads(data_dir: str | Path, keys: Sequence[tuple[str, int]]) -> list[float]:
    """The spread of each ``(shard, record)`` sample of ``keys`` (a ``GraphSet``'s), NaN
    for a failure or a record the shard does not hold."""
    root = Path(data_dir)
    table: dict[tuple[str, int], float] = {}
    for name in sorted({shard for shard, _ in keys}):
        for sample in load_shard(root / SHARDS_DIR / name).samples:
            table[(name, sample.record)] = sample.spread
    return [table.get(key, math.nan) for key in keys]


def format_quality(rows: Sequence[SessionQuality], noisy_spread: float = NOISY_SPREAD) -> str:
    """A plain-text table, one line per session, then the whole dataset."""
    lines = [f"{'session':32} {'samples':>8} {'load':>6} {'spread':>7} "
             f"{'> ' + format(noisy_spread, '.0%'):>7}"]
    for r in rows:
        lines.append(f"{r.session:32} {r.samples:8d} {r.median_load:6.2f} "
                     f"{r.median_spread:7.1%} {r.noisy_fraction:7.1%}")
    total = sum(r.samples for r in rows)
    noisy = sum(r.noisy_fraction * r.samples for r in rows)
    lines.append(f"{'all':32} {total:8d} {'':6} {'':7} {noisy / max(total, 1):7.1%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tpgnn.collect.quality",
        description="Timing quality per collection session: median load average, median "
        "spread of the repeats, share of noisy samples.",
    )
    parser.add_argument("data_dir", nargs="?", default="data")
    parser.add_argument("--noisy-spread", type=float, default=NOISY_SPREAD,
                        help=f"spread above which a sample counts as noisy ({NOISY_SPREAD})")
    args = parser.parse_args(argv)
    rows = dataset_quality(args.data_dir, args.noisy_spread)
    if not rows:
        print(f"{args.data_dir}: no successful samples", file=sys.stderr)
        return 1
    print(format_quality(rows, args.noisy_spread))
    return 0


if __name__ == "__main__":
    sys.exit(main())
