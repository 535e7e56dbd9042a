"""How a run is shown: findings as text lines or JSON, unified diffs, the summary table."""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, TextIO, Union

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ms_migrate import __version__
from ms_migrate.core.engine import FileResult
from ms_migrate.core.findings import ERROR, WARNING
from ms_migrate.rules.registry import all_checks

@dataclass
class Summary:
    scanned: int = 0
    parsed: int = 0
    changed: int = 0
    flagged: int = 0
    errors: int = 0
    conversions: Counter = field(default_factory=Counter)  # rule code -> count
    findings: Counter = field(default_factory=Counter)  # finding code -> count
    severities: Counter = field(default_factory=Counter)

    def add(self, result: FileResult) -> None:
        self.scanned += 1
        self.parsed += result.parsed
        self.changed += result.changed
        self.errors += result.error is not None
        self.flagged += bool(result.findings)
        self.conversions.update(result.conversions)
        for finding in result.findings:
            self.findings[finding.code] += 1
            self.severities[finding.severity] += 1

    @property
    def blocking(self) -> int:
        """Findings that keep the exit code at 1: errors and warnings."""
        return self.severities[ERROR] + self.severities[WARNING]

    def to_json(self) -> dict:
        return {
            "files_scanned": self.scanned,
            "files_parsed": self.parsed,
            "files_changed": self.changed,
            "files_flagged": self.flagged,
            "files_with_errors": self.errors,
            "conversions": dict(sorted(self.conversions.items())),
            "findings": dict(sorted(self.findings.items())),
            "severities": {s: self.severities[s] for s in ("error", "warning", "info")},
        }


def finding_lines(result: FileResult, display_path: str) -> List[str]:
    from ms_migrate.cli.formats import text

    return text.lines(result.findings, display_path)


def console(file: Optional[TextIO] = None, **options) -> Console:
    """A rich console that prints text verbatim: no emoji codes (`:100:` in `main.py:100:7`
    stays as it is), no markup (`[...]` in paths), no highlighting. Every report uses it."""
    return Console(file=file, emoji=False, markup=False, highlight=False, soft_wrap=True, **options)


def unified_diff(result: FileResult, display_path: str) -> bytes:
    """A unified diff of the file's own bytes (its encoding, BOM and line endings), so that
    `git apply` and `patch` take it whatever the file's encoding."""
    before, after = _lines(result.source), _lines(result.output)
    name = os.fsencode(display_path)
    lines = []
    for line in difflib.diff_bytes(difflib.unified_diff, before, after, b"a/" + name, b"b/" + name):
        if not line.endswith(b"\n"):
            line += b"\n\\ No newline at end of file\n"
        lines.append(line)
    return b"".join(lines)


def _lines(data: bytes) -> List[bytes]:
    """Lines as git and patch see them: ended by \\n only (a CR-only file is one line)."""
    lines = data.split(b"\n")
    ends = [line + b"\n" for line in lines[:-1]]
    return ends + [lines[-1]] if lines[-1] else ends


def write_diff(diff: Union[bytes, str], out: TextIO, color: bool) -> None:
    """Write a diff: its bytes as they are on a pipe, coloured lines on a terminal."""
    if not color:
        buffer = getattr(out, "buffer", None)
        if isinstance(diff, bytes) and buffer is not None:
            out.flush()
            buffer.write(diff)
            buffer.flush()
        else:
            out.write(diff if isinstance(diff, str) else diff.decode("utf-8", "replace"))
            out.flush()
        return
    text = diff if isinstance(diff, str) else diff.decode("utf-8", "replace")
    terminal = console(out, force_terminal=True)
    for line in text.splitlines():
        style = None
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        terminal.print(Text(line, style=style or ""))


def summary_table(summary: Summary, console: Console, mode: str) -> None:
    files = Table(title=f"ms-migrate {__version__} ({mode})", show_header=True)
    for column in ("scanned", "parsed", "changed", "flagged", "errors"):
        files.add_column(f"files {column}", justify="right")
    files.add_row(*(str(n) for n in (summary.scanned, summary.parsed, summary.changed, summary.flagged, summary.errors)))
    console.print(files)
    if not (summary.conversions or summary.findings):
        return
    checks = all_checks()
    per_rule: Dict[str, Counter] = {}
    for code, count in summary.findings.items():
        rule_code = checks[code][1] if code in checks else "MSM000"
        per_rule.setdefault(rule_code, Counter())[code] += count
    for rule_code in summary.conversions:
        per_rule.setdefault(rule_code, Counter())
    table = Table(show_header=True)
    table.add_column("rule")
    table.add_column("conversions", justify="right")
    table.add_column("findings")
    for rule_code in sorted(per_rule):
        found = ", ".join(f"{code}: {n}" for code, n in sorted(per_rule[rule_code].items()))
        table.add_row(rule_code, str(summary.conversions.get(rule_code, 0)), found or "-")
    console.print(table)


def rules_table(console: Console, as_json: bool, out: Optional[TextIO] = None) -> None:
    from ms_migrate.rules.registry import RULES
    from ms_migrate.core.engine_checks import ENGINE_CHECKS

    rows = [("MSM000", "engine", "Parsing, reading and internal errors.", "", ENGINE_CHECKS)]
    rows += sorted((r.code, r.name, r.summary, r.url, r.checks) for r in RULES)
    if as_json:
        data = [
            {"code": code, "name": name, "summary": summary, "url": url,
             "checks": [{"code": c.code, "name": c.name, "severity": c.severity, "summary": c.summary, "url": c.url} for c in checks]}
            for code, name, summary, url, checks in rows
        ]
        (out or console.file).write(json.dumps(data, indent=2) + "\n")
        return
    if not console.is_terminal:  # piped: one tab-separated line per code, URLs never wrapped
        write = (out or console.file).write
        for code, name, summary, url, checks in rows:
            write("\t".join((code, name, "", summary, url)) + "\n")
            for c in checks:
                write("\t".join((c.code, c.name, c.severity, c.summary, c.url)) + "\n")
        return
    # a terminal: one entry per code, the URL on its own line, printed whole (soft-wrapped by
    # the terminal, never broken by us)
    styles = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
    for code, name, summary, url, checks in rows:
        console.print(Text.assemble((f"{code} {name}", "bold underline")), soft_wrap=True)
        console.print(Text(f"    {summary}"), soft_wrap=True)
        if url:
            console.print(Text(f"    {url}"), soft_wrap=True)
        for c in checks:
            console.print(Text.assemble(("  " + c.code, "bold"), f" {c.name} ", (c.severity, styles.get(c.severity, ""))),
                          soft_wrap=True)
            console.print(Text(f"      {c.summary}"), soft_wrap=True)
            if c.url:
                console.print(Text(f"      {c.url}"), soft_wrap=True)
