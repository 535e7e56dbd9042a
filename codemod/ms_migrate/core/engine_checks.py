"""Findings the engine itself emits (area MSM0xx)."""

from ms_migrate.core.findings import ERROR, PROJECT_URL, WARNING, Check
from ms_migrate.core.suppression import UNUSED

SYNTAX_ERROR = Check(
    "MSM001", "syntax-error", "The file does not parse; it was left untouched.", ERROR,
    "https://docs.python.org/3/reference/grammar.html",
)
INTERNAL_ERROR = Check(
    "MSM002", "internal-error",
    "ms-migrate failed on this file; it was left untouched. Please report it on the project's "
    "issue tracker (linked from its page), with the file if you can.", ERROR,
    PROJECT_URL,
)
READ_ERROR = Check(
    "MSM003", "read-error", "The file could not be read or written.", ERROR,
    "https://docs.python.org/3/library/os.html",
)
TOO_LARGE = Check(
    "MSM010", "file-too-large",
    "The file is larger than --max-file-size and may need migration; it was skipped. Raise the "
    "limit (0: none) to migrate it.", WARNING,
    "https://docs.python.org/3/library/os.html#os.stat_result.st_size",
)
NOT_REGULAR = Check(
    "MSM011", "not-a-regular-file",
    "The path is not a regular file (a FIFO, socket or device); it was not read.", WARNING,
    "https://docs.python.org/3/library/stat.html#stat.S_ISREG",
)
LOSSY_ROUND_TRIP = Check(
    "MSM012", "lossy-round-trip",
    "LibCST cannot reproduce this file's bytes around the edited statements; it was left "
    "untouched rather than lose bytes. Please report it.", ERROR,
    "https://libcst.readthedocs.io/en/latest/parser.html",
)
LINK_OUTSIDE = Check(
    "MSM013", "symlink-outside",
    "A symbolic link found in a folder points outside the scanned paths; it was not written "
    "through. Name the link (or its target) explicitly to migrate it.", WARNING,
    "https://docs.python.org/3/library/os.html#os.path.realpath",
)
TOO_DEEP = Check(
    "MSM014", "too-deeply-nested",
    "The code nests deeper than ms-migrate can follow even on a big stack; the file was left "
    "untouched.", ERROR, "https://docs.python.org/3/library/sys.html#sys.setrecursionlimit",
)
UNUSED_SUPPRESSION = Check(UNUSED.code, UNUSED.name, UNUSED.summary, UNUSED.severity, PROJECT_URL)
ENGINE_CHECKS = (SYNTAX_ERROR, INTERNAL_ERROR, READ_ERROR, UNUSED_SUPPRESSION, TOO_LARGE,
                 NOT_REGULAR, LOSSY_ROUND_TRIP, LINK_OUTSIDE, TOO_DEEP)
