"""Regenerate ``node_types.txt``: the IR type keys a scheduled TensorIR function can contain.

Run with the supported TVM installed (``python cpp/vocabulary/generate_node_types.py``).
The file is committed and compiled into the extension, so node-type ids are stable across
TVM builds; a test fails when the running TVM registers keys this rule selects but the file
lacks. Changing the file changes the ids: shipped checkpoints must then be retrained.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Namespaces whose types make up TensorIR programs.
IR_PREFIXES = ("tirx.", "s_tir.", "prim.", "ir.")
#: Sub-namespaces of those that hold tooling (schedules, tuning, passes), not program nodes.
TOOLING_SEGMENTS = ("meta_schedule", "transform", "schedule")
#: tvm-ffi containers that appear inside IR.
CONTAINERS = ("ffi.Array", "ffi.Dict", "ffi.List", "ffi.Map", "ffi.Shape", "ffi.Tensor")
#: PrimFunc.ty is a relax.FuncType whose parameters are relax types over shape expressions.
RELAX_EXPRS = ("relax.expr.PrimValue", "relax.expr.ShapeExpr")


def selected(type_key: str) -> bool:
    """Whether ``type_key`` belongs in the vocabulary."""
    if type_key in CONTAINERS or type_key in RELAX_EXPRS:
        return True
    if type_key.startswith("relax."):
        return type_key.endswith("Type")
    if not type_key.startswith(IR_PREFIXES):
        return False
    return not any(segment in TOOLING_SEGMENTS for segment in type_key.split(".")[1:-1])


def registered_type_keys() -> list[str]:
    """All type keys the installed TVM registers, with its IR namespaces imported."""
    import tvm  # noqa: F401
    import tvm.relax  # noqa: F401
    import tvm.s_tir  # noqa: F401
    import tvm.tirx  # noqa: F401
    import tvm_ffi

    return [str(k) for k in tvm_ffi.get_global_func("ffi.GetRegisteredTypeKeys")()]


def vocabulary() -> list[str]:
    """The sorted vocabulary the installed TVM implies."""
    return sorted({k for k in registered_type_keys() if selected(k)})


def main() -> int:
    out = Path(__file__).with_name("node_types.txt")
    out.write_text("\n".join(vocabulary()) + "\n")
    sys.stdout.write(f"wrote {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
