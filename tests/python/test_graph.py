"""Tests of tpgnn.graph: the C++ pass on real scheduled programs."""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import tvm
from tvm import tirx

import tpgnn
from reference_walker import reference_graph
from tpgnn._lib import global_func
from tpgnn.graph import edge_type_names, node_feature_names, node_type_vocabulary

WORKLOADS = ["matmul", "conv2d", "depthwise_conv2d", "softmax"]
ARRAYS = ["node_type", "node_features", "row_ptr", "col", "edge_type"]
ROOT = Path(__file__).resolve().parents[2]


def _all_graphs(scheduled_programs, name):
    return [tpgnn.extract_graph(mod) for mod in scheduled_programs[name]]


@pytest.mark.parametrize("name", WORKLOADS)
def test_cpp_equals_python_reference(scheduled_programs, name):
    for mod in scheduled_programs[name]:
        graph = tpgnn.extract_graph(mod)
        expected = reference_graph(mod)
        for array in ARRAYS:
            np.testing.assert_array_equal(getattr(graph, array).numpy(), getattr(expected, array))


@pytest.mark.parametrize("name", WORKLOADS)
def test_no_unknown_node_type(scheduled_programs, name):
    vocab = node_type_vocabulary()
    for graph in _all_graphs(scheduled_programs, name):
        assert graph.node_type.min() > 0, "UNKNOWN type in a scheduled program"
        assert graph.node_type.max() < len(vocab)


@pytest.mark.parametrize("name", WORKLOADS)
def test_csr_invariants(scheduled_programs, name):
    for graph in _all_graphs(scheduled_programs, name):
        n = graph.num_nodes
        assert graph.node_type.dtype == torch.int32 and graph.node_type.shape == (n,)
        assert graph.node_features.dtype == torch.float32
        assert graph.node_features.shape == (n, len(node_feature_names()))
        assert graph.row_ptr.dtype == torch.int64 and graph.row_ptr.shape == (n + 1,)
        assert graph.row_ptr[0] == 0 and graph.row_ptr[-1] == graph.num_edges
        assert bool((graph.row_ptr[1:] >= graph.row_ptr[:-1]).all())
        assert graph.col.dtype == torch.int64 and graph.edge_type.shape == graph.col.shape
        assert bool((graph.col >= 0).all()) and bool((graph.col < n).all())
        assert set(graph.edge_type.unique().tolist()) <= set(range(len(edge_type_names())))


@pytest.mark.parametrize("name", WORKLOADS)
def test_def_use_edges_leave_binding_sites(scheduled_programs, name):
    vocab = node_type_vocabulary()
    binders = {"tirx.For", "tirx.IterVar", "tirx.PrimFunc", "s_tir.SBlock", "tirx.Bind"}
    for graph in _all_graphs(scheduled_programs, name):
        src = graph.edge_index()[0]
        def_use = graph.edge_type == edge_type_names().index("def_use")
        assert int(def_use.sum()) > 0
        assert {vocab[t] for t in graph.node_type[src[def_use]].tolist()} <= binders
        # Every loop binds a variable that the loop nest uses.
        loops = (graph.node_type == vocab.index("tirx.For")).nonzero().flatten()
        assert set(loops.tolist()) <= set(src[def_use].tolist())


@pytest.mark.parametrize("name", WORKLOADS)
def test_features_finite(scheduled_programs, name):
    for graph in _all_graphs(scheduled_programs, name):
        assert bool(torch.isfinite(graph.node_features).all())


def test_loop_features_match_the_loops(scheduled_programs):
    cols = {n: i for i, n in enumerate(node_feature_names())}
    kinds = ["for_serial", "for_parallel", "for_vectorized", "for_unrolled", "for_thread_binding"]
    seen_kinds = set()
    for mod in scheduled_programs["conv2d"]:
        loops = [s for s, _ in _statements(mod["main"].body) if isinstance(s, tirx.For)]
        graph = tpgnn.extract_graph(mod)
        rows = graph.node_features[graph.node_type == node_type_vocabulary().index("tirx.For")]
        assert len(rows) == len(loops)
        expected = sorted((int(loop.kind), math.log1p(int(loop.extent))) for loop in loops)
        got = sorted(
            (int(r[[cols[k] for k in kinds]].argmax()), float(r[cols["loop_extent"]])) for r in rows
        )
        assert [k for k, _ in got] == [k for k, _ in expected]
        np.testing.assert_allclose([e for _, e in got], [e for _, e in expected], rtol=1e-6)
        assert bool((rows[:, [cols[k] for k in kinds]].sum(1) == 1).all())
        seen_kinds |= {k for k, _ in expected}
    assert {1, 2} <= seen_kinds, "sampled conv2d schedules should parallelise and vectorise"


