"""The `ms-migrate` command line.

Exit codes (as ruff): 0 nothing left to do; 1 files changed or would change, or findings of
severity error/warning remain; 2 a file could not be read or parsed, or a usage or internal
error. `--exit-zero` turns 1 into 0.
"""

from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import click
from rich.console import Console

from ms_migrate import __version__
from ms_migrate.cli import report
from ms_migrate.core.discovery import discover, out_path, relative_to_cwd
from ms_migrate.core.engine import FileResult, internal_error_message, migrate_file, migrate_source
from ms_migrate.core.findings import make_finding
from ms_migrate.core.options import Options
from ms_migrate.core.engine_checks import INTERNAL_ERROR, READ_ERROR

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PARALLEL_THRESHOLD = 32  # files before a process pool pays for its start-up


class _DefaultToMigrate(click.Group):
    """`ms-migrate PATH...` runs the `migrate` command; `ms-migrate rules` lists the rules."""

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["migrate", *args]
        elif not args:
            args = ["migrate"]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToMigrate, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ms-migrate")
def main() -> None:
    """Migrate the optimizer side of PyTorch training code to MindSpore.

    ms-migrate PATH... rewrites files in place (see `ms-migrate migrate --help`);
    ms-migrate rules lists every rule and finding code.
    """


@main.command("migrate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff per changed file.")
@click.option("--check", is_flag=True, help="Write nothing; report what would change and what is flagged.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write migrated copies under DIR, keeping the tree; sources stay as they are.")
@click.option("--annotate", is_flag=True,
              help="Write a `# ms-migrate: CODE message` comment above each flagged line.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools (on stdout).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when files changed or findings remain.")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and folders matching GLOB (repeatable).")
@click.option("--stdin-filename", default="-", metavar="NAME", help="The name to report for `-`.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
              help="Worker processes (0: one per core, used only for many files).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary table.")
def migrate(
    paths: Tuple[str, ...], diff: bool, check: bool, out_dir: Optional[Path], annotate: bool,
    fmt: str, exit_zero: bool, exclude: Tuple[str, ...], stdin_filename: str, jobs: int, quiet: bool,
) -> None:
    """Migrate PATH... (files, or folders walked for *.py; `-` reads stdin and writes stdout)."""
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a folder, or - for stdin)")
    if out_dir is not None and (diff or check):
        raise click.UsageError("--out-dir writes files; --diff and --check write nothing")
    if "-" in paths and len(paths) > 1:
        raise click.UsageError("- (stdin) cannot be combined with other paths")
    try:
        if paths == ("-",):
            code = _run_stdin(stdin_filename, diff, check, annotate, fmt, quiet)
        else:
            code = _run_paths(paths, diff, check, out_dir, annotate, fmt, exclude, jobs, quiet)
    except Exception:  # the last line of defence: a crash is exit 2 with the traceback
        traceback.print_exc(file=sys.stderr)
        code = EXIT_ERROR
    if exit_zero and code == EXIT_FINDINGS:
        code = EXIT_OK
    sys.exit(code)


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(fmt: str) -> None:
    """List every rule and finding code: code, name, summary, docs URL."""
    report.rules_table(Console(), as_json=fmt == "json", out=sys.stdout)


def _exit_code(results: Iterable[FileResult], summary: report.Summary) -> int:
    results = list(results)
    if any(r.error for r in results):
        return EXIT_ERROR
    if any(r.changed for r in results) or summary.blocking:
        return EXIT_FINDINGS
    return EXIT_OK


def _run_stdin(name: str, diff: bool, check: bool, annotate: bool, fmt: str, quiet: bool) -> int:
    source = sys.stdin.buffer.read()
    result = migrate_source(source, name, Options(annotate=annotate))
    summary = report.Summary()
    summary.add(result)
    err = Console(file=sys.stderr, soft_wrap=True, highlight=False)
    if fmt == "json":
        sys.stdout.write(report.json_document([result], {name: name}, summary) + "\n")
    elif diff:
        report.write_diff(report.unified_diff(result, name), sys.stdout, sys.stdout.isatty())
    elif not check:
        sys.stdout.buffer.write(result.output)
        sys.stdout.flush()
    if fmt == "text":
        for line in report.finding_lines(result, name):
            err.print(line, markup=False, highlight=False)
    return _exit_code([result], summary)


