"""The engine's promises that the CLI tests do not show directly."""

import os

import pytest

from ms_migrate.core import engine
from ms_migrate.core.engine import migrate_file, migrate_source

TORCH = b"import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"


def test_files_without_the_trigger_are_not_parsed():
    untouched = migrate_source(b"import os\nprint(os.getcwd())\n")
    assert not untouched.parsed and untouched.output == untouched.source
    # even a syntax error goes unnoticed there: nothing in it can need migrating
    assert migrate_source(b"def f(:\n").error is None
    assert migrate_source(TORCH).parsed


def test_an_interrupted_write_leaves_the_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "train.py"
    target.write_bytes(TORCH)

    def crash(src, dst):
        raise KeyboardInterrupt  # the run is stopped between writing the temp file and the swap

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        migrate_file(target, write_to=target)
    assert target.read_bytes() == TORCH
    assert [p.name for p in tmp_path.iterdir()] == ["train.py"]  # no temp file left behind


def test_output_that_does_not_parse_is_never_written(tmp_path, monkeypatch):
    target = tmp_path / "train.py"
    target.write_bytes(TORCH)

    class Unparseable:  # what a faulty rule could produce
        bytes = b"optimizer = nn.SGD(\n"

    monkeypatch.setattr(engine, "apply_edits", lambda module, edits, *rest: Unparseable())
    result = migrate_file(target, write_to=target)
    assert result.error and "internal error" in result.error
    assert result.findings[0].code == "MSM002"
    assert target.read_bytes() == TORCH
