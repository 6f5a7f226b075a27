"""``tpgnn tune``: tune a real network end to end with one or more cost models and report.

For each cost model, with the same seed and budget: extract the network's tasks, keep the
heaviest (``--max-tasks``, by weight times FLOPs, so a small budget goes where the time is),
tune them with :func:`tpgnn.auto_scheduler.tune`, compile the whole network with the best
programs found (the other tasks keep TVM's default schedules), and time it with
``time_evaluator`` (median of several repeats). The report (JSON) holds each task's best
latency after every trial, the weighted best latency against trials, the network latency and
the wall time; with several cost models a plot compares their curves.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "NetworkRun",
    "network_module",
    "plot_report",
    "register",
    "select_tasks",
    "tune_network",
    "weighted_best_curve",
]


@dataclass(frozen=True)
class NetworkRun:
    """One cost model's run on one network, as it goes into the report."""

    cost_model: str
    trials: int
    wall_s: float
    network_latency_s: list[float]
    tasks: list[dict[str, Any]]
    weighted_curve: list[tuple[int, float]]

    def to_json(self) -> dict[str, Any]:
        lat = sorted(self.network_latency_s)
        return {
            "cost_model": self.cost_model,
            "trials": self.trials,
            "wall_s": round(self.wall_s, 2),
            "network_latency_ms": {
                "median": _ms(lat[len(lat) // 2]) if lat else None,
                "repeats": [_ms(x) for x in self.network_latency_s],
            },
            "tasks": self.tasks,
            "weighted_best_ms_vs_trials": [[t, _ms(v)] for t, v in self.weighted_curve],
        }


def _ms(seconds: float) -> float | None:
    """Milliseconds for JSON; ``None`` stands for infinity (no valid program yet)."""
    return None if not math.isfinite(seconds) else round(seconds * 1e3, 6)


def network_module(name: str) -> tuple[Any, Any]:
    """A network of :data:`tpgnn.networks.NETWORKS` as a Relax module (weights bound as
    constants) and a numpy example input."""
    import torch
    from tvm.relax.frontend.torch import from_exported_program

    from ..networks import build_network

    model, example = build_network(name)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13's exporter warns about its own pytree internals; nothing to act on.
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        exported = torch.export.export(model, (example,))
    return from_exported_program(exported, keep_params_as_input=False), example.numpy()


def task_flops(task: Any) -> float:
    """Floating-point operations of one run of an ``ExtractedTask``'s kernel (0 when TVM
    cannot estimate them)."""
    from tvm.s_tir.analysis import estimate_tir_flops

    mod = task.dispatched[0]  # an ExtractedTask's TIR
    try:
        return float(estimate_tir_flops(mod))
    except (TypeError, ValueError, RuntimeError):  # a kernel without an estimate ranks last
        return 0.0


def select_tasks(tasks: list[Any], max_tasks: int | None) -> list[Any]:
    """The ``max_tasks`` heaviest tasks by weight x FLOPs (ties by name); all if None."""
    if max_tasks is not None and max_tasks < 1:
        raise ValueError(f"max_tasks must be None or >= 1, got {max_tasks}")
    ranked = sorted(tasks, key=lambda t: (-t.weight * task_flops(t), t.task_name))
    return ranked if max_tasks is None else ranked[:max_tasks]


def weighted_best_curve(
    trials: list[tuple[int, float]], weights: list[float]
) -> list[tuple[int, float]]:
    """Sum over tasks of weight x best latency so far, after each trial (``inf`` until every
    task has a valid program)."""
    best = [math.inf] * len(weights)
    curve = []
    for i, (task, cost) in enumerate(trials, start=1):
        best[task] = min(best[task], cost)
        curve.append((i, sum(w * b for w, b in zip(weights, best, strict=True))))
    return curve


def measure_network(executable: Any, inputs: list[Any], repeat: int) -> list[float]:
    """Seconds per run of ``main``, one value per repeat (each at least 200 ms of runs)."""
    import tvm
    from tvm import relax

    dev = tvm.cpu()
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x, dev) for x in inputs]
    timer = vm.time_evaluator("main", dev, number=1, repeat=repeat, min_repeat_ms=200)
    return [float(x) for x in timer(*args).results]


def tune_network(
    mod: Any,
    inputs: list[Any],
    target: Any,
    options: Any,
    *,
    max_tasks: int | None = None,
    repeat: int = 5,
) -> NetworkRun:
    """Tune the heaviest tasks of a Relax module, compile it and time it."""
    from .. import auto_scheduler

    start = time.perf_counter()
    tasks = select_tasks(auto_scheduler.extract_tasks(mod, target), max_tasks)
    result = auto_scheduler.tune(mod, target, options, tasks=tasks, progress=True)
    latency = measure_network(result.module, inputs, repeat)
    weights = [float(t.weight) for t in tasks]
    rows = [
        {
            "name": t.task_name,
            "weight": t.weight,
            "flops": task_flops(t),
            "best_latency_us_vs_trials": [
                None if not math.isfinite(x) else round(x * 1e6, 3) for x in curve
            ],
        }
        for t, curve in zip(tasks, result.history, strict=True)
    ]
    name = options.cost_model if isinstance(options.cost_model, str) else "custom"
    return NetworkRun(
        name, len(result.trials), time.perf_counter() - start, latency, rows,
        weighted_best_curve(result.trials, weights),
    )


