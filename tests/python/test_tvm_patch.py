"""Tests of tvm_patch/: 0001, MetaSchedule cost models looked up by name in an entry-point
group; 0002, a Python cost model asked to score no candidates.

The installed TVM is only read here; applying and reverting run on copies of its files.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tvm import relax
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.cost_model import cost_model as cm

from test_auto_scheduler import MatmulRelu, fast_options, matmul
from tpgnn import patch as tp

PATCH_DIR = Path(__file__).resolve().parents[2] / "tvm_patch"
PATCHES = sorted(PATCH_DIR.glob("*.patch"))
PATCHED = [
    "tvm/s_tir/meta_schedule/cost_model/cost_model.py",
    "tvm/s_tir/meta_schedule/tune.py",
    "tvm/s_tir/meta_schedule/tir_integration.py",
    "tvm/s_tir/meta_schedule/relax_integration.py",
]
TARGET = {"kind": "llvm", "num-cores": 2}
HAS_GNN = importlib.util.find_spec("tpgnn.cost_model") is not None


def _wheel_hash(relpath: str) -> str:
    """The sha256 the apache-tvm wheel's RECORD lists for one of its files."""
    for f in importlib.metadata.distribution("apache-tvm").files:
        if str(f) == relpath:
            return f.hash.value
    raise AssertionError(f"{relpath} is not in apache-tvm's RECORD")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- the patch file and its application --------------------------------------------------


def test_the_patches_ship_with_the_package():
    assert [p.name for p in tp.list_patches(tp.DEFAULT_PATCH_DIR)] == [p.name for p in PATCHES]
    for patch in PATCHES:
        assert (tp.DEFAULT_PATCH_DIR / patch.name).read_text() == patch.read_text()


def test_installed_tvm_is_patched():
    """After ci/bootstrap.sh, ``tpgnn patch --check`` exits 0."""
    result = subprocess.run([sys.executable, "-m", "tpgnn.patch", "check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for patch in PATCHES:
        assert f"{patch.name}: applied" in result.stdout


def test_patch_reverts_to_the_wheel_and_applies_idempotently(tmp_path):
    """On a copy: revert gives the wheel's exact bytes; apply, then apply again, changes
    nothing the second time and gives the installed (patched) files back."""
    root = tmp_path / "site"
    for rel in PATCHED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tp.tvm_site_root() / rel, root / rel)
    tp.revert(PATCH_DIR, root)
    for rel in PATCHED:
        assert _sha256(root / rel) == _wheel_hash(rel), rel
    each = len(PATCHES)
    assert [s.state for s in tp.apply(PATCH_DIR, root)] == [tp.PatchState.NOT_APPLIED] * each
    assert [s.state for s in tp.apply(PATCH_DIR, root)] == [tp.PatchState.APPLIED] * each
    for rel in PATCHED:
        assert (root / rel).read_bytes() == (tp.tvm_site_root() / rel).read_bytes(), rel


def test_cli_check_fails_on_an_unpatched_copy(tmp_path):
    root = tmp_path / "site"
    for rel in PATCHED:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tp.tvm_site_root() / rel, root / rel)
    tp.revert(PATCH_DIR, root)
    states = [s.state for s in tp.check(PATCH_DIR, root)]
    assert states == [tp.PatchState.NOT_APPLIED] * len(PATCHES)


# -- CostModel.create with the patch -----------------------------------------------------


def test_builtin_names_still_work():
    assert isinstance(ms.cost_model.CostModel.create("random", num_tuning_cores=2),
                      ms.cost_model.RandomModel)
    assert ms.cost_model.CostModel.create("none") is None


def test_gnn_is_registered_by_tpgnn():
    assert cm.registered_cost_models()["gnn"].value == "tpgnn.cost_model:GNNModel"


def test_unknown_name_lists_builtin_and_registered_names():
    with pytest.raises(ValueError, match="valid names are 'xgb', 'mlp', 'random', 'none', .*'gnn'"):
        ms.cost_model.CostModel.create("lightgbm")


@pytest.mark.skipif(not HAS_GNN, reason="tpgnn.cost_model (the GNN) is not in this tree yet")
def test_create_gnn_returns_tpgnn_model():
    from tpgnn.cost_model import GNNModel

    model = ms.cost_model.CostModel.create("gnn", num_tuning_cores=2, tree_method="auto")
    assert isinstance(model, GNNModel)


# -- a Python cost model asked to score no candidates (0002) -------------------------------


@pytest.mark.parametrize("name", ["xgb", "random", "gnn"])
def test_predicting_no_candidates_returns_no_scores(name):
    """Through the C++ ``CostModel.Predict``, whose empty result buffer may sit at NULL."""
    model = ms.cost_model.CostModel.create(name, num_tuning_cores=1)
    scores = model.predict(ms.TuneContext(), [])
    assert scores.dtype == "float64" and scores.shape == (0,)


FAKE_MODULE = '''
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms

CALLS = []


@derived_object
class CoreModel(ms.cost_model.PyCostModel):
    """Declares num_tuning_cores, so it receives it; never tree_method."""

    def __init__(self, *, num_tuning_cores=None):
        CALLS.append({"num_tuning_cores": num_tuning_cores})
        self.inner = ms.cost_model.RandomModel(seed=1)

    def load(self, path):
        pass

    def save(self, path):
        pass

    def update(self, context, candidates, results):
        pass

    def predict(self, context, candidates):
        return self.inner.predict(context, candidates)


def bare():
    return ms.cost_model.RandomModel()


def everything(*args, **kwargs):
    CALLS.append(kwargs)
    return ms.cost_model.RandomModel()


def not_a_model():
    return "a string"
'''

