"""Applying, checking and reverting ``tvm_patch/``: our unified diffs to the installed TVM.

Patches are written against the Python sources of exactly one TVM release; applying them to
another could corrupt it silently, so any other version is refused. Each patch is applied
only if it is not already in place, which makes ``apply`` idempotent.

Command line: ``python -m tpgnn.patch {apply,check,revert} [--patch-dir DIR]`` or
``tpgnn patch [--check | --revert]``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

logger = logging.getLogger(__name__)

#: The TVM release the patches are written against.
SUPPORTED_TVM = "0.27.0.post1"
#: The patches: installed inside the package (CMake copies tvm_patch/ there).
DEFAULT_PATCH_DIR = Path(__file__).with_name("tvm_patch")


class PatchState(Enum):
    APPLIED = "applied"
    NOT_APPLIED = "not applied"
    CONFLICT = "conflict"  # neither applies nor reverts cleanly: TVM's sources were changed


@dataclass(frozen=True)
class PatchStatus:
    patch: Path
    state: PatchState


class PatchError(RuntimeError):
    """A patch cannot be applied or reverted; the message says why and what to do."""


def installed_tvm_version() -> str:
    try:
        return importlib.metadata.version("apache-tvm")
    except importlib.metadata.PackageNotFoundError as err:
        raise PatchError("apache-tvm is not installed; run ci/bootstrap.sh first") from err


def tvm_site_root() -> Path:
    """The directory holding the ``tvm`` package: patch paths are relative to it."""
    import importlib.util

    spec = importlib.util.find_spec("tvm")
    if spec is None or spec.origin is None:
        raise PatchError("cannot locate the installed tvm package")
    return Path(spec.origin).parent.parent


def check_version(version: str | None = None) -> None:
    version = version or installed_tvm_version()
    if version != SUPPORTED_TVM:
        raise PatchError(
            f"tvm_patch is written for apache-tvm=={SUPPORTED_TVM}, but {version} is installed; "
            f"install apache-tvm=={SUPPORTED_TVM} (ci/requirements.txt) or leave TVM unpatched "
            "and pass cost_model=tpgnn.GNNModel() instead of the name"
        )


def list_patches(patch_dir: Path) -> list[Path]:
    if not patch_dir.is_dir():
        raise PatchError(
            f"patch directory {patch_dir} does not exist; reinstall tpgnn (ci/bootstrap.sh)"
        )
    return sorted(patch_dir.glob("*.patch"))


def _patch(args: list[str], patch: Path, root: Path) -> bool:
    exe = shutil.which("patch")
    if exe is None:
        raise PatchError("GNU patch is not installed (apt-get install patch)")
    result = subprocess.run(
        # `-d` changes directory before `-i` is read: pass the patch as an absolute path.
        [exe, "-p1", "--batch", "--silent", "-d", str(root), "-i", str(patch.resolve()), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def status(patch: Path, root: Path) -> PatchStatus:
    if _patch(["--dry-run", "--reverse", "--force"], patch, root):
        return PatchStatus(patch, PatchState.APPLIED)
    if _patch(["--dry-run", "--forward"], patch, root):
        return PatchStatus(patch, PatchState.NOT_APPLIED)
    return PatchStatus(patch, PatchState.CONFLICT)


def apply(patch_dir: Path = DEFAULT_PATCH_DIR, root: Path | None = None) -> list[PatchStatus]:
    """Apply every patch not yet applied; returns each patch's state before the call.

    ``root`` (the directory holding ``tvm/``) defaults to the installed TVM's.
    """
    patches = list_patches(patch_dir)
    if not patches:
        return []
    check_version()
    root = root or tvm_site_root()
    before = [status(p, root) for p in patches]
    conflicts = [s.patch.name for s in before if s.state is PatchState.CONFLICT]
    if conflicts:
        raise PatchError(
            f"{', '.join(conflicts)} neither applies nor is applied to {root}/tvm: the installed "
            "sources were modified; reinstall apache-tvm and run the set-up again"
        )
    for s in before:
        if s.state is PatchState.NOT_APPLIED and not _patch(["--forward"], s.patch, root):
            raise PatchError(f"applying {s.patch.name} to {root} failed")
    return before


def revert(patch_dir: Path = DEFAULT_PATCH_DIR, root: Path | None = None) -> list[PatchStatus]:
    """Revert every applied patch (in reverse order)."""
    patches = list_patches(patch_dir)
    if not patches:
        return []
    root = root or tvm_site_root()
    before = [status(p, root) for p in patches]
    for s in reversed(before):
        if s.state is PatchState.APPLIED and not _patch(["--reverse"], s.patch, root):
            raise PatchError(f"reverting {s.patch.name} in {root} failed")
    return before


def check(patch_dir: Path = DEFAULT_PATCH_DIR, root: Path | None = None) -> list[PatchStatus]:
    """Each patch's state, without changing anything."""
    root = root or tvm_site_root()
    return [status(p, root) for p in list_patches(patch_dir)]


def run(action: str, patch_dir: Path) -> int:
    """Run ``action`` and report; exit code 0 when the installed TVM ends up as wanted."""
    try:
        if action == "apply":
            before = apply(patch_dir)
            for s in before:
                verb = "already applied" if s.state is PatchState.APPLIED else "applied"
                print(f"tvm_patch: {s.patch.name}: {verb}")
            if not before:
                print(f"tvm_patch: no patches in {patch_dir}")
            return 0
        if action == "revert":
            for s in revert(patch_dir):
                verb = "reverted" if s.state is PatchState.APPLIED else "was not applied"
                print(f"tvm_patch: {s.patch.name}: {verb}")
            return 0
        states = check(patch_dir)
        if not states:
            print(f"tvm_patch: no patches in {patch_dir}")
        for s in states:
            print(f"tvm_patch: {s.patch.name}: {s.state.value}")
        return 0 if all(s.state is PatchState.APPLIED for s in states) else 1
    except PatchError as err:
        print(f"tvm_patch: error: {err}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``patch`` subcommand."""
    p = subparsers.add_parser("patch", help="apply, check or revert tvm_patch/ on installed TVM")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="report; exit 1 if not all applied")
    group.add_argument("--revert", action="store_true", help="revert applied patches")
    p.add_argument("--patch-dir", type=Path, default=DEFAULT_PATCH_DIR,
                   help="directory of *.patch files (default: the ones installed with tpgnn)")
    p.set_defaults(
        func=lambda a: run("check" if a.check else "revert" if a.revert else "apply", a.patch_dir)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tpgnn.patch", description=__doc__)
    parser.add_argument("action", choices=["apply", "check", "revert"])
    parser.add_argument("--patch-dir", type=Path, default=DEFAULT_PATCH_DIR)
    args = parser.parse_args(argv)
    return run(args.action, args.patch_dir)


if __name__ == "__main__":
    sys.exit(main())
