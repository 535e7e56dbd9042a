"""What the tool tells the user: checks (the catalogue of finding codes) and findings."""

from __future__ import annotations

import re
from dataclasses import dataclass, asdict
from typing import Optional

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)

MS_DOCS = "https://www.mindspore.cn/docs/en/r2.10.0"
# The project's own page (README and issue tracker links): where MSM0xx findings point.
PROJECT_URL = "https://pypi.org/project/ms-migrate/"
MIGRATION_GUIDE = (
    "https://www.mindspore.cn/docs/en/r2.10.0/migration_guide/model_development/"
    "learning_rate_and_optimizer.html"
)


# Any run of whitespace holding a line break (str.splitlines' breaks): a message quoting source
# text that spans lines must stay one line, for the text report and for `--annotate` comments.
_LINE_BREAK = re.compile("\\s*[\\n\\r\\v\\f\\x1c\\x1d\\x1e\\x85\\u2028\\u2029]\\s*")


def one_line(text: str) -> str:
    """`text` on one line: each line break, with the indentation around it, becomes a space."""
    return _LINE_BREAK.sub(" ", text)


@dataclass(frozen=True)
class Check:
    """One kind of finding: a stable code, a short name, a one-line summary, a docs URL."""

    code: str
    name: str
    summary: str
    severity: str
    url: str


@dataclass(frozen=True)
class Finding:
    """One finding in one file. Lines and columns are 1-based and refer to the original file."""

    code: str
    severity: str
    line: int
    column: int
    end_line: int
    message: str
    url: str

    def to_json(self) -> dict:
        return asdict(self)

    def sort_key(self) -> tuple:
        return (self.line, self.column, self.code)


def make_finding(
    check: Check,
    message: str,
    line: int,
    column: int,
    end_line: Optional[int] = None,
    url: Optional[str] = None,
    severity: Optional[str] = None,
) -> Finding:
    return Finding(
        code=check.code,
        severity=severity or check.severity,
        line=line,
        column=column,
        end_line=end_line if end_line is not None else line,
        message=one_line(message),
        url=url or check.url,
    )
