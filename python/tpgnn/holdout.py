"""Leave one network out: honest rows for networks whose workloads sit in the training split.

The fixed split holds whole networks out (Inception-v3 for test, SqueezeNet for validation).
Every other network, ResNet-18 and MobileNet-V2 among them, trains the shipped model, so
scoring it on their workloads would measure memory, not generalisation. For such a network,
the models are refitted from scratch on the training split without the workloads the network
*owns* (those no other training network uses), selected on the validation split as usual, and
scored on the owned workloads. Workloads it shares with another training network stay in
training, exactly as the fixed split treats the held-out networks' shared workloads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from .dataset import GraphSet

logger = logging.getLogger(__name__)

__all__ = ["NetworkHoldout", "hold_out_network"]


@dataclass
class NetworkHoldout:
    """A training split divided for one network: what trains, and what the network owns.

    Both index lists point into the training set they were made from, so per-sample data
    aligned with it (the baselines' features) can be divided the same way.
    """

    network: str
    train_indices: list[int]
    owned_indices: list[int]


def hold_out_network(train: GraphSet, network: str, held_out: Iterable[str]) -> NetworkHoldout:
    """Divide ``train`` into the workloads ``network`` owns and the rest.

    Parameters
    ----------
    train
        The training split.
    network
        A training network.
    held_out
        The networks the fixed split already holds out (its test and validation networks):
        a workload ``network`` shares only with them is owned too.
    """
    held_out = set(held_out)
    if network in held_out:
        raise ValueError(
            f"{network} is held out by the dataset's split already: its row comes from the "
            f"test or validation split, not from a refit"
        )
    owned_tasks = set()
    for t, key in enumerate(train.tasks):
        users = set(train.task_info.get(key, {}).get("networks", {}))
        if network in users and not users - held_out - {network}:
            owned_tasks.add(t)
    if not owned_tasks:
        known = sorted({n for info in train.task_info.values() for n in info.get("networks", {})})
        raise ValueError(
            f"{network} owns no workload of the training split (every workload it uses is "
            f"shared with another training network, or it is not in the dataset); networks of "
            f"the training split: {', '.join(known)}"
        )
    task_of = train.task_index.tolist()
    owned = [i for i, t in enumerate(task_of) if t in owned_tasks]
    rest = [i for i, t in enumerate(task_of) if t not in owned_tasks]
    logger.info("holding out %s: %d programs of %d workloads it owns; %d programs train",
                network, len(owned), len(owned_tasks), len(rest))
    return NetworkHoldout(network, rest, owned)
