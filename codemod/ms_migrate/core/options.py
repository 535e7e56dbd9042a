"""What a run asks of the engine: one picklable value handed to every file (and worker).

The command line and the configuration file both fill an `Options`; the engine and the rules
read it (`ctx.options`). A new run-wide setting is a field here, with its default. Library
defaults are explicit and conservative (no markers written); the command line turns markers on
for runs that write files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Options:
    annotate: bool = False  # write `# ms-migrate: CODE message` above warning/error statements
    target: str = "auto"  # auto | nn | experimental (see the --target option)
    max_file_size: Optional[int] = None  # bytes; larger files are skipped with a finding
    select: Tuple[str, ...] = ()  # finding codes or prefixes to report (empty: all)
    ignore: Tuple[str, ...] = ()  # finding codes or prefixes never reported
    report_unused: bool = False  # report `# ms-migrate: ignore` comments that silence nothing


DEFAULT = Options()
