"""Tests of tpgnn.collect.quality: timing quality per collection session."""

from __future__ import annotations

import math

import pytest

from tpgnn.collect.loader import Sample, load_shard
from tpgnn.collect.quality import dataset_quality, format_quality, main, session_quality


def _sample(run_secs, session=None, load=None) -> Sample:
    meta = None if session is None else {"session": session, "load": load}
    return Sample("s", 0, 0, None, run_secs, None, None, meta)


def test_figures_per_session_skip_failures_and_group_unsessioned_samples():
    rows = session_quality([
        _sample([1.0, 1.0, 1.0], "a", 1.0),      # spread 0
        _sample([1.0, 1.5, 2.0], "a", 3.0),      # spread 1 / 1.5: noisy
        _sample([1e10], "a", 9.0),               # a failure: not counted
        _sample([2.0, 2.1, 2.2], "b", None),     # spread 0.2 / 2.1: quiet; no load recorded
        _sample([1.0, 1.1, 1.2]),                # a plain MetaSchedule record
    ])
    by = {r.session: r for r in rows}
    assert [r.session for r in rows] == ["a", "b", "unknown"]
    assert by["a"].samples == 2 and by["a"].median_load == 2.0
    assert by["a"].median_spread == pytest.approx(1 / 3) and by["a"].noisy_fraction == 0.5
    assert math.isnan(by["b"].median_load) and by["b"].noisy_fraction == 0.0
    assert by["unknown"].median_spread == pytest.approx(0.2 / 1.1)
    table = format_quality(rows)
    assert table.splitlines()[-1].split()[:2] == ["all", "4"] and "33.3%" in table


def test_report_on_a_real_collection(collected, capsys, tmp_path):
    data_dir, _ = collected
    samples = [s for s in load_shard(data_dir / "shards" / "tiny").samples if s.ok]
    rows = dataset_quality(data_dir, noisy_spread=0.0)
    assert sum(r.samples for r in rows) == len(samples) > 0
    assert all(r.session != "unknown" and r.median_load >= 0 for r in rows)
    noisy = sum(r.noisy_fraction * r.samples for r in rows)
    assert noisy == pytest.approx(sum(s.spread > 0 for s in samples))
    assert main([str(data_dir)]) == 0
    assert rows[0].session in capsys.readouterr().out
    assert main([str(tmp_path)]) == 1  # nothing measured there


def test_sample_spreads_follow_the_keys(collected):
    from tpgnn.collect.quality import sample_spreads

    data_dir, _ = collected
    samples = load_shard(data_dir / "shards" / "tiny").samples
    keys = [("tiny", s.record) for s in reversed(samples)] + [("tiny", 10**6)]
    spreads = sample_spreads(data_dir, keys)
    assert spreads[:-1] == pytest.approx([s.spread for s in reversed(samples)], nan_ok=True)
    assert math.isnan(spreads[-1])


def test_remeasure_shift_and_order_compare_first_and_new_timings():
    from tpgnn.collect.quality import format_order, format_shifts, remeasure_order, remeasure_shifts

    def remeasured(workload, first, new):
        return Sample("s", workload, 0, None, [new] * 3, None, None, {"session": "a"},
                      {"session": "r", "original_run_secs": [first] * 3})

    samples = [
        remeasured(0, 1.0, 0.5), remeasured(0, 2.0, 1.0), remeasured(0, 3.0, 1.2),  # order kept
        remeasured(1, 1.0, 0.9), remeasured(1, 2.0, 0.8),  # the fastest program changed
        remeasured(2, 1.0, 1.0),  # alone in its task: no pairs
        remeasured(3, 1e10, 1.0),  # failed at first: no ratio
        _sample([1.0, 1.0, 1.0], "b"),  # never re-measured
    ]
    (shift,) = remeasure_shifts(samples)
    assert (shift.session, shift.samples) == ("a", 6) and shift.quartiles[1] == pytest.approx(0.5)
    (order,) = remeasure_order(samples)
    assert (order.shard, order.tasks, order.pairs, order.best_changed) == ("s", 2, 4, 1)
    assert order.pairs_kept == pytest.approx(0.75)
    assert order.worst_first_best == pytest.approx(0.9 / 0.8)
    assert "0.750" in format_order([order]) and "0.500" in format_shifts([shift])
    assert remeasure_shifts(samples[-1:]) == [] and remeasure_order(samples[-1:]) == []
