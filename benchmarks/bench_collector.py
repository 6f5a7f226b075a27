"""Samples per hour: our collector against stock MetaSchedule measurement, in one run.

Three measurements on the same workloads (a few ResNet-18 conv2d / dense tasks):

1. **collector** (what the issue asks): stock MetaSchedule collecting samples the way a
   user would, ``ms.tune_tir`` with stock ``LocalBuilder()`` and ``LocalRunner()`` (default
   evaluator settings), against ``tpgnn.collect.collect`` with its defaults (64 random
   programs, then evolutionary batches; 3 repeats per program). Stock workers get the
   stub initializer from the notes; without it every stock build times out here (0/h;
   ``--stock-initializer none`` shows that).
2. **pipeline** (where the gain comes from): the *same* candidate programs measured with
   the *same* evaluator settings by stock ``LocalBuilder`` + ``LocalRunner`` (a fresh pool per
   batch, a tar the runner must link) and by our ``PersistentBuilder`` (warm pool for the
   whole run, programs linked by ``ld`` in the parallel build step) + the same
   ``LocalRunner``, whose ``time_evaluator`` starts ``number`` from a probe
   (:mod:`tpgnn.collect.timing`; the windows are as long as stock's).

3. **build cost** (what bounds any pipeline here): per program, the CPU time of
   MetaSchedule's ``default_build`` (lowering), of writing the object file (LLVM code
   generation) and of linking it, one program at a time in this process. One build worker
   per core cannot build more than ``cores x 3600 / (sum of the three)`` programs an hour.

Wall time includes starting workers. The evolutionary candidates depend on the timings the
search has seen, and a batch of them can take 2 to 10 s to build, so one comparison moves by
about 15% from run to run; ``--runs 3`` repeats it and prints the median. Run on a quiet
machine, from the repository root:

    PYTHONPATH=python python benchmarks/bench_collector.py --runs 3
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

from tpgnn.collect.workers import stub_gpu_intrinsics

stub_gpu_intrinsics()

from tvm.s_tir import meta_schedule as ms  # noqa: E402

from tpgnn.collect.candidates import random_candidates  # noqa: E402
from tpgnn.collect.collector import collect  # noqa: E402
from tpgnn.collect.config import CollectConfig, MeasureConfig, SearchConfig  # noqa: E402
from tpgnn.collect.measure import measure_batch  # noqa: E402
from tpgnn.collect.workers import (  # noqa: E402
    PersistentBuilder,
    evaluator_config,
    make_runner,
    target_of,
)
from tpgnn.collect.workloads import gather_workloads  # noqa: E402


def notes_initializer() -> None:
    """Stock workers' initializer: the notes' fix, nothing more.

    The GPU intrinsics are stubbed and the rest of ``tvm.s_tir.tensor_intrin`` imported, as
    ``default_build`` would on a worker's first build. Our workers skip the package
    altogether (``tpgnn.collect.workers.warm_build_worker``); that is part of what is
    compared, so stock does not get it.
    """
    stub_gpu_intrinsics()
    import tvm.s_tir.tensor_intrin  # noqa: F401


def _rate(ok: int, seconds: float) -> float:
    return 3600.0 * ok / seconds if seconds > 0 else 0.0


def bench_collector(
    workloads, target_dict, trials: int, initializer
) -> tuple[dict[str, tuple[int, float]], str]:
    """End to end: stock ``tune_tir`` against our ``collect`` on the same workloads.

    Returns (successes, seconds) of each, and where our collector's time went.
    """
    target = target_of(target_dict)
    ok_stock, t_stock = 0, 0.0
    for w in workloads:
        with tempfile.TemporaryDirectory() as work_dir:
            t = time.perf_counter()
            db = ms.tune_tir(
                w.mod,
                target,
                work_dir,
                max_trials_global=trials,
                num_trials_per_iter=64,
                builder=ms.builder.LocalBuilder(initializer=initializer),
                runner=ms.runner.LocalRunner(initializer=initializer),
                seed=0,
            )
            t_stock += time.perf_counter() - t
            ok_stock += sum(
                min(float(x) for x in r.run_secs) < 1e9 for r in db.get_all_tuning_records()
            )
    with tempfile.TemporaryDirectory() as data_dir:
        config = CollectConfig(
            data_dir=data_dir,
            networks=("resnet18",),
            samples_per_workload=trials,
            target=target_dict,
            search=SearchConfig(),
            progress=False,
        )
        t = time.perf_counter()
        stats = collect(config, workloads)
        t_ours = time.perf_counter() - t
    other = t_ours - stats.search_seconds - stats.measure_seconds
    split = (
        f"  ours: search {stats.search_seconds:.0f} s, build + time + save "
        f"{stats.measure_seconds:.0f} s, other {other:.0f} s"
    )
    return {"stock": (ok_stock, t_stock), "ours": (stats.successes, t_ours)}, split


def bench_pipeline(workloads, target_dict, per_workload: int, batch: int, initializer):
    """The same candidates, the same evaluator settings: the plumbing and the probe differ."""
    target = target_of(target_dict)
    measure = MeasureConfig()
    cands = [random_candidates(w.mod, target, per_workload, 1, set()) for w in workloads]
    ok = {"stock": 0, "ours": 0}
    sec = {"stock": 0.0, "ours": 0.0}
    t = time.perf_counter()
    stock_runner = ms.runner.LocalRunner(
        timeout_sec=measure.run_timeout_s,
        evaluator_config=evaluator_config(measure),
        initializer=initializer,
    )
    sec["stock"] += time.perf_counter() - t
    t = time.perf_counter()
    builder, runner = PersistentBuilder(None, measure.build_timeout_s), make_runner(measure)
    sec["ours"] += time.perf_counter() - t
    for cs in cands:
        for i in range(0, len(cs), batch):
            part = cs[i : i + batch]
            t = time.perf_counter()  # stock: a fresh LocalBuilder pool per batch, as in tuning
            builds = ms.builder.LocalBuilder(initializer=initializer).build(
                [ms.builder.BuilderInput(c.candidate.sch.mod, target) for c in part]
            )
            good = [(b, c) for b, c in zip(builds, part, strict=True) if b.error_msg is None]
            futures = stock_runner.run(
                [
                    ms.runner.RunnerInput(b.artifact_path, "cpu", c.candidate.args_info)
                    for b, c in good
                ]
            )
            ok["stock"] += sum(f.result().error_msg is None for f in futures)
            sec["stock"] += time.perf_counter() - t
            t = time.perf_counter()
            ok["ours"] += sum(r.error is None for r in measure_batch(part, target, builder, runner))
            sec["ours"] += time.perf_counter() - t
    builder.shutdown()
    return {k: (ok[k], sec[k]) for k in ok}


def bench_build_cost(workloads, target_dict, per_workload: int) -> dict[str, float]:
    """Mean seconds per program of lowering, code generation and linking, in this process."""
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build

    from tpgnn.collect.workers import link_shared_library

    target = target_of(target_dict)
    seconds = {"lowering": 0.0, "code generation": 0.0, "linking": 0.0}
    count = 0
    with tempfile.TemporaryDirectory() as work_dir:
        for w in workloads:
            for c in random_candidates(w.mod, target, per_workload, 2, set()):
                obj, lib = (os.path.join(work_dir, f"p{count}.{ext}") for ext in ("o", "so"))
                t0 = time.perf_counter()
                module = default_build(c.candidate.sch.mod, target, None)
                t1 = time.perf_counter()
                module.write_to_file(obj)
                t2 = time.perf_counter()
                link_shared_library(lib, [obj])
                t3 = time.perf_counter()
                for key, dt in zip(seconds, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    seconds[key] += dt
                count += 1
    return {k: v / max(count, 1) for k, v in seconds.items()}


def _report(title: str, res: dict[str, tuple[int, float]]) -> float:
    """Print both rates and return ours over stock's (``inf`` when stock measured nothing)."""
    rates = {k: _rate(*v) for k, v in res.items()}
    print(f"{title}")
    for k, (ok, s) in res.items():
        print(f"  {k:5s}: {ok:5d} samples in {s:6.0f} s = {rates[k]:7.0f} samples/h")
    if rates["stock"] > 0:
        speedup = rates["ours"] / rates["stock"]
        print(f"  speedup: {speedup:.2f}x")
        return speedup
    print("  speedup: unbounded (stock measured nothing: every build timed out)")
    return float("inf")


