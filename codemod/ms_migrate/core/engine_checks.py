"""Findings the engine itself emits (area MSM0xx)."""

from ms_migrate.core.findings import ERROR, MIGRATION_GUIDE, Check

SYNTAX_ERROR = Check(
    "MSM001", "syntax-error", "The file does not parse; it was left untouched.", ERROR,
    "https://docs.python.org/3/reference/grammar.html",
)
INTERNAL_ERROR = Check(
    "MSM002", "internal-error",
    "ms-migrate failed on this file; it was left untouched. Please report it.", ERROR,
    MIGRATION_GUIDE,
)
READ_ERROR = Check(
    "MSM003", "read-error", "The file could not be read or written.", ERROR,
    "https://docs.python.org/3/library/os.html",
)
TOO_DEEP = Check(
    "MSM004", "too-deeply-nested",
    "The code nests deeper than ms-migrate can follow even on a big stack; the file was left "
    "untouched.", ERROR, "https://docs.python.org/3/library/sys.html#sys.setrecursionlimit",
)
ENGINE_CHECKS = (SYNTAX_ERROR, INTERNAL_ERROR, READ_ERROR, TOO_DEEP)
