"""Throughput of ms-migrate as ratios against baselines measured in the same run.

    python benchmarks/bench.py [--files 400] [--repeat 3]

Builds a synthetic repository in a temp folder: most files never mention torch.optim (as in a
real repository), the rest are training scripts built from the fixtures. Reports wall time for

  - baseline `ast`: stdlib ast.parse of every file (the floor a Python tool can reach),
  - baseline `libcst`: libcst.parse_module of every file (what a naive LibCST tool pays),
  - ms-migrate --check, single process and with the default worker pool,

and the ratios ms-migrate / libcst-parse. A ratio below 1 means the prefilter pays for the
scope analysis; a rising ratio between commits is a regression. No timing is asserted in tests.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst

ROOT = Path(__file__).resolve().parent.parent
PLAIN = '''"""A module with nothing to migrate."""
import os
import json


def load(path):
    with open(path) as fh:
        return json.load(fh)


class Config:
    def __init__(self, **kwargs):
        self.values = dict(kwargs)

    def get(self, key, default=None):
        return self.values.get(key, default)
''' * 6


def build(folder: Path, files: int) -> None:
    torch_sources = [p.read_text() for p in sorted((ROOT / "fixtures").glob("*/*.in.py"))]
    for i in range(files):
        sub = folder / f"pkg{i % 10}"
        sub.mkdir(exist_ok=True)
        if i % 5 == 0:  # one file in five trains something
            text = torch_sources[i % len(torch_sources)] + "\n" + PLAIN
        else:
            text = PLAIN
        (sub / f"m{i}.py").write_text(text)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder, args.files)
        paths = sorted(folder.rglob("*.py"))
        lines = sum(p.read_text().count("\n") for p in paths)

        def ast_all():
            for p in paths:
                ast.parse(p.read_bytes())

        def libcst_all():
            for p in paths:
                libcst.parse_module(p.read_bytes())

        def tool(jobs: str):
            return lambda: subprocess.run(
                [sys.executable, "-m", "ms_migrate", "--check", "-q", "--exit-zero", "-j", jobs, str(folder)],
                check=True, capture_output=True,
            )

        def startup():
            subprocess.run([sys.executable, "-m", "ms_migrate", "--version"], check=True, capture_output=True)

        results = {
            "ast.parse (baseline)": timed(ast_all, args.repeat),
            "libcst.parse_module (baseline)": timed(libcst_all, args.repeat),
            "ms-migrate start-up only": timed(startup, args.repeat),
            "ms-migrate --check -j1": timed(tool("1"), args.repeat),
            "ms-migrate --check (pool)": timed(tool("0"), args.repeat),
        }
    base = results["libcst.parse_module (baseline)"]
    print(f"{len(paths)} files, {lines} lines, one in five with torch.optim code")
    print(f"{'measurement':34} {'seconds':>8} {'lines/s':>9} {'x libcst parse':>15}")
    for name, seconds in results.items():
        print(f"{name:34} {seconds:8.3f} {lines / seconds:9.0f} {seconds / base:15.2f}")


if __name__ == "__main__":
    main()
