"""Tests of ``tpgnn tune`` (tpgnn.tuning): task selection, curves, report, plot, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tvm.script import ir as I
from tvm.script import relax as R

from test_auto_scheduler import fast_options
from tpgnn import auto_scheduler as A
from tpgnn.cli import build_parser
from tpgnn.tune import command as tuning

TARGET = {"kind": "llvm", "num-cores": 2}


@I.ir_module
class TwoMatmuls:
    @R.function
    def main(x: R.Tensor((64, 64), "float32")):
        with R.dataflow():
            y = R.nn.relu(R.matmul(x, x))
            z = R.matmul(R.strided_slice(y, axes=[0, 1], begin=[0, 0], end=[16, 16]),
                         R.strided_slice(y, axes=[0, 1], begin=[0, 0], end=[16, 16]))
            R.output(z)
        return z


@pytest.fixture(autouse=True)
def bare_meta_schedule_logger(tmp_path, monkeypatch):
    """See test_auto_scheduler.fresh_meta_schedule_logger."""
    import logging

    log = logging.getLogger("tvm.s_tir.meta_schedule")
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "propagate", True)


def test_weighted_best_curve_is_inf_until_every_task_has_a_program():
    trials = [(0, 2.0), (0, 1.0), (1, math.inf), (1, 3.0), (0, 5.0), (1, 0.5)]
    curve = tuning.weighted_best_curve(trials, [1.0, 2.0])
    assert [t for t, _ in curve] == [1, 2, 3, 4, 5, 6]
    assert [v for _, v in curve] == [math.inf, math.inf, math.inf, 7.0, 7.0, 2.0]


def test_select_tasks_keeps_the_heaviest():
    tasks = A.extract_tasks(TwoMatmuls, TARGET)
    assert len(tasks) >= 2
    (top,) = tuning.select_tasks(tasks, 1)
    assert tuning.task_flops(top) == max(tuning.task_flops(t) * t.weight for t in tasks)
    assert [t.task_name for t in tuning.select_tasks(tasks, None)][0] == top.task_name
    with pytest.raises(ValueError, match="max_tasks must be None or >= 1"):
        tuning.select_tasks(tasks, 0)


def test_tune_network_reports_curves_and_latency(tmp_path, real_measurement):
    x = np.random.rand(64, 64).astype("float32")
    options = fast_options(tmp_path, real_measurement)
    run = tuning.tune_network(TwoMatmuls, [x], TARGET, options, max_tasks=1, repeat=2)
    assert run.cost_model == "random" and run.trials == 8
    assert len(run.network_latency_s) == 2 and all(s > 0 for s in run.network_latency_s)
    (task,) = run.tasks
    assert len(task["best_latency_us_vs_trials"]) == 8
    assert [t for t, _ in run.weighted_curve] == list(range(1, 9))
    entry = json.loads(json.dumps(run.to_json()))  # JSON-safe: no inf or nan
    assert entry["network_latency_ms"]["median"] > 0
    assert len(entry["weighted_best_ms_vs_trials"]) == 8


def test_plot_report_writes_a_png(tmp_path):
    report = {
        "network": "toy", "tuned_tasks": 2, "seed": 0,
        "runs": [
            {"cost_model": "xgb", "weighted_best_ms_vs_trials": [[1, None], [2, 3.0], [3, 2.0]]},
            {"cost_model": "gnn", "weighted_best_ms_vs_trials": [[1, None], [2, 2.5], [3, 1.0]]},
        ],
    }
    path = tmp_path / "plot.png"
    tuning.plot_report(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_defaults():
    args = build_parser().parse_args(["tune"])
    assert args.network == "resnet18"
    assert args.cost_model == ["gnn", "xgb"]
    assert (args.trials, args.max_tasks, args.per_round) == (16, 2, 8)


def test_cli_refuses_unknown_cost_model_listing_valid_ones(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune", "--cost-model", "xgb,lightgbm"])
    assert "comma-separated list of gnn, xgb, mlp, random" in capsys.readouterr().err


def test_cli_refuses_bad_network_and_trials(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune", "--network", "no_such_network"])
    assert "resnet18" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune", "--trials", "0"])
    assert "must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune", "--max-tasks", "-1"])
    assert "must be >= 0" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_end_to_end_on_a_tiny_network(tmp_path, monkeypatch):
    """Real builds and timing, two cost models, report and plot (network swapped for a toy)."""
    x = np.random.rand(64, 64).astype("float32")
    monkeypatch.setattr(tuning, "network_module", lambda name: (TwoMatmuls, x))
    args = build_parser().parse_args([
        "tune", "--cost-model", "random,xgb", "--trials", "4", "--per-round", "4",
        "--max-tasks", "1", "--repeat", "2", "--cores", "2", "--out", str(tmp_path),
    ])
    assert args.func(args) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["cost_model"] for r in report["runs"]] == ["random", "xgb"]
    assert report["baseline_latency_ms"] > 0
    for run in report["runs"]:
        assert run["trials"] == 4 and run["network_latency_ms"]["median"] > 0
    assert (tmp_path / "best_latency.png").exists()


@pytest.mark.slow
def test_ctrl_c_ends_tpgnn_tune_with_status_130_and_no_traceback(tmp_path):
    """Ctrl-C mostly lands in a Python callback of TVM's C++ tuning loop; it must end the
    command as an interrupt (status 130, one line), not as a RuntimeError traceback."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np;"
        "from test_tuning import TwoMatmuls; from tpgnn.cli import main;"
        "from tpgnn.tune import command as tuning;"
        "x = np.random.rand(64, 64).astype('float32');"
        "tuning.network_module = lambda name: (TwoMatmuls, x);"
        "sys.exit(main(['tune', '--cost-model', 'xgb', '--trials', '200', '--per-round', '8',"
        " '--max-tasks', '1', '--cores', '2', '--no-baseline', '--out', sys.argv[2]]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path)],
        env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.rglob("database_tuning_record.json")) and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until tuning rounds run
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted: stopped after" in err and "the tuning records so far are in" in err
    assert list(tmp_path.rglob("database_tuning_record.json"))[0].read_text().strip()
