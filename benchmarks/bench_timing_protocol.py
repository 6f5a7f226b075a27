"""How much timing does a sample need? Timing protocols against a long reference, in one run.

The collector times every program serially with no compiler running, so timing is the part
of a sample's cost that parallel builds cannot hide. This benchmark takes measured programs
of a few dataset workloads (the fastest ones, where timing noise matters, and others), builds
them once, and times every program under each protocol in several passes, protocols back to
back per program:

* ``reference``: ``repeat=7``, ``min_repeat_ms=100`` (about a second a program);
* the collector's protocols and MetaSchedule's default (``number=3, repeat=1,
  min_repeat_ms=100``, what stock ``tune_tir`` users measure with);
* the collector's protocol with ``number`` searched from 1 as stock MetaSchedule does
  (``no probe``), to show what the probe of :mod:`tpgnn.collect.timing` saves and that it
  agrees with the reference as well. The reference and stock protocols do not probe.

For each protocol it prints the timing cost per program and how well its median agrees with
the reference: the median relative deviation and its signed median (bias), the pairwise order
within a workload (pairs whose reference medians differ by at least ``--min-gap``), and the
deviation between its own passes (test-retest). Run on a quiet machine, from the repository root:

    .venv/bin/python benchmarks/bench_timing_protocol.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from dataclasses import dataclass

from tpgnn.collect.workers import stub_gpu_intrinsics

stub_gpu_intrinsics()

import tvm  # noqa: E402
from tqdm import tqdm  # noqa: E402
from tvm.s_tir import meta_schedule as ms  # noqa: E402

from tpgnn.collect.config import MeasureConfig  # noqa: E402
from tpgnn.collect.measure import run_seconds  # noqa: E402
from tpgnn.collect.workers import PersistentBuilder, make_runner, remove_artifact  # noqa: E402
from tpgnn.dataset import measured_candidates  # noqa: E402

REFERENCE = "reference"
PROTOCOLS: dict[str, MeasureConfig] = {
    REFERENCE: MeasureConfig(number=1, repeat=7, min_repeat_ms=100, number_probe_ms=0),
    "stock (3x1, 100 ms)": MeasureConfig(number=3, repeat=1, min_repeat_ms=100, number_probe_ms=0),
    "3 x 25 ms": MeasureConfig(number=1, repeat=3, min_repeat_ms=25),
    "3 x 25 ms, no probe": MeasureConfig(number=1, repeat=3, min_repeat_ms=25, number_probe_ms=0),
    "3 x 10 ms": MeasureConfig(number=1, repeat=3, min_repeat_ms=10),
    "5 x 5 ms": MeasureConfig(number=1, repeat=5, min_repeat_ms=5),
    "5 x 10 ms": MeasureConfig(number=1, repeat=5, min_repeat_ms=10),
}


@dataclass(frozen=True)
class Program:
    """A built program of one workload, ready to time."""

    workload: str
    artifact: str
    args_info: object


def pick_programs(shard_dir: str, keys: list[str], per_workload: int) -> list[tuple]:
    """Per workload named in ``keys``: its fastest programs (half) and an even spread of the rest.

    Returns ``(key, scheduled module, args_info)`` rebuilt as MetaSchedule rebuilds a record.
    """
    by_workload: dict[str, list] = {}
    for sample, candidate, _ in measured_candidates(shard_dir):
        key = f"{os.path.basename(shard_dir)}/{sample.workload}"
        if key in keys and candidate is not None and sample.ok:
            by_workload.setdefault(key, []).append((sample.median, candidate))
    out = []
    for key, found in sorted(by_workload.items()):
        found.sort(key=lambda pair: pair[0])
        for _, c in fastest_and_spread(found, per_workload):
            out.append((key, c.sch.mod, c.args_info))
    return out


def fastest_and_spread(ranked: list, count: int) -> list:
    """``count`` of ``ranked`` (fastest first): its first half and an even spread of the rest."""
    best, rest = ranked[: count // 2], ranked[count // 2 :]
    step = max(1, len(rest) // max(1, count - len(best)))
    return best + rest[::step][: count - len(best)]


def time_interleaved(
    programs: list[Program], protocols: dict[str, MeasureConfig], passes: int
) -> tuple[dict[str, list[list[float]]], dict[str, float]]:
    """Time every program under every protocol, ``passes`` times, protocols back to back.

    Each protocol has its own warm runner; a program is timed under all of them in a row
    (in a rotating order), so drift in the machine's speed touches every protocol alike.
    Returns per protocol the median cost of each program in each pass, and the mean wall
    seconds one program's timing took.
    """
    runners = {name: make_runner(m) for name, m in protocols.items()}
    first = ms.runner.RunnerInput(programs[0].artifact, "cpu", programs[0].args_info)
    for runner in runners.values():
        runner.run([first])[0].result()  # workers start outside the timed region
    medians = {name: [[0.0] * len(programs) for _ in range(passes)] for name in protocols}
    seconds = dict.fromkeys(protocols, 0.0)
    names = list(protocols)
    with tqdm(total=passes * len(programs), unit="program", desc="timing") as bar:
        for k in range(passes):
            for i, prog in enumerate(programs):
                shift = (k * len(programs) + i) % len(names)
                for name in names[shift:] + names[:shift]:
                    t = time.perf_counter()
                    runner_input = ms.runner.RunnerInput(prog.artifact, "cpu", prog.args_info)
                    res = runners[name].run([runner_input])[0].result()
                    seconds[name] += time.perf_counter() - t
                    if res.error_msg is not None:
                        raise RuntimeError(f"timing failed: {res.error_msg}")
                    medians[name][k][i] = statistics.median(run_seconds(res.run_secs))
                bar.update()
    count = passes * len(programs)
    return medians, {name: s / count for name, s in seconds.items()}


def pairwise_agreement(
    workloads: list[str], ref: list[float], got: list[float], min_gap: float
) -> float:
    """Fraction of same-workload pairs, reference gap >= ``min_gap``, ordered as the reference."""
    agree = total = 0
    for i, j in itertools.combinations(range(len(ref)), 2):
        if workloads[i] != workloads[j]:
            continue
        if abs(ref[i] / ref[j] - 1.0) < min_gap:
            continue
        total += 1
        agree += (ref[i] < ref[j]) == (got[i] < got[j])
    return agree / total if total else float("nan")


def relative_errors(a: list[float], b: list[float]) -> list[float]:
    """``a / b - 1``, element by element."""
    return [x / y - 1.0 for x, y in zip(a, b, strict=True)]


def median_deviation(a: list[float], b: list[float]) -> float:
    """Median of ``|a / b - 1|``."""
    return statistics.median(abs(e) for e in relative_errors(a, b))


def summarize(
    medians: dict[str, list[list[float]]], name: str, workloads: list[str], min_gap: float
) -> dict[str, float]:
    """One protocol's agreement with the reference, averaged over passes.

    A pass is compared with the reference's median over the *other* passes, so the reference
    row is not compared with itself; the retest deviation averages every pair of passes.
    """
    passes = len(medians[name])
    dev, bias, pairs = [], [], []
    for k in range(passes):
        others = [medians[REFERENCE][j] for j in range(passes) if j != k] or medians[REFERENCE]
        ref = [statistics.median(v) for v in zip(*others, strict=True)]
        dev.append(median_deviation(medians[name][k], ref))
        bias.append(statistics.median(relative_errors(medians[name][k], ref)))
        pairs.append(pairwise_agreement(workloads, ref, medians[name][k], min_gap))
    retest = [
        median_deviation(medians[name][a], medians[name][b])
        for a, b in itertools.combinations(range(passes), 2)
    ]
    return {
        "deviation_to_reference": statistics.mean(dev),
        "bias_to_reference": statistics.mean(bias),
        "pairs_ordered_as_reference": statistics.mean(pairs),
        "retest_deviation": statistics.mean(retest) if retest else float("nan"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="timing protocols against a long reference")
    p.add_argument("--data", default="data")
    p.add_argument(
        "--workloads",
        default="resnet18/3,resnet18/0,mobilenet_v2/2,mobilenet_v2/18",
        help="shard/index keys of the manifest",
    )
    p.add_argument("--per-workload", type=int, default=24)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--min-gap", type=float, default=0.03)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()

    keys = args.workloads.split(",")
    target = tvm.target.Target({"kind": "llvm", "num-cores": os.cpu_count() or 1})
    chosen = []
    for shard in sorted({k.split("/")[0] for k in keys}):
        chosen += pick_programs(os.path.join(args.data, "shards", shard), keys, args.per_workload)
    builder = PersistentBuilder(None, 120.0)
    builds = builder.build([ms.builder.BuilderInput(mod, target) for _, mod, _ in chosen])
    builder.shutdown()
    programs = []
    for (key, _, info), b in zip(chosen, builds, strict=True):
        if b.error_msg is None:
            programs.append(Program(key, b.artifact_path, info))
    print(f"{len(programs)} programs of {len(keys)} workloads on {os.cpu_count()} cores")

    try:
        medians, cost = time_interleaved(programs, PROTOCOLS, args.passes)
    finally:
        for prog in programs:
            remove_artifact(prog.artifact)

    workloads = [prog.workload for prog in programs]
    rows = {name: summarize(medians, name, workloads, args.min_gap) for name in PROTOCOLS}
    for name, row in rows.items():
        row["ms_per_program"] = 1000 * cost[name]
    print(
        f"{'protocol':22s} {'ms/program':>10s} {'dev. to ref':>11s} {'bias':>8s} "
        f"{'pairs as ref':>12s} {'retest dev.':>11s}"
    )
    for name, row in rows.items():
        print(
            f"{name:22s} {row['ms_per_program']:10.1f} {row['deviation_to_reference']:11.4f} "
            f"{row['bias_to_reference']:+8.4f} {row['pairs_ordered_as_reference']:12.4f} "
            f"{row['retest_deviation']:11.4f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"programs": len(programs), "min_gap": args.min_gap, "rows": rows}, f, indent=1
            )


if __name__ == "__main__":
    main()
