"""Small file helpers: atomic writes and (optionally gzipped) JSON-lines reading.

Every file the collector writes goes to a temporary file in the same directory, is
flushed to disk, and is renamed over the old one: a kill at any moment leaves either the
old or the new file, never a torn one.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "CorruptLineError",
    "DataDirBusyError",
    "exclusive_directory",
    "remove_stale_temporaries",
    "atomic_write_bytes",
    "atomic_write_lines",
    "iter_json_lines",
    "resolve",
]


class CorruptLineError(ValueError):
    """A line of a JSON-lines file that does not parse; names the file and line."""

    def __init__(self, path: str | os.PathLike[str], lineno: int, reason: str) -> None:
        super().__init__(f"{path}:{lineno}: corrupt line: {reason}")
        self.path = str(path)
        self.lineno = lineno
        self.reason = reason


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_lines(path: str | os.PathLike[str], lines: list[str]) -> None:
    """Write text lines (each without a newline), gzipped when ``path`` ends in ``.gz``."""
    data = "".join(line + "\n" for line in lines).encode()
    if str(path).endswith(".gz"):
        # mtime=0: the same content gives the same bytes, so git sees no change.
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)


class DataDirBusyError(RuntimeError):
    """Another process is writing the same dataset directory."""


@contextlib.contextmanager
def exclusive_directory(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on a directory for the duration of the block.

    Two collectors writing one dataset would overwrite each other's batches; the second
    fails at once instead. The lock is on the directory itself (no lock file to commit)
    and is released by the kernel if the holder dies.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise DataDirBusyError(f"{path} is being written by another collector") from err
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete temporaries that :func:`atomic_write_bytes` left behind when killed mid-write.

    Only names of the form ``.<file>.<random>.tmp`` are touched: nothing else is ours.
    """
    removed = []
    for p in sorted(Path(directory).glob(".*.tmp")):
        p.unlink(missing_ok=True)
        removed.append(p)
    if removed:
        logger.info("removed %d stale temporary file(s) in %s", len(removed), directory)
    return removed


def resolve(path: str | os.PathLike[str]) -> Path | None:
    """``path`` if it exists, else ``path.gz`` / ``path`` without ``.gz`` if that exists."""
    p = Path(path)
    if p.exists():
        return p
    alt = Path(str(p)[:-3]) if str(p).endswith(".gz") else Path(str(p) + ".gz")
    return alt if alt.exists() else None


@dataclass(frozen=True)
class JsonLine:
    """One parsed line and where it came from (1-based line number)."""

    lineno: int
    value: Any

    @property
    def position(self) -> int:
        """0-based line index: MetaSchedule's workload index for a workload table line."""
        return self.lineno - 1


def iter_json_lines(
    path: str | os.PathLike[str],
    on_error: str = "raise",
    validate: Callable[[Any], Any] | None = None,
) -> Iterator[JsonLine]:
    """Parse a JSON-lines file, plain or gzipped; blank lines are ignored.

    Parameters
    ----------
    on_error : {"raise", "skip"}
        ``"raise"`` stops at the first corrupt line with :class:`CorruptLineError`;
        ``"skip"`` logs a warning naming file and line and goes on, so every valid line is
        still returned. A gzip stream cut short (a copy interrupted mid-file) counts as one
        corrupt line at its end.
    validate : callable, optional
        Called on each parsed value; a ``ValueError`` it raises makes the line corrupt.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):  # noqa: B007 -- used after the loop
                text = raw.strip()
                if not text:
                    continue
                try:
                    value = json.loads(text)
                    if validate is not None:
                        validate(value)
                except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
                    _corrupt(path, lineno, str(err), on_error)
                    continue
                yield JsonLine(lineno, value)
    except (EOFError, gzip.BadGzipFile, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        _corrupt(path, lineno + 1, f"unreadable compressed data: {err}", on_error)


def _corrupt(path: Path, lineno: int, reason: str, on_error: str) -> None:
    error = CorruptLineError(path, lineno, reason)
    if on_error == "raise":
        raise error
    logger.warning("%s (skipped)", error)
