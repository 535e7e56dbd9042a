"""Migrate one file: pre-scan (core/prescan.py), parse once, run every rule on the shared
context, apply the edits once, check the output parses, and write it atomically.

LibCST and the rules are imported on the first file that needs them: a run (or a pre-commit
hook) on files that never reach torch.optim does not pay for their import."""

from __future__ import annotations

import ast
import io
import os
import stat
import sys
import tempfile
import threading
import tokenize
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional, Union

from ms_migrate.core import prescan
from ms_migrate.core.findings import Finding, make_finding
from ms_migrate.core.options import DEFAULT, Options
from ms_migrate.core.engine_checks import (
    INTERNAL_ERROR, LOSSY_ROUND_TRIP, NOT_REGULAR, READ_ERROR, SYNTAX_ERROR, TOO_DEEP, TOO_LARGE,
)
from ms_migrate.core.writing import critical


@dataclass
class FileResult:
    path: str
    source: bytes
    output: bytes
    findings: List[Finding] = field(default_factory=list)
    conversions: Counter = field(default_factory=Counter)
    error: Optional[str] = None
    parsed: bool = False
    copied_unchanged: bool = False  # --out-dir: failed, and its original bytes were copied

    @property
    def changed(self) -> bool:
        return self.error is None and self.output != self.source

    def light(self) -> "FileResult":
        """The same result without the file's bytes when nothing changed (what a worker sends
        back, and what a run keeps per file): `source` and `output` are then both b""."""
        if self.output == self.source:
            self.source = self.output = b""
        return self

    @property
    def code(self) -> str:
        """The output as text, decoded as Python would read it."""
        return decode(self.output)


def decode(source: bytes) -> str:
    """Text of Python source bytes, by their coding cookie or BOM (UTF-8 otherwise)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError:
        encoding = "utf-8"
    return source.decode(encoding, errors="replace")


def may_need_migration(source: bytes) -> bool:
    """The pre-scan: False only when no rule can change or flag the file (markers included)."""
    return prescan.needs_parse(source)


# Deeply nested code (hundreds of `elif`s or `+` terms, lists nested 150 deep) recurses deeper
# than Python's default limit in LibCST. Such a file is migrated again on a thread with a big
# stack and a matching recursion limit (about 10 kB of C stack per Python frame), one at a time.
DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 50_000
_DEEP_LOCK = threading.Lock()


def migrate_source(
    source: Union[bytes, str], path: str = "<string>", options: Options = DEFAULT,
    *, prescanned: Union[bool, prescan.Scan] = False,
) -> FileResult:
    """Migrate source code in memory. Never raises for a bad input: syntax errors and rule
    failures become error findings, and the output is then the input unchanged. `prescanned`:
    the caller already knows the pre-scan says yes (it is not run again): True, or the
    pre-scan's `Scan` of the file."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    try:
        return _migrate_source(source, path, options, prescanned)
    except RecursionError:
        pass
    try:
        return _on_deep_stack(lambda: _migrate_source(source, path, options, prescanned))
    except (RecursionError, MemoryError) as exc:
        why = "RecursionError" if isinstance(exc, RecursionError) else "MemoryError"
        message = (f"the code nests too deeply for ms-migrate ({why}); the file was left "
                   "untouched: split the deepest expression or if/elif chain and run it again")
        result = FileResult(path=path, source=source, output=source, error=message)
        result.findings.append(make_finding(TOO_DEEP, message, 1, 1))
        return result


