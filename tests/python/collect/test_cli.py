"""The ``collect`` subcommand: options map onto the config; bad values exit with 2."""

from __future__ import annotations

import argparse

import pytest

from tpgnn.collect.cli import config_from_args, register


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["collect", *argv])


def test_defaults_map_onto_config():
    args = _parse()
    config = config_from_args(args)
    assert args.func.__name__ == "run"
    assert config.data_dir == "data" and config.samples_per_workload == 100
    assert {"resnet18", "mobilenet_v2", "inception_v3"} <= set(config.networks)
    assert config.test_networks == ("inception_v3",) and config.rpc is None
    assert config.measure.repeat == 3 and config.measure.number_probe_ms == 2


def test_options_map_onto_config():
    config = config_from_args(
        _parse(
            "--networks",
            "resnet18, vgg16",
            "--total",
            "500",
            "--time-budget",
            "60",
            "--rpc-tracker",
            "127.0.0.1:9190",
            "--rpc-key",
            "cpu",
            "--min-repeat-ms",
            "10",
            "--number-probe-ms",
            "0",
            "--target",
            '{"kind": "llvm", "num-cores": 4}',
        )
    )
    assert config.networks == ("resnet18", "vgg16") and config.total == 500
    assert config.target == {"kind": "llvm", "num-cores": 4}
    assert config.time_budget_s == 60 and config.measure.min_repeat_ms == 10
    assert config.measure.number_probe_ms == 0
    assert (config.rpc.tracker_host, config.rpc.tracker_port, config.rpc.key) == (
        "127.0.0.1",
        9190,
        "cpu",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("--networks", "no_such_network"),
        ("--target", "llvm -num-cores 2"),
        ("--rpc-tracker", "nohost"),
        ("--samples-per-workload", "0"),
        ("--number-probe-ms", "-1"),
    ],
)
def test_bad_options_exit_with_2(argv):
    args = _parse(*argv)
    assert args.func(args) == 2