def _statements(stmt, loops=()):
    """Each statement under ``stmt`` with the For nodes around it, outermost first (TVM 0.27
    has no Python stmt visitor any more)."""
    yield stmt, loops
    if isinstance(stmt, tirx.For):
        yield from _statements(stmt.body, (*loops, stmt))
    elif isinstance(stmt, tirx.SeqStmt):
        for s in stmt.seq:
            yield from _statements(s, loops)
    elif isinstance(stmt, tvm.s_tir.SBlockRealize):
        yield from _statements(stmt.block, loops)
    elif isinstance(stmt, tvm.s_tir.SBlock):
        yield from _statements(stmt.body, loops)
        if stmt.init is not None:
            yield from _statements(stmt.init, loops)
    elif hasattr(stmt, "body"):
        yield from _statements(stmt.body, loops)


@pytest.mark.parametrize("name", ["conv2d", "matmul"])
def test_loop_context_counts_the_loops_around_each_store(scheduled_programs, name):
    cols = {n: i for i, n in enumerate(node_feature_names())}
    context = [
        "enclosing_loops",
        "enclosing_extent",
        "enclosing_parallel_extent",
        "enclosing_vectorized_extent",
        "enclosing_unrolled_extent",
    ]
    kinds = {"parallel": 1, "vectorized": 2, "unrolled": 3}
    seen_kinds = set()
    for mod in scheduled_programs[name]:
        stores = [
            (s, loops)
            for s, loops in _statements(mod["main"].body)
            if isinstance(s, tirx.BufferStore)
        ]
        expected = []
        for _, loops in stores:
            log_extents = [(int(loop.kind), math.log1p(int(loop.extent))) for loop in loops]
            seen_kinds |= {k for k, _ in log_extents}
            expected.append(
                [len(loops), sum(e for _, e in log_extents)]
                + [sum(e for k, e in log_extents if k == kinds[kind]) for kind in kinds]
            )
        graph = tpgnn.extract_graph(mod)
        rows = graph.node_features[
            graph.node_type == node_type_vocabulary().index("tirx.BufferStore")
        ]
        got = rows[:, [cols[c] for c in context]].double().numpy()
        assert len(got) == len(stores)
        np.testing.assert_allclose(sorted(map(list, got)), sorted(expected), rtol=1e-5)
    assert {1, 2} <= seen_kinds, "sampled schedules should parallelise and vectorise"


def test_unroll_annotation_reaches_the_loops_below_it(scheduled_programs):
    cols = {n: i for i, n in enumerate(node_feature_names())}
    vocab = node_type_vocabulary()
    seen = False
    for mod in scheduled_programs["conv2d"]:
        graph = tpgnn.extract_graph(mod)
        step = graph.node_features[:, cols["unroll_max_step"]]
        if float(step.max()) == 0.0:
            continue
        seen = True
        # The annotated block passes its step to every store below it, not to itself.
        stores = graph.node_type == vocab.index("tirx.BufferStore")
        passed = graph.node_features[stores, cols["enclosing_unroll_max_step"]]
        assert float(passed.max()) == float(step.max())
        annotated = step > 0
        assert bool(
            (
                graph.node_features[annotated, cols["enclosing_unroll_max_step"]] < step[annotated]
            ).all()
        )
    assert seen, "sampled conv2d schedules should carry an unroll annotation"


ACCESS_COLUMNS = [
    "access_innermost_stride",
    "access_varying_stride",
    "access_touched_extent",
    "access_reuse_extent",
    "access_approximate",
]


