"""Predict cost of the cost models: time to score 512 candidates, schedules in, scores out.

Run: ``.venv/bin/python benchmarks/bench_predict_cost.py [--num 512] [--repeat 3]``
(``--devices cpu cuda`` times the GNN on each device and compares their scores;
``--models gnn`` skips XGB, e.g. where xgboost is not installed).

Both models go through MetaSchedule's public ``predict(context, candidates)``: the GNN
extracts graphs with the C++ pass and scores them in one batch; XGBModel extracts
``PerStoreFeature`` and runs its booster. XGBModel predicts random numbers until trained, so
it is first fitted (on features of other sampled programs of the same task with stand-in
labels: the booster's size, not its accuracy, sets its cost). Target (issue 5): GNN <= XGB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=["gnn", "xgb"], default=["gnn", "xgb"])
    parser.add_argument("--devices", nargs="+", choices=["auto", "cpu", "cuda"], default=["auto"],
                        help="GNNModel devices, one row each (default: auto)")
    args = parser.parse_args()

    from tvm.s_tir import meta_schedule as ms

    import tpgnn
    from tpgnn.operators import conv2d
    from tpgnn.sampling import llvm_target, sample_candidates

    mod = conv2d()
    candidates = sample_candidates(mod, args.num, seed=0)
    context = ms.TuneContext(mod=mod, target=llvm_target(), num_threads=os.cpu_count() or 1)

    def timed(model) -> tuple[float, np.ndarray]:
        model.predict(context, candidates)  # warm up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            scores = model.predict(context, candidates)
            times.append(time.perf_counter() - start)
            assert scores.shape == (len(candidates),)
        return statistics.median(times), np.asarray(scores)

    seconds: dict[str, float] = {}
    reference = None
    for device in args.devices if "gnn" in args.models else []:
        gnn = tpgnn.GNNModel(device=device)
        name = f"GNNModel ({gnn.device.type})"
        if name in seconds:  # e.g. "auto cpu" on a machine without CUDA
            print(f"  --devices {device}: {gnn.device.type} has its row already; skipped")
            continue
        seconds[name], scores = timed(gnn)
        if reference is None:
            reference = scores
        else:  # same model on another device: how far its logits are from the first device's
            gap = np.abs(np.log(scores) - np.log(reference)).max()
            print(f"  {name}: largest logit difference from the first device: {gap:.2e}")
    if "xgb" in args.models:
        xgb = ms.cost_model.XGBModel(num_warmup_samples=0, verbose_eval=0,
                                     num_tuning_cores=os.cpu_count())
        fit = sample_candidates(mod, 256, seed=1)
        features = [f.numpy().astype("float32") for f in xgb.extractor.extract_from(context, fit)]
        xgb._train(xs=features, ys=np.random.default_rng(0).uniform(size=len(features)))
        seconds["XGBModel"], _ = timed(xgb)

    print(f"candidates: {len(candidates)} sampled ResNet-18 conv2d schedules, "
          f"{os.cpu_count()} cores, median of {args.repeat}")
    for name, t in seconds.items():
        per_candidate = t / len(candidates) * 1e3
        print(f"  {name + '.predict':24s} {t:8.3f} s  ({per_candidate:.2f} ms/candidate)")
    if "XGBModel" in seconds:
        for name, t in seconds.items():
            if name != "XGBModel":
                print(f"  {name} / XGB  {t / seconds['XGBModel']:8.2f}   (target <= 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
