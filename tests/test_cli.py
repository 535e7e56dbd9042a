"""The command line: every flag and exit code, through click's CliRunner and a real process."""

import json
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ms_migrate import __version__
from ms_migrate.cli.command import main
from ms_migrate.core.options import Options

TORCH = b"import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"
MIGRATED = b"from mindspore import nn\n\noptimizer = nn.SGD(model.trainable_params(), learning_rate=0.1)\n"
FLAGGED = b"import torch.optim as optim\n\noptimizer = optim.NAdam(model.parameters())\n"
CLEAN = b"import os\n\nprint(os.getcwd())\n"
BROKEN = b"import torch.optim as optim\n\ndef f(:\n    pass\n"


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_bytes(TORCH)
    (tmp_path / "pkg" / "clean.py").write_bytes(CLEAN)
    return tmp_path


def test_write_in_place_then_nothing_left(tree):
    result = run(["pkg"])
    assert result.exit_code == 1  # files changed
    assert (tree / "pkg" / "train.py").read_bytes() == MIGRATED
    assert (tree / "pkg" / "clean.py").read_bytes() == CLEAN
    again = run(["pkg"])
    assert again.exit_code == 0
    assert (tree / "pkg" / "train.py").read_bytes() == MIGRATED


def test_untouched_file_is_not_rewritten(tree):
    clean = tree / "pkg" / "clean.py"
    before = clean.stat().st_mtime_ns
    os.utime(clean, ns=(before - 10**9, before - 10**9))
    stamp = clean.stat().st_mtime_ns
    run(["pkg"])
    assert clean.stat().st_mtime_ns == stamp


def test_check_writes_nothing_and_exits_1(tree):
    result = run(["--check", "pkg"])
    assert result.exit_code == 1
    assert "pkg/train.py: would be migrated" in result.output
    assert (tree / "pkg" / "train.py").read_bytes() == TORCH


def test_check_on_clean_tree_exits_0(tree):
    (tree / "pkg" / "train.py").write_bytes(MIGRATED)
    assert run(["--check", "pkg"]).exit_code == 0


def test_exit_zero(tree):
    assert run(["--check", "--exit-zero", "pkg"]).exit_code == 0


def test_diff_is_git_applyable(tree):
    subprocess.run(["git", "init", "-q"], check=True)
    result = subprocess.run(
        [sys.executable, "-m", "ms_migrate", "--diff", "pkg"], capture_output=True, check=False
    )
    assert result.returncode == 1
    assert result.stdout.startswith(b"--- a/pkg/train.py\n+++ b/pkg/train.py\n")
    assert b"\x1b[" not in result.stdout  # plain when stdout is not a terminal
    assert (tree / "pkg" / "train.py").read_bytes() == TORCH
    subprocess.run(["git", "apply", "-"], input=result.stdout, check=True)
    assert (tree / "pkg" / "train.py").read_bytes() == MIGRATED


def test_findings_are_reported_with_positions(tree):
    (tree / "pkg" / "nadam.py").write_bytes(FLAGGED)
    result = run(["--check", "pkg"])
    assert "pkg/nadam.py:3:13: error: MSM102 torch.optim.NAdam was left as it is" in result.output
    assert result.exit_code == 1


def test_findings_alone_keep_exit_1_after_write(tree):
    (tree / "pkg" / "train.py").write_bytes(FLAGGED)
    assert run(["pkg"]).exit_code == 1
    assert run(["pkg"]).exit_code == 1  # nothing changes, but an error finding remains


def test_info_findings_do_not_fail(tree):
    (tree / "pkg" / "train.py").write_bytes(MIGRATED + b"optimizer.step()\n")
    assert run(["--check", "pkg"]).exit_code == 0


def test_json_format(tree):
    (tree / "pkg" / "nadam.py").write_bytes(FLAGGED)
    result = run(["--check", "--format", "json", "pkg"])
    document = json.loads(result.stdout)
    assert document["version"] == 1
    files = {f["path"]: f for f in document["files"]}
    assert set(files) == {"pkg/train.py", "pkg/nadam.py"}
    assert files["pkg/train.py"]["changed"] is True
    assert files["pkg/train.py"]["error"] is None
    diagnostic = files["pkg/nadam.py"]["diagnostics"][0]
    assert diagnostic == {
        "code": "MSM102", "severity": "error", "line": 3, "column": 13, "end_line": 3,
        "message": diagnostic["message"], "url": diagnostic["url"],
    }
    assert diagnostic["url"].startswith("https://www.mindspore.cn/")
    summary = document["summary"]
    assert summary["files_scanned"] == 3
    assert summary["files_changed"] == 1
    assert summary["conversions"] == {"MSM100": 1, "MSM200": 1}
    assert summary["findings"] == {"MSM102": 1}