def _matmul_schedule() -> tvm.s_tir.Schedule:
    """C[64, 48] += A[64, 32] * B[32, 48], loops i, j, k (k innermost)."""
    from tvm import te

    a = te.placeholder((64, 32), name="A")
    b = te.placeholder((32, 48), name="B")
    k = te.reduce_axis((0, 32), name="k")
    c = te.compute((64, 48), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return tvm.s_tir.Schedule(te.create_prim_func([a, b, c]))


def _by_value(rows: list) -> np.ndarray:
    """Rows in a fixed order (sorted on values rounded well above float32 error)."""
    return np.array(sorted(rows, key=lambda row: tuple(round(x, 2) for x in row)))


MEMORY_COLUMNS = [
    "access_element_bytes",
    "access_unique_bytes",
    "access_cache_lines",
    "access_reuse_distance_bytes",
    "access_reuse_distance_iters",
]


def _access_rows(func, columns: list[str] = ACCESS_COLUMNS) -> np.ndarray:
    """The `columns` of every load and store, in `_by_value` order."""
    graph = tpgnn.extract_graph(func)
    vocab = node_type_vocabulary()
    accesses = (graph.node_type == vocab.index("ir.TensorLoad")) | (
        graph.node_type == vocab.index("tirx.BufferStore")
    )
    cols = [node_feature_names().index(c) for c in columns]
    return _by_value(graph.node_features[accesses][:, cols].tolist())


def _access(innermost: int, varying: int, touched: list[int], reuse: list[int], approximate: bool):
    """Expected access columns from strides and loop extents."""
    log = math.log1p
    return (
        log(innermost),
        log(varying),
        sum(log(e) for e in touched),
        sum(log(e) for e in reuse),
        float(approximate),
    )


def _fused(sch: tvm.s_tir.Schedule) -> None:
    i, j, _ = sch.get_loops(sch.get_sblock("C"))
    sch.fuse(i, j)


def _split_k(sch: tvm.s_tir.Schedule) -> None:
    *_, k = sch.get_loops(sch.get_sblock("C"))
    sch.split(k, [None, 1])  # the new innermost loop runs once and moves nothing


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # C (init store, load, store) is reused along k and contiguous along j; A walks along
        # k with stride 1, B with stride 48 (a row of B).
        (
            None,
            3 * [_access(0, 1, [48, 64], [32], False)]
            + [_access(1, 1, [32, 64], [48], False), _access(48, 48, [32, 48], [64], False)],
        ),
        (
            _split_k,
            3 * [_access(0, 1, [48, 64], [32], False)]
            + [_access(1, 1, [32, 64], [48], False), _access(48, 48, [32, 48], [64], False)],
        ),
        # fused = i * 48 + j: j = fused % 48 keeps stride 1; i = fused // 48 is not affine,
        # so every access indexed by i is approximate.
        (
            _fused,
            3 * [_access(0, 1, [3072], [32], True)]
            + [_access(1, 1, [32, 3072], [], True), _access(48, 48, [32, 3072], [], False)],
        ),
    ],
    ids=["ijk", "split_k", "fused_ij"],
)
def test_access_columns_give_strides_and_reuse(schedule, expected):
    sch = _matmul_schedule()
    if schedule is not None:
        schedule(sch)
    np.testing.assert_allclose(_access_rows(sch.mod), _by_value(expected), rtol=1e-6)


def _memory(element: int, unique: int, lines: int, reuse_bytes: int, reuse_iters: int):
    """Expected memory columns from byte and line counts (0 reuse: no loop reuses it)."""
    return tuple(math.log1p(x) for x in (element, unique, lines, reuse_bytes, reuse_iters))


def _window_sum() -> tvm.s_tir.Schedule:
    """Y[i] = sum_r X[i + r] in float16, i < 16, r < 3: windows that overlap."""
    from tvm import te

    x = te.placeholder((18,), name="X", dtype="float16")
    r = te.reduce_axis((0, 3), name="r")
    y = te.compute((16,), lambda i: te.sum(x[i + r], axis=r), name="Y")
    return tvm.s_tir.Schedule(te.create_prim_func([x, y]))


def _scheduled(sch: tvm.s_tir.Schedule, schedule) -> tvm.s_tir.Schedule:
    schedule(sch)
    return sch


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        # C is reused along k with nothing in between (a reuse distance of one element, 4
        # bytes), 64 x 48 float32 in 3 lines a row;
        # A reuses its 32-element row along j; B its whole 6 KB along i, and walks a column
        # with stride 48, a line per element, for each j.
        (
            _matmul_schedule,
            3 * [_memory(4, 12288, 192, 4, 1)]
            + [_memory(4, 8192, 128, 128, 32), _memory(4, 6144, 1536, 6144, 1536)],
        ),
        # X's 16 windows of 3 overlap: the span (18 elements) bounds its footprint, not 48.
        (_window_sum, 3 * [_memory(2, 32, 1, 2, 1)] + [_memory(2, 36, 16, 0, 0)]),
        # fused // 48 is not affine: C and A count every iteration of the fused loop as new;
        # C keeps the stride 1 of fused % 48 (3 lines a row), A has none (a line each);
        # B (fused % 48, stride 1, no fused // 48) is bounded by its span.
        (
            lambda: _scheduled(_matmul_schedule(), _fused),
            3 * [_memory(4, 12288, 192, 4, 1)]
            + [_memory(4, 4 * 98304, 6144, 0, 0), _memory(4, 4 * 4560, 4560, 0, 0)],
        ),
    ],
    ids=["matmul", "window_sum", "fused_ij"],
)
def test_memory_columns_give_bytes_lines_and_reuse_distance(program, expected):
    rows = _access_rows(program().mod, MEMORY_COLUMNS)
    np.testing.assert_allclose(rows, _by_value(expected), rtol=1e-6)