def baseline_latency(mod: Any, inputs: list[Any], target: Any, repeat: int) -> list[float]:
    """The network with TVM's default schedules (an empty database), for comparison."""
    from tvm.s_tir import meta_schedule as ms

    executable = ms.relax_integration.compile_relax(
        ms.database.MemoryDatabase(), mod, target, None
    )
    return measure_network(executable, inputs, repeat)


def plot_report(report: dict[str, Any], path: str | Path) -> None:
    """Weighted best latency against trials, one line per cost model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for run in report["runs"]:
        points = [(t, v) for t, v in run["weighted_best_ms_vs_trials"] if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), label=run["cost_model"], drawstyle="steps-post")
    ax.set_xlabel("trials")
    ax.set_ylabel("weighted best latency of tuned tasks (ms)")
    ax.set_title(f"{report['network']}: {report['tuned_tasks']} tasks, seed {report['seed']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cost_models(text: str) -> list[str]:
    from ..auto_scheduler import COST_MODELS

    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in COST_MODELS]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"--cost-model takes a comma-separated list of {', '.join(COST_MODELS)}; got {text!r}"
        )
    return names


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tune`` subcommand."""
    from ..networks import NETWORKS

    p = subparsers.add_parser(
        "tune", help="tune a network end to end with one or more cost models and report",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    p.add_argument("--network", choices=sorted(NETWORKS), default="resnet18")
    p.add_argument("--cost-model", type=_cost_models, default=["gnn", "xgb"],
                   help="comma-separated cost models, each run with the same seed and budget "
                        "(default gnn,xgb)")
    p.add_argument("--trials", type=_positive, default=16,
                   help="measured programs per cost model, over all tuned tasks (default 16)")
    p.add_argument("--max-tasks", type=_non_negative, default=2,
                   help="tune only the N heaviest tasks (weight x FLOPs); 0 tunes all (default 2)")
    p.add_argument("--per-round", type=_positive, default=8,
                   help="programs measured per search round (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cores", type=_positive, default=os.cpu_count() or 1,
                   help="target num-cores: tuning threads and build workers (default: all)")
    p.add_argument("--builder", choices=["persistent", "local"], default="persistent",
                   help="persistent keeps one warm build pool (default); local is LocalBuilder")
    p.add_argument("--repeat", type=_positive, default=5,
                   help="timed repeats of the whole network (the median is reported)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip timing the untuned network (TVM's default schedules)")
    p.add_argument("--out", type=Path, default=Path("out/tune"),
                   help="directory for report.json, best_latency.png and the databases")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``tpgnn tune``; the report goes to ``args.out``."""
    from .. import auto_scheduler
    from ..collect.config import default_target

    target = {**default_target(), "num-cores": args.cores}
    args.out.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to Relax", args.network)
    mod, example = network_module(args.network)
    report: dict[str, Any] = {
        "network": args.network,
        "target": target,
        "trials": args.trials,
        "per_round": args.per_round,
        "seed": args.seed,
        "max_tasks": args.max_tasks or None,
        "runs": [],
    }
    if not args.no_baseline:
        base = baseline_latency(mod, [example], target, args.repeat)
        report["baseline_latency_ms"] = _ms(sorted(base)[len(base) // 2])
        logger.info("untuned %s: %.3f ms", args.network, report["baseline_latency_ms"])
    for name in args.cost_model:
        work_dir = args.out / f"work_{name}"
        # A database left by an earlier run would seed the search and break equal budgets.
        shutil.rmtree(work_dir, ignore_errors=True)
        options = auto_scheduler.TuningOptions(
            num_measure_trials=args.trials, cost_model=name, num_measures_per_round=args.per_round,
            builder=args.builder, work_dir=str(work_dir), seed=args.seed,
        )
        logger.info("tuning %s with %s", args.network, name)
        if not args.verbose:
            # MetaSchedule's per-round task tables would bury the progress bar. Each run
            # resets its logger to DEBUG, so this is set again before every run.
            logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
        result = tune_network(mod, [example], target, options,
                              max_tasks=args.max_tasks or None, repeat=args.repeat)
        entry = result.to_json()
        report["runs"].append(entry)
        report["tuned_tasks"] = len(result.tasks)
        logger.info("%s: network %.3f ms (median of %d), %d trials in %.0f s", name,
                    entry["network_latency_ms"]["median"], args.repeat, result.trials,
                    result.wall_s)
        (args.out / "report.json").write_text(json.dumps(report, indent=1))  # after each run
    plot_report(report, args.out / "best_latency.png")
    logger.info("report: %s", args.out / "report.json")
    return 0
