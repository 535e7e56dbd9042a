"""The run's two passes: the in-process pre-scan, then LibCST in this process or a chunked pool.
Same results either way, no bytes kept for unchanged files, no pool for -j 1 or little work."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from ms_migrate.cli import command as cli
from ms_migrate.core.options import Options
from tests.fixture_cases import cases

PLAIN = b"import os\n\n\ndef here():\n    return os.getcwd()  # optimizer-free\n"


@pytest.fixture
def tree(tmp_path):
    files = []
    for i, case in enumerate(cases()[:12]):
        path = tmp_path / "src" / f"case{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(case.read_bytes())
        files.append(path)
        plain = tmp_path / "src" / f"plain{i}.py"
        plain.write_bytes(PLAIN)
        files.append(plain)
    return files


def _shape(results):
    return [(r.path, r.changed, r.parsed, r.error, [(f.line, f.column, f.code) for f in r.findings])
            for r in results]


def test_the_pool_gives_the_single_process_results_in_order(tree, monkeypatch):
    single = cli._migrate_all(tree, lambda f: None, options=Options(), jobs=1)
    monkeypatch.setattr(cli, "PARALLEL_BYTES", 0)  # force the pool even for this small tree
    pooled = cli._migrate_all(tree, lambda f: None, options=Options(), jobs=2)
    assert _shape(pooled) == _shape(single)
    assert [r.path for r in single] == [str(p) for p in tree]
    assert any(r.changed for r in single) and not all(r.parsed for r in single)


def test_unchanged_results_keep_no_bytes(tree):
    results = cli._migrate_all(tree, lambda f: None, options=Options(), jobs=1)
    for result in results:
        if result.changed:
            assert result.source and result.output
        else:
            assert result.source == result.output == b""


def test_no_pool_for_one_job_or_little_to_parse(tree, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    monkeypatch.setattr(cli, "PARALLEL_BYTES", 0)
    cli._migrate_all(tree, lambda f: None, options=Options(), jobs=1)
    monkeypatch.setattr(cli, "PARALLEL_BYTES", 10**9)
    cli._migrate_all(tree, lambda f: None, options=Options(), jobs=0)


def test_out_dir_copies_the_files_the_prescan_rules_out(tree, tmp_path):
    out = tmp_path / "out"
    results = cli._migrate_all(tree, lambda f: out / f.name, options=Options(), jobs=1)
    for path, result in zip(tree, results):
        copied = (out / path.name).read_bytes()
        if result.changed:
            assert copied == result.output
        else:
            assert copied == path.read_bytes()


def test_chunks_cover_every_file_once_biggest_first():
    pending = [(i, Path(f"f{i}"), None, size, Options()) for i, size in enumerate([5, 100, 1, 50, 50, 7, 3])]
    chunks = cli._chunks(pending, workers=2)
    flat = [item for chunk in chunks for item in chunk]
    assert sorted(flat) == sorted(pending)
    assert flat[0][3] == 100 and len(chunks) > 1
