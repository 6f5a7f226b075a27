"""Tests of tpgnn.cost_model.GNNModel against MetaSchedule's cost-model contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tvm.s_tir import meta_schedule as ms

import tpgnn
from tpgnn.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
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


def test_predict_contract(task):
    context, candidates = task
    scores = tpgnn.GNNModel().predict(context, candidates)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
    assert scores.shape == (len(candidates),)
    assert np.all((scores >= 0) & (scores <= 1)), "MetaSchedule clamps at 0 and samples by score"
    assert len(np.unique(scores)) > 1


def test_save_load_round_trip_gives_identical_scores(task, tmp_path):
    context, candidates = task
    model = tpgnn.GNNModel()
    model.update(context, candidates, _results(len(candidates)))
    path = str(tmp_path / "tuned.pt")
    model.save(path)
    other = tpgnn.GNNModel(checkpoint=path)
    np.testing.assert_array_equal(model.predict(context, candidates),
                                  other.predict(context, candidates))


def test_reseeding_gives_identical_scores(task):
    context, candidates = task
    runs = []
    for _ in range(2):
        # No time budget: on a loaded machine it could stop the two runs after different steps.
        model = tpgnn.GNNModel(seed=5, update_seconds=1e9)
        model.update(context, candidates, _results(len(candidates)))
        runs.append(model.predict(context, candidates))
    np.testing.assert_array_equal(*runs)


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
    np.testing.assert_array_equal(before, model.predict(context, candidates))


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
    from tpgnn.collect.workers import warm_worker

    mod = softmax(32, 32)
    database = ms.tune_tir(
        mod, llvm_target(), str(tmp_path), max_trials_global=8, num_trials_per_iter=4,
        cost_model=tpgnn.GNNModel(),
        # A small population keeps the test short; the default (512) is exercised by tuning.
        strategy=ms.search_strategy.EvolutionarySearch(population_size=32, init_min_unmeasured=8),
        builder=ms.builder.LocalBuilder(initializer=warm_worker),
        runner=ms.runner.LocalRunner(initializer=warm_worker),
    )
    assert len(database.get_all_tuning_records()) > 0
