"""Candidate programs for one workload, from MetaSchedule's own search machinery.

Two sources, as in TenSet: random programs drawn from the design space (``ReplayTrace``
over the post-order-apply space), and programs from MetaSchedule's evolutionary search
guided by an XGBoost cost model trained on the workload's samples measured so far, so
that good programs are well represented. Every candidate is identified by the structural
hash of its scheduled module; nothing already measured is proposed again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import tvm_ffi
from tvm.s_tir import meta_schedule as ms

from ..sampling import search_round
from .config import SearchConfig

logger = logging.getLogger(__name__)
# MetaSchedule logs every search round at INFO; keep that out of the collector's log unless
# someone asks for it (``logging.getLogger("tpgnn.collect.search").setLevel(logging.INFO)``).
search_logger = logging.getLogger("tpgnn.collect.search")
if search_logger.level == logging.NOTSET:
    search_logger.setLevel(logging.WARNING)

__all__ = ["Candidate", "evolutionary_candidates", "program_hash", "random_candidates"]

RANDOM = "random"
EVOLUTIONARY = "evolutionary"


@dataclass(frozen=True)
class Candidate:
    """One program to measure: MetaSchedule's candidate, its hash, where it came from."""

    candidate: Any  # ms.MeasureCandidate
    shash: str
    source: str


def program_hash(sch: Any) -> str:
    """Structural hash of a scheduled module, as a decimal string (JSON-safe)."""
    return str(tvm_ffi.structural_hash(sch.mod))


def _context(mod: Any, target: Any, strategy: Any, seed: int, task_name: str) -> Any:
    return ms.TuneContext(
        mod=mod,
        target=target,
        space_generator="post-order-apply",
        search_strategy=strategy,
        task_name=task_name,
        rand_state=seed,
        num_threads="physical",
        logger=search_logger,
    )


def _take_new(cands: list[Any] | None, seen: set[str], source: str, limit: int) -> list[Candidate]:
    out: list[Candidate] = []
    for c in cands or []:
        h = program_hash(c.sch)
        if h in seen:
            continue
        seen.add(h)
        out.append(Candidate(c, h, source))
        if len(out) >= limit:
            break
    return out


def random_candidates(
    mod: Any,
    target: Any,
    n: int,
    seed: int,
    exclude: set[str],
    *,
    max_draws: int = 4,
    task_name: str = "main",
) -> list[Candidate]:
    """Up to ``n`` new programs sampled uniformly from the design space.

    Small design spaces (an element-wise workload has few distinct programs) yield fewer
    than ``n``; after ``max_draws`` draws of ``n`` the function returns what it found.
    ``exclude`` (hashes already measured) is not modified.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    seen = set(exclude)
    out: list[Candidate] = []
    for draw in range(max_draws):
        if len(out) >= n:
            break
        ctx = _context(mod, target, ms.search_strategy.ReplayTrace(), seed * 7919 + draw, task_name)
        out += _take_new(search_round(ctx, n), seen, RANDOM, n - len(out))
    return out


def evolutionary_candidates(
    mod: Any,
    target: Any,
    n: int,
    seed: int,
    exclude: set[str],
    measured: list[tuple[Any, list[float]]],
    search: SearchConfig,
    *,
    task_name: str = "main",
) -> list[Candidate]:
    """Up to ``n`` new programs from MetaSchedule's evolutionary search.

    Parameters
    ----------
    measured : list of (trace, run_secs)
        The workload's samples so far (failures with ``[1e10]``). They seed the search's
        database (its initial population draws on the best of them) and train the XGBoost
        model that ranks the population.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ctx = _context(
        mod,
        target,
        ms.search_strategy.EvolutionarySearch(
            population_size=search.population_size,
            genetic_num_iters=search.genetic_num_iters,
            eps_greedy=search.eps_greedy,
            init_min_unmeasured=min(50, search.population_size),
        ),
        seed,
        task_name,
    )
    database = ms.database.MemoryDatabase()
    workload = database.commit_workload(mod)
    cost_model = ms.cost_model.XGBModel(num_warmup_samples=min(32, max(1, len(measured))))
    cands, results = [], []
    for trace, run_secs in measured:
        record = ms.database.TuningRecord(trace, workload, run_secs, ctx.target, None)
        database.commit_tuning_record(record)
        try:
            cands.append(record.as_measure_candidate())
        except Exception as err:  # noqa: BLE001 -- a trace that no longer replays is skipped
            logger.debug("skipping a record that does not replay: %s", err)
            continue
        results.append(ms.runner.RunnerResult(run_secs, None))
    if cands:
        cost_model.update(ctx, cands, results)
    found = search_round(ctx, n, database=database, cost_model=cost_model)
    return _take_new(found, set(exclude), EVOLUTIONARY, n)
