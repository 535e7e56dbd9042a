"""The `ms-migrate` command line.

Exit codes (as ruff): 0 nothing left to do; 1 files changed or would change, or findings of
severity error/warning remain; 2 a file could not be read or parsed, or a usage or internal
error. `--exit-zero` turns 1 into 0.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import click

from ms_migrate import __version__
from ms_migrate.cli import report
from ms_migrate.core.discovery import Selection, out_path, relative_to_cwd, select
from ms_migrate.core.engine import FileResult, migrate_file, migrate_source
from ms_migrate.core.findings import make_finding
from ms_migrate.core import writing
from ms_migrate.core.options import DEFAULT_MAX_FILE_SIZE, Options
from ms_migrate.core.engine_checks import LINK_OUTSIDE, READ_ERROR

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
@click.option("--max-file-size", type=click.IntRange(min=0), default=DEFAULT_MAX_FILE_SIZE,
              show_default=True, metavar="BYTES",
              help="Skip (with finding MSM010) files larger than this that may need migration; 0: no limit.")
def migrate(
    paths: Tuple[str, ...], diff: bool, check: bool, out_dir: Optional[Path], annotate: bool,
    fmt: str, exit_zero: bool, exclude: Tuple[str, ...], stdin_filename: str, jobs: int, quiet: bool,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> None:
    """Migrate PATH... (files, or folders walked for *.py; `-` reads stdin and writes stdout)."""
    previous = writing.install()  # SIGINT/SIGTERM: exit 130/143, never a half-written file
    try:
        _migrate(paths, diff, check, out_dir, annotate, fmt, exit_zero, exclude, stdin_filename,
                 jobs, quiet, max_file_size)
    finally:
        writing.restore(previous)


def _migrate(
    paths: Tuple[str, ...], diff: bool, check: bool, out_dir: Optional[Path], annotate: bool,
    fmt: str, exit_zero: bool, exclude: Tuple[str, ...], stdin_filename: str, jobs: int, quiet: bool,
    max_file_size: int,
) -> None:
    options = Options(annotate=annotate, max_file_size=max_file_size)
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a folder, or - for stdin)")
    if out_dir is not None and (diff or check):
        raise click.UsageError("--out-dir writes files; --diff and --check write nothing")
    if "-" in paths and len(paths) > 1:
        raise click.UsageError("- (stdin) cannot be combined with other paths")
    try:
        if paths == ("-",):
            code = _run_stdin(stdin_filename, diff, check, annotate, fmt, quiet, options)
        else:
            code = _run_paths(paths, diff, check, out_dir, annotate, fmt, exclude, jobs, quiet, options)
    except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: every file is whole, say so and stop
        code = exc.exit_code if isinstance(exc, writing.Interrupted) else 128 + signal.SIGINT
        sys.stderr.write("ms-migrate: interrupted; files already written are complete, the others untouched\n")
        sys.exit(code)
    except click.ClickException:
        raise  # a usage error found while looking at the files (exit 2, no traceback)
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
    report.rules_table(report.console(), as_json=fmt == "json", out=sys.stdout)


def _exit_code(results: Iterable[FileResult], summary: report.Summary) -> int:
    results = list(results)
    if any(r.error for r in results):
        return EXIT_ERROR
    if any(r.changed for r in results) or summary.blocking:
        return EXIT_FINDINGS
    return EXIT_OK


def _run_stdin(
    name: str, diff: bool, check: bool, annotate: bool, fmt: str, quiet: bool,
    options: Optional[Options] = None,
) -> int:
    source = sys.stdin.buffer.read()
    result = migrate_source(source, name, options or Options(annotate=annotate))
    summary = report.Summary()
    summary.add(result)
    err = report.console(sys.stderr)
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
    fmt: str, exclude: Sequence[str], jobs: int, quiet: bool, options: Optional[Options] = None,
) -> int:
    results: List[FileResult] = []
    existing: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            missing = FileResult(path=raw, source=b"", output=b"", error="no such file or directory")
            missing.findings.append(make_finding(READ_ERROR, f"{raw}: no such file or directory", 1, 1))
            results.append(missing)
            continue
        existing.append(path)
    selection = select(existing, exclude, skip=[out_dir] if out_dir else [])
    roots: Dict[Path, Path] = dict(selection.files)
    files = [file for file, _ in selection.files]
    for link in selection.outside:
        outside = FileResult(path=str(link), source=b"", output=b"")
        outside.findings.append(make_finding(
            LINK_OUTSIDE, f"symbolic link to {os.path.realpath(link)}, outside the scanned paths: "
            "not migrated, not written through; name it explicitly to migrate it", 1, 1))
        results.append(outside)
    write_in_place = not (diff or check or out_dir)
    if out_dir is not None:
        _refuse_collisions(selection, out_dir)

    def target(file: Path) -> Optional[Path]:
        if out_dir is not None:
            return out_path(file, roots[file], out_dir)
        return file if write_in_place else None

    results.extend(_migrate_all(files, target, annotate, jobs, options))
    if out_dir is not None:
        _mirror_links(selection, roots, out_dir)
    display = {r.path: relative_to_cwd(Path(r.path)).as_posix() for r in results}
    summary = report.Summary()
    for result in results:
        summary.add(result)

    stdout_is_artifact = diff or fmt == "json"
    out = report.console(sys.stderr if stdout_is_artifact else sys.stdout)
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


def _refuse_collisions(selection: Selection, out_dir: Path) -> None:
    """Two sources mapped to one --out-dir path would silently overwrite each other: refuse
    the run (exit 2) before anything is written."""
    sources: Dict[Path, List[Path]] = {}
    for file, root in selection.files:
        sources.setdefault(out_path(file, root, out_dir), []).append(file)
    for link, _, root in selection.aliases:
        sources.setdefault(out_path(link, root, out_dir), []).append(link)
    clashes = {t: f for t, f in sources.items() if len(f) > 1}
    if clashes:
        lines = [f"  {t}: " + ", ".join(str(f) for f in files) for t, files in sorted(clashes.items())]
        raise click.UsageError(
            "--out-dir would write several files to the same path:\n" + "\n".join(lines)
            + "\nrun from a folder above the inputs, or migrate them into separate --out-dir folders"
        )


def _mirror_links(selection: Selection, roots: Dict[Path, Path], out_dir: Path) -> None:
    """In the out tree, a link whose target is migrated too stays a link (to the migrated copy)."""
    for link, target, root in selection.aliases:
        where = out_path(link, root, out_dir)
        points_to = os.path.relpath(out_path(target, roots[target], out_dir), where.parent)
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.is_symlink() and os.readlink(where) == points_to:
            continue
        if where.is_symlink() or where.is_file():
            where.unlink()
        os.symlink(points_to, where)


def _migrate_all(
    files: List[Path], target: Callable[[Path], Optional[Path]], annotate: bool, jobs: int,
    options: Optional[Options] = None,
) -> List[FileResult]:
    options = options or Options(annotate=annotate)
    work = [(f, target(f), options) for f in files]
    workers = min(jobs or (os.cpu_count() or 1), len(work))
    progress = _progress(len(work))
    results: List[FileResult] = []
    if workers > 1 and len(work) >= PARALLEL_THRESHOLD:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=writing.install_worker)
        try:
            for result in pool.map(_work, work, chunksize=4):
                results.append(result)
                progress(result)
        except BaseException:
            # interrupted: queued files are never started, the workers finish (or abandon,
            # between writes) the file in hand and exit before we do
            progress(None)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    else:
        for item in work:
            result = _work(item)
            results.append(result)
            progress(result)
    progress(None)
    return results


def _work(item: Tuple[Path, Optional[Path], Options]) -> FileResult:
    file, write_to, options = item
    return migrate_file(file, write_to=write_to, options=options)


def _progress(total: int) -> Callable[[Optional[FileResult]], None]:
    """A rich progress bar on stderr for long runs on a terminal; a no-op otherwise."""
    if total < 50 or not sys.stderr.isatty():
        return lambda result: None
    from rich.progress import Progress

    bar = Progress(console=report.console(sys.stderr), transient=True)
    task = bar.add_task("migrating", total=total)
    bar.start()

    def advance(result: Optional[FileResult]) -> None:
        if result is None:
            bar.stop()
        else:
            bar.advance(task)

    return advance
