"""The ``tpgnn`` command line: bad input ends a command with its message, not a traceback."""

from __future__ import annotations

import pytest

from tpgnn.cli import main


def test_bad_input_is_one_line_on_stderr_and_status_1(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    assert main(["evaluate", "--checkpoint", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"tpgnn evaluate: error: no TPGNN checkpoint at {missing}" in err
    assert "tpgnn -v evaluate" in err
    assert "Traceback" not in err


def test_a_corrupt_checkpoint_is_reported_the_same_way(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(corrupt)]) == 1
    assert "tpgnn evaluate: error: " in capsys.readouterr().err


def test_verbose_keeps_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TPGNN checkpoint"):
        main(["-v", "evaluate", "--checkpoint", str(tmp_path / "missing.pt")])


def test_a_bug_is_not_mistaken_for_bad_input(monkeypatch):
    import tpgnn.evaluate

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(tpgnn.evaluate, "evaluate", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["evaluate"])
