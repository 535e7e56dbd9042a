"""Markers that last, inline suppression and select/ignore, through the command line on real
files: a warning keeps failing --check until a person deletes its marker."""

import json

import pytest
from click.testing import CliRunner

from ms_migrate.cli.command import main
from ms_migrate.core.engine import migrate_source
from ms_migrate.core.options import Options

WARNED = b"import torch.optim as optim\n\noptimizer = optim.AdamW(model.parameters(), lr=1e-3)\n"
ERRORED = b"import torch.optim as optim\n\noptimizer = optim.NAdam(model.parameters())\n"
STEPPED = (b"import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"
           b"optimizer.step()\n")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def markers(path):
    return [l for l in path.read_text().splitlines() if l.lstrip().startswith("# ms-migrate: MSM")]


def test_warning_keeps_failing_until_its_marker_is_deleted(tree):
    train = tree / "train.py"
    train.write_bytes(WARNED)
    first = run("train.py")
    assert first.exit_code == 1
    text = train.read_text()
    assert markers(train) == [l for l in text.splitlines() if l.startswith("# ms-migrate: MSM101 ")]
    assert len(markers(train)) == 1
    for _ in range(2):  # the marker keeps the warning open, run after run, and is never doubled
        again = run("--check", "-q", "train.py")
        assert again.exit_code == 1
        line = train.read_text().splitlines().index(markers(train)[0]) + 1
        assert f"train.py:{line}:1: warning: MSM101 open marker: torch.optim.AdamW" in again.output
        assert run("train.py").exit_code == 1
        assert len(markers(train)) == 1
    train.write_text("\n".join(l for l in train.read_text().splitlines() if not l.startswith("# ms-migrate:")) + "\n")
    assert run("--check", "train.py").exit_code == 0


def test_file_holding_only_a_marker_is_scanned(tree):
    (tree / "notes.py").write_text("# ms-migrate: MSM404 steps per epoch assumed from len(loader)\nx = 1\n")
    result = run("--check", "--format", "json", "notes.py")
    assert result.exit_code == 1
    diagnostic = json.loads(result.stdout)["files"][0]["diagnostics"][0]
    assert (diagnostic["code"], diagnostic["severity"], diagnostic["line"]) == ("MSM404", "warning", 1)


def test_info_findings_get_no_marker_and_markers_are_not_duplicated_by_the_rule(tree):
    (tree / "t.py").write_bytes(STEPPED + ERRORED.split(b"\n", 2)[2])
    run("t.py")
    text = (tree / "t.py").read_text()
    assert "MSM106" not in text  # info: reported, never marked
    assert text.count("# ms-migrate: MSM102 ") == 1
    again = run("--check", "--format", "json", "t.py")
    codes = [d["code"] for d in json.loads(again.stdout)["files"][0]["diagnostics"]]
    assert codes.count("MSM102") == 1  # the rule's finding stands for its marker


def test_no_annotate_and_check_write_no_marker(tree):
    (tree / "a.py").write_bytes(WARNED)
    run("--no-annotate", "a.py")
    assert markers(tree / "a.py") == []
    (tree / "b.py").write_bytes(WARNED)
    run("--diff", "b.py")
    run("--check", "b.py")
    assert (tree / "b.py").read_bytes() == WARNED
    (tree / "c.py").write_bytes(WARNED)
    run("--annotate", "c.py")  # still accepted
    assert len(markers(tree / "c.py")) == 1


def test_out_dir_copies_carry_markers(tree):
    (tree / "a.py").write_bytes(ERRORED)
    run("a.py", "--out-dir", "out")
    assert len(markers(tree / "out" / "a.py")) == 1
    assert (tree / "a.py").read_bytes() == ERRORED


def test_library_default_writes_no_marker():
    assert migrate_source(WARNED).output.count(b"# ms-migrate: MSM") == 0
    assert migrate_source(WARNED, options=Options(annotate=True)).output.count(b"# ms-migrate: MSM101") == 1


# ---- inline suppression ----------------------------------------------------------------------

@pytest.mark.parametrize("comment,where", [
    ("# ms-migrate: ignore[MSM101]", "above"),
    ("# ms-migrate: ignore", "above"),
    ("# ms-migrate: ignore[MSM101]", "trailing"),
    ("# ms-migrate: ignore[MSM1]", "above"),
    ("# ms-migrate: ignore[MSM101] -- checked: no bias correction is fine here", "above"),
])
def test_suppression_silences_and_writes_no_marker(tree, comment, where):
    lines = WARNED.decode().splitlines()
    if where == "above":
        lines.insert(2, comment)
    else:
        lines[2] += "  " + comment
    (tree / "t.py").write_text("\n".join(lines) + "\n")
    result = run("t.py")
    assert result.exit_code == 1  # changed
    assert "MSM101" not in result.output.replace(comment, "")
    assert markers(tree / "t.py") == []
    assert run("--check", "t.py").exit_code == 0


def test_suppression_covers_a_multi_line_statement_and_only_its_codes(tree):
    (tree / "t.py").write_text(
        "import torch.optim as optim\n\n# ms-migrate: ignore[MSM102]\noptimizer = optim.NAdam(\n"
        "    model.parameters(),\n)\nother = optim.NAdam(model.parameters())\n")
    result = run("--check", "-q", "t.py")
    assert result.output.count("MSM102") == 1 and "t.py:7:" in result.output


def test_unused_suppression_is_reported_on_request(tree):
    (tree / "t.py").write_text("x = 1  # ms-migrate: ignore[MSM101]\n# ms-migrate: ignore\ny = 2\n")
    assert run("--check", "t.py").exit_code == 0
    result = run("--check", "-q", "--report-unused", "t.py")
    assert result.exit_code == 1
    assert "t.py:1:8: warning: MSM004 " in result.output and "t.py:2:1: warning: MSM004 " in result.output


def test_suppressed_marker_is_not_reported(tree):
    (tree / "t.py").write_text("# ms-migrate: ignore[MSM404]\n# ms-migrate: MSM404 assumed\nx = 1\n")
    assert run("--check", "t.py").exit_code == 0


# ---- select / ignore on the command line -----------------------------------------------------

def test_select_and_ignore(tree):
    (tree / "a.py").write_bytes(WARNED)
    (tree / "b.py").write_bytes(ERRORED)
    only_errors = run("--check", "-q", "--select", "MSM102", "a.py", "b.py")
    assert "MSM102" in only_errors.output and "MSM101" not in only_errors.output
    ignored = run("--check", "-q", "--ignore", "MSM101,MSM102", "a.py", "b.py")
    assert "MSM10" not in ignored.output
    specific = run("--check", "-q", "--select", "MSM1", "--ignore", "MSM10", "--select", "MSM101", "a.py", "b.py")
    assert "MSM101" in specific.output and "MSM102" not in specific.output
    bad = run("--check", "--select", "MSM7", "a.py")
    assert bad.exit_code == 2 and "'MSM7' is not a finding code" in bad.output
    # an ignored warning writes no marker either
    run("--ignore", "MSM101", "a.py")
    assert markers(tree / "a.py") == []
