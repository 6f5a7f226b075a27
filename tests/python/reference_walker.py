"""A pure-Python program-graph walker with the C++ pass's semantics, for tests only.

It is deliberately written from the semantics documented at the top of
``cpp/src/graph_extractor.cc`` rather than translated from the C++: the tests assert the two
agree node for node and edge for edge on real scheduled programs.
"""

from __future__ import annotations

import dataclasses
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
ACCESS_TYPES = ("ir.TensorLoad", "tirx.BufferStore")


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


AFFINE_MAX_DEPTH = 64


@dataclass
class Affine:
    """sum(terms[v] * v) + constant, and the variables ``opaque`` the value depends on in a
    way that is not affine."""

    terms: dict[int, int] = dataclasses.field(default_factory=dict)
    opaque: set[int] = dataclasses.field(default_factory=set)
    constant: int = 0

    def copy(self) -> Affine:
        return Affine(dict(self.terms), set(self.opaque), self.constant)

    def is_constant(self) -> bool:
        return not self.terms and not self.opaque

    def plus(self, other: Affine, scale: int) -> Affine:
        out = self.copy()
        for var, coefficient in other.terms.items():
            out.terms[var] = out.terms.get(var, 0) + coefficient * scale
            if out.terms[var] == 0:
                del out.terms[var]
        out.opaque |= other.opaque
        out.constant += other.constant * scale
        return out

    def made_opaque(self) -> Affine:
        return Affine(opaque=self.opaque | set(self.terms))

    def floordiv(self, divisor: int) -> Affine:
        kept = {v: c // divisor for v, c in self.terms.items() if c % divisor == 0}
        opaque = self.opaque | {v for v, c in self.terms.items() if c % divisor}
        return Affine(kept, opaque, self.constant // divisor)

    def floormod(self, divisor: int) -> Affine:
        kept = {v: c for v, c in self.terms.items() if c % divisor}
        return Affine(kept, set(self.opaque), self.constant % divisor)


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
        self.passed_context: list[dict[str, Any]] = []
        self.block_bindings: dict[int, Affine] = {}  # block var handle -> its bound value
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
                    else {**dict.fromkeys(LOOP_CONTEXT, np.float32(0.0)), "loops": ()}
                )
                for name in LOOP_CONTEXT:
                    self.features[node][self.col[name]] = context[name]
                children = self._expand(obj, info, node, owner, binder)
                if info.type_key == "s_tir.SBlockRealize":
                    for iter_var, value in zip(obj.block.iter_vars, obj.iter_values, strict=True):
                        self.block_bindings[iter_var.var.__chandle__()] = self._affine(value)
                if info.type_key in ACCESS_TYPES:
                    self._access_features(obj, context["loops"], self.features[node])
                self.passed_context.append(self._pass_context(context, obj, info, node))
                stack.extend(reversed(children))
        return self._finish()

    def _pass_context(self, context: dict[str, Any], obj: Any, info, node: int) -> dict[str, Any]:
        """What ``node`` passes to the objects it references: its context, plus itself when
        it is a loop (also in ``loops``, innermost first), and its unroll annotation."""
        row, c = self.features[node], self.col
        out = dict(context)  # float32 values: the sums round as the pass's do
        if any(t.type_key == "tirx.For" for t in _lineage(info)):
            extent = np.float32(row[c["loop_extent"]])
            is_int = _is_node(obj.extent) and _type_info(obj.extent).type_key == "ir.IntImm"
            loop = (obj.loop_var.__chandle__(), extent, obj.extent.value if is_int else 0)
            out["loops"] = (loop, *context["loops"])
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

    # -- access pattern (cpp/include/tpgnn/access_pattern.h) ----------------------------------
    def _affine(self, expr: Any, depth: int = 0) -> Affine:
        """``expr`` as coefficients of variables (by handle) + constant, with the variables it
        depends on in a way that is not affine; block variables replaced by their values."""
        if isinstance(expr, int) and not isinstance(expr, bool):
            return Affine(constant=expr)
        if not _is_node(expr):
            return Affine()
        info = _type_info(expr)
        key = info.type_key
        if key == "ir.IntImm":
            return Affine(constant=expr.value)
        if self._is_var(info):
            bound = self.block_bindings.get(expr.__chandle__())
            return bound.copy() if bound else Affine(terms={expr.__chandle__(): 1})
        if depth >= AFFINE_MAX_DEPTH:
            return self._opaque(expr, 0, Affine())
        if key == "prim.Cast":
            return self._affine(expr.value, depth + 1)
        if key not in ("prim.Add", "prim.Sub", "prim.Mul", "prim.FloorDiv", "prim.FloorMod"):
            return self._opaque(expr, depth, Affine())
        lhs, rhs = self._affine(expr.a, depth + 1), self._affine(expr.b, depth + 1)
        if key in ("prim.Add", "prim.Sub"):
            return lhs.plus(rhs, -1 if key == "prim.Sub" else 1)
        if key == "prim.Mul" and (lhs.is_constant() or rhs.is_constant()):
            return (
                Affine().plus(rhs, lhs.constant)
                if lhs.is_constant()
                else Affine().plus(lhs, rhs.constant)
            )
        if key != "prim.Mul" and rhs.is_constant() and rhs.constant > 0:
            return (
                lhs.floordiv(rhs.constant) if key == "prim.FloorDiv" else lhs.floormod(rhs.constant)
            )
        return lhs.plus(rhs, 1).made_opaque()

    def _opaque(self, expr: Any, depth: int, out: Affine) -> Affine:
        """``out`` with every variable under ``expr`` (through block bindings) made opaque."""
        if not _is_node(expr) or depth >= AFFINE_MAX_DEPTH:
            return out
        info = _type_info(expr)
        if self._is_var(info):
            bound = self.block_bindings.get(expr.__chandle__())
            opaque = bound.made_opaque().opaque if bound else {expr.__chandle__()}
            return out.plus(Affine(opaque=set(opaque)), 1)
        if isinstance(expr, tvm_ffi.Array):
            for item in expr:
                out = self._opaque(item, depth + 1, out)
            return out
        if info.type_index < DYNAMIC_TYPE_BEGIN:
            return out
        for field in _fields(info):
            if field.name not in ("span", "ty"):
                out = self._opaque(field.getter(expr), depth + 1, out)
        return out

    def _multipliers(self, buffer: Any, rank: int) -> list[int] | None:
        """Element offset of each index: constant strides, else row-major constant shape."""
        buffer_type = getattr(buffer, "ty", None)
        if not _is_node(buffer_type) or _type_info(buffer_type).type_key != "tirx.BufferType":
            return None
        constants = [self._affine(x) for x in buffer_type.strides]
        if constants:
            ok = len(constants) == rank and all(f.is_constant() for f in constants)
            return [f.constant for f in constants] if ok else None
        shape = [self._affine(x) for x in buffer_type.shape]
        if len(shape) != rank or not all(f.is_constant() and f.constant >= 0 for f in shape):
            return None
        return [math.prod(f.constant for f in shape[i + 1 :]) for i in range(rank)]

    def _access_features(self, access: Any, loops: tuple, row: list[float]) -> None:
        is_store = _type_info(access).type_key == "tirx.BufferStore"
        buffer = access.buffer if is_store else access.source
        indices = list(access.indices)
        multipliers = self._multipliers(buffer, len(indices))
        offset = Affine()
        for index, multiplier in zip(indices, multipliers or [1] * len(indices), strict=True):
            offset = offset.plus(self._affine(index), multiplier)
        c = self.col
        approximate = multipliers is None or bool(offset.opaque)
        element_bytes = self._element_bytes(buffer)
        moved_by = [loop for loop in loops if loop[1] != np.float32(signed_log(1))]
        touched, reuse, varying_found = np.float32(0.0), np.float32(0.0), False
        product, span, iterations, lines, reuse_found = 1.0, 1.0, 1.0, 1.0, False

        def elements() -> float:
            return product if approximate else min(product, span)

        for i, (handle, extent, constant) in enumerate(moved_by):
            stride = abs(offset.terms.get(handle, 0))
            moves = stride != 0 or handle in offset.opaque
            count = float(max(constant, 1))
            if i == 0:
                row[c["access_innermost_stride"]] = signed_log(stride)
            if not moves and not reuse_found:
                row[c["access_reuse_distance_bytes"]] = signed_log(elements() * element_bytes)
                row[c["access_reuse_distance_iters"]] = signed_log(iterations)
                reuse_found = True
            if moves and not varying_found:
                row[c["access_varying_stride"]] = signed_log(stride)
                span_bytes = ((count - 1.0) * stride + 1.0) * element_bytes
                lines = min(count, math.ceil(span_bytes / 64.0)) if stride else count
                varying_found = True
            elif moves:
                lines *= count
            if moves:
                touched += extent
                product *= count
                span += stride * (count - 1.0)
            else:
                reuse += extent
            iterations *= count
        row[c["access_touched_extent"]] = touched
        row[c["access_reuse_extent"]] = reuse
        row[c["access_approximate"]] = float(approximate)
        row[c["access_element_bytes"]] = signed_log(element_bytes)
        row[c["access_unique_bytes"]] = signed_log(elements() * element_bytes)
        row[c["access_cache_lines"]] = signed_log(min(lines, elements()))

    @staticmethod
    def _element_bytes(buffer: Any) -> float:
        """Bytes of one element (bits x lanes, rounded up); 0 when the dtype is not known."""
        buffer_type = getattr(buffer, "ty", None)
        if not _is_node(buffer_type) or _type_info(buffer_type).type_key != "tirx.BufferType":
            return 0.0
        dtype = getattr(buffer_type.dtype, "dtype", None)
        if not isinstance(dtype, tvm_ffi.dtype):
            return 0.0
        return float((dtype.bits * dtype.lanes + 7) // 8)

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
