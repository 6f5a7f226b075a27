"""Reading shards back: corrupt lines are reported by file and line, valid ones all kept."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
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


def _complete_lines_before_cut(cut: bytes) -> list[bytes]:
    """Every whole line a gzip prefix holds, decompressed by zlib itself (the oracle)."""
    text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)
    return [line for line in text.split(b"\n")[:-1] if line.strip()]


def _assert_cut_keeps_every_whole_line(cut_path: Path) -> int:
    expected = _complete_lines_before_cut(cut_path.read_bytes())
    with pytest.raises(CorruptLineError, match="unreadable compressed data") as info:
        list(iter_json_lines(cut_path))
    assert info.value.lineno == len(expected) + 1
    kept = list(iter_json_lines(cut_path, on_error="skip"))
    assert [json.loads(line) for line in expected] == [line.value for line in kept]
    return len(kept)


def test_truncated_gzip_is_one_corrupt_line(collected, tmp_path):
    data_dir, stats = collected
    src = (data_dir / "shards" / "tiny" / RECORD_FILE).read_bytes()
    cut = tmp_path / RECORD_FILE
    cut.write_bytes(src[: len(src) // 2])
    # How many whole records half the bytes hold depends on the records (a run whose builds
    # failed writes shorter ones), so the count is compared with zlib's, not with a constant.
    assert _assert_cut_keeps_every_whole_line(cut) < stats.measured


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_gzip_of_many_records_loses_no_whole_line(tmp_path, fraction):
    # Larger than any read-ahead buffer of gzip (8 KiB in Python 3.11, 128 KiB from 3.12).
    lines = [json.dumps([i % 7, [[i, "x" * (i % 50)], [1e-3 * i], {"n": i}]]) for i in range(6000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    assert len(gzip.decompress(whole)) > 3 * 128 * 1024
    cut = tmp_path / "records.json.gz"
    cut.write_bytes(whole[: int(len(whole) * fraction)])
    assert 0 < _assert_cut_keeps_every_whole_line(cut) < len(lines)


def test_gzip_of_several_members_and_zero_padding_reads_whole(tmp_path):
    # What `cat a.json.gz b.json.gz > all.json.gz` makes; gzip allows zero padding at the end.
    path = tmp_path / "records.json.gz"
    path.write_bytes(gzip.compress(b"[1]\n[2]\n") + gzip.compress(b"[3]") + b"\0" * 9)
    assert [line.value for line in iter_json_lines(path)] == [[1], [2], [3]]
    assert [line.lineno for line in iter_json_lines(path)] == [1, 2, 3]


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
