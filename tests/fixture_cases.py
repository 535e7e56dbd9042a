"""Golden fixtures: fixtures/<area>/<case>.in.py, <case>.out.py and <case>.findings.

`.findings` holds one `line:col CODE` per line (empty when none). A case without `.out.py`
must come out unchanged. An area may hold `options.json`: the Options fields its cases run with
(e.g. `{"target": "nn"}`); without it they run with the defaults. Regenerate after an intended change with
`python tests/fixture_cases.py --write` and read the diff before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def cases() -> List[Path]:
    return sorted(FIXTURES.glob("*/*.in.py"))


def case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name[: -len('.in.py')]}"


def out_path(case: Path) -> Path:
    return case.with_name(case.name.replace(".in.py", ".out.py"))


def findings_path(case: Path) -> Path:
    return case.with_name(case.name.replace(".in.py", ".findings"))


def options_for(case: Path, **extra):
    import json

    from ms_migrate.core.options import Options

    path = case.parent / "options.json"
    fields = json.loads(path.read_text()) if path.exists() else {}
    return Options(**{**fields, **extra})


def findings_text(findings) -> str:
    return "".join(f"{f.line}:{f.column} {f.code}\n" for f in findings)


def write_all() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "codemod"))
    from ms_migrate.core.engine import migrate_source

    for case in cases():
        source = case.read_bytes()
        result = migrate_source(source, str(case), options_for(case))
        assert result.error is None, (case, result.error)
        if result.output != source:
            out_path(case).write_bytes(result.output)
        elif out_path(case).exists():
            out_path(case).unlink()
        findings_path(case).write_text(findings_text(result.findings))
        print(f"{case_id(case)}: {'changed' if result.changed else 'unchanged'}, {len(result.findings)} findings")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_all()
    else:
        print(__doc__)
