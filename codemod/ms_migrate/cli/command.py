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
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import click
from rich.console import Console

from ms_migrate import __version__
from ms_migrate.cli import formats, report
from ms_migrate.cli.formats import text
from ms_migrate.core import config, prescan
from ms_migrate.core.discovery import Selection, out_path, relative_to_cwd, select as select_files
from ms_migrate.core.engine import FileResult, internal_error_message, migrate_file, migrate_source, prescan_file
from ms_migrate.core.findings import make_finding
from ms_migrate.core import writing
from ms_migrate.core.options import DEFAULT_MAX_FILE_SIZE, TARGETS, Options
from ms_migrate.core.engine_checks import INTERNAL_ERROR, LINK_OUTSIDE, READ_ERROR

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# Bytes left for LibCST after the pre-scan before a process pool pays for its start-up (workers
# import LibCST and the rules themselves; ~1 s of single-process work)
PARALLEL_BYTES = 256 * 1024


class _DefaultToMigrate(click.Group):
    """`ms-migrate PATH...` runs the `migrate` command; `ms-migrate rules` lists the rules;
    `ms-migrate explain CODE` explains a finding. `--help` shows the options of `migrate`, the
    default command, with the subcommands."""

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["migrate", *args]
        elif not args:
            args = ["migrate"]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("ms-migrate", "[OPTIONS] PATH...  |  ms-migrate COMMAND [ARGS]...")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        command = self.commands["migrate"]
        with click.Context(command, info_name="ms-migrate", parent=None) as sub:
            records = [r for p in command.get_params(sub) if isinstance(p, click.Option)
                       for r in [p.get_help_record(sub)] if r and r[0] != "--help"]
        records += [r for p in self.get_params(ctx) for r in [p.get_help_record(ctx)] if r]
        with formatter.section("Options (of the default command, migrate)"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


@click.group(cls=_DefaultToMigrate, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ms-migrate")
def main() -> None:
    """Migrate the optimizer side of PyTorch training code to MindSpore.

    ms-migrate PATH... rewrites files in place (folders are walked for *.py; - reads stdin).
    In-place runs write a `# ms-migrate: CODE message` marker above every line with a warning
    or error; every run reports the markers still there until you delete them.
    """


@main.command("migrate", short_help="Migrate PATH... (the default command).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff per changed file.")
@click.option("--check", is_flag=True, help="Write nothing; report what would change and what is flagged.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write migrated copies under DIR, keeping the tree; sources stay as they are.")
@click.option("--annotate/--no-annotate", default=None,
              help="Write a `# ms-migrate: CODE message` marker above each line with a warning or "
                   "error (default: on when writing files, off with --diff/--check).")
@click.option("--format", "fmt", type=click.Choice(list(formats.FORMATS)), default="text", show_default=True,
              help="text for people; json, sarif (2.1.0) or github (workflow annotations) on stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Read settings from this file instead of the nearest pyproject.toml [tool.ms-migrate].")
@click.option("--select", metavar="CODES", multiple=True,
              help="Report only these codes or prefixes (comma-separated; replaces the config's select).")
@click.option("--ignore", metavar="CODES", multiple=True,
              help="Never report these codes or prefixes (comma-separated; added to the config's ignore).")
@click.option("--report-unused", is_flag=True,
              help="Report `# ms-migrate: ignore` comments that silence nothing (MSM004).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when files changed or findings remain.")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and folders matching GLOB (repeatable).")
@click.option("--stdin-filename", default="-", metavar="NAME", help="The name to report for `-`.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
              help="Worker processes (0: one per core, used only for many files).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary table.")
@click.option("--max-file-size", type=click.IntRange(min=0), default=None, metavar="BYTES",
              help=f"Skip (with finding MSM010) files larger than this that may need migration; "
                   f"0: no limit (default: the config's max-file-size, else {DEFAULT_MAX_FILE_SIZE}).")
@click.option("--target", type=click.Choice(TARGETS), default=None,
              help="MindSpore optimizer API: nn (mindspore.nn, per-step lr lists), experimental "
                   "(mindspore.experimental.optim, torch's structure kept), auto (nn where exact, "
                   "experimental where nn cannot be). Default: the config's target, else auto.")
def migrate(
    paths: Tuple[str, ...], diff: bool, check: bool, out_dir: Optional[Path], annotate: Optional[bool],
    fmt: str, config_path: Optional[Path], select: Tuple[str, ...], ignore: Tuple[str, ...],
    report_unused: bool, exit_zero: bool, exclude: Tuple[str, ...], stdin_filename: str, jobs: int,
    quiet: bool, max_file_size: Optional[int] = None, target: Optional[str] = None,
) -> None:
    """Migrate PATH... (files, or folders walked for *.py; `-` reads stdin and writes stdout)."""
    previous = writing.install()  # SIGINT/SIGTERM: exit 130/143, never a half-written file
    try:
        _migrate(paths, diff, check, out_dir, annotate, fmt, config_path, select, ignore,
                 report_unused, exit_zero, exclude, stdin_filename, jobs, quiet, max_file_size, target)
    finally:
        writing.restore(previous)


def _migrate(
    paths: Tuple[str, ...], diff: bool, check: bool, out_dir: Optional[Path], annotate: Optional[bool],
    fmt: str, config_path: Optional[Path], select: Tuple[str, ...], ignore: Tuple[str, ...],
    report_unused: bool, exit_zero: bool, exclude: Tuple[str, ...], stdin_filename: str, jobs: int,
    quiet: bool, max_file_size: Optional[int], target: Optional[str],
) -> None:
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a folder, or - for stdin)")
    if out_dir is not None and (diff or check):
        raise click.UsageError("--out-dir writes files; --diff and --check write nothing")
    if "-" in paths and len(paths) > 1:
        raise click.UsageError("- (stdin) cannot be combined with other paths")
    if diff and fmt not in formats.WITH_DIFF:
        raise click.UsageError(f"--diff cannot be combined with --format {fmt} (its stdout holds only "
                               "the report); use --format json, whose files carry their diff")
    if annotate is None:
        annotate = not (diff or check)
    try:
        settings = _Settings(config_path, _codes(select, "--select"), _codes(ignore, "--ignore"),
                             annotate, report_unused, max_file_size, target)
        if paths == ("-",):
            code = _run_stdin(stdin_filename, diff, check, settings, fmt, quiet)
        else:
            code = _run_paths(paths, diff, check, out_dir, settings, fmt, exclude, jobs, quiet)
    except config.ConfigError as error:
        click.echo(f"ms-migrate: error: {error}", err=True)
        code = EXIT_ERROR
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


@main.command("rules", short_help="List every rule and finding code with its docs link.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(fmt: str) -> None:
    """List every rule and finding code: code, name, severity, summary, docs URL (one
    tab-separated line per code when piped)."""
    report.rules_table(Console(soft_wrap=True), as_json=fmt == "json", out=sys.stdout)


@main.command("explain", short_help="Explain a finding code: meaning, before/after, what to do.")
@click.argument("code")
def explain_command(code: str) -> None:
    """Explain finding CODE (e.g. MSM101): what it means, before/after, what to do."""
    from ms_migrate.cli import explain

    explanation = explain.explain(code)
    if explanation is None:
        raise click.UsageError(f"unknown code {code!r}; `ms-migrate rules` lists them")
    click.echo(explanation)


def _codes(values: Sequence[str], option: str) -> Tuple[str, ...]:
    items = [v for value in values for v in value.split(",") if v.strip()]
    return config.codes(items, option) if items else ()


class _Settings:
    """The command line's settings, combined with each file's configuration into Options."""

    def __init__(self, path: Optional[Path], select: Tuple[str, ...], ignore: Tuple[str, ...],
                 annotate: bool, report_unused: bool, max_file_size: Optional[int] = None,
                 target: Optional[str] = None) -> None:
        self.explicit = config.load(path, explicit=True) if path is not None else None
        self.target = target  # --target, over the configuration's
        self.max_file_size = max_file_size  # --max-file-size, over the configuration's
        self.select, self.ignore = select, ignore
        self.annotate, self.report_unused = annotate, report_unused
        self._found: Dict[Path, config.Config] = {}
        self._where: Dict[Path, Optional[Path]] = {}

    def config_for(self, start: Path) -> config.Config:
        """--config, or the nearest pyproject.toml with [tool.ms-migrate] above `start`."""
        if self.explicit is not None:
            return self.explicit
        folder = start if start.is_dir() else start.parent
        if folder not in self._where:  # pre-commit passes many files from few folders
            self._where[folder] = config.find(folder)
        found = self._where[folder]
        key = found or Path()
        if key not in self._found:
            self._found[key] = config.load(found)
        return self._found[key]

    def options(self, conf: config.Config, file: Optional[Path] = None) -> Options:
        fields = dict(
            annotate=self.annotate,
            select=self.select or conf.select,
            ignore=conf.ignore + self.ignore + (conf.ignores_for(file) if file is not None else ()),
            report_unused=self.report_unused,
        )
        if self.target is not None:
            fields["target"] = self.target
        elif conf.target is not None:
            fields["target"] = conf.target
        if self.max_file_size is not None:
            fields["max_file_size"] = self.max_file_size
        elif conf.max_file_size is not None:
            fields["max_file_size"] = conf.max_file_size
        return Options(**fields)


def _exit_code(results: Iterable[FileResult], summary: report.Summary) -> int:
    results = list(results)
    if any(r.error for r in results):
        return EXIT_ERROR
    if any(r.changed for r in results) or summary.blocking:
        return EXIT_FINDINGS
    return EXIT_OK


def _run_stdin(name: str, diff: bool, check: bool, settings: _Settings, fmt: str, quiet: bool) -> int:
    source = sys.stdin.buffer.read()
    start = Path(name).parent if name != "-" else Path.cwd()
    conf = settings.config_for(start)
    result = migrate_source(source, name, settings.options(conf, Path(name) if name != "-" else None))
    summary = report.Summary()
    summary.add(result)
    run = formats.Run([result], {name: name}, summary, "check" if check else "diff" if diff else "write",
                      check=check)
    if diff:
        run.diffs[name] = report.unified_diff(result, name)
    document = formats.render(fmt, run)
    if document is not None:
        sys.stdout.write(document)
    elif diff:
        report.write_diff(run.diffs[name], sys.stdout, sys.stdout.isatty())
    elif not check:
        sys.stdout.buffer.write(result.output)
        sys.stdout.flush()
    if fmt == "text":
        text.write_findings(text.console(sys.stderr), result.findings, name)
    return _exit_code([result], summary)


def _run_paths(
    paths: Sequence[str], diff: bool, check: bool, out_dir: Optional[Path], settings: _Settings,
    fmt: str, exclude: Sequence[str], jobs: int, quiet: bool,
) -> int:
    results: List[FileResult] = []
    confs: Dict[Path, config.Config] = {}
    existing: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            missing = FileResult(path=raw, source=b"", output=b"", error="no such file or directory")
            missing.findings.append(make_finding(READ_ERROR, f"{raw}: no such file or directory", 1, 1))
            results.append(missing)
            continue
        existing.append(path)

    def walk_options(root: Path):
        conf = settings.config_for(root)
        confs[root] = conf
        patterns = [*conf.anchored(conf.exclude or ()), *conf.anchored(conf.extend_exclude), *exclude]
        return patterns, (() if conf.exclude is not None else None)

    # each real file once, links kept as links (core/discovery.py select)
    selection = select_files(existing, walk_options, skip=[out_dir] if out_dir else [])
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

    options = {file: settings.options(confs[roots[file]], file) for file in files}
    results.extend(_migrate_all(files, target, options, jobs))
    if out_dir is not None:
        _mirror_links(selection, roots, out_dir)
    display = {r.path: relative_to_cwd(Path(r.path)).as_posix() for r in results}
    summary = report.Summary()
    for result in results:
        summary.add(result)
    mode = "check" if check else "diff" if diff else f"out-dir {out_dir}" if out_dir else "write"
    run = formats.Run(results, display, summary, mode, check=check)
    if diff:
        run.diffs = {r.path: report.unified_diff(r, display[r.path]) for r in results if r.changed}

    document = formats.render(fmt, run)
    if document is not None:  # stdout holds the document only (it has its own summary)
        sys.stdout.write(document)
        sys.stdout.flush()
    else:
        if diff:
            for result in results:
                if result.path in run.diffs:
                    report.write_diff(run.diffs[result.path], sys.stdout, sys.stdout.isatty())
        text.write(run, text.console(sys.stderr if diff else sys.stdout), quiet)
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
    files: List[Path], target: Callable[[Path], Optional[Path]],
    options: Union[Options, Dict[Path, Options]], jobs: int,
) -> List[FileResult]:
    """Migrate `files`; `options` for all, or per file (per-file-ignores, configurations).

    Pre-scan every file here (read, ruled out, done); then LibCST-migrate the rest, in this
    process or, when they are worth it, in a pool that gets them in chunks. Results of unchanged
    files keep no bytes (FileResult.light), so a big tree never sits in memory or in a pipe."""
    progress = _progress(len(files))
    results: List[Optional[FileResult]] = [None] * len(files)
    pending: List[_Item] = []
    for index, file in enumerate(files):
        write_to = target(file)
        file_options = options[file] if isinstance(options, dict) else options
        result = prescan_file(file, write_to, file_options)
        if isinstance(result, prescan.Scan):
            pending.append((index, file, write_to, _size(file), file_options, result))
        else:
            results[index] = result.light()
            progress(result)
    workers = min(jobs or (os.cpu_count() or 1), len(pending))
    if workers > 1 and sum(item[3] for item in pending) >= PARALLEL_BYTES:
        from concurrent.futures import ProcessPoolExecutor, as_completed  # only when a pool runs

        pool = ProcessPoolExecutor(max_workers=workers, initializer=writing.install_worker)
        try:
            futures = [pool.submit(_work_chunk, chunk) for chunk in _chunks(pending, workers)]
            for future in as_completed(futures):
                for index, result in future.result():
                    results[index] = result
                    progress(result)
        except BaseException:
            # interrupted: queued chunks are never started; the workers finish the file in hand
            # (each write is atomic) and exit before we do
            progress(None)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    else:
        for index, result in _work_chunk(pending):
            results[index] = result
            progress(result)
    progress(None)
    return [r for r in results if r is not None]


# index in the run, file, where to write it, its size, its options, what the pre-scan learned
_Item = Tuple[int, Path, Optional[Path], int, Options, prescan.Scan]


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _chunks(pending: List[_Item], workers: int) -> List[List[_Item]]:
    """About four chunks per worker of similar size, the biggest files first so that the last
    chunks are small ones (one submission per chunk, not per file)."""
    per_chunk = max(sum(item[3] for item in pending) // (workers * 4), 1)
    chunks: List[List[_Item]] = []
    current: List[_Item] = []
    weight = 0
    for item in sorted(pending, key=lambda item: -item[3]):
        current.append(item)
        weight += item[3]
        if weight >= per_chunk:
            chunks.append(current)
            current, weight = [], 0
    if current:
        chunks.append(current)
    return chunks


def _work_chunk(chunk: List[_Item]) -> List[Tuple[int, FileResult]]:
    return [(index, _work(file, write_to, options, scan).light())
            for index, file, write_to, _, options, scan in chunk]


def _work(file: Path, write_to: Optional[Path], options: Options, scan: prescan.Scan) -> FileResult:
    """One file; whatever happens in it stays a finding on it, and the run goes on."""
    try:
        return migrate_file(file, write_to=write_to, options=options, prescanned=scan)
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

    bar = Progress(console=text.console(sys.stderr), transient=True)
    task = bar.add_task("migrating", total=total)
    bar.start()

    def advance(result: Optional[FileResult]) -> None:
        if result is None:
            bar.stop()
        else:
            bar.advance(task)

    return advance
