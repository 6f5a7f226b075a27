"""Do this machine's timings order programs as the dataset's do? Evidence for mixing CPUs.

The dataset's sessions record the CPU they were timed on (``sessions.*.cpu_model`` in the
manifest). Labels are relative within a task (throughput over the task's best), and the
target has no ``-mcpu``, so every machine runs the same generic x86-64 code; what can
differ between CPUs is only how fast each program runs there (caches, ports, memory). Whether
samples timed on another CPU may join the dataset therefore comes down to one question: does
this machine order a task's programs as the dataset's machine did?

This benchmark draws a few workloads per network from the manifest (a fixed draw), takes
their measured programs (the fastest half and a spread of the rest, as
``bench_timing_protocol``), builds them and times each twice here under the dataset's own
protocol (its latest session's ``measurement`` settings), then reports per network and
overall:

* ``pairs as stored``: same-workload pairs whose stored medians differ by at least
  ``--min-gap``, ordered here as stored (mean over the two passes);
* ``pairs retest``: the same pairs, ordered by pass 2 as by pass 1 here: the ceiling that
  timing noise alone leaves, to read the first figure against;
* ``stored best here``: per workload, the best latency here over the latency here of the
  program that was best when stored (1.0 when the stored best is also best here), weighted
  as TenSet's top-1;
* ``speed ratio``: median over programs of the latency here over the stored one.

Run on a quiet machine, from the repository root (about 3 minutes on 2 cores):

    .venv/bin/python benchmarks/bench_cross_cpu.py --json out/cross_cpu.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
from collections import defaultdict

from tpgnn.collect.workers import stub_gpu_intrinsics

stub_gpu_intrinsics()

import tvm  # noqa: E402
from tvm.s_tir import meta_schedule as ms  # noqa: E402

from bench_timing_protocol import Program, fastest_and_spread, time_interleaved  # noqa: E402
from tpgnn.collect.config import MeasureConfig  # noqa: E402
from tpgnn.collect.loader import load_shard  # noqa: E402
from tpgnn.collect.manifest import cpu_info, load_manifest, timing_cpus  # noqa: E402
from tpgnn.collect.workers import PersistentBuilder, remove_artifact  # noqa: E402

HERE = "here"


def draw_workloads(manifest: dict, per_network: int, min_samples: int, seed: int) -> list[str]:
    """``per_network`` workload keys (``shard/index``) of each shard with ``min_samples``
    successes or more, drawn with ``seed``: the same keys for the same manifest."""
    by_shard: dict[str, list[str]] = defaultdict(list)
    for key, entry in sorted(manifest["workloads"].items()):
        if entry.get("successes", 0) >= min_samples:
            by_shard[entry["shard"]].append(key)
    rng = random.Random(seed)
    drawn = []
    for shard in sorted(by_shard):
        drawn += rng.sample(by_shard[shard], min(per_network, len(by_shard[shard])))
    return drawn


def stored_programs(shard_dir: str, keys: set[str], per_workload: int) -> list[tuple]:
    """``(key, stored median, scheduled module, args_info)``: per workload in ``keys``, its
    fastest ``per_workload // 2`` successful programs and an even spread of the rest, rebuilt
    as MetaSchedule rebuilds a record (only those: rebuilding a whole shard takes minutes)."""
    shard = load_shard(shard_dir, on_error="skip")
    by_workload: dict[str, list] = defaultdict(list)
    for sample in shard.samples:
        key = f"{os.path.basename(shard_dir)}/{sample.workload}"
        if key in keys and sample.ok:
            by_workload[key].append(sample)
    out = []
    for key, found in sorted(by_workload.items()):
        found.sort(key=lambda sample: sample.median)
        for sample in fastest_and_spread(found, per_workload):
            candidate = shard.measure_candidate(sample)
            out.append((key, sample.median, candidate.sch.mod, candidate.args_info))
    return out


def ordered_alike(
    workloads: list[str], gaps: list[float], a: list[float], b: list[float], min_gap: float
) -> float:
    """Fraction of same-workload pairs, ``gaps`` differing by ``min_gap`` or more, that ``a``
    and ``b`` order alike: the pairs are chosen by ``gaps`` alone, so every comparison counts
    the same pairs."""
    agree = total = 0
    for i, j in itertools.combinations(range(len(gaps)), 2):
        if workloads[i] != workloads[j] or abs(gaps[i] / gaps[j] - 1.0) < min_gap:
            continue
        total += 1
        agree += (a[i] < a[j]) == (b[i] < b[j])
    return agree / total if total else float("nan")


def best_kept(workloads: list[str], stored: list[float], here: list[float]) -> float:
    """Sum over workloads of the best latency here, over the sum of the latency here of each
    workload's stored best program (TenSet's top-1 aggregation, every workload weight 1)."""
    best, picked = 0.0, 0.0
    for w in sorted(set(workloads)):
        idx = [i for i, x in enumerate(workloads) if x == w]
        best += min(here[i] for i in idx)
        picked += here[min(idx, key=lambda i: stored[i])]
    return best / picked


def compare(
    workloads: list[str], stored: list[float], passes: list[list[float]], min_gap: float
) -> dict[str, float]:
    """The figures of the module docstring for one group of programs."""
    here = [statistics.median(v) for v in zip(*passes, strict=True)]
    return {
        "workloads": len(set(workloads)),
        "programs": len(workloads),
        "pairs_as_stored": statistics.mean(
            ordered_alike(workloads, stored, stored, p, min_gap) for p in passes
        ),
        "pairs_retest": ordered_alike(workloads, stored, passes[0], passes[1], min_gap),
        "stored_best_here": best_kept(workloads, stored, here),
        "speed_ratio": statistics.median(h / s for h, s in zip(here, stored, strict=True)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="this CPU's timings against the dataset's")
    p.add_argument("--data", default="data")
    p.add_argument("--per-network", type=int, default=2, help="workloads drawn per shard")
    p.add_argument("--per-workload", type=int, default=24, help="programs timed per workload")
    p.add_argument(
        "--min-gap",
        type=float,
        default=0.03,
        help="pairs whose stored medians differ by less are not counted",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the workload draw")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()

    manifest = load_manifest(args.data)
    sessions = list(manifest["sessions"].values())
    measure = MeasureConfig(**sessions[-1]["measurement"])
    keys = draw_workloads(manifest, args.per_network, args.per_workload, args.seed)
    chosen = []
    for shard in sorted({k.split("/")[0] for k in keys}):
        chosen += stored_programs(
            os.path.join(args.data, "shards", shard), set(keys), args.per_workload
        )
    target = tvm.target.Target({"kind": "llvm", "num-cores": os.cpu_count() or 1})
    builder = PersistentBuilder(None, measure.build_timeout_s)
    builds = builder.build([ms.builder.BuilderInput(mod, target) for _, _, mod, _ in chosen])
    builder.shutdown()
    programs, stored = [], []
    for (key, median, _, info), b in zip(chosen, builds, strict=True):
        if b.error_msg is None:
            programs.append(Program(key, b.artifact_path, info))
            stored.append(median)
    here_cpu, stored_cpus = cpu_info()["cpu_model"], timing_cpus(manifest)
    print(
        f"{len(programs)} programs of {len(keys)} workloads; here: {here_cpu}, "
        f"{os.cpu_count()} cores; stored: {', '.join(stored_cpus)}"
    )
    try:
        medians, _ = time_interleaved(programs, {HERE: measure}, passes=2)
    finally:
        for prog in programs:
            remove_artifact(prog.artifact)

    workloads = [prog.workload for prog in programs]
    passes = medians[HERE]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, w in enumerate(workloads):
        groups[w.split("/")[0]].append(i)
    rows = {}
    for name, idx in sorted(groups.items()):
        rows[name] = compare(
            [workloads[i] for i in idx],
            [stored[i] for i in idx],
            [[p[i] for i in idx] for p in passes],
            args.min_gap,
        )
    rows["overall"] = compare(workloads, stored, passes, args.min_gap)
    print(
        f"{'network':20s} {'workloads':>9s} {'pairs as stored':>15s} {'pairs retest':>12s} "
        f"{'stored best here':>16s} {'speed ratio':>11s}"
    )
    for name, r in rows.items():
        print(
            f"{name:20s} {r['workloads']:9d} {r['pairs_as_stored']:15.4f} "
            f"{r['pairs_retest']:12.4f} {r['stored_best_here']:16.4f} {r['speed_ratio']:11.3f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "here_cpu": here_cpu,
                    "stored_cpus": stored_cpus,
                    "min_gap": args.min_gap,
                    "workloads": keys,
                    "measurement": sessions[-1]["measurement"],
                    "rows": rows,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
