"""Online learning within a run, replayed offline on recorded measurements.

A tuning run measures a few programs per task per round and calls the cost model's
``update`` after each; how fast the model then steers the search to good programs is what
the tuning benchmark measures, at about 1 s per trial. This replays the same loop on the
dataset's recorded programs instead, in seconds per task: for each task of a split, the pool
is its measured programs; each round, round-robin over the tasks, the cost model's real
``predict`` ranks the unmeasured pool, the top ``--per-round`` programs are "measured" (their
recorded latencies are revealed) and passed to the model's real ``update``. Printed per cost
model: the weighted mean, over tasks, of (pool best latency / best latency found so far) after
each number of measurements per task; 1.0 means the pool's best was found.

Runs on the validation split by default (SqueezeNet): choose update settings here, never on
the test split, which stays held out for the tuning benchmark. Only the order of the scores
matters here; how their scale steers MetaSchedule's evolutionary search (parents are picked in
proportion to the scores) shows only in the tuning benchmark.

    .venv/bin/python benchmarks/bench_online_update.py --models xgb gnn gnn:update_steps=0 \\
        --plot out/online_update.png
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnn_options import parse_gnn_options

REPO = Path(__file__).resolve().parents[1]


@dataclass
class TaskPool:
    """One task's recorded programs: its tuning context, candidates and median costs."""

    name: str
    weight: float
    context: object
    candidates: list
    costs: np.ndarray


def load_pools(data_dir: Path, split: str, min_programs: int) -> list[TaskPool]:
    """Each workload of ``split`` with at least ``min_programs`` rebuilt programs."""
    from tvm.s_tir import meta_schedule as ms

    from tpgnn.collect.loader import load_shard
    from tpgnn.dataset import measured_candidates
    from tpgnn.sampling import llvm_target

    manifest = json.loads((data_dir / "manifest.json").read_text())
    wanted = {k: v for k, v in manifest["workloads"].items() if v.get("split") == split}
    pools = []
    for shard_name in sorted({k.split("/")[0] for k in wanted}):
        shard_dir = data_dir / "shards" / shard_name
        by_workload: dict[int, tuple[list, list]] = {}
        for s, candidate, _ in measured_candidates(str(shard_dir)):
            if candidate is not None and f"{shard_name}/{s.workload}" in wanted:
                candidates, costs = by_workload.setdefault(s.workload, ([], []))
                candidates.append(candidate)
                costs.append(s.median)
        shard = load_shard(shard_dir, on_error="skip")
        for index, (candidates, costs) in sorted(by_workload.items()):
            if len(candidates) < min_programs:
                continue
            info = wanted[f"{shard_name}/{index}"]
            weight = max(n.get("weight", 1) for n in info["networks"].values())
            context = ms.TuneContext(mod=shard.workload_mod(index), target=llvm_target(),
                                     num_threads=1)
            pools.append(TaskPool(f"{shard_name}/{index}", float(weight), context, candidates,
                                  np.asarray(costs, dtype=np.float64)))
    return pools


def make_model(spec: str, seed: int):
    """A fresh cost model for one replayed run: ``xgb``, ``gnn`` or ``gnn:key=value,...``
    (``GNNModel`` keyword arguments, e.g. ``gnn:update_steps=0`` for the frozen model)."""
    from tvm.s_tir.meta_schedule.cost_model import XGBModel

    from tpgnn.cost_model import GNNModel

    name, _, options = spec.partition(":")
    if name == "xgb" and not options:
        return XGBModel(num_tuning_cores=2)
    if name == "gnn":
        return GNNModel(seed=seed, **parse_gnn_options(list(filter(None, options.split(",")))))
    raise ValueError(f"unknown model {spec!r}; use xgb, gnn or gnn:key=value,...")


def replay(model, pools: list[TaskPool], per_round: int, rounds: int, seed: int) -> np.ndarray:
    """Best-so-far fraction of the pool optimum, ``[tasks, rounds * per_round]``."""
    from tvm.s_tir.meta_schedule.runner import RunnerResult

    rng = np.random.default_rng(seed)
    measured = [np.zeros(len(p.costs), dtype=bool) for p in pools]
    found = [[] for _ in pools]
    for _ in range(rounds):
        for t, pool in enumerate(pools):
            todo = np.flatnonzero(~measured[t])
            if len(todo) == 0:
                found[t].extend([found[t][-1]] * per_round)
                continue
            scores = np.asarray(model.predict(pool.context, [pool.candidates[i] for i in todo]))
            order = np.lexsort((rng.random(len(todo)), -scores))  # ties broken at random
            picked = todo[order[:per_round]]
            measured[t][picked] = True
            results = [
                RunnerResult([float(pool.costs[i])], None) if np.isfinite(pool.costs[i])
                else RunnerResult([1e10], "failed when collected")
                for i in picked
            ]
            model.update(pool.context, [pool.candidates[i] for i in picked], results)
            best = np.min(pool.costs) / np.minimum.accumulate(pool.costs[picked])
            prev = found[t][-1] if found[t] else 0.0
            found[t].extend(np.maximum(best, prev).tolist())
            found[t].extend([found[t][-1]] * (per_round - len(picked)))
    return np.asarray(found)


def plot_curves(report: dict, path: Path) -> None:
    """Pool-best fraction found against programs measured per task, one line per model,
    averaged over the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    by_model: dict[str, list] = {}
    for key, run in report["runs"].items():  # keys are "model/seed"
        by_model.setdefault(key.rpartition("/")[0], []).append(run["curve"])
    for name, curves in by_model.items():
        mean = np.mean(curves, axis=0)
        ax.plot(np.arange(1, len(mean) + 1), mean, label=name)
    ax.set_xlabel("programs measured per task")
    ax.set_ylabel("pool best latency / best found (weighted)")
    ax.set_title(f"{report['split']}: {len(report['tasks'])} tasks, replayed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["xgb", "gnn", "gnn:update_steps=0"])
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--per-round", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--min-programs", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.split == "test":
        print("warning: the test split is held out; choose settings on val", file=sys.stderr)

    pools = load_pools(args.data_dir, args.split, args.min_programs)
    weights = np.asarray([p.weight for p in pools])
    print(f"{args.split}: {len(pools)} tasks, {sum(len(p.costs) for p in pools)} programs; "
          f"{args.rounds} rounds of {args.per_round}")
    marks = [m for m in (1, 4, 8, 16, 24, 32, 48, 64) if m <= args.rounds * args.per_round]
    report = {"split": args.split, "tasks": [p.name for p in pools], "marks": marks, "runs": {}}
    print(f"{'model':40s} {'seed':>4s} " + " ".join(f"{m:>6d}" for m in marks) + "   wall")
    for name in args.models:
        for seed in args.seeds:
            start = time.perf_counter()
            found = replay(make_model(name, seed), pools, args.per_round, args.rounds, seed)
            curve = (weights @ found) / weights.sum()
            wall = time.perf_counter() - start
            report["runs"][f"{name}/{seed}"] = {"curve": curve.tolist(), "wall_s": wall}
            print(f"{name:40s} {seed:4d} " + " ".join(f"{curve[m - 1]:6.3f}" for m in marks)
                  + f" {wall:6.0f}s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    if args.plot:
        plot_curves(report, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
