"""ms-migrate against the parsing floor, measured in the same run on real code.

    python benchmarks/bench.py [--repeat 3] [--single 5] [--keep DIR]

(run it from the repository root with the venv that has the test extras; it puts this checkout's
codemod/ first on PYTHONPATH for the tool it times.)

The tree: the installed torch and MindSpore packages' own sources (thousands of real files,
torch/optim included) plus fixtures/, copied into a temp folder. Every round measures, one after
the other so that the shared machine's load hits them alike:

  floor   read every file the tool would look at, `ast.parse` those whose bytes contain `optim`,
          and `libcst.parse_module` (no metadata) those that construct a torch.optim class: what
          any LibCST tool for this job must at least pay, in one process;
  tool    `ms-migrate --check` on the tree, as a subprocess (start-up included), with the default
          jobs and with -j 1.

It prints each round's ratios tool/floor, their median and spread, and the files each side
parsed. Then a pre-commit-style run on one file against bare interpreter start-up. Acceptance
(issue 15): default -j at most 1.0x the floor, -j 1 at most 1.5x, the single-file run dominated
by start-up. No timing is asserted in tests.
"""

from __future__ import annotations

import argparse
import functools
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "codemod"))

import libcst  # noqa: E402

from ms_migrate.core.discovery import discover  # noqa: E402

print = functools.partial(print, flush=True)  # noqa: A001 - rounds show up as they finish
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "codemod"), os.environ.get("PYTHONPATH")])))


def installed(package: str) -> Optional[Path]:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def build(folder: Path) -> List[str]:
    """Copy the .py files of torch, mindspore and fixtures/ under `folder`; names what it used."""
    used = []
    sources = [(name, installed(name)) for name in ("torch", "mindspore")] + [("fixtures", ROOT / "fixtures")]
    for name, source in sources:
        if source is None or not source.is_dir():
            print(f"note: {name} is not installed; the tree goes without it", file=sys.stderr)
            continue
        for path in source.rglob("*.py"):
            target = folder / name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        used.append(name)
    return used


# ---- which files construct a torch.optim class (decided once, outside the timed floor) ------
def constructs_torch_optim(tree: ast.AST) -> bool:
    """A call whose callee resolves, through this module's imports, to a capitalised name under
    torch.optim (an optimizer or scheduler class). Scope-blind, as a floor should be."""
    aliases: Dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts = []
            func = node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if not isinstance(func, ast.Name) or func.id not in aliases:
                continue
            dotted = ".".join([aliases[func.id], *reversed(parts)])
            last = dotted.rsplit(".", 1)[-1]
            if dotted.startswith("torch.optim.") and last[:1].isupper():
                return True
    return False


def classify(files: List[Path]):
    with_optim, constructing = [], []
    for path in files:
        data = path.read_bytes()
        if b"optim" in data:
            with_optim.append(path)
            try:
                if constructs_torch_optim(ast.parse(data)):
                    constructing.append(path)
            except (SyntaxError, ValueError):
                pass
    return with_optim, constructing


def floor(files: List[Path], constructing: Set[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        if b"optim" in data:
            try:
                ast.parse(data)
            except (SyntaxError, ValueError):
                pass
        if path in constructing:
            libcst.parse_module(data)
    return time.perf_counter() - start


def tool(folder: Path, *extra: str):
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "ms_migrate", "--check", "--exit-zero", "--format", "json", *extra, str(folder)],
        capture_output=True, env=ENV, cwd=folder,
    )
    seconds = time.perf_counter() - start
    if run.returncode not in (0, 1):
        raise SystemExit(f"ms-migrate failed ({run.returncode}):\n{run.stderr.decode()[-2000:]}")
    summary = json.loads(run.stdout)["summary"]
    return seconds, summary


def command(*argv: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=False, capture_output=True, env=ENV)
    return time.perf_counter() - start


def spread(values: List[float]) -> str:
    return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of floor / tool / tool -j 1")
    parser.add_argument("--single", type=int, default=5, help="repeats of the single-file runs")
    parser.add_argument("--keep", type=Path, help="build the tree here and keep it (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "tree"
        if not folder.exists() or not any(folder.iterdir()):
            folder.mkdir(parents=True, exist_ok=True)
            used = build(folder)
        else:
            used = sorted(p.name for p in folder.iterdir())
        files = discover([folder])
        size = sum(p.stat().st_size for p in files)
        with_optim, constructing = classify(files)
        print(f"tree: {', '.join(used)}: {len(files)} files, {size / 1e6:.1f} MB; "
              f"{len(with_optim)} contain `optim`, {len(constructing)} construct a torch.optim class")
        rounds = []
        for i in range(args.repeat):
            base = floor(files, set(constructing))
            pooled, summary = tool(folder)
            single, summary1 = tool(folder, "-j", "1")
            rounds.append((base, pooled, single))
            print(f"round {i + 1}: floor {base:6.2f}s | --check {pooled:6.2f}s = {pooled / base:.2f}x | "
                  f"-j 1 {single:6.2f}s = {single / base:.2f}x")
        print(f"default -j / floor: {spread([p / b for b, p, _ in rounds])}   (acceptance <= 1.0)")
        print(f"-j 1 / floor:       {spread([s / b for b, _, s in rounds])}   (acceptance <= 1.5)")
        print(f"files parsed: floor ast {len(with_optim)} + libcst {len(constructing)}; "
              f"tool libcst {summary['files_parsed']} (-j 1: {summary1['files_parsed']}) of "
              f"{summary['files_scanned']} scanned; {summary['files_changed']} would change, "
              f"{summary['files_flagged']} flagged")

        # a pre-commit run: one training script with a one-line change, passed by name
        script = Path(tmp) / "train.py"
        script.write_bytes((ROOT / "fixtures" / "seed" / "train.in.py").read_bytes()
                           if (ROOT / "fixtures" / "seed" / "train.in.py").exists()
                           else (ROOT / "fixtures" / "optimizers" / "aliases.in.py").read_bytes())
        plain = Path(tmp) / "util.py"
        plain.write_bytes(b"import os\n\n\ndef here():\n    return os.getcwd()\n")
        py = sys.executable
        measures = {
            "python -c pass": (py, "-c", "pass"),
            "python -c 'import ms_migrate.cli.command'": (py, "-c", "import ms_migrate.cli.command"),
            "ms-migrate --check train.py (a training script)": (py, "-m", "ms_migrate", "--check", str(script)),
            "ms-migrate --check util.py (nothing to migrate)": (py, "-m", "ms_migrate", "--check", str(plain)),
        }
        times = {name: [] for name in measures}
        for _ in range(args.single):
            for name, argv in measures.items():
                times[name].append(command(*argv))
        bare = statistics.median(times["python -c pass"])
        print("single file (pre-commit style), median of", args.single)
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:50} {median * 1000:7.0f} ms  ({median / bare:.1f}x bare start-up)")


if __name__ == "__main__":
    main()
