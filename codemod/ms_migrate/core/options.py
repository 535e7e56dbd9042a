"""What a run asks of the engine: one picklable value handed to every file (and worker).

The command line and the configuration file both fill an `Options`; the engine and the rules
read it (`ctx.options`). A new run-wide setting is a field here, with its default."""

from __future__ import annotations

from dataclasses import dataclass

# LibCST holds about 1 KB of objects per byte of source while a file is analysed, and its time
# grows faster than the size: above this, a file that may need migration is skipped with a
# finding (MSM010) instead of exhausting the machine. Hand-written training scripts are far
# below it; generated modules are not.
DEFAULT_MAX_FILE_SIZE = 512 * 1024


@dataclass(frozen=True)
class Options:
    annotate: bool = False  # write `# ms-migrate: CODE message` above flagged statements
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; 0: no limit


DEFAULT = Options()
