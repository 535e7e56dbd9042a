"""Files are never harmed: each promise tried as a user would, on real files in temp dirs
(comments, LibCST's lossy round trip, diffs in the file's own encoding, verbatim locations,
symlinks, --out-dir collisions, special files, signals, the size limit)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ms_migrate.cli.command import main
from ms_migrate.core.engine import migrate_source

TORCH = b"import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"
MIGRATED = b"from mindspore import nn\n\noptimizer = nn.SGD(model.trainable_params(), learning_rate=0.1)\n"
BROKEN = b"import torch.optim as optim\n\ndef f(:\n    pass\n"


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


def cli(*args, cwd=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "ms_migrate", *args], cwd=cwd,
                          capture_output=True, **kwargs)


# ---- 2. comments move with the statements they sat on -------------------------------------

COMMENTED = b'''import torch
# Optimization
from torch import optim

model = torch.nn.Linear(2, 2)
# params without conv
no_conv_params = []  # filled below
for name, p in model.named_parameters():
    # TODO: handle conv
    if "conv" not in name:
        no_conv_params.append(p)
optimizer = optim.SGD(no_conv_params, lr=0.1)
'''


def test_comments_of_removed_and_folded_statements_survive(tmp_path):
    path = tmp_path / "train.py"
    path.write_bytes(COMMENTED)
    assert run([str(path)]).exit_code == 1
    out = path.read_text()
    assert "from torch import optim" not in out and "named_parameters" not in out
    for comment in ("# Optimization", "# params without conv", "# filled below", "# TODO: handle conv"):
        assert out.count(comment) == 1, (comment, out)
    lines = out.splitlines()
    # each comment sits right above the statement that replaced its own
    assert lines[lines.index("# Optimization") + 1].startswith("from mindspore import")
    folded = next(i for i, line in enumerate(lines) if line.startswith("no_conv_params = list(filter("))
    assert lines[folded - 3:folded] == ["# params without conv", "# filled below", "# TODO: handle conv"]
    assert migrate_source(out.encode()).output == out.encode()  # and a second run keeps them


def test_comment_of_a_removed_last_statement_stays_in_its_block():
    source = b'''import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

optimizer = optim.SGD(model.parameters(), lr=0.1)
scheduler = StepLR(optimizer, step_size=30)
for epoch in range(90):
    for x in loader:
        optimizer.step()
    # step the schedule
    scheduler.step()  # once per epoch
'''
    out = migrate_source(source).output.decode()
    assert "scheduler.step()" not in out
    assert "    # step the schedule\n    # once per epoch\n" in out


# ---- 3. LibCST's lossy round trip never reaches the file ----------------------------------

LOSSY_CLEAN = [
    b"from scipy import optimize\n\n   \n",  # whitespace-only lines at the end
    b"import os\n\x0cx = 1  # optim\n",  # a form feed at a line start
    b"import os\rx = 1  # optim\r",  # CR-only line endings
    b"x = 1  # optim\n  \n  ",  # trailing whitespace without a newline
]


@pytest.mark.parametrize("source", LOSSY_CLEAN)
def test_files_with_nothing_to_migrate_are_byte_identical(tmp_path, source):
    import libcst

    assert libcst.parse_module(source).bytes != source  # LibCST alone would lose bytes here
    path = tmp_path / "m.py"
    path.write_bytes(source)
    result = run(["--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["files_changed"] == 0
    assert path.read_bytes() == source


@pytest.mark.parametrize("tail", [b"\n   \n\n  \n", b"\x0c\n# end\n", b"\n\x0c\ndef f():\n    return 1\n"])
def test_lost_bytes_outside_edits_survive_a_migration(tmp_path, tail):
    path = tmp_path / "train.py"
    path.write_bytes(TORCH + tail)
    assert run([str(path)]).exit_code == 1
    assert path.read_bytes() == MIGRATED + tail


def test_cr_only_file_keeps_its_final_cr(tmp_path):
    path = tmp_path / "train.py"
    path.write_bytes(TORCH.replace(b"\n", b"\r"))
    assert run([str(path)]).exit_code == 1
    assert path.read_bytes() == MIGRATED.replace(b"\n", b"\r")


def test_form_feed_between_edited_statements_survives():
    source = b"import torch.optim as optim\n\x0c\nopt = optim.SGD(m.parameters(), lr=0.1)\n\x0c\nx = 1\n"
    out = migrate_source(source).output
    assert out.count(b"\x0c") == 2 and b"nn.SGD(" in out


# ---- 5. --diff applies for every encoding --------------------------------------------------

ENCODED = {
    "bom.py": b"\xef\xbb\xbf" + TORCH,
    "latin1.py": b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + TORCH + b"print('\xe9t\xe9')\n",
    "crlf.py": TORCH.replace(b"\n", b"\r\n"),
    "cr.py": TORCH.replace(b"\n", b"\r"),
}


@pytest.mark.parametrize("tool", ["git", "patch"])
def test_diff_applies_for_bom_latin1_crlf_and_cr_files(tmp_path, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool}")
    for name, data in ENCODED.items():
        (tmp_path / name).write_bytes(data)
    expected = {}
    for name, data in ENCODED.items():
        expected[name] = migrate_source(data, name).output
        assert expected[name] != data
    diff = cli("--diff", *ENCODED, cwd=tmp_path)
    assert diff.returncode == 1, diff.stderr
    if tool == "git":
        subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
        subprocess.run(["git", "apply", "-"], input=diff.stdout, cwd=tmp_path, check=True)
    else:
        subprocess.run(["patch", "-p1", "-s"], input=diff.stdout, cwd=tmp_path, check=True)
    for name in ENCODED:
        assert (tmp_path / name).read_bytes() == expected[name], name
    assert (tmp_path / "bom.py").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"caf\xe9" in (tmp_path / "latin1.py").read_bytes()


# ---- 8. locations are printed verbatim -----------------------------------------------------

def test_locations_are_never_emoji_or_markup(tmp_path):
    folder = tmp_path / "[bold]vae"
    folder.mkdir()
    padding = b"x = 1\n" * 98
    (folder / "main.py").write_bytes(b"import torch.optim as optim\n" + padding + b"opt = optim.NAdam(m.parameters())\n")
    expected = "[bold]vae/main.py:100:7: error: MSM102"
    piped = cli("--check", "[bold]vae", cwd=tmp_path)
    assert expected in piped.stdout.decode(), piped.stdout.decode()
    env = dict(os.environ, FORCE_COLOR="1", TTY_COMPATIBLE="1", COLUMNS="200")
    terminal = cli("--check", "[bold]vae", cwd=tmp_path, env=env)
    plain = terminal.stdout.decode()
    assert expected in plain or expected.replace(":", "\x1b") not in plain
    assert "\U0001f4af" not in plain and "\U0001f4af" not in piped.stdout.decode()
    assert expected in _strip_ansi(plain)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# ---- 6. special files and signals ----------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_with_a_finding_and_never_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "train.py").write_bytes(TORCH)
    for args in (["."], ["pipe.py"]):  # found in a folder, and named explicitly
        result = cli("--check", "--format", "json", *args, cwd=tmp_path, timeout=60)
        files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
        assert [d["code"] for d in files["pipe.py"]["diagnostics"]] == ["MSM011"]
        assert result.returncode == 1
    assert (tmp_path / "train.py").read_bytes() == TORCH


@pytest.mark.parametrize("signum, code", [(2, 130), (15, 143)])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_signal_leaves_every_file_original_or_complete(tmp_path, signum, code, jobs):
    import time

    count = 400
    for i in range(count):
        (tmp_path / f"t{i:03}.py").write_bytes(TORCH + b"# file %d\n" % i)
    proc = subprocess.Popen([sys.executable, "-m", "ms_migrate", "-q", "-j", jobs, "."], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    first = tmp_path / "t000.py"
    while first.read_bytes().startswith(b"import torch") and time.monotonic() < deadline:
        time.sleep(0.005)  # wait until the run is writing
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    migrated = 0
    for i in range(count):
        data = (tmp_path / f"t{i:03}.py").read_bytes()
        assert data in (TORCH + b"# file %d\n" % i, MIGRATED + b"# file %d\n" % i), i
        migrated += data.startswith(b"from mindspore")
    assert 0 < migrated < count  # the signal really came in the middle of the run
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"t{i:03}.py" for i in range(count)]


# ---- 7. the size limit ---------------------------------------------------------------------

def test_file_above_the_size_limit_is_skipped_with_a_finding(tmp_path):
    big = TORCH + b"x = 1\n" * 200
    (tmp_path / "big.py").write_bytes(big)
    (tmp_path / "small.py").write_bytes(TORCH)
    plain = b"import os\n" + b"y = 2\n" * 400  # large too, but nothing in it can need migration
    (tmp_path / "plain.py").write_bytes(plain)
    result = run(["--max-file-size", "1000", "--format", "json", str(tmp_path)])
    files = {os.path.basename(f["path"]): f for f in json.loads(result.stdout)["files"]}
    assert set(files) == {"big.py", "small.py"}
    assert [d["code"] for d in files["big.py"]["diagnostics"]] == ["MSM010"]
    assert files["big.py"]["diagnostics"][0]["severity"] == "warning"
    assert f"{len(big)} bytes" in files["big.py"]["diagnostics"][0]["message"]
    assert (tmp_path / "big.py").read_bytes() == big
    assert (tmp_path / "small.py").read_bytes() == MIGRATED
    assert result.exit_code == 1
    assert run(["--max-file-size", "0", str(tmp_path / "big.py")]).exit_code == 1
    assert (tmp_path / "big.py").read_bytes().startswith(b"from mindspore import nn")


def test_size_limit_has_a_default_and_rejects_negatives():
    from ms_migrate.core.options import DEFAULT, DEFAULT_MAX_FILE_SIZE

    assert DEFAULT.max_file_size == DEFAULT_MAX_FILE_SIZE > 100_000
    assert run(["--max-file-size", "-1", "."]).exit_code == 2
    huge = TORCH + b"x = 1\n" * (DEFAULT_MAX_FILE_SIZE // 6 + 1)
    result = migrate_source(huge)
    assert [f.code for f in result.findings] == ["MSM010"] and not result.parsed


# ---- 1. symbolic links stay links ----------------------------------------------------------

@pytest.fixture
def linked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proj").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "proj" / "real.py").write_bytes(TORCH)
    os.symlink("real.py", tmp_path / "proj" / "link.py")
    (tmp_path / "outside" / "o.py").write_bytes(TORCH)
    os.symlink("../outside/o.py", tmp_path / "proj" / "out_link.py")
    return tmp_path


def test_folder_run_migrates_the_real_file_once_and_keeps_links(linked):
    result = run(["--format", "json", "proj"])
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert files["proj/real.py"]["changed"] and "proj/link.py" not in files
    assert [d["code"] for d in files["proj/out_link.py"]["diagnostics"]] == ["MSM013"]
    assert os.readlink("proj/link.py") == "real.py"
    assert os.readlink("proj/out_link.py") == "../outside/o.py"
    assert (linked / "proj" / "real.py").read_bytes() == MIGRATED
    assert (linked / "outside" / "o.py").read_bytes() == TORCH  # not written through


def test_a_link_named_explicitly_is_reported_as_given_and_written_through(linked):
    check = run(["--check", "proj/link.py"])
    assert "proj/link.py: would be migrated" in check.output and "real.py" not in check.output
    assert run(["proj/link.py", "proj/out_link.py"]).exit_code == 1
    assert os.readlink("proj/link.py") == "real.py" and os.readlink("proj/out_link.py") == "../outside/o.py"
    assert (linked / "proj" / "real.py").read_bytes() == MIGRATED
    assert (linked / "outside" / "o.py").read_bytes() == MIGRATED


def test_out_dir_with_links_keeps_links_and_never_tracebacks(linked):
    result = run(["proj", "--out-dir", "out"])
    assert result.exit_code == 1, result.output
    assert os.readlink("out/proj/link.py") == "real.py"
    assert (linked / "out" / "proj" / "real.py").read_bytes() == MIGRATED
    assert not os.path.lexists("out/proj/out_link.py")  # outside and not named: skipped, said so
    assert "MSM013" in result.output
    named = run(["proj/out_link.py", "--out-dir", "out2"])
    assert named.exit_code == 1, named.output
    assert (linked / "out2" / "proj" / "out_link.py").read_bytes() == MIGRATED
    assert os.readlink("proj/out_link.py") == "../outside/o.py"
    assert (linked / "outside" / "o.py").read_bytes() == TORCH


# ---- 4. --out-dir: no silent overwrite, failed files copied --------------------------------

def test_out_dir_maps_roots_outside_the_cwd_by_their_names(tmp_path, monkeypatch):
    for name in ("A", "B"):
        (tmp_path / "x" / name).mkdir(parents=True)
        (tmp_path / "x" / name / "train.py").write_bytes(TORCH + f"# {name}\n".encode())
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert run(["../x/A", "../x/B", "--out-dir", "O"]).exit_code == 1
    assert (tmp_path / "work" / "O" / "A" / "train.py").read_bytes() == MIGRATED + b"# A\n"
    assert (tmp_path / "work" / "O" / "B" / "train.py").read_bytes() == MIGRATED + b"# B\n"


def test_out_dir_collision_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    for parent in ("x", "y"):
        (tmp_path / parent / "A").mkdir(parents=True)
        (tmp_path / parent / "A" / "train.py").write_bytes(TORCH)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = run(["../x/A", "../y/A", "--out-dir", "O"])
    assert result.exit_code == 2
    assert "same path" in result.output and "O/A/train.py" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "work" / "O").exists()


def test_out_dir_copies_failed_files_unchanged_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_bytes(TORCH)
    (tmp_path / "pkg" / "broken.py").write_bytes(BROKEN)
    result = run(["pkg", "--out-dir", "out", "--format", "json"])
    assert result.exit_code == 2
    assert (tmp_path / "out" / "pkg" / "broken.py").read_bytes() == BROKEN
    assert (tmp_path / "out" / "pkg" / "train.py").read_bytes() == MIGRATED
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    message = files["pkg/broken.py"]["diagnostics"][0]["message"]
    assert "copied unchanged to out/pkg/broken.py" in message


def test_size_limit_from_the_configuration_and_the_command_line_over_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.ms-migrate]\nmax-file-size = 1000\n")
    big = TORCH + b"x = 1\n" * 200
    (tmp_path / "big.py").write_bytes(big)
    result = run(["--check", "big.py"])
    assert "MSM010" in result.output
    assert run(["--max-file-size", "0", "big.py"]).exit_code == 1
    assert (tmp_path / "big.py").read_bytes().startswith(b"from mindspore import nn")
