"""`--format sarif`: a SARIF 2.1.0 log for code-scanning uploads (GitHub, GitLab, Azure).

One run; `tool.driver.rules` lists every finding code the tool has (id, name, summary, docs
link, default level); each finding is a result with its level (error, warning; info -> note),
message, and a region in a file given relative to the current folder (uriBaseId `%SRCROOT%`).
tests/test_formats.py validates the output against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Dict, List
from urllib.parse import quote

from ms_migrate import __version__
from ms_migrate.core.findings import PROJECT_URL

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _rules() -> List[dict]:
    from ms_migrate.rules.registry import all_checks

    rules = []
    for code, (check, _) in sorted(all_checks().items()):
        rule = {
            "id": code,
            "name": check.name,
            "shortDescription": {"text": check.summary},
            "defaultConfiguration": {"level": LEVELS[check.severity]},
        }
        if check.url:
            rule["helpUri"] = check.url
        rules.append(rule)
    return rules


def _location(path: str) -> dict:
    """A path below the current folder is relative to %SRCROOT%; any other is a file: URI."""
    posix = PurePosixPath(path.replace("\\", "/")).as_posix()
    if posix.startswith("/"):
        return {"uri": "file://" + quote(posix, safe="/")}
    return {"uri": quote(posix, safe="/"), "uriBaseId": "%SRCROOT%"}


def render(run) -> str:
    rules = _rules()
    index: Dict[str, int] = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for result in run.results:
        where = _location(run.path(result))
        for f in result.findings:
            entry = {
                "ruleId": f.code,
                "level": LEVELS.get(f.severity, "warning"),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": dict(where),
                        "region": {"startLine": f.line, "startColumn": f.column, "endLine": max(f.end_line, f.line)},
                    }
                }],
            }
            if f.code in index:
                entry["ruleIndex"] = index[f.code]
            results.append(entry)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ms-migrate", "version": __version__,
                                "informationUri": PROJECT_URL, "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
