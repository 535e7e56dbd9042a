"""What one file reports: the rules' findings and the markers still open in it, less the codes
the run does not select and what inline comments suppress; and which findings get a marker.

The engine calls `settle` once per parsed file, after the rules ran and before the edits are
applied (markers are edits too)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from ms_migrate.core import markers, suppression
from ms_migrate.core.engine_checks import UNUSED_SUPPRESSION
from ms_migrate.core.findings import Finding
from ms_migrate.core.options import Options


def settle(ctx, source: bytes, text_of, options: Options) -> List[Finding]:
    """The findings to report for the file of `ctx`; records marker edits when annotating.
    `text_of(source)` decodes the source (called only when it holds `ms-migrate:`)."""
    statement_line: Dict[int, int] = {}
    for finding, statement in ctx.flagged:
        statement_line[id(finding)] = _first_line(ctx, statement)
    pairs: List[Tuple[Finding, Optional[int]]] = [
        (f, statement_line.get(id(f))) for f in ctx.findings
    ]
    suppressions: List[suppression.Suppression] = []
    if markers.TRIGGER in source:
        text = text_of(source)
        found = markers.comments(text)
        lines = markers.code_lines(text)
        covered = {(f.code, line) for f, line in pairs if line is not None}
        from ms_migrate.rules.registry import all_checks

        opened = markers.open_findings(markers.scan(text, found, lines), covered, all_checks())
        pairs += [(f, None) for f in opened]
        suppressions = suppression.scan(found, lines)
    pairs = [(f, line) for f, line in pairs
             if suppression.enabled(f.code, options.select, options.ignore)]
    kept = suppression.apply(pairs, suppressions)
    if options.report_unused:
        kept += [f for f in suppression.unused(suppressions, UNUSED_SUPPRESSION.url)
                 if suppression.enabled(f.code, options.select, options.ignore)]
    if options.annotate:
        reported = {id(f) for f in kept}
        for finding, statement in ctx.flagged:
            if id(finding) in reported and finding.severity in markers.SEVERITIES_MARKED:
                text, key = markers.marker_text(finding)
                ctx.edits.comment(statement, text, key=key)
    return sorted(kept, key=Finding.sort_key)


def _first_line(ctx, statement: cst.CSTNode) -> int:
    return ctx.positions[statement].start.line
