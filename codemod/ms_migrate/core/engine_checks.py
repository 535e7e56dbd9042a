"""Findings the engine itself emits (area MSM0xx)."""

from ms_migrate.core.findings import ERROR, PROJECT_URL, Check
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
UNUSED_SUPPRESSION = Check(UNUSED.code, UNUSED.name, UNUSED.summary, UNUSED.severity, PROJECT_URL)
ENGINE_CHECKS = (SYNTAX_ERROR, INTERNAL_ERROR, READ_ERROR, UNUSED_SUPPRESSION)
