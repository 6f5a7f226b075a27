"""Tests of tpgnn.patch on a copy of one of TVM's real source files."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from tpgnn import patch as tp

TARGET = "tvm/s_tir/meta_schedule/cost_model/cost_model.py"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, str]:
    """(root holding a copy of tvm/..., patch dir with one patch of it, original text)."""
    root = tmp_path / "site"
    source = tp.tvm_site_root() / TARGET
    copy = root / TARGET
    copy.parent.mkdir(parents=True)
    shutil.copy(source, copy)
    original = copy.read_text()
    changed = original.replace('"random"', '"random", "tpgnn-test"', 1)
    assert changed != original
    diff = difflib.unified_diff(
        original.splitlines(keepends=True), changed.splitlines(keepends=True),
        f"a/{TARGET}", f"b/{TARGET}",
    )
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-test.patch").write_text("".join(diff))
    return root, patches, original


def test_apply_is_idempotent_and_revert_restores(tree):
    root, patches, original = tree
    before = tp.apply(patches, root)
    assert [s.state for s in before] == [tp.PatchState.NOT_APPLIED]
    patched = (root / TARGET).read_text()
    assert '"tpgnn-test"' in patched
    again = tp.apply(patches, root)
    assert [s.state for s in again] == [tp.PatchState.APPLIED]
    assert (root / TARGET).read_text() == patched
    assert [s.state for s in tp.check(patches, root)] == [tp.PatchState.APPLIED]
    tp.revert(patches, root)
    assert (root / TARGET).read_text() == original


def test_modified_sources_are_a_conflict(tree):
    root, patches, _ = tree
    (root / TARGET).write_text("# someone rewrote this file\n")
    assert [s.state for s in tp.check(patches, root)] == [tp.PatchState.CONFLICT]
    with pytest.raises(tp.PatchError, match="reinstall apache-tvm"):
        tp.apply(patches, root)


def test_other_tvm_version_is_refused():
    with pytest.raises(tp.PatchError, match="written for apache-tvm==0.27.0.post1"):
        tp.check_version("0.26.0")


def test_installed_tvm_is_the_supported_one():
    tp.check_version()


def test_missing_patch_dir_is_a_clear_error(tmp_path):
    with pytest.raises(tp.PatchError, match="does not exist"):
        tp.check(tmp_path / "nope")
