"""A pure-Python program-graph walker with the C++ pass's semantics, for tests only.

It is deliberately written from the semantics documented at the top of
``cpp/src/graph_extractor.cc`` rather than translated from the C++: the tests assert the two
agree node for node and edge for edge on real scheduled programs.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import tvm_ffi

from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary

PARENT_TO_CHILD, CHILD_TO_PARENT, DEF_USE = 0, 1, 2
DYNAMIC_TYPE_BEGIN = 128

FIELD_ROLES = {
    ("tirx.For", "kind"): "for_kind",
    ("tirx.For", "extent"): "for_extent",
    ("tirx.For", "loop_var"): "binder",
    ("tirx.For", "annotations"): "annotations",
    ("tirx.IterVar", "iter_type"): "iter_type",
    ("tirx.IterVar", "var"): "binder",
    ("tirx.Bind", "var"): "binder",
    ("prim.Let", "var"): "binder",
    ("tirx.AllocBuffer", "buffer"): "binder",
    ("tirx.AllocBuffer", "annotations"): "annotations",
    ("tirx.DeclBuffer", "buffer"): "binder",
    ("s_tir.SBlock", "alloc_buffers"): "binder",
    ("s_tir.SBlock", "annotations"): "annotations",
    ("s_tir.MatchBufferRegion", "buffer"): "binder",
    ("tirx.PrimFunc", "params"): "binder",
    ("ir.IntImm", "value"): "const_value",
    ("ir.FloatImm", "value"): "const_value",
    ("tirx.BufferType", "storage_scope"): "scope",
}

ANNOTATIONS = {
    "pragma_auto_unroll_max_step": [("unroll_max_step", False)],
    "meta_schedule.unroll_explicit": [("unroll_max_step", False), ("unroll_explicit", True)],
    "meta_schedule.unroll_implicit": [("unroll_max_step", False)],
    "pragma_unroll_explicit": [("unroll_explicit", False)],
    "meta_schedule.vectorize": [("vectorize_annotation", False)],
    "meta_schedule.parallel": [("parallel_annotation", False)],
}
FOR_KINDS = ["for_serial", "for_parallel", "for_vectorized", "for_unrolled", "for_thread_binding"]
LOOP_CONTEXT = [
    "enclosing_loops",
    "enclosing_extent",
    "enclosing_parallel_extent",
    "enclosing_vectorized_extent",
    "enclosing_unrolled_extent",
    "enclosing_unroll_max_step",
]
DL_INT, DL_UINT, DL_FLOAT, DL_BFLOAT, DL_BOOL = 0, 1, 2, 4, 6


def signed_log(x: float) -> float:
    if math.isnan(x):
        return 0.0
    return math.copysign(math.log1p(min(abs(x), sys.float_info.max)), x)


def _type_info(obj: tvm_ffi.Object):
    return type(obj).__tvm_ffi_type_info__


def _lineage(info) -> list:
    chain = []
    while info is not None:
        chain.append(info)
        info = info.parent_type_info
    return chain[::-1]


def _fields(info) -> list:
    return [f for t in _lineage(info) for f in t.fields]


def _is_string(v: Any) -> bool:
    return isinstance(v, (str, bytes))


def _is_node(v: Any) -> bool:
    return isinstance(v, tvm_ffi.Object) and not _is_string(v)


@dataclass
class ReferenceGraph:
    node_type: np.ndarray
    node_features: np.ndarray
    row_ptr: np.ndarray
    col: np.ndarray
    edge_type: np.ndarray


class ReferenceWalker:
    """Walks one function; call :meth:`walk` once per instance."""

    def __init__(self) -> None:
        vocab = node_type_vocabulary()
        self.type_id = {k: i for i, k in enumerate(vocab)}
        self.col = {n: i for i, n in enumerate(node_feature_names())}
        assert edge_type_names() == ("parent_to_child", "child_to_parent", "def_use")
        self.ids: dict[int, int] = {}
        self.types: list[int] = []
        self.features: list[list[float]] = []
        self.binder_of: list[int] = []
        self.passed_context: list[dict[str, float]] = []
        self.uses: list[tuple[int, int]] = []
        self.edges: list[tuple[int, int, int]] = []

    # -- roles -------------------------------------------------------------------------------
    def _role(self, info, field_name: str) -> str:
        if field_name == "span":
            return "skip"
        keys = {t.type_key for t in _lineage(info)}
        for (type_key, name), role in FIELD_ROLES.items():
            if name == field_name and type_key in keys:
                return role
        return "child"

    @staticmethod
    def _is_var(info) -> bool:
        return any(t.type_key == "ir.Var" for t in _lineage(info))

    # -- features ----------------------------------------------------------------------------
    def _const_value(self, v: Any) -> float | None:
        if isinstance(v, bool):
            return 1.0 if v else 0.0
        if isinstance(v, int):
            return signed_log(v)
        if _is_node(v) and _type_info(v).type_key in ("ir.IntImm", "ir.FloatImm"):
            return signed_log(v.value)
        return None

    def _scalar(self, role: str, v: Any, row: list[float]) -> None:
        c = self.col
        if isinstance(v, bool):
            if role == "const_value":
                row[c["const_value"]] = 1.0 if v else 0.0
            elif v:
                row[c["other_bool"]] += 1.0
        elif isinstance(v, int):
            if role == "for_kind":
                row[c[FOR_KINDS[v] if 0 <= v <= 4 else "for_serial"]] = 1.0
            elif role == "iter_type":
                name = {0: "iter_spatial", 2: "iter_reduce"}.get(v, "iter_other")
                row[c[name]] = 1.0
            elif role == "const_value":
                row[c["const_value"]] = signed_log(v)
            else:
                row[c["other_int"]] += signed_log(v)
        elif isinstance(v, float):
            if role == "const_value":
                row[c["const_value"]] = signed_log(v)
        elif isinstance(v, tvm_ffi.dtype):
            row[c["dtype_bits"]] = v.bits
            row[c["dtype_lanes"]] = signed_log(v.lanes)
            code = v.type_code
            if code == DL_INT:
                row[c["dtype_int"]] = 1.0
            elif code in (DL_UINT, DL_BOOL):
                row[c["dtype_uint"]] = 1.0
            elif code in (DL_FLOAT, DL_BFLOAT):
                row[c["dtype_float"]] = 1.0
            else:
                row[c["dtype_other"]] = 1.0
        elif isinstance(v, str) and role == "scope":
            if v in ("", "global"):
                row[c["scope_global"]] = 1.0
            elif v.startswith("local"):
                row[c["scope_local"]] = 1.0
            elif v.startswith("shared"):
                row[c["scope_shared"]] = 1.0

    def _annotations(self, ann: Any, row: list[float]) -> None:
        if not isinstance(ann, tvm_ffi.Map):
            return
        for key, value in ann.items():
            if not isinstance(key, str):
                continue
            for column, as_flag in ANNOTATIONS.get(str(key), []):
                const = self._const_value(value)
                row[self.col[column]] = 1.0 if as_flag else (const if const is not None else 0.0)

    # -- walk --------------------------------------------------------------------------------
    def walk(self, root: tvm_ffi.Object) -> ReferenceGraph:
        stack: list[tuple[Any, int, int, int]] = [(root, -1, -1, -1)]
        while stack:
            obj, parent, owner, binder = stack.pop()
            handle = obj.__chandle__()
            fresh = handle not in self.ids
            info = _type_info(obj)
            if fresh:
                self.ids[handle] = len(self.types)
                self.types.append(self.type_id.get(info.type_key, 0))
                self.features.append([0.0] * len(self.col))
                self.binder_of.append(-1)
            node = self.ids[handle]
            if parent >= 0:
                self.edges.append((parent, node, PARENT_TO_CHILD))
                self.edges.append((node, parent, CHILD_TO_PARENT))
            if self._is_var(info):
                if binder >= 0:
                    if self.binder_of[node] < 0:
                        self.binder_of[node] = binder
                elif owner >= 0:
                    self.uses.append((node, owner))
            if fresh:
                context = (
                    self.passed_context[parent]
                    if parent >= 0
                    else dict.fromkeys(LOOP_CONTEXT, np.float32(0.0))
                )
                for name, value in context.items():
                    self.features[node][self.col[name]] = value
                children = self._expand(obj, info, node, owner, binder)
                self.passed_context.append(self._pass_context(context, info, node))
                stack.extend(reversed(children))
        return self._finish()

    def _pass_context(self, context: dict[str, float], info, node: int) -> dict[str, float]:
        """What ``node`` passes to the objects it references: its context, plus itself when
        it is a loop, and its unroll annotation."""
        row, c = self.features[node], self.col
        out = dict(context)  # float32 values: the sums round as the pass's do
        if any(t.type_key == "tirx.For" for t in _lineage(info)):
            extent = np.float32(row[c["loop_extent"]])
            out["enclosing_loops"] += np.float32(1.0)
            out["enclosing_extent"] += extent
            if row[c["for_parallel"]] or row[c["for_thread_binding"]]:
                out["enclosing_parallel_extent"] += extent
            if row[c["for_vectorized"]]:
                out["enclosing_vectorized_extent"] += extent
            if row[c["for_unrolled"]]:
                out["enclosing_unrolled_extent"] += extent
        out["enclosing_unroll_max_step"] = max(
            out["enclosing_unroll_max_step"], np.float32(row[c["unroll_max_step"]])
        )
        return out

    def _child(self, v: Any, parent: int, owner: int, binder: int, out: list) -> None:
        if not _is_node(v):
            return
        if isinstance(v, (tvm_ffi.Array, tvm_ffi.Map)) and len(v) == 0:
            return
        out.append((v, parent, owner, binder))

    def _expand(self, obj: Any, info, node: int, owner: int, binder: int) -> list:
        row = self.features[node]
        children: list = []
        if isinstance(obj, tvm_ffi.Array):
            row[self.col["num_elements"]] = signed_log(len(obj))
            for item in obj:
                self._child(item, node, owner, binder, children)
            return children
        if isinstance(obj, tvm_ffi.Map):
            row[self.col["num_elements"]] = signed_log(len(obj))
            for key, value in obj.items():
                self._child(key, node, owner, -1, children)
                self._child(value, node, owner, -1, children)
            return children
        if info.type_index < DYNAMIC_TYPE_BEGIN or info.type_key == "ir.Op":
            return children
        if info.type_key in ("ir.IntImm", "ir.FloatImm"):
            row[self.col["is_const"]] = 1.0
        for field in _fields(info):
            role = self._role(info, field.name)
            if role == "skip":
                continue
            v = field.getter(obj)
            if _is_node(v):
                if role == "for_extent":
                    const = self._const_value(v)
                    if const is not None:
                        row[self.col["loop_extent"]] = const
                if role == "annotations":
                    self._annotations(v, row)
                self._child(v, node, node, node if role == "binder" else -1, children)
            else:
                self._scalar(role, v, row)
        return children

    def _finish(self) -> ReferenceGraph:
        def_use = sorted(
            {
                (self.binder_of[var], owner)
                for var, owner in self.uses
                if self.binder_of[var] >= 0 and self.binder_of[var] != owner
            }
        )
        edges = self.edges + [(b, o, DEF_USE) for b, o in def_use]
        n = len(self.types)
        src = np.array([e[0] for e in edges], dtype=np.int64)
        order = np.argsort(src, kind="stable")
        row_ptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(row_ptr, src + 1, 1)
        return ReferenceGraph(
            node_type=np.array(self.types, dtype=np.int32),
            node_features=np.array(self.features, dtype=np.float32).reshape(n, len(self.col)),
            row_ptr=np.cumsum(row_ptr),
            col=np.array([e[1] for e in edges], dtype=np.int64)[order],
            edge_type=np.array([e[2] for e in edges], dtype=np.int64)[order],
        )


def reference_graph(func: Any) -> ReferenceGraph:
    """The reference graph of a PrimFunc or a one-function IRModule."""
    if isinstance(func, tvm_ffi.Object) and _type_info(func).type_key == "ir.IRModule":
        (func,) = list(func.functions.values())
    return ReferenceWalker().walk(func)
