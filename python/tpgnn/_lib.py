"""Loading the compiled graph extractor and looking up its global functions."""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import tvm_ffi

#: File name of the extension library installed inside the package.
LIBRARY_NAME = "libtpgnn_graph.so"


@functools.cache
def load_library() -> Path:
    """Load the extension once; its static initialiser registers the ``tpgnn.*`` functions.

    TVM is imported first so the IR types the extractor looks up by key are registered.
    """
    import tvm  # noqa: F401  (registers tirx / s_tir / ir types)

    path = Path(__file__).with_name(LIBRARY_NAME)
    if not path.exists():
        raise ImportError(
            f"the TPGNN extension {path} is missing: the package was not built. "
            "Install it with the README's set-up command (ci/bootstrap.sh), "
            "or `pip install --no-build-isolation .` inside the project's .venv."
        )
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path


@functools.cache
def global_func(name: str) -> tvm_ffi.Function:
    """The extension's global function ``name`` (e.g. ``"tpgnn.extract_graph"``)."""
    load_library()
    return tvm_ffi.get_global_func(name)
