"""Output formats on real files: text (severity, colour only on a terminal), json (stdout is
only JSON, also with --diff), sarif (validated against the SARIF 2.1.0 schema in tests/data),
github (workflow commands)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms_migrate.cli.command import main

DATA = Path(__file__).parent / "data"
WARNED = b"import torch.optim as optim\n\noptimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)\n"
ERRORED = b"import torch.optim as optim\n\noptimizer = optim.LBFGS(model.parameters())\n"
INFO = b"import torch.optim as optim\n\noptimizer = optim.SGD(model.parameters(), lr=0.1)\nstate = optimizer.state_dict()\n"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "adam.py").write_bytes(WARNED)
    (tmp_path / "pkg" / "lbfgs.py").write_bytes(ERRORED)
    (tmp_path / "pkg" / "step 100.py").write_bytes(INFO)
    return tmp_path


def cli(*args, tty=False, cwd=None):
    """A real process (stdout is a pipe); with tty=True, under a pseudo-terminal."""
    command = [sys.executable, "-m", "ms_migrate", *args]
    if not tty:
        import os

        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    import pty
    import os

    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(master)
    return process.returncode, b"".join(chunks).decode()


def test_text_has_severity_and_is_plain_in_a_pipe(tree):
    result = cli("--check", "-q", "pkg")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(l.startswith("pkg/lbfgs.py:3:13: error: MSM102 ") for l in lines)
    assert any(l.startswith("pkg/adam.py:3:13: warning: MSM101 ") for l in lines)
    assert any(l.startswith("pkg/step 100.py:4:9: info: MSM106 ") for l in lines)
    assert "\x1b[" not in result.stdout


def test_text_is_coloured_on_a_terminal_and_paths_stay_verbatim(tree):
    (tree / "pkg" / "a:100:b.py").write_bytes(INFO)
    code, output = cli("--check", "-q", "pkg", tty=True)
    assert code == 1
    assert "\x1b[" in output
    assert "\x1b[1;31merror:" in output and "\x1b[1;33mwarning:" in output
    assert "a:100:b.py" in output and "💯" not in output


def test_json_with_diff_keeps_stdout_json(tree):
    result = cli("--diff", "--format", "json", "pkg")
    assert result.returncode == 1
    document = json.loads(result.stdout)  # nothing but the document on stdout
    files = {f["path"]: f for f in document["files"]}
    assert files["pkg/adam.py"]["diff"].startswith("--- a/pkg/adam.py\n+++ b/pkg/adam.py\n")
    assert "+optimizer = nn.Adam(" in files["pkg/adam.py"]["diff"]
    assert "diff" not in files["pkg/lbfgs.py"]  # unchanged
    assert (tree / "pkg" / "adam.py").read_bytes() == WARNED


@pytest.mark.parametrize("fmt", ["sarif", "github"])
def test_diff_is_refused_with_a_format_that_owns_stdout(tree, fmt):
    result = cli("--diff", "--format", fmt, "pkg")
    assert result.returncode == 2
    assert "--diff cannot be combined" in result.stderr and result.stdout == ""


def test_sarif_validates_against_the_schema(tree):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DATA / "sarif-schema-2.1.0-subset.json").read_text())
    result = cli("--check", "--format", "sarif", "pkg")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(log, schema, cls=jsonschema.Draft7Validator,
                        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["MSM102"]["level"] == "error"
    assert by_rule["MSM101"]["level"] == "warning"
    assert by_rule["MSM106"]["level"] == "note"
    assert rules[by_rule["MSM101"]["ruleIndex"]]["id"] == "MSM101"
    location = by_rule["MSM102"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pkg/lbfgs.py"
    assert location["region"] == {"startLine": 3, "startColumn": 13, "endLine": 3}
    assert by_rule["MSM106"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/step%20100.py"
    (tree / "elsewhere").mkdir()
    outside = cli("--check", "--format", "sarif", str(tree / "pkg" / "lbfgs.py"), cwd=str(tree / "elsewhere"))
    location = json.loads(outside.stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "file://" + str(tree / "pkg" / "lbfgs.py")}


def test_schema_rejects_a_broken_log():
    """The schema is not a rubber stamp: a result without a message, a level outside the enum
    and a line 0 are each rejected."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DATA / "sarif-schema-2.1.0-subset.json").read_text())
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"ruleId": "A", "level": "warning", "message": {"text": "m"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"},
                                              "region": {"startLine": 1}}}]}]}]}
    jsonschema.validate(good, schema)
    for broken in (
        {"ruleId": "A", "level": "warning"},
        {"ruleId": "A", "level": "info", "message": {"text": "m"}},
        {"ruleId": "A", "message": {"text": "m"}, "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "a.py"}, "region": {"startLine": 0}}}]},
    ):
        bad = json.loads(json.dumps(good))
        bad["runs"][0]["results"] = [broken]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_github_annotations(tree):
    (tree / "pkg" / "odd,name.py").write_bytes(ERRORED)
    result = cli("--check", "--format", "github", "pkg")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert all(l.startswith("::") for l in lines)
    assert any(l.startswith("::error file=pkg/lbfgs.py,line=3,col=13,endLine=3,title=ms-migrate MSM102::") for l in lines)
    assert any(l.startswith("::warning file=pkg/adam.py,line=3,col=13,") for l in lines)
    assert any(l.startswith("::notice file=pkg/step 100.py,line=4,col=9,") for l in lines)
    assert any(l.startswith("::error file=pkg/odd%2Cname.py,") for l in lines)
    assert any(l.startswith("::notice file=pkg/adam.py,title=ms-migrate::would be migrated") for l in lines)


def test_rules_piped_keeps_urls_whole():
    result = cli("rules")
    assert result.returncode == 0
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        assert len(fields) == 5, line
        assert fields[4] == "" or (fields[4].startswith("https://") and " " not in fields[4])
    urls = [l.split("\t")[4] for l in result.stdout.splitlines()]
    mindspore = [u for u in urls if "mindspore.cn" in u]
    assert mindspore and all("/r2.10.0/" in u for u in mindspore)
    msm002 = next(l for l in result.stdout.splitlines() if l.startswith("MSM002\t"))
    assert "mindspore" not in msm002.split("\t")[4]


def test_rules_on_a_terminal_prints_urls_whole():
    from ms_migrate.rules.registry import all_checks

    code, output = cli("rules", tty=True)
    assert code == 0
    lines = [line.strip() for line in output.splitlines()]
    for check, _ in all_checks().values():
        assert check.url in lines, check.code


def test_help_shows_the_default_commands_options():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in ("--diff", "--check", "--out-dir", "--no-annotate", "--format", "--config",
                   "--select", "--ignore", "--report-unused", "--exit-zero", "--exclude",
                   "--stdin-filename", "--jobs", "--quiet", "--version"):
        assert option in result.output, option
    for command in ("explain", "rules"):
        assert command in result.output


def test_explain():
    result = CliRunner().invoke(main, ["explain", "MSM101"])
    assert result.exit_code == 0
    for part in ("MSM101 optimizer-inexact (warning", "Before:", "After", "What to do:", "Docs: https://"):
        assert part in result.output
    assert CliRunner().invoke(main, ["explain", "MSM999"]).exit_code == 2
    assert "MSM100" in CliRunner().invoke(main, ["explain", "msm100"]).output
    assert "MSM004 unused-suppression" in CliRunner().invoke(main, ["explain", "MSM000"]).output


def test_every_finding_code_is_explained():
    from ms_migrate.cli.explain import EXPLANATIONS
    from ms_migrate.rules.registry import all_checks

    assert set(EXPLANATIONS) == set(all_checks())


def test_every_mindspore_docs_link_is_an_r2_10_0_page():
    import re

    root = Path(__file__).resolve().parent.parent
    texts = [p.read_text() for p in [*(root / "rules").glob("*.json"), *(root / "codemod").rglob("*.py")]]
    links = {u for t in texts for u in re.findall(r"https://www\.mindspore\.cn/docs/[^\s\"')]+", t)}
    assert links and all(u.startswith("https://www.mindspore.cn/docs/en/r2.10.0") for u in links), links
