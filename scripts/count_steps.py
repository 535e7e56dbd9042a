#!/usr/bin/env python
"""Count what the training-step rule (MSM5xx) does on a corpus of training scripts.

    PYTHONPATH=codemod python scripts/count_steps.py [PATH ...] [--markdown] [--list]

Default corpus: `fixtures/` (every area) and `tests/data/step_shapes/` (one self-written script per
stepping shape that `real-world-patterns.md` counts). Extra PATHs (files or folders, e.g. real
scripts saved outside the repository) are added.

Counted, per file and in total:
- converted: MSM500 conversions (a torch step became forward_fn + value_and_grad + optimizer(grads));
- flagged: MSM501 (a step left as torch code) and MSM502 (a gradient call outside any step, an
  optimizer handed to a wrapper, Lightning's configure_optimizers), grouped by the blocker the
  message names (BLOCKERS below, first match wins);
- silent: a top-level function or class whose output still calls `.backward(` with no MSM5xx
  finding in it and no finding on an optimizer it builds (MSM102/MSM109, left in torch). This
  must stay 0: every torch step of a file is converted or reported.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "codemod"))

from ms_migrate.core.engine import migrate_source  # noqa: E402

# (label, regex on the message); the first match names the blocker
BLOCKERS: List[Tuple[str, str]] = [
    ("autocast region", r"autocast"),
    ("GradScaler enabled only at run time", r"enabled=.* is only known at run time"),
    ("GradScaler settings torch rejects (no static mode)", r"raises AssertionError for growth_factor"),
    ("GradScaler settings not expressible", r"GradScaler"),
    ("manual loss scaling (.grad divided by hand)", r"manual static loss scaling"),
    ("framework backward (accelerate / Fabric / DeepSpeed)", r"backward \(it scales, synchronizes"),
    ("Lightning configure_optimizers", r"Lightning steps the optimizer"),
    ("optimizer handed to a wrapper (NativeScaler, trainer, prepare)", r"receives the optimizer"),
    ("backward in a micro-step loop", r"sits in a nested block"),
    ("backward under the step's condition, zero_grad outside", r"runs under `if .*the zero_grad"),
    ("several backward calls / losses", r"backward calls add to the gradients"),
    ("retain_graph / create_graph / inputs", r"has no counterpart in\s+mindspore.value_and_grad"),
    ("closure", r"closure"),
    ("torch.autograd.grad", r"autograd"),
    (".grad read or written", r"\.grad\b"),
    ("clipping another set / norm", r"clip"),
    ("no zero_grad", r"no .*zero_grad\(\)"),
    ("no backward", r"no loss\.backward\(\)"),
    ("value computed before the step that the loss differentiates (DCGAN, WGAN n_critic)", r"is computed before"),
    ("loss statements not found in the block (step in a helper)", r"cannot find the statements that compute"),
    ("statement between loss and backward", r"between the loss statements|in place between the loss and backward"),
    ("gradient hook", r"registers a hook"),
    ("loss computed under a condition", r"cannot be moved into a forward_fn"),
    ("step or backward inside a `with` (accelerator.accumulate, amp.scale_loss, a timer)", r"sits inside (a )?`with"),
    ("step inside another block", r"sits inside a"),
    ("zero_grad before the step under its condition", r"runs before .* under the same condition"),
    ("gradient call outside a step", r"not part of a (converted )?training step"),
    ("other", r""),
]


def blocker(message: str) -> str:
    for label, pattern in BLOCKERS:
        if re.search(pattern, message):
            return label
    return "other"


def _spans(tree: ast.Module) -> List[Tuple[str, int, int]]:
    return [(n.name, n.lineno, n.end_lineno) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _backward_lines(source: str) -> Dict[str, int]:
    """Per top-level def/class (by name): how many `.backward(` calls it holds."""
    out: Dict[str, int] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out
    for name, start, end in _spans(tree):
        node = next(n for n in tree.body if getattr(n, "name", None) == name and n.lineno == start)
        out[name] = sum(1 for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                        and n.func.attr.endswith("backward"))
    module_level = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    out["<module>"] = sum(1 for s in module_level for n in ast.walk(s) if isinstance(n, ast.Call)
                          and isinstance(n.func, ast.Attribute) and n.func.attr.endswith("backward"))
    return out


def count_file(path: Path):
    source = path.read_text(encoding="utf-8", errors="replace")
    result = migrate_source(source, path=str(path))
    converted = result.conversions.get("MSM500", 0) if result.conversions else 0
    flagged = [(f.code, f.line, blocker(f.message), f.message) for f in result.findings
               if f.code in ("MSM501", "MSM502")]
    silent: List[str] = []
    if result.error is None and ".backward(" in source:
        try:
            spans = _spans(ast.parse(source))
        except SyntaxError:
            spans = []
        after = _backward_lines(result.code)
        reported = [f for f in result.findings if f.code.startswith("MSM5") or f.code in ("MSM102", "MSM109")]
        for name, start, end in spans + [("<module>", 1, 10 ** 9)]:
            if not after.get(name):
                continue
            if name == "<module>":
                covered = any(not any(s <= f.line <= e for _, s, e in spans) for f in reported)
            else:
                covered = any(start <= f.line <= end for f in reported)
            if not covered:
                silent.append(f"{path}:{start} {name}")
    return converted, flagged, silent, result.error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--no-default", action="store_true", help="only the PATHs given")
    parser.add_argument("--list", action="store_true", help="list every flagged step with its message")
    args = parser.parse_args(argv)
    roots = [] if args.no_default else [ROOT / "fixtures", ROOT / "tests" / "data" / "step_shapes"]
    files: List[Path] = []
    for root in roots + args.paths:
        files += sorted(root.rglob("*.py")) if root.is_dir() else [root]
    files = [f for f in files if not f.name.endswith(".out.py")]
    total_converted = 0
    by_blocker: Counter = Counter()
    by_code: Counter = Counter()
    silent_all: List[str] = []
    listing = []
    with_steps = 0
    for path in files:
        converted, flagged, silent, error = count_file(path)
        if error:
            print(f"{path}: {error}", file=sys.stderr)
        total_converted += converted
        with_steps += bool(converted or flagged)
        for code, line, label, message in flagged:
            by_blocker[(code, label)] += 1
            by_code[code] += 1
            listing.append(f"{path}:{line} {code} [{label}] {message}")
        silent_all += silent
    print(f"files: {len(files)} ({with_steps} with a converted or flagged step)")
    print()
    print("| outcome | blocker | count |")
    print("| --- | --- | --- |")
    print(f"| converted (MSM500) | - | {total_converted} |")
    for (code, label), n in sorted(by_blocker.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
        print(f"| flagged ({code}) | {label} | {n} |")
    print(f"| **total** | converted {total_converted}, MSM501 {by_code['MSM501']}, MSM502 {by_code['MSM502']} | "
          f"{total_converted + sum(by_code.values())} |")
    print()
    print(f"silent (backward left with no finding): {len(silent_all)}")
    for s in silent_all:
        print("  " + s)
    if args.list:
        print()
        print("\n".join(listing))
    return 1 if silent_all else 0


if __name__ == "__main__":
    sys.exit(main())
