"""What a run asks of the engine: one picklable value handed to every file (and worker).

The command line and the configuration file both fill an `Options`; the engine and the rules
read it (`ctx.options`). A new run-wide setting is a field here, with its default. Library
defaults are explicit and conservative (no markers written); the command line turns markers on
for runs that write files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

# LibCST holds about 1 KB of objects per byte of source while a file is analysed, and its time
# grows faster than the size: above this, a file that may need migration is skipped with a
# finding (MSM010) instead of exhausting the machine. Hand-written training scripts are far
# below it; generated modules are not.
DEFAULT_MAX_FILE_SIZE = 512 * 1024


@dataclass(frozen=True)
class Options:
    annotate: bool = False  # write `# ms-migrate: CODE message` above warning/error statements
    target: str = "auto"  # auto | nn | experimental (see the --target option)
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; larger files that may need migration are skipped with a finding (MSM010); 0: no limit
    select: Tuple[str, ...] = ()  # finding codes or prefixes to report (empty: all)
    ignore: Tuple[str, ...] = ()  # finding codes or prefixes never reported
    report_unused: bool = False  # report `# ms-migrate: ignore` comments that silence nothing


DEFAULT = Options()
