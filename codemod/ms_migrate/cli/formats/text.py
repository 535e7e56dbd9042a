"""`--format text`: one line per finding, for people.

    pkg/train.py:3:13: error: MSM102 torch.optim.NAdam was left as it is ...

The severity is coloured on a terminal (error red, warning yellow, info cyan) and plain in pipes;
paths and messages are printed verbatim (no markup, no emoji, no wrapping). A summary table
follows unless --quiet."""

from __future__ import annotations

import sys
from typing import Iterable, List, Optional, TextIO

from rich.console import Console
from rich.text import Text

from ms_migrate.core.findings import Finding

STYLES = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def console(file: TextIO, force_terminal: Optional[bool] = None) -> Console:
    """A console that prints text as given: no markup, emoji, highlighting or wrapping."""
    return Console(file=file, markup=False, emoji=False, highlight=False, soft_wrap=True,
                   force_terminal=force_terminal)


def plain(finding: Finding, path: str) -> str:
    return f"{path}:{finding.line}:{finding.column}: {finding.severity}: {finding.code} {finding.message}"


def styled(finding: Finding, path: str) -> Text:
    line = Text()
    line.append(f"{path}:{finding.line}:{finding.column}:", style="bold")
    line.append(" ")
    line.append(f"{finding.severity}:", style=STYLES.get(finding.severity, ""))
    line.append(" ")
    line.append(finding.code, style="bold")
    line.append(" " + finding.message)
    return line


def write_findings(out: Console, findings: Iterable[Finding], path: str) -> None:
    for finding in findings:
        out.print(styled(finding, path))


def write(run, out: Console, quiet: bool) -> None:
    from ms_migrate.cli import report

    for result in run.results:
        path = run.path(result)
        write_findings(out, result.findings, path)
        if run.check and result.changed:
            out.print(Text(f"{path}: would be migrated"))
    if not quiet:
        report.summary_table(run.summary, out, run.mode)


def lines(findings: Iterable[Finding], path: str) -> List[str]:
    return [plain(f, path) for f in findings]
