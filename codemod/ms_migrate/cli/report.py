"""How a run is shown: findings as text lines or JSON, unified diffs, the summary table."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ms_migrate import __version__
from ms_migrate.core.engine import FileResult, decode
from ms_migrate.core.findings import ERROR, WARNING


def all_checks():
    """The rule registry's table, imported on first use (it imports LibCST and every rule, which
    a run on files that need no parsing never pays for)."""
    from ms_migrate.rules.registry import all_checks as table

    return table()

JSON_VERSION = 1


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
    return [f"{display_path}:{f.line}:{f.column}: {f.code} {f.message}" for f in result.findings]


def json_document(results: List[FileResult], paths: Dict[str, str], summary: Summary) -> str:
    files = []
    for result in results:
        if not (result.changed or result.findings or result.error):
            continue
        files.append(
            {
                "path": paths[result.path],
                "changed": result.changed,
                "error": result.error,
                "diagnostics": [f.to_json() for f in result.findings],
            }
        )
    document = {"version": JSON_VERSION, "tool": {"name": "ms-migrate", "version": __version__},
                "files": files, "summary": summary.to_json()}
    return json.dumps(document, indent=2)


def unified_diff(result: FileResult, display_path: str) -> str:
    before = decode(result.source).splitlines(keepends=True)
    after = decode(result.output).splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(before, after, f"a/{display_path}", f"b/{display_path}"):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


def write_diff(text: str, out: TextIO, color: bool) -> None:
    if not color:
        out.write(text)
        out.flush()
        return
    console = Console(file=out, force_terminal=True, highlight=False, soft_wrap=True)
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
        console.print(Text(line, style=style or ""))


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
    table = Table(show_header=True, show_lines=False)
    for column in ("code", "name", "severity", "summary", "docs"):
        table.add_column(column, overflow="fold")
    for code, name, summary, url, checks in rows:
        table.add_row(Text(code, style="bold"), Text(name, style="bold"), "", summary, url)
        for c in checks:
            table.add_row("  " + c.code, "  " + c.name, c.severity, c.summary, c.url)
    console.print(table)
