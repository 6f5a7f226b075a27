"""How quietly each collection session measured: load average and repeat spread per session.

A sample's spread, ``(max - min) / median`` of its timing repeats, says how far its latency
can be trusted, and the load average the collector records beside it says why. Timing on a
machine that is busy with other work (training, tests) scatters repeats by tens of percent,
and the median of three such repeats still carries that noise into the labels. This report
finds the sessions to re-measure (``tpgnn remeasure``) or leave out, and once programs are
measured again, how far that moved them; nothing here changes the data.

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
from .shard import FAILURE_COST, SHARDS_DIR

__all__ = ["NOISY_SPREAD", "OrderKept", "RemeasureShift", "SessionQuality", "dataset_quality",
           "format_order", "format_quality", "format_shifts", "main", "remeasure_order",
           "remeasure_shifts", "sample_spreads", "session_quality"]

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
        meta = sample.measured_by  # a re-measured sample counts in its re-measuring session
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


@dataclass(frozen=True)
class RemeasureShift:
    """How far re-measurement moved the programs one session measured first: quartiles of
    ``new median / first median`` over programs that succeeded both times."""

    session: str
    samples: int
    quartiles: tuple[float, float, float]


def remeasure_shifts(samples: Iterable[Sample]) -> list[RemeasureShift]:
    """Per first-measuring session, the shift of its re-measured programs (none: empty)."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        first = (sample.remeasured or {}).get("original_run_secs")
        if not first or min(first) >= FAILURE_COST:
            continue
        session = str((sample.meta or {}).get("session") or "unknown")
        ratios[session].append(sample.median / statistics.median(first))
    return [
        RemeasureShift(session, len(values), tuple(_quartiles(values)))
        for session, values in sorted(ratios.items())
    ]


@dataclass(frozen=True)
class OrderKept:
    """How much of one shard's within-task order re-measurement kept, over tasks of two or
    more programs that succeeded both times: the share of program pairs ordered the same
    (ties left out), the tasks whose fastest program changed, and the largest ratio of the
    first fastest program's new cost to the new fastest cost."""

    shard: str
    tasks: int
    pairs: int
    pairs_kept: float
    best_changed: int
    worst_first_best: float


def remeasure_order(samples: Iterable[Sample]) -> list[OrderKept]:
    """Per shard, :class:`OrderKept` of its re-measured programs (none: empty)."""
    import numpy as np

    costs: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        first = (sample.remeasured or {}).get("original_run_secs")
        if first and min(first) < FAILURE_COST:
            costs[sample.shard][sample.workload].append((statistics.median(first), sample.median))
    rows = []
    for shard, tasks in sorted(costs.items()):
        kept = pairs = changed = used = 0
        worst = 1.0
        for task in tasks.values():
            if len(task) < 2:
                continue
            first, new = np.array(task).T
            upper = np.triu(np.ones((len(task), len(task)), dtype=bool), k=1)
            d_first = np.sign(first[:, None] - first[None, :])[upper]
            d_new = np.sign(new[:, None] - new[None, :])[upper]
            untied = (d_first != 0) & (d_new != 0)
            pairs += int(untied.sum())
            kept += int((d_first == d_new)[untied].sum())
            ratio = float(new[np.argmin(first)] / new.min())
            changed += ratio > 1.0
            worst = max(worst, ratio)
            used += 1
        rows.append(OrderKept(shard, used, pairs, kept / max(pairs, 1), changed, worst))
    return rows


def _quartiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=4) if len(values) > 1 else values * 3


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


def format_shifts(rows: Sequence[RemeasureShift]) -> str:
    """A plain-text table of :func:`remeasure_shifts`."""
    lines = [f"{'first measured in':32} {'samples':>8} {'new / first: q25':>17} {'median':>7} "
             f"{'q75':>6}"]
    for r in rows:
        q25, q50, q75 = r.quartiles
        lines.append(f"{r.session:32} {r.samples:8d} {q25:17.3f} {q50:7.3f} {q75:6.3f}")
    return "\n".join(lines)


def format_order(rows: Sequence[OrderKept]) -> str:
    """A plain-text table of :func:`remeasure_order`."""
    lines = [f"{'shard':20} {'tasks':>6} {'pairs kept':>11} {'best changed':>13} "
             f"{'first best / best, max':>23}"]
    for r in rows:
        lines.append(f"{r.shard:20} {r.tasks:6d} {r.pairs_kept:11.3f} {r.best_changed:13d} "
                     f"{r.worst_first_best:23.3f}")
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
    samples = [s for d in shard_dirs(Path(args.data_dir)) for s in load_shard(d).samples]
    rows = session_quality(samples, args.noisy_spread)
    if not rows:
        print(f"{args.data_dir}: no successful samples", file=sys.stderr)
        return 1
    print(format_quality(rows, args.noisy_spread))
    shifts = remeasure_shifts(samples)
    if shifts:
        print("\nre-measured programs (tpgnn remeasure), by the session that measured them first:")
        print(format_shifts(shifts))
        print("\nwithin-task order of the re-measured programs, first timings against new:")
        print(format_order(remeasure_order(samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
