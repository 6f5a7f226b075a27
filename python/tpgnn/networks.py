"""Real networks as MetaSchedule tasks, built from torch model definitions without weights.

The dataset is measured on the tensor programs (workloads) that real networks need, so the
cost model learns the distribution it will be asked about. Each network is a torch module
built with ``weights=None`` (nothing downloads), exported with ``torch.export``, imported by
the Relax frontend, legalised by ``relax.get_pipeline("zero")`` and split into tasks by
``ms.relax_integration.extract_tasks``, which merges structurally equal tasks and counts how
often the network uses each (the task *weight*).

Extraction of a large network takes tens of seconds, so :func:`load_network_tasks` caches the
result as TVM JSON in a cache directory; a rerun of the collector starts in seconds.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .collect.io import atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "NETWORKS",
    "NetworkTask",
    "build_network",
    "extract_network_tasks",
    "load_network_tasks",
]

# Keeps the torchvision operator schemas alive: the library object unregisters them when it
# is garbage-collected, after which ``import torchvision`` fails again.
_TORCHVISION_LIB: Any = None


def _import_torchvision() -> Any:
    """Import torchvision beside the CPU torch wheel.

    PyPI's torchvision ops library fails to load beside the local CPU torch build; defining
    the ``nms`` / ``qnms`` schemas first lets the pure-Python model definitions import.
    """
    global _TORCHVISION_LIB
    import torch

    if _TORCHVISION_LIB is None:
        try:
            lib = torch.library.Library("torchvision", "DEF")
            lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            _TORCHVISION_LIB = lib
        except RuntimeError:  # already defined by an earlier import in this process
            _TORCHVISION_LIB = False
    import torchvision

    return torchvision


def _bert_layer() -> Any:
    """One BERT-base encoder layer (hidden 768, 12 heads, FFN 3072, GELU, post-LayerNorm)."""
    import torch
    from torch import nn

    class BertLayer(nn.Module):
        def __init__(self, hidden: int = 768, heads: int = 12, ffn: int = 3072) -> None:
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.out = nn.Linear(hidden, hidden)
            self.ln1 = nn.LayerNorm(hidden)
            self.fc1 = nn.Linear(hidden, ffn)
            self.fc2 = nn.Linear(ffn, hidden)
            self.ln2 = nn.LayerNorm(hidden)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, s, h = x.shape  # [batch, seq, hidden]
            q, k, v = self.qkv(x).split(h, dim=-1)
            d = h // self.heads
            q = q.reshape(b, s, self.heads, d).permute(0, 2, 1, 3)  # [b, heads, s, d]
            k = k.reshape(b, s, self.heads, d).permute(0, 2, 3, 1)  # [b, heads, d, s]
            v = v.reshape(b, s, self.heads, d).permute(0, 2, 1, 3)
            att = torch.softmax(torch.matmul(q, k) / (d**0.5), dim=-1)  # [b, heads, s, s]
            ctx = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(b, s, h)
            x = self.ln1(x + self.out(ctx))
            return self.ln2(x + self.fc2(torch.nn.functional.gelu(self.fc1(x))))

    return BertLayer()


def _vit_small() -> Any:
    """ViT-Small/16 shape (hidden 384, 6 heads, MLP 1536) with 2 layers.

    Every encoder layer is the same workload, so 2 layers give the tasks of 12.
    """
    tv = _import_torchvision()
    return tv.models.VisionTransformer(
        image_size=224, patch_size=16, num_layers=2, num_heads=6, hidden_dim=384, mlp_dim=1536
    )


def _tv(name: str, **kwargs: Any) -> Callable[[], Any]:
    def build() -> Any:
        tv = _import_torchvision()
        return getattr(tv.models, name)(weights=None, **kwargs)

    return build


@dataclass(frozen=True)
class NetworkSpec:
    """How to build one network: a weightless torch module and its input shape (batch 1)."""

    build: Callable[[], Any]
    input_shape: tuple[int, ...]
    input_dtype: str = "float32"


NETWORKS: dict[str, NetworkSpec] = {
    "resnet18": NetworkSpec(_tv("resnet18"), (1, 3, 224, 224)),
    "mobilenet_v2": NetworkSpec(_tv("mobilenet_v2"), (1, 3, 224, 224)),
    "inception_v3": NetworkSpec(
        _tv("inception_v3", aux_logits=False, init_weights=False), (1, 3, 299, 299)
    ),
    "resnet50": NetworkSpec(_tv("resnet50"), (1, 3, 224, 224)),
    "densenet121": NetworkSpec(_tv("densenet121"), (1, 3, 224, 224)),
    "squeezenet1_0": NetworkSpec(_tv("squeezenet1_0"), (1, 3, 224, 224)),
    "vgg16": NetworkSpec(_tv("vgg16"), (1, 3, 224, 224)),
    "bert_layer": NetworkSpec(_bert_layer, (1, 128, 768)),
    "vit_small": NetworkSpec(_vit_small, (1, 3, 224, 224)),
    "mobilenet_v3_small": NetworkSpec(_tv("mobilenet_v3_small"), (1, 3, 224, 224)),
    # At 299x299, as Inception-v3 is run, its convolutions output 150, 75, 37, 18 and 9 wide:
    # odd sizes that no 224x224 network has.
    "googlenet_299": NetworkSpec(
        _tv("googlenet", aux_logits=False, init_weights=False), (1, 3, 299, 299)
    ),
    # Depthwise convolutions with 5x5 kernels and squeeze-and-excitation (SiLU, sigmoid
    # gates), which MobileNet-V2 and -V3 small have only in part.
    "efficientnet_b0": NetworkSpec(_tv("efficientnet_b0"), (1, 3, 224, 224)),
    # Grouped 3x3 convolutions of widths no other network uses.
    "regnet_x_400mf": NetworkSpec(_tv("regnet_x_400mf"), (1, 3, 224, 224)),
    # Large kernels with large strides (11x11 stride 4, 5x5) and wide dense layers.
    "alexnet": NetworkSpec(_tv("alexnet"), (1, 3, 224, 224)),
    # Channel shuffles (reshape and transpose) between depthwise 3x3 and 1x1 convolutions.
    "shufflenet_v2_x1_0": NetworkSpec(_tv("shufflenet_v2_x1_0"), (1, 3, 224, 224)),
    # Depthwise 7x7 convolutions, LayerNorm and GELU over channels-last activations.
    "convnext_tiny": NetworkSpec(_tv("convnext_tiny"), (1, 3, 224, 224)),
}
"""Registered networks, in the order the collector visits them."""


@dataclass(frozen=True)
class NetworkTask:
    """One MetaSchedule task of one network.

    Attributes
    ----------
    network : str
        The network's name in :data:`NETWORKS`.
    task_name : str
        MetaSchedule's task name (the Relax primitive function's name).
    weight : int
        How many times the network calls this workload.
    mod : tvm.IRModule
        The workload: one TIR PrimFunc named ``main``.
    """

    network: str
    task_name: str
    weight: int
    mod: Any


def build_network(name: str) -> tuple[Any, Any]:
    """Build a network's torch module (eval mode, no weights) and an example input."""
    import torch

    if name not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}, got {name!r}")
    spec = NETWORKS[name]
    torch.manual_seed(0)
    model = spec.build().eval()
    example = torch.randn(*spec.input_shape, dtype=getattr(torch, spec.input_dtype))
    return model, example