def main() -> None:
    p = argparse.ArgumentParser(description="samples/hour, ours vs stock MetaSchedule")
    p.add_argument("--network", default="resnet18")
    p.add_argument("--workloads", type=int, default=2, help="conv2d/dense workloads used")
    p.add_argument("--trials", type=int, default=128, help="collector: samples per workload")
    p.add_argument("--runs", type=int, default=1,
                   help="collector: comparisons in a row (the search's draw moves one by ~15%%)")
    p.add_argument("--per-workload", type=int, default=64, help="pipeline: candidates per workload")
    p.add_argument("--batch", type=int, default=64, help="pipeline: programs per batch")
    p.add_argument("--stock-initializer", choices=("stub", "none"), default="stub")
    p.add_argument("--build-programs", type=int, default=16,
                   help="build cost: candidates per workload")
    p.add_argument("--skip", nargs="+", choices=("collector", "pipeline", "build"), default=(),
                   help="parts not to run")
    p.add_argument("--cache-dir", default="cache/tasks")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be >= 1")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)

    target_dict = {"kind": "llvm", "num-cores": os.cpu_count() or 1}
    workloads = [
        w
        for w in gather_workloads([args.network], target_dict, args.cache_dir)
        if any(k in w.name for k in ("conv2d", "matmul"))
    ][: args.workloads]
    init = notes_initializer if args.stock_initializer == "stub" else None
    print(f"{args.network}: {[w.name for w in workloads]} on {os.cpu_count()} cores")
    if "collector" not in args.skip:
        speedups = []
        for run in range(1, args.runs + 1):
            res, split = bench_collector(workloads, target_dict, args.trials, init)
            of = f", run {run} of {args.runs}" if args.runs > 1 else ""
            speedups.append(_report(f"collector ({args.trials} samples per workload{of}):", res))
            print(split)
        if args.runs > 1:
            print(f"collector speedup over {args.runs} runs: median "
                  f"{statistics.median(speedups):.2f}x, from {min(speedups):.2f}x to "
                  f"{max(speedups):.2f}x")
    if "pipeline" not in args.skip:
        _report(
            f"pipeline (same {args.per_workload} candidates per workload, same evaluator, "
            f"batch {args.batch}):",
            bench_pipeline(workloads, target_dict, args.per_workload, args.batch, init),
        )
    if "build" not in args.skip:
        cost = bench_build_cost(workloads, target_dict, args.build_programs)
        total = sum(cost.values())
        print(f"build cost ({args.build_programs} candidates per workload, one at a time):")
        for part, sec in cost.items():
            print(f"  {part:16s} {sec * 1e3:6.0f} ms a program")
        cores = os.cpu_count() or 1
        print(f"  {cores} build workers can build at most {cores * 3600 / total:,.0f} "
              "programs an hour")


if __name__ == "__main__":
    main()
