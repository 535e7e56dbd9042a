"""Output formats. Each module renders one finished run (`Run`) to a stream:

- `text`: `path:line:col: severity: CODE message` per finding, coloured on a terminal and plain
  in pipes, then a summary table (for people);
- `json`: one JSON document (for tools); with `--diff`, each changed file's diff is inside it;
- `sarif`: SARIF 2.1.0 for code-scanning uploads;
- `github`: GitHub Actions workflow commands (`::warning file=...::message`), one per finding.

Only `text` writes anything but the document itself to stdout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union, Dict, List, Optional

from ms_migrate.cli.report import Summary
from ms_migrate.core.engine import FileResult

FORMATS = ("text", "json", "sarif", "github")
WITH_DIFF = ("text", "json")  # formats that can carry --diff output


@dataclass
class Run:
    results: List[FileResult]
    display: Dict[str, str]  # result.path -> path as shown
    summary: Summary
    mode: str = "write"  # write | check | diff | out-dir DIR
    diffs: Dict[str, Union[bytes, str]] = field(default_factory=dict)  # result.path -> unified diff (bytes)
    check: bool = False

    def path(self, result: FileResult) -> str:
        return self.display.get(result.path, result.path)


def render(fmt: str, run: Run) -> Optional[str]:
    """The document for a machine format (json, sarif, github); None for text."""
    if fmt == "json":
        from ms_migrate.cli.formats import json as module
    elif fmt == "sarif":
        from ms_migrate.cli.formats import sarif as module  # type: ignore[no-redef]
    elif fmt == "github":
        from ms_migrate.cli.formats import github as module  # type: ignore[no-redef]
    else:
        return None
    return module.render(run)