def extract_network_tasks(name: str, target: Any) -> list[NetworkTask]:
    """Extract a network's tasks through the Relax frontend (slow: tens of seconds).

    Parameters
    ----------
    name : str
        A key of :data:`NETWORKS`.
    target : tvm.target.Target or dict
        The target the tasks are extracted for.
    """
    import torch
    import tvm
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program
    from tvm.s_tir import meta_schedule as ms

    model, example = build_network(name)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13's export code (and TVM's frontend copying its graph) trips torch's own
        # pytree deprecation; third-party noise, not ours to fix.
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        exported = torch.export.export(model, (example,))
        mod = from_exported_program(exported, keep_params_as_input=False)
    mod = relax.get_pipeline("zero")(mod)
    tasks = ms.relax_integration.extract_tasks(mod, tvm.target.Target(target))
    return [NetworkTask(name, t.task_name, int(t.weight), t.dispatched[0]) for t in tasks]


def load_network_tasks(name: str, target: Any, cache_dir: str | Path | None) -> list[NetworkTask]:
    """Return a network's tasks, from ``cache_dir/<name>.json`` when it is there.

    The cache stores each workload as TVM JSON (``tvm.ir.save_json``), which round-trips
    structurally, so cached and freshly extracted tasks hash the same.
    """
    import tvm

    path = Path(cache_dir) / f"{name}.json" if cache_dir is not None else None
    if path is not None and path.exists():
        rows = json.loads(path.read_text())
        return [
            NetworkTask(name, r["task_name"], int(r["weight"]), tvm.ir.load_json(r["mod"]))
            for r in rows
        ]
    logger.info("extracting tasks of %s", name)
    tasks = extract_network_tasks(name, target)
    if path is not None:
        rows = [
            {"task_name": t.task_name, "weight": t.weight, "mod": tvm.ir.save_json(t.mod)}
            for t in tasks
        ]
        atomic_write_bytes(path, json.dumps(rows).encode())
    logger.info("%s: %d tasks", name, len(tasks))
    return tasks