def test_syntax_error_among_good_files(tree):
    (tree / "pkg" / "broken.py").write_bytes(BROKEN)
    result = run(["--format", "json", "pkg"])
    assert result.exit_code == 2
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    broken = files["pkg/broken.py"]
    assert broken["error"].startswith("syntax error")
    assert broken["diagnostics"][0]["code"] == "MSM001"
    assert broken["diagnostics"][0]["line"] == 3
    assert (tree / "pkg" / "broken.py").read_bytes() == BROKEN
    assert (tree / "pkg" / "train.py").read_bytes() == MIGRATED  # the run went on


def test_missing_path_is_exit_2_but_others_run(tree):
    result = run(["nope.py", "pkg"])
    assert result.exit_code == 2
    assert "nope.py" in result.output
    assert (tree / "pkg" / "train.py").read_bytes() == MIGRATED


def test_out_dir_keeps_tree_and_sources(tree):
    result = run(["pkg", "--out-dir", "out"])
    assert result.exit_code == 1
    assert (tree / "pkg" / "train.py").read_bytes() == TORCH
    assert (tree / "out" / "pkg" / "train.py").read_bytes() == MIGRATED
    assert (tree / "out" / "pkg" / "clean.py").read_bytes() == CLEAN
    again = run(["pkg", "--out-dir", "out"])
    assert again.exit_code == 1  # the sources still would change
    assert (tree / "out" / "pkg" / "train.py").read_bytes() == MIGRATED


def test_out_dir_inside_scanned_tree_is_not_rescanned(tree):
    run([".", "--out-dir", "out"])
    result = run([".", "--out-dir", "out", "--format", "json"])
    paths = {f["path"] for f in json.loads(result.stdout)["files"]}
    assert not any(p.startswith("out/") for p in paths)
    assert not (tree / "out" / "out").exists()


def test_out_dir_conflicts_with_check():
    assert run(["--check", "--out-dir", "x", "."]).exit_code == 2


def test_stdin_to_stdout():
    result = run(["-"], input=TORCH)
    assert result.stdout_bytes == MIGRATED
    assert result.exit_code == 1


def separate_streams_runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def test_stdin_reports_findings_on_stderr():
    result = separate_streams_runner().invoke(main, ["-", "--stdin-filename", "t.py", "--no-annotate"],
                                              input=FLAGGED)
    assert result.stdout_bytes == FLAGGED
    assert "t.py:3:13: error: MSM102" in result.stderr


def test_stdin_diff():
    result = run(["-", "--diff", "--stdin-filename", "t.py"], input=TORCH)
    assert result.stdout.startswith("--- a/t.py\n+++ b/t.py\n")


def test_annotate_writes_comments_once(tree):
    (tree / "pkg" / "train.py").write_bytes(FLAGGED)
    run(["--annotate", "pkg"])
    once = (tree / "pkg" / "train.py").read_text()
    assert "# ms-migrate: MSM102 torch.optim.NAdam was left as it is" in once
    run(["--annotate", "pkg"])
    assert (tree / "pkg" / "train.py").read_text() == once


