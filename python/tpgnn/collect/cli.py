"""The ``collect`` and ``remeasure`` subcommands: ``tpgnn collect [options]``,
``tpgnn remeasure [options]``.

``register`` adds both to the project's argparse CLI; ``python -m tpgnn.collect`` runs
``collect`` alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
from typing import Any

from .._interrupts import stop_on_signals
from .config import (
    DEFAULT_NETWORKS,
    CollectConfig,
    MeasureConfig,
    RPCSettings,
    SearchConfig,
    default_target,
)

logger = logging.getLogger(__name__)

__all__ = ["COLLECTOR_STOP_SIGNALS", "config_from_args", "register", "run", "run_remeasure"]

#: Signals that stop ``tpgnn collect`` after the batch in progress (a second one: at once).
#: Every write is a rename, so the files are consistent whenever it stops.
COLLECTOR_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(subparsers: Any) -> None:
    """Add the ``collect`` subcommand (handler in ``func``) to an argparse subparsers object."""
    p = subparsers.add_parser(
        "collect",
        help="measure tensor programs of real networks into the dataset",
        description="Measure random and evolutionary-search programs of every workload of "
        "the given networks into MetaSchedule JSON databases under --data-dir. Resumable: "
        "rerun the same command to continue where it stopped.",
    )
    p.add_argument("--data-dir", default="data", help="dataset directory (default: data)")
    p.add_argument("--cache-dir", default="cache/tasks", help="extracted-task cache")
    p.add_argument(
        "--networks",
        default=",".join(DEFAULT_NETWORKS),
        help="comma-separated networks, in priority order (default: %(default)s)",
    )
    p.add_argument(
        "--samples-per-workload",
        type=int,
        default=100,
        help="successful samples every workload gets first (default: 100)",
    )
    p.add_argument(
        "--total",
        type=int,
        default=None,
        help="then keep going until the dataset holds this many successful samples",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly after this many seconds",
    )
    p.add_argument("--random-per-workload", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64, help="evolutionary batch size")
    p.add_argument("--population", type=int, default=128, help="evolutionary population size")
    p.add_argument("--genetic-iters", type=int, default=2, help="evolutionary rounds per batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--build-workers", type=int, default=None, help="default: every core")
    p.add_argument("--number", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--min-repeat-ms", type=int, default=25)
    p.add_argument(
        "--number-probe-ms",
        type=int,
        default=2,
        help="estimate a run's cost first and start --number from it (0: ramp up from "
        "--number as stock MetaSchedule); windows last --min-repeat-ms either way",
    )
    p.add_argument(
        "--target",
        default=None,
        help='TVM target as JSON (default: {"kind": "llvm", "num-cores": <this machine>}); '
        "set it to the measuring machine's when measuring over RPC",
    )
    p.add_argument(
        "--test-networks",
        default="inception_v3",
        help="held-out networks: workloads only they use form the test split",
    )
    p.add_argument(
        "--val-networks",
        default="squeezenet1_0",
        help="networks whose own workloads form the validation split",
    )
    p.add_argument(
        "--rpc-tracker",
        default=None,
        metavar="HOST:PORT",
        help="measure through a TVM RPC tracker instead of locally",
    )
    p.add_argument("--rpc-key", default=None, help="device key registered with the tracker")
    _add_allow_other_cpu(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    _register_remeasure(subparsers)


def _register_remeasure(subparsers: Any) -> None:
    from .remeasure import NOISY_SHARE

    p = subparsers.add_parser(
        "remeasure",
        help="time the programs of noisy collector sessions again, a whole workload at a time",
        description="Measure again every workload that holds a program from the given "
        "sessions (default: those with more than --noisy-share noisy samples), on this "
        "machine, with the collector's timing settings. New timings go to each shard's "
        "remeasurements.jsonl.gz and replace the first ones when the dataset is read; the "
        "tuning records are not changed. Resumable: rerun to continue. Run it on a quiet "
        "machine.",
    )
    p.add_argument("--data-dir", default="data", help="dataset directory (default: data)")
    p.add_argument("--sessions", default=None,
                   help="comma-separated session ids from the manifest (default: the noisy ones)")
    p.add_argument("--noisy-share", type=float, default=NOISY_SHARE,
                   help="a session is noisy when more than this share of its samples has a "
                   "spread above 20%% (default: %(default)s)")
    p.add_argument("--splits", default="val,test,train",
                   help="splits to measure again, in this order (default: %(default)s)")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop cleanly after the workload in progress once this many seconds "
                   "have passed")
    p.add_argument("--build-workers", type=int, default=None, help="default: every core")
    _add_allow_other_cpu(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_remeasure)


def _add_allow_other_cpu(p: argparse.ArgumentParser) -> None:
    """``--allow-other-cpu``, shared by ``collect`` and ``remeasure``."""
    p.add_argument("--allow-other-cpu", action="store_true",
                   help="time programs into workloads another CPU model timed (left alone "
                   "otherwise, and refused when that is all of them: timings of two CPUs "
                   "order programs differently; new workloads are timed on any CPU)")


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def config_from_args(args: argparse.Namespace) -> CollectConfig:
    """Map parsed arguments onto a :class:`CollectConfig`."""
    from ..networks import NETWORKS

    networks = _names(args.networks)
    unknown = [n for n in networks if n not in NETWORKS]
    if unknown:
        raise ValueError(f"--networks: unknown {unknown}; known: {sorted(NETWORKS)}")
    target = default_target()
    if args.target:
        try:
            target = json.loads(args.target)
        except json.JSONDecodeError as err:
            raise ValueError(f"--target must be a JSON object: {err}") from err
        if not isinstance(target, dict) or "kind" not in target:
            raise ValueError('--target must be a JSON object with a "kind", e.g. {"kind": "llvm"}')
    rpc = None
    if args.rpc_tracker:
        rpc = RPCSettings.parse(args.rpc_tracker, args.rpc_key or "")
    return CollectConfig(
        data_dir=args.data_dir,
        networks=networks,
        samples_per_workload=args.samples_per_workload,
        total=args.total,
        time_budget_s=args.time_budget,
        seed=args.seed,
        cache_dir=args.cache_dir or None,
        test_networks=_names(args.test_networks),
        val_networks=_names(args.val_networks),
        num_build_workers=args.build_workers,
        target=target,
        measure=MeasureConfig(
            number=args.number,
            repeat=args.repeat,
            min_repeat_ms=args.min_repeat_ms,
            number_probe_ms=args.number_probe_ms,
        ),
        search=SearchConfig(
            random_per_workload=args.random_per_workload,
            batch_size=args.batch_size,
            population_size=args.population,
            genetic_num_iters=args.genetic_iters,
        ),
        rpc=rpc,
        progress=not args.no_progress,
        allow_other_cpu=args.allow_other_cpu,
    )


def run(args: argparse.Namespace) -> int:
    """Handler of ``tpgnn collect``; returns the exit code."""
    from .collector import collect
    from .io import DataDirBusyError

    try:
        config = config_from_args(args)
    except ValueError as err:
        logger.error("%s", err)
        return 2
    logger.info("collect config: %s", config)
    try:
        with stop_on_signals(COLLECTOR_STOP_SIGNALS, "the batch in progress") as stop:
            stats = collect(config, stop=stop)
    except DataDirBusyError as err:
        logger.error("%s", err)
        return 1
    logger.info(
        "stopped (%s): %d measured, %d ok, %d failed in %.0f s (%.0f samples/h); dataset %d",
        stats.stopped_by,
        stats.measured,
        stats.successes,
        stats.failures,
        stats.seconds,
        stats.samples_per_hour,
        stats.total_successes,
    )
    return 0


def run_remeasure(args: argparse.Namespace) -> int:
    """Handler of ``tpgnn remeasure``; returns the exit code."""
    from .remeasure import remeasure

    splits = _names(args.splits)
    bad = [s for s in splits if s not in ("train", "val", "test")]
    if bad or not splits:
        raise ValueError(f"--splits: {bad or 'none given'}; choose among train, val, test")
    with stop_on_signals(COLLECTOR_STOP_SIGNALS, "the workload in progress") as stop:
        stats = remeasure(
            args.data_dir,
            sessions=_names(args.sessions) if args.sessions else None,
            splits=splits,
            num_build_workers=args.build_workers,
            noisy_share=args.noisy_share,
            time_budget_s=args.time_budget,
            stop=stop,
            progress=not args.no_progress,
            allow_other_cpu=args.allow_other_cpu,
        )
    logger.info(
        "stopped (%s): %d workloads, %d programs measured again (%d ok, %d failed) in %.0f s; "
        "%d workloads left",
        stats.stopped_by, stats.workloads, stats.programs, stats.successes, stats.failures,
        stats.seconds, stats.pending,
    )
    return 0
