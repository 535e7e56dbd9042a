"""The pre-commit hook, for real: a temporary repository whose config points at this one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH = "import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A clone of this repository's committed HEAD plus the working tree (so the hook under
    test is the code under test), as pre-commit needs a git repository with a revision. One per
    module: the tests share pre-commit's cache (`cache` below), so the hook installs once."""
    pytest.importorskip("pre_commit")
    source = tmp_path_factory.mktemp("hook") / "ms-migrate"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".bench"))
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "hook")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=True).stdout.strip()
    return source, rev


def precommit(repo, home, *args):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


def test_hook_rewrites_then_passes(tmp_path, hook_repo):
    source, rev = hook_repo
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n  - id: ms-migrate\n"
    )
    (project / "README.txt").write_text("no python here\n")
    git(project, "add", "README.txt", ".pre-commit-config.yaml")
    home = source.parent / "cache"

    only_text = precommit(project, home, "run")
    assert only_text.returncode == 0, only_text.stdout + only_text.stderr
    assert "ms-migrate" in only_text.stdout and "no files to check" in only_text.stdout.lower()

    (project / "train.py").write_text(TORCH)
    git(project, "add", "train.py")
    first = precommit(project, home, "run", "--all-files")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    migrated = (project / "train.py").read_text()
    assert "nn.SGD(model.trainable_params(), learning_rate=0.1)" in migrated
    git(project, "add", "train.py")
    second = precommit(project, home, "run", "--all-files")
    assert second.returncode == 0, second.stdout + second.stderr


def commit(project, home, message):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    return subprocess.run(["git", "commit", "-m", message], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)


def test_warning_fails_the_hook_until_its_marker_is_removed(tmp_path, hook_repo):
    """Three commits through the installed git hook: the first migrates and writes the marker
    (fails), the second still fails on the open marker, the third (marker deleted) passes."""
    source, rev = hook_repo
    home = source.parent / "cache"
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n  - id: ms-migrate\n"
    )
    git(project, "add", ".pre-commit-config.yaml")
    install = precommit(project, home, "install")
    assert install.returncode == 0, install.stdout + install.stderr
    train = project / "train.py"
    train.write_text("import torch.optim as optim\n\noptimizer = optim.AdamW(model.parameters(), lr=1e-3)\n")
    git(project, "add", "train.py")

    first = commit(project, home, "first")
    assert first.returncode != 0, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout + first.stderr
    marker = [l for l in train.read_text().splitlines() if l.startswith("# ms-migrate: MSM101 ")]
    assert len(marker) == 1

    git(project, "add", "train.py")
    second = commit(project, home, "second")
    assert second.returncode != 0, second.stdout + second.stderr
    assert "warning: MSM101 open marker" in second.stdout + second.stderr
    assert train.read_text().count("# ms-migrate: MSM101 ") == 1  # not duplicated

    train.write_text("".join(l for l in train.read_text().splitlines(keepends=True) if l.strip() != marker[0]))
    git(project, "add", "train.py")
    third = commit(project, home, "third")
    assert third.returncode == 0, third.stdout + third.stderr
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True).stdout
    assert log.split() == ["third"]
