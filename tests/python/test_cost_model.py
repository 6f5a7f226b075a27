"""Tests of tpgnn.cost_model.GNNModel against MetaSchedule's cost-model contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tvm.s_tir import meta_schedule as ms

import tpgnn
from tpgnn.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from tpgnn.cost_model import selection_scores
from tpgnn.operators import softmax
from tpgnn.sampling import llvm_target, sample_candidates


@pytest.fixture(scope="module")
def task():
    mod = softmax(64, 64)
    context = ms.TuneContext(mod=mod, target=llvm_target(), task_name="softmax")
    return context, sample_candidates(mod, 12, seed=3)


def _results(n: int, failed: tuple[int, ...] = ()) -> list:
    out = []
    for i in range(n):
        if i in failed:
            out.append(ms.runner.RunnerResult(run_secs=None, error_msg="build failed"))
        else:
            out.append(ms.runner.RunnerResult(run_secs=[1e-4 * (1 + i), 1.1e-4 * (1 + i)],
                                              error_msg=None))
    return out


def _assert_same_scores(model: tpgnn.GNNModel, actual, desired, *, rtol: float) -> None:
    """Bit for bit on the CPU. On CUDA the message passing adds with atomics in no fixed
    order, so scores repeat to float precision only: on an H200, repeated forward passes
    differed by <= 1e-6 relative, two seeded runs of ``update`` (32 steps) by 1.3e-4."""
    if model.device.type == "cpu":
        np.testing.assert_array_equal(actual, desired)
    else:
        np.testing.assert_allclose(actual, desired, rtol=rtol)


def test_predict_contract(task):
    context, candidates = task
    scores = tpgnn.GNNModel().predict(context, candidates)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
    assert scores.shape == (len(candidates),)
    assert np.all(np.isfinite(scores) & (scores > 0)), "MetaSchedule clamps at 0, samples by score"
    assert len(np.unique(scores)) > 1


def test_the_shipped_model_warns_once_on_a_target_it_was_not_trained_for(task, caplog):
    import tvm

    cpu_context, candidates = task
    model = tpgnn.GNNModel()
    gpu_context = ms.TuneContext(mod=cpu_context.mod, target=tvm.target.Target("cuda"),
                                 task_name="softmax")
    with caplog.at_level("WARNING", logger="tpgnn.cost_model"):
        first = model.predict(gpu_context, candidates)
        second = model.predict(gpu_context, candidates)
        on_cpu = model.predict(cpu_context, candidates)
    warnings = [r.getMessage() for r in caplog.records if "untested" in r.getMessage()]
    assert len(warnings) == 1 and "'cuda'" in warnings[0] and "xgb" in warnings[0]
    # The programs are still scored (the search goes on), as on the CPU target.
    assert np.all(first > 0)
    _assert_same_scores(model, first, second, rtol=1e-5)
    _assert_same_scores(model, first, on_cpu, rtol=1e-5)


def test_selection_scores_keep_the_order_and_set_the_odds():
    logits = torch.tensor([-1e4, -2.0, 0.0, 1.0, 3.0, 1e4], dtype=torch.float64)
    scores = selection_scores(logits, temperature=1.0)
    assert torch.all(torch.isfinite(scores) & (scores >= 0))
    assert torch.all(scores[1:] > scores[:-1])
    # Parents are sampled in proportion to the scores: one logit more is e times as likely.
    assert float(scores[3] / scores[2]) == pytest.approx(np.e)
    assert float(selection_scores(logits, temperature=2.0)[4] / scores[2]) == pytest.approx(
        np.exp(1.5))


def test_update_refits_the_head_toward_the_measured_order(task):
    context, candidates = task
    model = tpgnn.GNNModel(update_steps=200, update_seconds=1e9)
    body = {k: v.clone() for k, v in model._model.state_dict().items() if not k.startswith("head")}
    results = _results(len(candidates))  # candidate 0 is the fastest, then 1, 2, ...

    def agreement() -> float:
        scores = model.predict(context, candidates)
        pairs = [(i, j) for i in range(len(scores)) for j in range(i + 1, len(scores))]
        return sum(scores[i] > scores[j] for i, j in pairs) / len(pairs)

    before = agreement()
    model.update(context, candidates, results)
    assert agreement() > max(before, 0.75)
    for key, value in model._model.state_dict().items():
        if key in body:
            assert torch.equal(value, body[key]), f"{key} moved: only the head is refitted"


def test_save_load_round_trip_gives_identical_scores(task, tmp_path):
    context, candidates = task
    model = tpgnn.GNNModel()
    model.update(context, candidates, _results(len(candidates)))
    path = str(tmp_path / "tuned.pt")
    model.save(path)
    other = tpgnn.GNNModel(checkpoint=path)
    _assert_same_scores(
        model, model.predict(context, candidates), other.predict(context, candidates), rtol=1e-5
    )


def test_reseeding_gives_identical_scores(task):
    context, candidates = task
    runs = []
    for _ in range(2):
        # No time budget: on a loaded machine it could stop the two runs after different steps.
        model = tpgnn.GNNModel(seed=5, update_seconds=1e9)
        model.update(context, candidates, _results(len(candidates)))
        runs.append(model.predict(context, candidates))
    _assert_same_scores(model, *runs, rtol=1e-3)


def test_update_changes_the_model_and_tolerates_failures(task):
    context, candidates = task
    model = tpgnn.GNNModel()
    before = model.predict(context, candidates)
    model.update(context, candidates, _results(len(candidates), failed=(0, 5)))
    assert model.num_online_samples == len(candidates)
    assert not np.array_equal(before, model.predict(context, candidates))


def test_update_with_empty_results_is_a_no_op(task):
    context, candidates = task
    model = tpgnn.GNNModel()
    before = model.predict(context, candidates)
    model.update(context, [], [])
    _assert_same_scores(model, model.predict(context, candidates), before, rtol=1e-5)


def test_update_error_is_logged_not_raised(task, caplog):
    context, candidates = task
    model = tpgnn.GNNModel()
    model.update(context, candidates, _results(len(candidates) - 1))  # mismatched lengths
    assert "update failed" in caplog.text


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TPGNN checkpoint"):
        tpgnn.GNNModel(checkpoint=tmp_path / "absent.pt")


def test_checkpoint_from_another_vocabulary_is_refused(tmp_path):
    model, _ = load_checkpoint(tpgnn.GNNModel().checkpoint)
    path = tmp_path / "other.pt"
    save_checkpoint(path, model)
    payload = torch.load(path, weights_only=True)
    payload["vocabulary"] = payload["vocabulary"][:-1]
    torch.save(payload, path)
    with pytest.raises(CheckpointMismatchError, match="node-type vocabulary"):
        tpgnn.GNNModel(checkpoint=path)


def test_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable TPGNN checkpoint"):
        tpgnn.GNNModel(checkpoint=path)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="batch_size"):
        tpgnn.GNNModel(batch_size=0)
    with pytest.raises(ValueError, match="device"):
        tpgnn.GNNModel(device="tpu")


@pytest.mark.slow
def test_tune_tir_with_the_object(tmp_path):
    from tpgnn.collect.workers import warm_build_worker, warm_timing_worker

    mod = softmax(32, 32)
    database = ms.tune_tir(
        mod, llvm_target(), str(tmp_path), max_trials_global=8, num_trials_per_iter=4,
        cost_model=tpgnn.GNNModel(),
        # A small population keeps the test short; the default (512) is exercised by tuning.
        strategy=ms.search_strategy.EvolutionarySearch(population_size=32, init_min_unmeasured=8),
        builder=ms.builder.LocalBuilder(initializer=warm_build_worker),
        runner=ms.runner.LocalRunner(initializer=warm_timing_worker),
    )
    assert len(database.get_all_tuning_records()) > 0