def _run_paths(
    paths: Sequence[str], diff: bool, check: bool, out_dir: Optional[Path], annotate: bool,
    fmt: str, exclude: Sequence[str], jobs: int, quiet: bool,
) -> int:
    results: List[FileResult] = []
    roots: Dict[Path, Path] = {}
    files: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            missing = FileResult(path=raw, source=b"", output=b"", error="no such file or directory")
            missing.findings.append(make_finding(READ_ERROR, f"{raw}: no such file or directory", 1, 1))
            results.append(missing)
            continue
        for file in discover([path], exclude, skip=[out_dir] if out_dir else []):
            if file not in roots:
                roots[file] = path
                files.append(file)
    write_in_place = not (diff or check or out_dir)

    def target(file: Path) -> Optional[Path]:
        if out_dir is not None:
            return out_path(file, roots[file], out_dir)
        return file if write_in_place else None

    results.extend(_migrate_all(files, target, annotate, jobs))
    display = {r.path: relative_to_cwd(Path(r.path)).as_posix() for r in results}
    summary = report.Summary()
    for result in results:
        summary.add(result)

    stdout_is_artifact = diff or fmt == "json"
    out = Console(file=sys.stderr if stdout_is_artifact else sys.stdout, highlight=False, soft_wrap=True)
    if diff:
        color = sys.stdout.isatty() and fmt == "text"
        for result in results:
            if result.changed:
                report.write_diff(report.unified_diff(result, display[result.path]), sys.stdout, color)
    if fmt == "json":
        sys.stdout.write(report.json_document(results, display, summary) + "\n")
    else:
        for result in results:
            for line in report.finding_lines(result, display[result.path]):
                out.print(line, markup=False)
            if check and result.changed:
                out.print(f"{display[result.path]}: would be migrated", markup=False)
        if not quiet:
            mode = "check" if check else "diff" if diff else f"out-dir {out_dir}" if out_dir else "write"
            report.summary_table(summary, out, mode)
    return _exit_code(results, summary)


def _migrate_all(
    files: List[Path], target: Callable[[Path], Optional[Path]], annotate: bool, jobs: int
) -> List[FileResult]:
    options = Options(annotate=annotate)
    work = [(f, target(f), options) for f in files]
    workers = min(jobs or (os.cpu_count() or 1), len(work))
    progress = _progress(len(work))
    results: List[FileResult] = []
    if workers > 1 and len(work) >= PARALLEL_THRESHOLD:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_work, work, chunksize=4):
                results.append(result)
                progress(result)
    else:
        for item in work:
            result = _work(item)
            results.append(result)
            progress(result)
    progress(None)
    return results


def _work(item: Tuple[Path, Optional[Path], Options]) -> FileResult:
    """One file; whatever happens in it stays a finding on it, and the run goes on."""
    file, write_to, options = item
    try:
        return migrate_file(file, write_to=write_to, options=options)
    except Exception as exc:
        message = internal_error_message(exc)
        result = FileResult(path=str(file), source=b"", output=b"", error=message)
        result.findings.append(make_finding(INTERNAL_ERROR, message, 1, 1))
        return result


def _progress(total: int) -> Callable[[Optional[FileResult]], None]:
    """A rich progress bar on stderr for long runs on a terminal; a no-op otherwise."""
    if total < 50 or not sys.stderr.isatty():
        return lambda result: None
    from rich.progress import Progress

    bar = Progress(console=Console(file=sys.stderr), transient=True)
    task = bar.add_task("migrating", total=total)
    bar.start()

    def advance(result: Optional[FileResult]) -> None:
        if result is None:
            bar.stop()
        else:
            bar.advance(task)

    return advance
