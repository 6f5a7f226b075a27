"""Configuration of the collector: what to measure, how, and where to write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CollectConfig", "MeasureConfig", "RPCSettings", "SearchConfig"]

DEFAULT_NETWORKS: tuple[str, ...] = (
    "resnet18",
    "mobilenet_v2",
    "bert_layer",
    "vit_small",
    "squeezenet1_0",
    "resnet50",
    "vgg16",
    "inception_v3",
    "densenet121",
    "mobilenet_v3_small",
)
"""The networks of the dataset, in the order they were added. Inception-v3 is held out as
the test network and SqueezeNet as the validation network (see :mod:`tpgnn.collect.split`)."""


def default_target() -> dict[str, Any]:
    """The LLVM target of this machine, one thread per core."""
    import os

    return {"kind": "llvm", "num-cores": os.cpu_count() or 1}


@dataclass(frozen=True)
class MeasureConfig:
    """How one program is timed, and how long building or running it may take.

    ``time_evaluator`` runs the program once to warm up, then ``repeat`` times ``number``
    runs, raising ``number`` until one repeat lasts ``min_repeat_ms``. Every repeat's mean
    cost is stored, so the median and spread of a sample can be derived from the record.

    ``number_probe_ms``: before that, estimate one run's cost (a single call, or a window
    of this many milliseconds for faster programs) and start ``number`` where a window
    lasts about ``min_repeat_ms`` (:mod:`tpgnn.collect.timing`): the windows are the same,
    TVM's search for ``number`` wastes less. 0 starts from ``number`` as stock MetaSchedule.

    ``programs_per_timing_worker``: the local timing worker is replaced by a fresh one after
    this many programs. TVM never unloads a library it has loaded (5 memory maps each, as
    measured), so after about 13,000 programs the kernel's limit of 65,530 maps made every
    later load fail ("cannot apply additional memory protection after relocation"). A
    worker starts in about 4.5 s: every 2,000 programs, that is about 1% of a run.
    """

    number: int = 1
    repeat: int = 3
    min_repeat_ms: int = 25
    enable_cpu_cache_flush: bool = False
    number_probe_ms: int = 2
    build_timeout_s: float = 60.0
    run_timeout_s: float = 30.0
    programs_per_timing_worker: int = 2000

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError(f"number must be >= 1, got {self.number}")
        if self.repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {self.repeat}")
        if self.min_repeat_ms < 0:
            raise ValueError(f"min_repeat_ms must be >= 0, got {self.min_repeat_ms}")
        if self.number_probe_ms < 0:
            raise ValueError(f"number_probe_ms must be >= 0, got {self.number_probe_ms}")
        if self.build_timeout_s <= 0 or self.run_timeout_s <= 0:
            raise ValueError("build_timeout_s and run_timeout_s must be positive")
        if self.programs_per_timing_worker < 1:
            raise ValueError(
                f"programs_per_timing_worker must be >= 1, got {self.programs_per_timing_worker}"
            )


@dataclass(frozen=True)
class RPCSettings:
    """Measure on devices registered with a TVM RPC tracker instead of locally."""

    tracker_host: str
    tracker_port: int
    key: str
    session_timeout_s: float = 60.0

    @staticmethod
    def parse(tracker: str, key: str) -> RPCSettings:
        """Parse ``host:port`` as given on the command line."""
        host, sep, port = tracker.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"rpc_tracker must look like host:port, got {tracker!r}")
        if not key:
            raise ValueError("rpc_key must be non-empty when rpc_tracker is given")
        return RPCSettings(host, int(port), key)


@dataclass(frozen=True)
class SearchConfig:
    """How candidates are generated: random draws, then an evolutionary search.

    The evolutionary search is MetaSchedule's own, guided by an XGBoost model trained on
    the workload's measured samples so far. MetaSchedule's defaults (population 512, 4
    genetic rounds) spend about 0.5 s of search per measured program on 2 busy cores, more
    than measuring it; population 128 with 2 rounds spends about 0.2 s.
    """

    random_per_workload: int = 64
    batch_size: int = 64
    population_size: int = 128
    genetic_num_iters: int = 2
    eps_greedy: float = 0.05
    max_fruitless_rounds: int = 3

    def __post_init__(self) -> None:
        if self.random_per_workload < 0:
            raise ValueError(f"random_per_workload must be >= 0, got {self.random_per_workload}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.population_size < self.batch_size:
            raise ValueError("population_size must be >= batch_size")


@dataclass(frozen=True)
class CollectConfig:
    """Everything one collector run needs.

    Parameters
    ----------
    data_dir : str
        Where shards and ``manifest.json`` live (committed to the repository).
    networks : tuple of str
        Networks whose workloads are measured, in priority order.
    samples_per_workload : int
        Successful samples each workload should reach before any workload gets more.
    total : int or None
        Keep measuring (evolutionary batches, round robin) until the dataset holds this
        many successful samples. ``None`` stops at ``samples_per_workload``.
    time_budget_s : float or None
        Stop cleanly after this many seconds.
    cache_dir : str or None
        Where extracted tasks are cached (not committed).
    test_networks, val_networks : tuple of str
        Held-out networks; see :func:`tpgnn.collect.split.assign_splits`.
    num_build_workers : int or None
        Parallel build processes; ``None`` uses every core.
    allow_other_cpu : bool
        Time programs locally into workloads another CPU timed (left alone otherwise, and
        refused when that is all of them: :func:`tpgnn.collect.manifest.refuse_other_cpu`).
    """

    data_dir: str
    networks: tuple[str, ...] = DEFAULT_NETWORKS
    samples_per_workload: int = 100
    total: int | None = None
    time_budget_s: float | None = None
    seed: int = 0
    cache_dir: str | None = None
    test_networks: tuple[str, ...] = ("inception_v3",)
    val_networks: tuple[str, ...] = ("squeezenet1_0",)
    num_build_workers: int | None = None
    target: dict[str, Any] = field(default_factory=default_target)
    measure: MeasureConfig = MeasureConfig()
    search: SearchConfig = SearchConfig()
    rpc: RPCSettings | None = None
    progress: bool = True
    allow_other_cpu: bool = False

    def __post_init__(self) -> None:
        if not self.networks:
            raise ValueError("networks must name at least one network")
        if self.samples_per_workload < 1:
            raise ValueError(f"samples_per_workload must be >= 1, got {self.samples_per_workload}")
        if self.total is not None and self.total < 0:
            raise ValueError(f"total must be >= 0, got {self.total}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be positive, got {self.time_budget_s}")
        overlap = set(self.test_networks) & set(self.val_networks)
        if overlap:
            raise ValueError(f"test_networks and val_networks overlap: {sorted(overlap)}")
