"""Reading shards back: corrupt lines are reported by file and line, valid ones all kept."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from tpgnn.collect.io import CorruptLineError, iter_json_lines
from tpgnn.collect.loader import load_dataset, load_shard
from tpgnn.collect.shard import RECORD_FILE, Shard


def _copy_plain(collected_dir: Path, dst: Path) -> Path:
    """The tiny shard, un-gzipped (as a stock JSONDatabase would have written it)."""
    src = collected_dir / "shards" / "tiny"
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        (dst / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    return dst


def _corrupt_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines.insert(lineno - 1, text)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("bad", ["[0, [1, 2", '{"not": "a record"}', "[99, [[], [1.0], {}, []]]"])
def test_corrupt_record_line_names_file_and_line(collected, tmp_path, bad):
    data_dir, _ = collected
    shard = _copy_plain(data_dir, tmp_path / "tiny")
    records = shard / RECORD_FILE.removesuffix(".gz")
    _corrupt_line(records, 3, bad)
    with pytest.raises(CorruptLineError, match=rf"{records.name}:3: corrupt line") as info:
        load_shard(shard)
    assert info.value.lineno == 3 and info.value.path == str(records)


def test_skip_mode_keeps_every_valid_record(collected, tmp_path, caplog):
    data_dir, stats = collected
    shard = _copy_plain(data_dir, tmp_path / "tiny")
    records = shard / RECORD_FILE.removesuffix(".gz")
    _corrupt_line(records, 2, "garbage")
    _corrupt_line(records, 5, "[0, {}]")
    data = load_shard(shard, on_error="skip")
    assert len(data.samples) == stats.measured
    assert sum("corrupt line" in r.getMessage() for r in caplog.records) == 2
    # Sidecar lines follow their records by line position, not by count.
    assert all(s.meta is None or s.meta["shash"] for s in data.samples)


def test_truncated_gzip_is_one_corrupt_line(collected, tmp_path):
    data_dir, stats = collected
    src = data_dir / "shards" / "tiny" / RECORD_FILE
    cut = tmp_path / RECORD_FILE
    cut.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2])
    with pytest.raises(CorruptLineError, match="unreadable compressed data"):
        list(iter_json_lines(cut))
    assert 0 < len(list(iter_json_lines(cut, on_error="skip"))) < stats.measured


def test_on_error_must_be_known(tmp_path):
    (tmp_path / "f.jsonl").write_text("[]\n")
    with pytest.raises(ValueError, match="on_error"):
        list(iter_json_lines(tmp_path / "f.jsonl", on_error="ignore"))


def test_collector_refuses_a_corrupt_shard(collected, tmp_path):
    data_dir, _ = collected
    shard = _copy_plain(data_dir, tmp_path / "tiny")
    _corrupt_line(shard / RECORD_FILE.removesuffix(".gz"), 1, "oops")
    with pytest.raises(CorruptLineError):
        Shard(shard)


def test_load_dataset_filters_by_split(collected):
    data_dir, stats = collected
    rows = list(load_dataset(data_dir))
    assert len(rows) == stats.measured
    assert {info["split"] for info, _ in rows} == {"train"}
    assert list(load_dataset(data_dir, split="test")) == []
    with pytest.raises(ValueError, match="split"):
        list(load_dataset(data_dir, split="holdout"))
    shutil.rmtree(data_dir / "unused", ignore_errors=True)
