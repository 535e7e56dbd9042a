#!/usr/bin/env python
"""Count what `--target auto` changes against `--target nn` on a corpus of training scripts.

    PYTHONPATH=codemod python scripts/count_findings.py [PATH ...] [--no-default] [--files] [--list]

Default corpus: `fixtures/` (every area; the `.out.py` files are skipped). Extra PATHs (files or
folders, e.g. real scripts saved outside the repository) are added. Every file is migrated twice,
with `--target nn` and with `--target auto` (no other option changes).

Counted, per code (MSM101 optimizer inexact, MSM102 no counterpart, MSM301 group key nn rejects,
MSM401 scheduler not converted) and in total:
- nn / auto: the findings with that code under each target;
- exact under auto: nn findings (file, line, code; counted with multiplicity) gone under auto with no warning or
  error of any code left on that line, the line's construct having gone to an exact form
  (mindspore.experimental.optim, an exact list); a finding that is gone but leaves another
  warning or error on its line (e.g. MSM101 -> MSM109, the optimizer kept in torch) counts as
  "moved", not as exact;
- new under auto: auto findings with that code beyond what nn had on that line.
So nn - exact - moved + new = auto, per code.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "codemod"))

from ms_migrate.core.engine import migrate_source  # noqa: E402
from ms_migrate.core.options import Options  # noqa: E402

CODES = ("MSM101", "MSM102", "MSM301", "MSM401")
SERIOUS = ("warning", "error")


def run(path: Path, target: str):
    source = path.read_bytes()
    result = migrate_source(source, str(path), Options(target=target))
    return result


def count_file(path: Path) -> Dict[str, Counter]:
    """Per code: nn, auto, exact, moved, new; plus the listing of what changed."""
    nn, auto = run(path, "nn"), run(path, "auto")
    out: Dict[str, Counter] = defaultdict(Counter)
    listing: List[str] = []
    for result, target in ((nn, "nn"), (auto, "auto")):
        if result.error:
            print(f"{path} ({target}): {result.error}", file=sys.stderr)
    nn_keys = Counter((f.line, f.code) for f in nn.findings if f.code in CODES)
    auto_keys = Counter((f.line, f.code) for f in auto.findings if f.code in CODES)
    auto_serious_lines = {f.line for f in auto.findings if f.severity in SERIOUS}
    for (line, code), n in sorted(nn_keys.items()):
        out[code]["nn"] += n
        gone = n - auto_keys.get((line, code), 0)
        if gone <= 0:
            continue
        if line in auto_serious_lines:
            out[code]["moved"] += gone
            left = sorted({g.code for g in auto.findings if g.line == line and g.severity in SERIOUS})
            listing.append(f"{path}:{line} {code} x{gone} moved -> {', '.join(left)}")
        else:
            out[code]["exact"] += gone
            listing.append(f"{path}:{line} {code} x{gone} exact under auto")
    for (line, code), n in sorted(auto_keys.items()):
        out[code]["auto"] += n
        new = n - nn_keys.get((line, code), 0)
        if new > 0:
            out[code]["new"] += new
            listing.append(f"{path}:{line} {code} x{new} new under auto")
    out["_listing"] = listing  # type: ignore[assignment]
    return out


def table(rows: Dict[str, Counter]) -> List[str]:
    lines = ["| code | --target nn | --target auto | exact under auto | moved to another finding | new under auto |",
             "| --- | --- | --- | --- | --- | --- |"]
    total: Counter = Counter()
    for code in CODES:
        c = rows.get(code, Counter())
        total.update(c)
        lines.append(f"| {code} | {c['nn']} | {c['auto']} | {c['exact']} | {c['moved']} | {c['new']} |")
    lines.append(f"| **total** | {total['nn']} | {total['auto']} | {total['exact']} | {total['moved']} | {total['new']} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--no-default", action="store_true", help="only the PATHs given")
    parser.add_argument("--files", action="store_true", help="one table per file too")
    parser.add_argument("--list", action="store_true", help="list every finding that changed")
    args = parser.parse_args(argv)
    roots = [] if args.no_default else [ROOT / "fixtures"]
    files: List[Path] = []
    for root in roots + args.paths:
        files += sorted(root.rglob("*.py")) if root.is_dir() else [root]
    files = [f for f in files if not f.name.endswith(".out.py")]
    totals: Dict[str, Counter] = defaultdict(Counter)
    listing: List[str] = []
    for path in files:
        counts = count_file(path)
        listing += counts.pop("_listing")  # type: ignore[arg-type]
        for code, c in counts.items():
            totals[code].update(c)
        if args.files and any(sum(c.values()) for c in counts.values()):
            print(f"### {path}")
            print("\n".join(table(counts)))
            print()
    print(f"files: {len(files)}")
    print()
    print("\n".join(table(totals)))
    if args.list:
        print()
        print("\n".join(listing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