def test_exclude_and_default_skips(tree):
    for folder in (".git", "venv", "__pycache__", "build", "dist", "skipme"):
        (tree / folder).mkdir(exist_ok=True)
        (tree / folder / "t.py").write_bytes(TORCH)
    (tree / "env").mkdir()
    (tree / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (tree / "env" / "t.py").write_bytes(TORCH)
    result = run([".", "--check", "--exclude", "skipme", "--format", "json"])
    paths = {f["path"] for f in json.loads(result.stdout)["files"]}
    assert paths == {"pkg/train.py"}


def test_exclude_glob_on_files(tree):
    result = run(["pkg", "--check", "--exclude", "*/train.py"])
    assert result.exit_code == 0


def test_crlf_bom_and_latin1_survive(tree):
    crlf = TORCH.replace(b"\n", b"\r\n")
    bom = b"\xef\xbb\xbf" + TORCH
    latin1 = b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + TORCH
    (tree / "pkg" / "crlf.py").write_bytes(crlf)
    (tree / "pkg" / "bom.py").write_bytes(bom)
    (tree / "pkg" / "latin1.py").write_bytes(latin1)
    assert run(["pkg"]).exit_code == 1
    assert (tree / "pkg" / "crlf.py").read_bytes() == MIGRATED.replace(b"\n", b"\r\n")
    assert (tree / "pkg" / "bom.py").read_bytes() == b"\xef\xbb\xbf" + MIGRATED
    assert (tree / "pkg" / "latin1.py").read_bytes() == b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + MIGRATED


def test_read_only_file_is_an_error_and_untouched(tree):
    target = tree / "pkg" / "train.py"
    target.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        result = run(["pkg"])
        assert result.exit_code == 2
        assert "MSM003" in result.output
        assert target.read_bytes() == TORCH
    finally:
        target.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_file_mode_is_kept(tree):
    target = tree / "pkg" / "train.py"
    target.chmod(0o754)
    run(["pkg"])
    assert stat.S_IMODE(target.stat().st_mode) == 0o754
    assert not [p for p in (tree / "pkg").iterdir() if p.name.endswith(".ms-migrate")]


def test_internal_error_in_a_rule_is_a_finding(tree, monkeypatch):
    from ms_migrate.rules.optimizers.constructor import OptimizerConstructor

    def boom(self, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(OptimizerConstructor, "run", boom)
    (tree / "pkg" / "other.py").write_bytes(CLEAN + b"# optim\n")
    result = run(["pkg", "--format", "json"])
    assert result.exit_code == 2
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert files["pkg/train.py"]["diagnostics"][0]["code"] == "MSM002"
    assert "boom" in files["pkg/train.py"]["error"]
    assert (tree / "pkg" / "train.py").read_bytes() == TORCH


def test_rules_listing():
    result = run(["rules", "--format", "json"])
    listing = json.loads(result.stdout)
    codes = [r["code"] for r in listing]
    assert codes == sorted(codes)
    assert {"MSM000", "MSM100", "MSM300", "MSM900"} <= set(codes)
    all_checks = [c for r in listing for c in r["checks"]]
    assert len({c["code"] for c in all_checks}) == len(all_checks)
    for rule in listing:
        for check in rule["checks"]:
            assert check["code"].startswith("MSM") and len(check["code"]) == 6
            assert check["code"][3] == rule["code"][3]  # grouped by area
            assert check["url"].startswith("https://")
    text = run(["rules"])
    assert text.exit_code == 0 and "MSM101" in text.output


def test_version():
    result = run(["--version"])
    assert __version__ in result.output


def test_no_path_is_a_usage_error():
    assert run([]).exit_code == 2


def test_parallel_run_matches_serial(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i in range(40):
        (tmp_path / f"t{i}.py").write_bytes(TORCH if i % 2 else FLAGGED)
    serial = run([".", "--check", "--format", "json", "-j", "1"])
    parallel = run([".", "--check", "--format", "json", "-j", "2"])
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)


def test_real_process_exit_codes(tmp_path):
    (tmp_path / "t.py").write_bytes(TORCH)
    check = subprocess.run([sys.executable, "-m", "ms_migrate", "--check", str(tmp_path)], capture_output=True)
    assert check.returncode == 1
    write = subprocess.run([sys.executable, "-m", "ms_migrate", str(tmp_path)], capture_output=True)
    assert write.returncode == 1
    again = subprocess.run([sys.executable, "-m", "ms_migrate", "--check", str(tmp_path)], capture_output=True)
    assert again.returncode == 0, again.stdout
    usage = subprocess.run([sys.executable, "-m", "ms_migrate", "--bogus", str(tmp_path)], capture_output=True)
    assert usage.returncode == 2


def test_quiet_drops_the_summary_table(tree):
    (tree / "pkg" / "nadam.py").write_bytes(FLAGGED)
    loud = run(["--check", "pkg"])
    quiet = run(["--check", "-q", "pkg"])
    assert "files scanned" in loud.output and "files scanned" not in quiet.output
    assert "MSM102" in quiet.output


def test_diff_is_coloured_on_a_terminal():
    import io

    from ms_migrate.cli import report

    out = io.StringIO()
    report.write_diff("--- a/t.py\n+++ b/t.py\n@@ -1 +1 @@\n-old\n+new\n", out, color=True)
    coloured = out.getvalue()
    assert "\x1b[" in coloured and "+new" in coloured and "-old" in coloured
    plain = io.StringIO()
    report.write_diff("-old\n+new\n", plain, color=False)
    assert plain.getvalue() == "-old\n+new\n"


def test_progress_bar_on_a_terminal_stderr(tmp_path, monkeypatch):
    """Long runs show a rich progress bar on stderr when it is a terminal, never otherwise."""
    import io

    from ms_migrate.cli import command as cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    files = []
    for i in range(60):
        path = tmp_path / f"t{i}.py"
        path.write_bytes(TORCH)
        files.append(path)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    results = cli._migrate_all(files, lambda f: None, Options(), jobs=1)
    assert len(results) == 60
    assert "migrating" in terminal.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    cli._migrate_all(files, lambda f: None, Options(), jobs=1)
    assert pipe.getvalue() == ""
