"""Inline suppression, and which codes a run reports at all (select/ignore).

`# ms-migrate: ignore[MSM101]` (several codes: `ignore[MSM101, MSM103]`; every code: a bare
`# ms-migrate: ignore`) silences those findings on its own line, or, when the comment stands
alone on its line, on the next code line (comment lines in between are skipped) and in the
statement that starts there. With `report_unused`, a suppression that silenced nothing is
reported (MSM004).

Before::

    # ms-migrate: ignore[MSM101]
    optimizer = optim.AdamW(model.parameters())

After: the AdamW conversion is written, its MSM101 warning is neither reported nor marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ms_migrate.core.findings import WARNING, Check, Finding, make_finding

# `# ms-migrate: ignore[CODES]`, optionally followed by a reason (`-- no bias correction is fine`)
SUPPRESSION = re.compile(r"#\s*ms-migrate:\s*ignore(?:\[([^\]]*)\])?(?:\s|$)")
CODE = re.compile(r"^MSM\d{0,3}$")

UNUSED = Check(
    "MSM004", "unused-suppression",
    "A `# ms-migrate: ignore` comment that silences nothing (reported with --report-unused).",
    WARNING, "",  # url set by engine_checks (the project README)
)


@dataclass
class Suppression:
    line: int
    column: int
    codes: Optional[Tuple[str, ...]]  # None: every code
    lines: Tuple[int, ...]  # lines it covers
    used: Set[str] = field(default_factory=set)

    def matches(self, code: str) -> bool:
        return self.codes is None or any(code.startswith(c) for c in self.codes)


def scan(found_comments, lines: List[int]) -> List[Suppression]:
    from ms_migrate.core.markers import next_code_line

    found: List[Suppression] = []
    for line, column, comment, alone in found_comments:
        match = SUPPRESSION.match(comment)
        if match is None:
            continue
        codes: Optional[Tuple[str, ...]] = None
        if match.group(1) is not None:
            codes = tuple(c.strip().upper() for c in match.group(1).split(",") if c.strip())
        # alone on its line: down to the next code line (comment lines between included)
        covered = tuple(range(line, next_code_line(lines, line) + 1)) if alone else (line,)
        found.append(Suppression(line, column + 1, codes, covered))
    return found


def apply(
    findings: Iterable[Tuple[Finding, Optional[int]]], suppressions: Sequence[Suppression]
) -> List[Finding]:
    """The findings no suppression silences. Each finding comes with the first line of its
    statement (or None); a suppression covering either line silences it."""
    if not suppressions:
        return [f for f, _ in findings]
    by_line: Dict[int, List[Suppression]] = {}
    for s in suppressions:
        for covered in s.lines:
            by_line.setdefault(covered, []).append(s)
    kept = []
    for finding, statement_line in findings:
        silenced = False
        for line in {finding.line, statement_line}:
            for s in by_line.get(line, ()) if line is not None else ():
                if s.matches(finding.code):
                    s.used.add(finding.code)
                    silenced = True
        if not silenced:
            kept.append(finding)
    return kept


def unused(suppressions: Sequence[Suppression], url: str) -> List[Finding]:
    found = []
    for s in suppressions:
        if s.codes is None:
            if not s.used:
                found.append(make_finding(UNUSED, "`# ms-migrate: ignore` silences no finding; "
                                          "delete it", s.line, s.column, url=url))
            continue
        idle = [c for c in s.codes if not any(u.startswith(c) for u in s.used)]
        if idle:
            found.append(make_finding(
                UNUSED, f"`# ms-migrate: ignore[{', '.join(s.codes)}]`: {', '.join(idle)} silences "
                "no finding here; delete it", s.line, s.column, url=url))
    return found


def enabled(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """As ruff: the most specific matching prefix wins; ignore wins a tie; no select: all."""
    chosen = max((len(p) for p in select if code.startswith(p)), default=-1) if select else 0
    ignored = max((len(p) for p in ignore if code.startswith(p)), default=-1)
    return chosen >= 0 and chosen > ignored
