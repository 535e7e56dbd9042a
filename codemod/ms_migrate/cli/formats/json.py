"""`--format json`: one document on stdout (see the README for its shape)."""

from __future__ import annotations

import json

from ms_migrate import __version__

JSON_VERSION = 1


def render(run) -> str:
    files = []
    for result in run.results:
        if not (result.changed or result.findings or result.error):
            continue
        entry = {
            "path": run.path(result),
            "changed": result.changed,
            "error": result.error,
            "diagnostics": [f.to_json() for f in result.findings],
        }
        if result.path in run.diffs:
            diff = run.diffs[result.path]  # the file's own bytes (see report.unified_diff)
            entry["diff"] = diff.decode("utf-8", "replace") if isinstance(diff, bytes) else diff
        files.append(entry)
    document = {"version": JSON_VERSION, "tool": {"name": "ms-migrate", "version": __version__},
                "files": files, "summary": run.summary.to_json()}
    return json.dumps(document, indent=2) + "\n"
