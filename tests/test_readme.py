"""The README's examples run: `<!-- example: file NAME -->` blocks are written, `<!-- example:
show NAME -->` blocks are compared with the file, and `<!-- example: run -->` console blocks run
each `$ ms-migrate ...` command (in one folder, in order) and compare its stdout and stderr with
the lines below it. A line ending in `...` matches any line starting with it; a line `...`
matches any number of lines; `# exit N` after a command is its exit code."""

import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- example: (file|show|run)\s*(\S*) -->\n```[a-z]*\n(.*?)```", re.S)


def examples():
    return [(kind, name, body) for kind, name, body in BLOCK.findall(README.read_text())]


def matches(expected, actual):
    @lru_cache(maxsize=None)
    def match(i, j):
        if i == len(expected):
            return j == len(actual)
        line = expected[i]
        if line == "...":
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        if j == len(actual):
            return False
        if line.endswith("...") and actual[j].startswith(line[:-3]):
            return match(i + 1, j + 1)
        return actual[j] == line and match(i + 1, j + 1)

    return match(0, 0)


def commands(body):
    current = None
    for line in body.splitlines():
        if line.startswith("$ "):
            if current:
                yield current
            command, _, code = line[2:].partition("  # exit ")
            current = (command, int(code or 0), [])
        else:
            current[2].append(line)
    if current:
        yield current


def compare(expected, actual):
    if matches(tuple(expected), tuple(actual)):
        return True
    # a `...` in the middle of a line matches any text there
    patterns = [re.compile(re.escape(e).replace(re.escape("..."), ".*") + r"\Z") if e != "..." else None
                for e in expected]
    return len(patterns) == len(actual) and all(p is None or p.match(a) for p, a in zip(patterns, actual))


def test_readme_examples(tmp_path):
    found = examples()
    assert sum(kind == "run" for kind, _, _ in found) >= 4
    for kind, name, body in found:
        if kind == "file":
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(body)
        elif kind == "show":
            actual = (tmp_path / name).read_text().splitlines()
            assert compare(body.splitlines(), actual), (name, actual)
        else:
            for command, code, expected in commands(body):
                argv = shlex.split(command)
                assert argv[0] == "ms-migrate"
                done = subprocess.run([sys.executable, "-m", "ms_migrate", *argv[1:]], cwd=tmp_path,
                                      capture_output=True, text=True)
                actual = (done.stdout + done.stderr).splitlines()
                assert done.returncode == code, (command, done.stdout, done.stderr)
                assert compare(expected, actual), (command, actual)