FAKE_ENTRY_POINTS = """
[tvm.meta_schedule.cost_models]
fake-cores = fake_cost_models:CoreModel
fake-bare = fake_cost_models:bare
fake-all = fake_cost_models:everything
fake-wrong = fake_cost_models:not_a_model
fake-broken = fake_cost_models_missing:model
xgb = fake_cost_models:bare
"""


@pytest.fixture
def fake_registry(tmp_path, monkeypatch):
    """A distribution on sys.path registering several cost models; returns its module."""
    (tmp_path / "fake_cost_models.py").write_text(FAKE_MODULE)
    info = tmp_path / "fake_cost_models-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-cost-models\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(FAKE_ENTRY_POINTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_cost_models", raising=False)
    import fake_cost_models

    return fake_cost_models


def test_factory_receives_only_the_keywords_it_declares(fake_registry):
    model = ms.cost_model.CostModel.create("fake-cores", num_tuning_cores=3, tree_method="auto")
    assert isinstance(model, ms.cost_model.CostModel)
    assert fake_registry.CALLS == [{"num_tuning_cores": 3}]
    assert isinstance(ms.cost_model.CostModel.create("fake-bare", num_tuning_cores=3),
                      ms.cost_model.RandomModel)


def test_factory_with_var_keywords_receives_every_keyword(fake_registry):
    ms.cost_model.CostModel.create("fake-all", num_tuning_cores=3, tree_method="auto")
    assert fake_registry.CALLS == [{"num_tuning_cores": 3, "tree_method": "auto"}]


def test_factory_returning_no_cost_model_is_a_type_error(fake_registry):
    with pytest.raises(TypeError, match="'fake-wrong'.*returned str, not a CostModel"):
        ms.cost_model.CostModel.create("fake-wrong")


def test_unloadable_entry_point_is_a_clear_error(fake_registry):
    with pytest.raises(ValueError, match="Cannot load cost model 'fake-broken'"):
        ms.cost_model.CostModel.create("fake-broken")


def test_builtin_name_cannot_be_replaced(fake_registry):
    assert "xgb" not in cm.registered_cost_models()
    assert isinstance(ms.cost_model.CostModel.create("xgb"), ms.cost_model.XGBModel)


def test_error_lists_every_registered_name(fake_registry):
    with pytest.raises(ValueError, match="'fake-all', 'fake-bare', .*'gnn'"):
        ms.cost_model.CostModel.create("nope")


# -- an unmodified user script: tune_tir / tune_relax with a registered name -------------


def _tune_tir(tmp_path, measurement, name: str):
    options = fast_options(tmp_path, measurement)
    return ms.tune_tir(matmul, TARGET, str(tmp_path), max_trials_global=8, num_trials_per_iter=8,
                       builder=options.builder, runner=options.runner, cost_model=name)


@pytest.fixture
def bare_meta_schedule_logger(tmp_path, monkeypatch):
    """As in test_auto_scheduler; also closes the log files the run opens, and skips the GPU
    intrinsics import (tens of seconds) the way tpgnn.auto_scheduler.tune does."""
    import logging

    from tpgnn.collect.workers import stub_gpu_intrinsics
    from tpgnn.tune.measure import close_log_files

    stub_gpu_intrinsics()
    log = logging.getLogger("tvm.s_tir.meta_schedule")
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "propagate", True)
    yield
    close_log_files(str(tmp_path))


def test_tune_tir_takes_a_registered_name(
    tmp_path, real_measurement, fake_registry, bare_meta_schedule_logger
):
    database = _tune_tir(tmp_path, real_measurement, "fake-cores")
    assert len(database.get_all_tuning_records()) == 8
    # tune_tir's default num_tuning_cores="physical": the machine's physical core count.
    physical = ms.utils.cpu_count(logical=False)
    assert fake_registry.CALLS == [{"num_tuning_cores": physical}]


def test_tune_relax_takes_a_registered_name(
    tmp_path, real_measurement, fake_registry, bare_meta_schedule_logger
):
    options = fast_options(tmp_path, real_measurement)
    mod = relax.get_pipeline("zero")(MatmulRelu)
    database = ms.relax_integration.tune_relax(
        mod, None, TARGET, str(tmp_path), max_trials_global=8, num_trials_per_iter=8,
        builder=options.builder, runner=options.runner, cost_model="fake-all",
    )
    assert len(database.get_all_tuning_records()) == 8


@pytest.mark.skipif(not HAS_GNN, reason="tpgnn.cost_model (the GNN) is not in this tree yet")
def test_tune_tir_with_gnn_by_name(tmp_path, real_measurement, bare_meta_schedule_logger):
    assert len(_tune_tir(tmp_path, real_measurement, "gnn").get_all_tuning_records()) == 8


@pytest.mark.skipif(not HAS_GNN, reason="tpgnn.cost_model (the GNN) is not in this tree yet")
def test_tune_tir_with_a_gnn_object_needs_no_patch(
    tmp_path, real_measurement, bare_meta_schedule_logger
):
    from tpgnn.cost_model import GNNModel

    records = _tune_tir(tmp_path, real_measurement, GNNModel()).get_all_tuning_records()
    assert len(records) == 8