def test_access_columns_are_zero_off_accesses(scheduled_programs):
    vocab = node_type_vocabulary()
    cols = [node_feature_names().index(c) for c in ACCESS_COLUMNS + MEMORY_COLUMNS]
    for mod in scheduled_programs["conv2d"]:
        graph = tpgnn.extract_graph(mod)
        accesses = (graph.node_type == vocab.index("ir.TensorLoad")) | (
            graph.node_type == vocab.index("tirx.BufferStore")
        )
        assert bool((graph.node_features[~accesses][:, cols] == 0).all())
        assert bool((graph.node_features[accesses][:, cols[2]] > 0).all())


def test_zero_copy_from_cpp_buffers(scheduled_programs):
    arrays = global_func("tpgnn.extract_graph")(scheduled_programs["conv2d"][0])
    for array in arrays:
        tensor = torch.from_dlpack(array)
        assert tensor.data_ptr() == array.data_ptr()
        assert tensor.is_contiguous()


def test_shared_objects_are_one_node(scheduled_programs):
    vocab = node_type_vocabulary()
    mod = scheduled_programs["matmul"][0]
    graph = tpgnn.extract_graph(mod)
    params = graph.node_type == vocab.index("ir.Var")
    # A, B and C are buffers: each is one Var node however many loads and stores use it.
    buffer_vars = {p.name for p in mod["main"].params}
    assert int(params.sum()) >= len(buffer_vars)
    assert int(params.sum()) < graph.num_edges // 4


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (None, TypeError, "got None"),
        (3, TypeError, "'int'"),
        ("main", TypeError, "Str"),
        (tvm.IRModule({}), ValueError, "holds 0 functions"),
    ],
)
def test_bad_input_raises_a_clear_error(value, error, message):
    with pytest.raises(error, match=message):
        tpgnn.extract_graph(value)


def test_module_with_two_functions_is_refused(scheduled_programs):
    func = scheduled_programs["softmax"][0]["main"]
    mod = tvm.IRModule({"a": func, "b": func})
    with pytest.raises(ValueError, match="holds 2 functions"):
        tpgnn.extract_graph(mod)


def test_object_outside_vocabulary_gets_unknown_id(scheduled_programs):
    func = scheduled_programs["softmax"][0]["main"]
    target = tvm.target.Target({"kind": "llvm"})  # "target.Target" is no IR node type
    graph = tpgnn.extract_graph(func.with_attr("tpgnn_test_target", target))
    assert int((graph.node_type == 0).sum()) >= 1
    assert node_type_vocabulary()[0] == "<unknown>"


def test_infinite_constants_give_finite_features():
    # Max reductions start from -inf; a feature must never be infinite.
    buf = tirx.decl_buffer((1,), "float32", name="out")
    value = tirx.Max(tirx.FloatImm("float32", float("-inf")), tirx.FloatImm("float32", 1.0))
    graph = tpgnn.extract_graph(tirx.PrimFunc([buf], tirx.BufferStore(buf, value, [0])))
    assert bool(torch.isfinite(graph.node_features).all())
    values = graph.node_features[:, node_feature_names().index("const_value")]
    assert float(values.min()) == pytest.approx(-math.log1p(1.7976931348623157e308))


def test_deep_ir_does_not_overflow_the_stack():
    # TVM's own PrimFunc constructor recurses and overflows near depth 10,000.
    depth = 5_000
    x = tirx.Var("x", "int32")
    expr = x
    for i in range(depth):
        expr = tirx.Add(expr, tirx.IntImm("int32", i % 7))
    buf = tirx.decl_buffer((1,), "int32", name="out")
    func = tirx.PrimFunc([x, buf], tirx.BufferStore(buf, expr, [0]))
    result = {}
    # A recursive walk needs far more than 128 KiB for this depth; the iterative one does not.
    threading.stack_size(128 * 1024)
    try:
        worker = threading.Thread(target=lambda: result.update(g=tpgnn.extract_graph(func)))
        worker.start()
        worker.join()
    finally:
        threading.stack_size(0)
    assert result["g"].num_nodes > depth


def test_committed_vocabulary_matches_installed_tvm():
    path = ROOT / "cpp" / "vocabulary" / "generate_node_types.py"
    spec = importlib.util.spec_from_file_location("generate_node_types", path)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    committed = (ROOT / "cpp" / "vocabulary" / "node_types.txt").read_text().split()
    assert committed == generator.vocabulary()
    assert list(node_type_vocabulary()[1:]) == committed
