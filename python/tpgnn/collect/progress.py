"""The progress bar of the hours-long measuring runs (``tpgnn collect``, ``tpgnn remeasure``)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int, unit: str, desc: str, initial: int = 0) -> Any:
    """A tqdm bar with rate and ETA, smoothed over many batches (their costs vary tenfold);
    redrawn every second on a terminal, every 30 s into a log file."""
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(
        total=total,
        initial=min(initial, total),
        unit=unit,
        desc=desc,
        mininterval=1.0 if tty else 30.0,
        dynamic_ncols=tty,
        smoothing=0.05,
    )
