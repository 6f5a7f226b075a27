"""Single-operator TensorIR workloads, with the shapes of layers of real networks.

They let the graph pass, its tests and its benchmark run on real scheduled programs in
seconds, without exporting a whole network (see :mod:`tpgnn.networks` for that).
"""

from __future__ import annotations

from collections.abc import Callable

import tvm
from tvm import te, topi


def _module(tensors: list[te.Tensor]) -> tvm.IRModule:
    return tvm.IRModule({"main": te.create_prim_func(tensors)})


def matmul(m: int = 512, n: int = 512, k: int = 512) -> tvm.IRModule:
    """``C[m, n] = A[m, k] @ B[k, n]`` in float32 (a BERT-base projection has 128x768x768)."""
    a = te.placeholder((m, k), name="A")
    b = te.placeholder((k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="C")
    return _module([a, b, c])


def conv2d(
    channels: int = 64, size: int = 56, out_channels: int = 64, kernel: int = 3, stride: int = 1
) -> tvm.IRModule:
    """NCHW conv2d with padding ``kernel // 2``; the default is ResNet-18's layer1 conv."""
    data = te.placeholder((1, channels, size, size), name="data")
    weight = te.placeholder((out_channels, channels, kernel, kernel), name="weight")
    out = topi.nn.conv2d_nchw(data, weight, stride, kernel // 2, 1)
    return _module([data, weight, out])


def depthwise_conv2d(channels: int = 96, size: int = 56, stride: int = 2) -> tvm.IRModule:
    """3x3 depthwise NCHW conv2d; the default is a MobileNet-V2 expansion-block layer."""
    data = te.placeholder((1, channels, size, size), name="data")
    weight = te.placeholder((channels, 1, 3, 3), name="weight")
    out = topi.nn.depthwise_conv2d_nchw(data, weight, stride, 1, 1)
    return _module([data, weight, out])


def softmax(rows: int = 128, cols: int = 128) -> tvm.IRModule:
    """Row softmax in float32 (a BERT attention-score shape per head)."""
    x = te.placeholder((rows, cols), name="x")
    return _module([x, topi.nn.softmax(x, axis=-1)])


#: Name -> builder with the default (real-layer) shapes.
OPERATORS: dict[str, Callable[[], tvm.IRModule]] = {
    "matmul": matmul,
    "conv2d": conv2d,
    "depthwise_conv2d": depthwise_conv2d,
    "softmax": softmax,
}