def _on_deep_stack(work):
    """`work()` on a thread with a big stack and a high recursion limit; its exception, if any,
    is raised here."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    with _DEEP_LOCK:
        old_stack = threading.stack_size()
        old_limit = sys.getrecursionlimit()
        # the limit is process-wide: raised only while the big-stack thread runs
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        try:
            try:
                threading.stack_size(DEEP_STACK_BYTES)
                thread = threading.Thread(target=run, name="ms-migrate-deep", daemon=True)
                thread.start()
            except (ValueError, RuntimeError, MemoryError) as exc:  # no such stack on this system
                raise MemoryError(str(exc)) from None
            finally:
                threading.stack_size(old_stack)
            thread.join()
        finally:
            sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _migrate_source(source: bytes, path: str, options: Options,
                    prescanned: Union[bool, prescan.Scan] = False) -> FileResult:
    """One attempt; a RecursionError escapes so that the caller can retry on a deep stack."""
    result = FileResult(path=path, source=source, output=source)
    if isinstance(prescanned, prescan.Scan):
        scan: Optional[prescan.Scan] = prescanned
    else:
        scan = prescan.UNKNOWN if prescanned else prescan.scan(source)
    if scan is None:
        return result
    limit = options.max_file_size  # after the pre-scan: files that cannot need migration pass
    if limit and len(source) > limit:
        result.findings.append(make_finding(
            TOO_LARGE, f"{len(source)} bytes, above the limit of {limit} (--max-file-size); "
            "the file was skipped: raise the limit (0: none) to migrate it", 1, 1))
        return result
    if _answered_by_prescan(scan, options, len(source)):
        return _unmigrated_references(result, scan, options)
    return _migrate_parsed(source, path, options, result, scan)


def _answered_by_prescan(scan: prescan.Scan, options: Options, size: int) -> bool:
    """Does the pre-scan know this file's whole result (core/inert.py)? Not under --annotate,
    where the findings become marker comments (edits LibCST makes), nor for a file above
    --max-file-size (its result is MSM010)."""
    limit = options.max_file_size
    return scan.references is not None and not options.annotate and not (limit and size > limit)


def _unmigrated_references(result: FileResult, scan: prescan.Scan, options: Options) -> FileResult:
    """A file only the safety net acts on: its findings, as rules/leftovers.py words them, with
    no parse (the file stays as it is)."""
    from ms_migrate.core import suppression
    from ms_migrate.rules.leftovers import unmigrated

    findings = []
    for line, column, end_line, qname in scan.references or ():
        check, message = unmigrated(qname)
        if suppression.enabled(check.code, options.select, options.ignore):
            findings.append(make_finding(check, message, line, column, end_line))
    result.findings = sorted(findings, key=Finding.sort_key)
    return result


# Imported on first use (PEP 562), yet still module attributes (tests patch apply_edits).
_LAZY = {
    "cst": ("libcst", None),
    "FileContext": ("ms_migrate.core.context", "FileContext"),
    "apply_edits": ("ms_migrate.core.edits", "apply_edits"),
    "RULES": ("ms_migrate.rules.registry", "RULES"),
    "review": ("ms_migrate.core.review", None),
    "splice": ("ms_migrate.core.roundtrip", "splice"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    value = importlib.import_module(module_name)
    value = getattr(value, attribute) if attribute else value
    globals()[name] = value
    return value


def _lazy(name: str):
    return globals().get(name) or __getattr__(name)


def _migrate_parsed(source: bytes, path: str, options: Options, result: FileResult,
                    scan: prescan.Scan = prescan.UNKNOWN) -> FileResult:
    cst, apply_edits, review, splice = (_lazy(n) for n in ("cst", "apply_edits", "review", "splice"))
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        line, column, message = _syntax_error(source, path, exc)
        result.error = f"syntax error: {message}"
        result.findings.append(make_finding(SYNTAX_ERROR, f"syntax error: {message}", line, column))
        return result
    except Exception as exc:  # e.g. an unknown coding cookie
        if _from_recursion(exc):
            raise RecursionError("too deep") from None
        result.error = f"cannot decode: {exc}"
        result.findings.append(make_finding(READ_ERROR, f"cannot parse: {exc}", 1, 1))
        return result
    result.parsed = True
    try:
        return _rules_and_edits(source, path, options, result, module, scan.imports)
    finally:
        from ms_migrate.core import syntax

        syntax.index_children({})  # the file's index, kept alive only while it is migrated


def _rules_and_edits(source: bytes, path: str, options: Options, result: FileResult, module,
                     imports: Optional[dict]) -> FileResult:
    apply_edits, review, splice = (_lazy(n) for n in ("apply_edits", "review", "splice"))
    try:
        ctx = _run_rules(path, module, options, imports)
        ctx.imports.finalize()
        findings = review.settle(ctx, source, decode, options)  # may add marker edits
        if ctx.edits:
            # LibCST's rendering loses a few bytes in some files: splice the edited lines into
            # the original bytes instead of writing its rendering of the whole file (splice also
            # parses what it returns: output that does not parse is never written)
            output = splice(source, ctx.analysis.roundtrip(), apply_edits(ctx.module, ctx.edits, ctx.parents).bytes,
                            compiles=imports is not None)
        else:
            output = source  # nothing to migrate: the file stays byte for byte as it is
        if output is None:
            result.error = "LibCST cannot reproduce this file's bytes; the file was left untouched"
            result.findings = [make_finding(LOSSY_ROUND_TRIP, result.error, 1, 1)]
            return result
    except Exception as exc:
        if _from_recursion(exc):
            raise RecursionError("too deep") from None
        message = internal_error_message(exc)
        result.error = message
        result.findings = [make_finding(INTERNAL_ERROR, message, 1, 1)]
        return result
    result.output = output
    result.findings = findings
    result.conversions = ctx.conversions
    return result


MAX_PASSES = 8  # each pass gives up at least one API of one optimizer (nn, experimental, torch)


def _run_rules(path: str, module, options: Options, imports: Optional[dict] = None):
    """Run every rule; again while a rule gave up an optimizer's API (ctx.demote), so that the
    optimizer, its schedulers and its param_groups uses end on one API (fresh rules each pass)."""
    FileContext, RULES = _lazy("FileContext"), _lazy("RULES")
    demoted: dict = {}
    analysis = None  # the file's metadata and index: once, whatever the number of passes
    for _ in range(MAX_PASSES):
        ctx = FileContext(path, module, options, demoted, analysis, imports)
        analysis = ctx.analysis
        for rule in RULES:
            rule().run(ctx)
        if not ctx.demotions:
            break
        for key, apis in ctx.demotions.items():
            merged = dict(demoted.get(key, {}))
            for api, reason in apis.items():
                merged.setdefault(api, reason)
            demoted[key] = merged
    return ctx


def _from_recursion(exc: BaseException) -> bool:
    """True for a RecursionError, or an error raised while one unwound (a `finally` in LibCST's
    position provider turns it into a KeyError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, RecursionError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def internal_error_message(exc: BaseException) -> str:
    """A one-line, bounded description of an unexpected exception (never the traceback: the
    message of some exceptions embeds a whole syntax tree)."""
    try:
        text = str(exc)
    except Exception:  # e.g. a RecursionError while printing a deep node
        text = "<unprintable>"
    text = " ".join(text.split())
    if len(text) > 300:
        text = text[:300] + "..."
    try:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        location = f" at {Path(where.filename).name}:{where.lineno}"
    except Exception:
        location = ""
    return f"internal error ({type(exc).__name__}: {text}{location}); the file was left untouched"


def _syntax_error(source: bytes, path: str, exc):
    """CPython's location and message when it agrees the file is broken (it points at the
    offending token, LibCST's native parser often at the next line); LibCST's otherwise."""
    try:
        compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        return error.lineno or exc.raw_line, error.offset or 1, error.msg
    except (ValueError, UnicodeDecodeError):
        pass
    return exc.raw_line, exc.raw_column + 1, exc.message


def prescan_file(
    path: Union[str, Path], write_to: Optional[Path] = None, options: Options = DEFAULT
) -> Union[FileResult, prescan.Scan]:
    """A run's first pass over a file: its finished result when the pre-scan rules it out (read,
    and copied to `write_to` when that is another file), or the pre-scan's `Scan` when it needs
    LibCST (then `migrate_file(..., prescanned=scan)`; a file that cannot be read, or is not a
    regular file, is also left to it, which reports it)."""
    path = Path(path)
    try:
        source = read_regular(path)
    except (OSError, NotRegular):
        return prescan.UNKNOWN
    scan = prescan.scan(source)
    if scan is not None and not _answered_by_prescan(scan, options, len(source)):
        return scan
    result = FileResult(path=str(path), source=source, output=source)
    if scan is not None:  # answered here: no worker, no parse
        _unmigrated_references(result, scan, options)
    return _write(result, path, source, write_to)


def migrate_file(
    path: Union[str, Path], write_to: Optional[Path] = None, options: Options = DEFAULT,
    *, prescanned: Union[bool, prescan.Scan] = False,
) -> FileResult:
    """Migrate a file on disk. With `write_to`, a changed result is written there atomically
    (write_to may be the file itself); an untouched file is never rewritten."""
    path = Path(path)
    try:
        source = read_regular(path)
    except NotRegular as exc:
        result = FileResult(path=str(path), source=b"", output=b"")
        result.findings.append(make_finding(NOT_REGULAR, f"not a regular file ({exc}): not read", 1, 1))
        return result
    except OSError as exc:
        result = FileResult(path=str(path), source=b"", output=b"", error=str(exc))
        result.findings.append(make_finding(READ_ERROR, f"cannot read: {exc.strerror or exc}", 1, 1))
        return result
    result = migrate_source(source, str(path), options, prescanned=prescanned)
    return _write(result, path, source, write_to)


def _write(result: FileResult, path: Path, source: bytes, write_to: Optional[Path]) -> FileResult:
    if write_to is None:
        return result
    same_file = write_to.resolve() == path.resolve()
    if result.error is not None and not same_file:
        # --out-dir: a file that failed goes to the out tree unchanged, so the tree is complete
        try:
            atomic_write(write_to, source, like=path)
        except OSError as exc:
            result.findings.append(
                make_finding(READ_ERROR, f"cannot write {write_to}: {exc.strerror or exc}", 1, 1))
        else:
            result.copied_unchanged = True
            result.findings = [
                replace(f, message=f"{f.message}; copied unchanged to {write_to}")
                if f.severity == "error" else f for f in result.findings
            ]
        return result
    if result.error is None:
        if result.changed or not same_file:
            try:
                atomic_write(write_to, result.output, like=path)
            except OSError as exc:
                result.error = str(exc)
                result.findings.append(
                    make_finding(READ_ERROR, f"cannot write {write_to}: {exc.strerror or exc}", 1, 1)
                )
    return result


def atomic_write(target: Path, data: bytes, like: Optional[Path] = None) -> None:
    """Write via a temp file in the same folder and os.replace, keeping the file mode. A
    symbolic link stays a link: the file it points to is written."""
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    # A file without its owner's write bit is read-only on purpose, even for root.
    if target.exists() and not (target.stat().st_mode & stat.S_IWUSR and os.access(target, os.W_OK)):
        raise PermissionError(13, "the file is read-only", str(target))
    mode = None
    for candidate in (target, like):
        if candidate is not None and candidate.exists():
            mode = candidate.stat().st_mode & 0o7777
            break
    with critical():  # a signal waits until the file is whole and the temp file gone
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".ms-migrate", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class NotRegular(Exception):
    """The path is a FIFO, socket, device or folder: reading it could block forever."""


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file. The file is opened without blocking (a FIFO with no
    writer would hang a plain open) and checked before anything is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode) else "a special file"
            raise NotRegular(kind)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)
