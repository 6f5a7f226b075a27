"""A fixed train / validation / test split by workload.

Whole networks are held out: a workload goes to ``test`` if only test networks use it, to
``val`` if only validation (and possibly test) networks use it, and to ``train``
otherwise. A held-out network's workload that a training network also uses stays in
``train`` and is marked ``shared_with_train``, so results on ``test`` are on workloads the
model has truly never seen. Evaluation of a held-out network end to end should count its
shared workloads from ``train``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SPLITS", "assign_split"]

SPLITS = ("train", "val", "test")


def assign_split(
    networks: Iterable[str], test_networks: Iterable[str], val_networks: Iterable[str]
) -> tuple[str, bool]:
    """Split of a workload used by ``networks``, and whether it is shared with train.

    Returns
    -------
    split : str
        One of :data:`SPLITS`.
    shared_with_train : bool
        True when a held-out network uses the workload but a training network does too.
    """
    users = set(networks)
    if not users:
        raise ValueError("networks must name at least one network using the workload")
    test, val = set(test_networks), set(val_networks)
    train_users = users - test - val
    if train_users:
        return "train", bool(users & (test | val))
    if users & val:
        return "val", False
    return "test", False
