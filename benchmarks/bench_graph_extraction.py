"""Graph extraction throughput: the C++ pass against the Python reference walker and against
MetaSchedule's PerStoreFeature on the same sampled conv2d candidates, in one run.

Run: ``.venv/bin/python benchmarks/bench_graph_extraction.py [--num 512] [--repeat 5]``

Targets (issue 2): C++ pass >= 50x PerStoreFeature; extract + collate of 512 conv2d graphs
under 0.2 s on 2 cores. Figures are medians over repeats; machines are shared and noisy, so
compare the ratios of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up caches and lazy imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=512, help="conv2d candidates (default 512)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--reference-subset", type=int, default=64,
                        help="candidates timed with the slow Python walker (default 64)")
    args = parser.parse_args()

    import os

    from tvm.s_tir import meta_schedule as ms

    import tpgnn
    from reference_walker import reference_graph
    from tpgnn.operators import conv2d
    from tpgnn.sampling import llvm_target, sample_candidates

    mod = conv2d()  # ResNet-18 layer1: 64x56x56, 3x3
    candidates = sample_candidates(mod, args.num, seed=0)
    n = len(candidates)
    print(f"candidates: {n} sampled schedules of ResNet-18 conv2d 64x56x56 k3 "
          f"(cores: {os.cpu_count()})")

    def cpp_pass():
        return [tpgnn.extract_graph(c.sch.mod) for c in candidates]

    subset = candidates[: args.reference_subset]

    def python_walker():
        return [reference_graph(c.sch.mod) for c in subset]

    def per_store_feature(threads: int) -> Callable[[], object]:
        context = ms.TuneContext(mod=mod, target=llvm_target(), num_threads=threads)
        extractor = ms.feature_extractor.PerStoreFeature()
        return lambda: extractor.extract_from(context, candidates)

    def extract_and_collate():
        return tpgnn.batch_graphs(cpp_pass())

    graphs = cpp_pass()
    collate_only = median_seconds(lambda: tpgnn.batch_graphs(graphs), args.repeat)
    t_cpp = median_seconds(cpp_pass, args.repeat)
    t_py = median_seconds(python_walker, max(1, args.repeat // 2)) / len(subset) * n
    t_psf1 = median_seconds(per_store_feature(1), args.repeat)
    t_psf = median_seconds(per_store_feature(os.cpu_count() or 1), args.repeat)
    t_both = median_seconds(extract_and_collate, args.repeat)

    def row(name: str, seconds: float) -> str:
        return f"  {name:38s} {n / seconds:10,.0f} graphs/s {seconds / n * 1e6:10.1f} us/graph"

    print("throughput (median of repeats):")
    print(row("C++ pass (1 thread, incl. sch.mod)", t_cpp))
    print(row(f"Python reference walker ({len(subset)} timed)", t_py))
    print(row("PerStoreFeature, 1 thread", t_psf1))
    print(row(f"PerStoreFeature, {os.cpu_count()} threads", t_psf))
    print("ratios:")
    cores = os.cpu_count()
    print(f"  C++ / PerStoreFeature ({cores} threads)      {t_psf / t_cpp:8.1f}x  (target >= 50x)")
    print(f"  C++ / PerStoreFeature (1 thread)       {t_psf1 / t_cpp:8.1f}x")
    print(f"  C++ / Python reference walker          {t_py / t_cpp:8.1f}x")
    print(f"extract + collate {n} graphs into one Batch: {t_both:.3f} s "
          f"(collate alone {collate_only * 1e3:.1f} ms; target < 0.2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
