"""Markers that last: `# ms-migrate: CODE message` comments written above flagged statements.

An in-place run writes a marker above every statement with a warning or error finding. Every
later run reads the markers still in the file and reports each one as an open finding with the
severity of its code, so `--check` and the pre-commit hook keep failing until a person resolves
the finding and deletes the marker. A marker is not reported twice: when a rule still flags the
statement below it with the same code, the rule's finding stands for both.

Before (after a first in-place run)::

    # ms-migrate: MSM101 torch.optim.AdamW -> nn.AdamWeightDecay: ...
    optimizer = nn.AdamWeightDecay(params, learning_rate=1e-3)

Every later run reports ``train.py:1:1: warning: MSM101 open marker: ...`` until the comment
is deleted.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Iterable, List, Optional, Set, Tuple

from ms_migrate.core.findings import ERROR, WARNING, Check, Finding, make_finding

PREFIX = "ms-migrate:"
TRIGGER = PREFIX.encode()
# Exactly what the engine writes: `# ms-migrate: CODE message` (the pre-scan keys on PREFIX).
MARKER = re.compile(r"#\s*ms-migrate:\s*(MSM\d{3})\b[ \t]*(.*)$")
SEVERITIES_MARKED = (ERROR, WARNING)


@dataclass(frozen=True)
class Marker:
    code: str
    message: str
    line: int  # the comment's line
    column: int  # 1-based column of '#'
    target: int  # the first code line below the comment (its own line for a trailing comment)


def marker_text(finding: Finding) -> Tuple[str, str]:
    """The comment text (without '# ') for a finding, and the key that dedupes it."""
    key = f"{PREFIX} {finding.code} "
    return key + " ".join(finding.message.split()), key


def comments(text: str) -> List[Tuple[int, int, str, bool]]:
    """Every comment of a source text: (line, 0-based column, text, alone on its line)."""
    found: List[Tuple[int, int, str, bool]] = []
    last_code_line = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = token.type
            if kind == tokenize.COMMENT:
                alone = token.start[0] != last_code_line
                found.append((token.start[0], token.start[1], token.string, alone))
            elif kind not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
                last_code_line = token.end[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def code_lines(text: str) -> List[int]:
    """Sorted line numbers that hold code (not only comments or blanks)."""
    lines: Set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT, tokenize.ENDMARKER):
                lines.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return sorted(lines)


def next_code_line(lines: List[int], after: int) -> int:
    import bisect

    i = bisect.bisect_right(lines, after)
    return lines[i] if i < len(lines) else after


def scan(text: str, found_comments=None, lines: Optional[List[int]] = None) -> List[Marker]:
    found_comments = comments(text) if found_comments is None else found_comments
    markers: List[Marker] = []
    for line, column, comment, alone in found_comments:
        match = MARKER.match(comment)
        if match is None:
            continue
        if lines is None:
            lines = code_lines(text)
        target = next_code_line(lines, line) if alone else line
        markers.append(Marker(match.group(1), match.group(2).strip(), line, column + 1, target))
    return markers


def open_findings(
    markers: Iterable[Marker], covered: Set[Tuple[str, int]], checks: dict
) -> List[Finding]:
    """An open finding for every marker no rule finding stands for. `covered` holds
    (code, first line of the flagged statement) of this run's rule findings."""
    findings = []
    for marker in markers:
        if (marker.code, marker.target) in covered:
            continue
        entry = checks.get(marker.code)
        check: Check = entry[0] if entry else Check(marker.code, "unknown", "", WARNING, "")
        message = (f"open marker: {marker.message or check.summary} (resolve it, then delete this "
                   "`# ms-migrate:` comment)")
        findings.append(make_finding(check, message, marker.line, marker.column))
    return findings
