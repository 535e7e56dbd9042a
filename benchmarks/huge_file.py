"""Time and peak memory of ms-migrate on one huge generated module.

    python benchmarks/huge_file.py [--mb 5] [--max-file-size BYTES] [--keep DIR]

Generates a module of about `--mb` megabytes that really trains something (it imports
torch.optim, builds optimizers and a scheduler, so no pre-scan can rule it out) and is otherwise
what generated code looks like: thousands of small functions and large literal tables. Runs
`ms-migrate --check` on it in a child process and reports the wall time and the child's peak RSS
(resource.getrusage(RUSAGE_CHILDREN)). By default it measures the huge module with the default
size limit (skipped with finding MSM010) and a module just below that limit (migrated), the
largest single file a default run analyses; `--max-file-size N` measures the huge module with
that limit instead. No test asserts these numbers; the README quotes the last measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "codemod"))

HEAD = '''"""Generated module: do not edit."""
import torch
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

model = torch.nn.Linear(4, 4)
# Optimization
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
'''

BLOCK = '''

def layer_{i}(x, scale={i}.0):
    """Generated layer {i}."""
    table = {{"id": {i}, "name": "layer_{i}", "weights": [{w}]}}
    if x > {i}:
        return x * scale + table["id"]
    return x - len(table["weights"])
'''

TRAIN = '''

def train_{i}(net):
    opt = optim.Adam(net.parameters(), lr=1e-3 * {i})
    return opt
'''


def generate(size: int) -> str:
    parts = [HEAD]
    total = len(HEAD)
    i = 0
    while total < size:
        weights = ", ".join(str((i * 7 + k) % 97 / 10) for k in range(24))
        block = BLOCK.format(i=i, w=weights)
        if i % 500 == 0:
            block += TRAIN.format(i=i)
        parts.append(block)
        total += len(block)
        i += 1
    return "".join(parts)


def measure(path: Path, extra: list) -> dict:
    """Run `ms-migrate --check` on `path` in a fresh child; wall time and the child's peak RSS."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "codemod") + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "ms_migrate", "--check", "--format", "json", "-j", "1",
               *extra, str(path)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the only child run so far
    try:
        summary = json.loads(proc.stdout)["summary"]
        codes = summary["findings"]
    except (ValueError, KeyError):
        summary, codes = {}, proc.stderr.decode(errors="replace")[-400:]
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "exit": proc.returncode, "parsed": summary.get("files_parsed"), "findings": codes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--max-file-size", type=int, default=None,
                        help="run with this limit only (0: none; beware, LibCST needs about "
                        "1 GB per MB of source)")
    parser.add_argument("--keep", type=Path, help="write the modules into this folder and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ms-migrate-huge-"))
    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    huge = folder / "generated.py"
    huge.write_text(generate(int(args.mb * 1024 * 1024)))
    if args.max_file_size is not None:
        runs.append((huge, ["--max-file-size", str(args.max_file_size)]))
    else:
        from ms_migrate.core.options import DEFAULT_MAX_FILE_SIZE

        # the huge module with the default limit, and the largest module the limit lets through
        below = folder / "below_limit.py"
        below.write_text(generate(DEFAULT_MAX_FILE_SIZE - 4096))
        runs += [(huge, []), (below, [])]
    for path, extra in runs:
        lines = path.read_bytes().count(b"\n")
        # each measurement in its own process, so RUSAGE_CHILDREN holds only that run
        code = (
            "import json, sys; sys.path.insert(0, %r); from huge_file import measure; "
            "from pathlib import Path; print(json.dumps(measure(Path(%r), %r)))"
            % (str(Path(__file__).parent), str(path), extra)
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        label = " ".join(extra) or "default limit"
        print(f"{path.name} ({path.stat().st_size / 1e6:.2f} MB, {lines} lines), {label}: "
              f"{out.stdout.strip() or out.stderr.strip()[-400:]}")
    if args.keep is None:
        for path, _ in runs:
            if path.exists():
                path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
