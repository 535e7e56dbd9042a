"""`--format github`: GitHub Actions workflow commands, one line per finding, e.g.

    ::warning file=train.py,line=3,col=13,endLine=3,title=ms-migrate MSM101::torch.optim.AdamW -> ...

Severity error -> `::error`, warning -> `::warning`, info -> `::notice`. Values are escaped as
the runner expects (`%`, CR, LF everywhere; `:` and `,` in properties)."""

from __future__ import annotations

from typing import List

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(run) -> str:
    lines: List[str] = []
    for result in run.results:
        path = run.path(result)
        for f in result.findings:
            props = (f"file={_property(path)},line={f.line},col={f.column},endLine={f.end_line},"
                     f"title={_property('ms-migrate ' + f.code)}")
            message = f.message + (f" ({f.url})" if f.url else "")
            lines.append(f"::{LEVELS.get(f.severity, 'warning')} {props}::{_data(message)}")
        if run.check and result.changed:
            lines.append(f"::notice file={_property(path)},title=ms-migrate::"
                         f"{_data('would be migrated (run ms-migrate on it)')}")
    return "".join(line + "\n" for line in lines)
