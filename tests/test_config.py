"""Configuration in pyproject.toml [tool.ms-migrate]: found like ruff finds its own, --config
overrides, and bad keys or values are a clear error with exit 2."""

import json

import pytest
from click.testing import CliRunner

from ms_migrate.cli.command import _Settings, main
from ms_migrate.core import config

WARNED = b"import torch.optim as optim\n\noptimizer = optim.AdamW(model.parameters(), lr=1e-3)\n"
ERRORED = b"import torch.optim as optim\n\noptimizer = optim.NAdam(model.parameters())\n"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def codes(result):
    return sorted({d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]})


def paths(result):
    return sorted(f["path"] for f in json.loads(result.stdout)["files"])


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ms-migrate]\nignore = ["MSM101"]\n')
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "a.py").write_bytes(WARNED)
    (tmp_path / "src" / "pkg" / "b.py").write_bytes(ERRORED)
    monkeypatch.chdir(tmp_path / "src")
    return tmp_path


def test_nearest_pyproject_upward_from_the_files(project):
    assert codes(run("--check", "--format", "json", "pkg")) == ["MSM102"]
    # a pyproject.toml without the table is passed over, as ruff does
    (project / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert codes(run("--check", "--format", "json", "pkg")) == ["MSM102"]
    # a nearer one with the table wins
    (project / "src" / "pkg" / "pyproject.toml").write_text('[tool.ms-migrate]\nignore = ["MSM102"]\n')
    assert codes(run("--check", "--format", "json", "pkg")) == ["MSM101"]


def test_config_option_overrides(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("cfg") / "ms-migrate.toml"
    other.write_text('select = ["MSM101"]\n')
    assert codes(run("--check", "--format", "json", "--config", str(other), "pkg")) == ["MSM101"]
    missing = run("--check", "--config", str(other.with_name("nope.toml")), "pkg")
    assert missing.exit_code == 2


@pytest.mark.parametrize("body,message", [
    ('selct = ["MSM1"]', "unknown key 'selct'"),
    ('select = "MSM101"', "select must be a list of strings"),
    ('ignore = ["MSM7"]', "'MSM7' is not a finding code"),
    ('ignore = ["E501"]', "'E501' is not a finding code"),
    ('target = "mint"', "target must be one of auto, nn, experimental"),
    ('max-file-size = -3', "max-file-size must be a positive number of bytes"),
    ('max-file-size = "1MB"', "max-file-size must be a positive number of bytes"),
    ('per-file-ignores = ["x"]', "per-file-ignores must be a table"),
    ('select = [', "not valid TOML"),
])
def test_bad_configuration_is_exit_2_with_a_clear_message(project, body, message):
    (project / "pyproject.toml").write_text(f"[tool.ms-migrate]\n{body}\n")
    result = run("--check", "pkg")
    assert result.exit_code == 2
    assert message in result.output and "pyproject.toml" in result.output
    assert "Traceback" not in result.output
    assert (project / "src" / "pkg" / "a.py").read_bytes() == WARNED


def test_exclude_extend_exclude_and_per_file_ignores(project):
    (project / "pyproject.toml").write_text(
        '[tool.ms-migrate]\nextend-exclude = ["src/pkg/old_*.py"]\n'
        'per-file-ignores = {"src/pkg/b.py" = ["MSM102"], "a.py" = ["MSM1"]}\n')
    (project / "src" / "pkg" / "old_x.py").write_bytes(ERRORED)
    (project / "src" / "build").mkdir()
    (project / "src" / "build" / "gen.py").write_bytes(ERRORED)
    result = run("--check", "--format", "json", ".")
    assert paths(result) == ["pkg/a.py"]  # changed; b.py silenced, old_x excluded, build/ skipped
    assert codes(result) == []  # both silenced per file
    # `exclude` replaces the default skip list: build/ is scanned now
    (project / "pyproject.toml").write_text('[tool.ms-migrate]\nexclude = ["pkg"]\n')
    assert paths(run("--check", "--format", "json", ".")) == ["build/gen.py"]


def test_target_and_size_reach_the_options(project):
    (project / "pyproject.toml").write_text('[tool.ms-migrate]\ntarget = "nn"\nmax-file-size = 2000000\n')
    conf = config.load(config.find(project / "src"))
    options = _Settings(None, (), (), True, False).options(conf)
    assert (options.target, options.max_file_size, options.annotate) == ("nn", 2000000, True)
    assert _Settings(None, (), (), False, False).options(config.Config()).target == "auto"


def test_stdin_uses_the_config_above_the_current_folder(project):
    result = CliRunner().invoke(main, ["-", "--check", "--format", "json", "--stdin-filename", "pkg/x.py"],
                                input=WARNED)
    assert codes(result) == []
