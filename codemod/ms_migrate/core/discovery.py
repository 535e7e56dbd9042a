"""Which files a run looks at: explicit files as given, directories walked for *.py."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", "build", "dist", ".venv", "venv", ".tox", ".nox",
    ".eggs", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
}


def _is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def excluded(path: Path, patterns: Sequence[str]) -> bool:
    text = path.as_posix()
    parts = path.parts
    absolute = None
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if os.path.isabs(pattern):  # anchored (a configuration's folder): the absolute path
            absolute = absolute or Path(os.path.abspath(path)).as_posix()
            if fnmatch.fnmatch(absolute, pattern) or fnmatch.fnmatch(absolute, pattern + "/*"):
                return True
            continue
        if fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(path.name, pattern):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
        if "/" in pattern and fnmatch.fnmatch(text, pattern + "/*"):
            return True
    return False


def discover(
    paths: Iterable[Path], exclude: Sequence[str] = (), skip: Sequence[Path] = (),
    skip_dirs: Optional[Iterable[str]] = None, dedupe: bool = True,
) -> List[Path]:
    """Files to migrate, sorted and without duplicates. `skip` holds folders never to enter
    (the --out-dir); `skip_dirs` replaces the folder names always skipped (SKIP_DIRS)."""
    skipped = {p.resolve() for p in skip}
    names = SKIP_DIRS if skip_dirs is None else set(skip_dirs)
    seen = set()
    found: List[Path] = []
    for path in paths:
        for file in _walk(path, exclude, skipped, names):
            key = file.resolve() if dedupe else file
            if key not in seen:
                seen.add(key)
                found.append(file)
    return found


def _walk(path: Path, exclude: Sequence[str], skipped: set, names=SKIP_DIRS) -> Iterator[Path]:
    if not path.is_dir():
        if not excluded(path, exclude):
            yield path  # an explicit file is taken whatever its suffix (pre-commit passes scripts)
        return
    for root, dirs, files in os.walk(path):
        here = Path(root)
        dirs[:] = sorted(
            d for d in dirs
            if d not in names
            and not d.endswith(".egg-info")
            and not (here / d).is_symlink()
            and not _is_virtualenv(here / d)
            and (here / d).resolve() not in skipped
            and not excluded(here / d, exclude)
        )
        for name in sorted(files):
            file = here / name
            if name.endswith(".py") and not excluded(file, exclude):
                yield file


def _absolute(path: Path) -> Path:
    """The absolute path without resolving symbolic links (a link is reported as given)."""
    return Path(os.path.abspath(path))


def relative_to_cwd(path: Path) -> Path:
    try:
        return _absolute(path).relative_to(_absolute(Path(os.getcwd())))
    except ValueError:
        return path


def out_path(file: Path, root: Path, out_dir: Path) -> Path:
    """Where --out-dir puts `file`: its path below the cwd when it lies there, else its path
    below the folder holding the PATH argument it was found under (so `/x/A` and `/x/B` map
    to `A/...` and `B/...`). Links are not resolved: a link maps by its own path."""
    absolute = _absolute(file)
    try:
        rel = absolute.relative_to(_absolute(Path(os.getcwd())))
    except ValueError:
        base = _absolute(root).parent if root.is_dir() else _absolute(root).parent.parent
        rel = absolute.relative_to(base)
    return out_dir / rel


@dataclass
class Selection:
    """What a run migrates, once per real file.

    files: (path as found or given, the PATH argument it came from), in order.
    aliases: symbolic links whose target is migrated under another path: (link, its target's
    path in `files`, PATH argument); the link stays a link.
    outside: links found in a folder that point outside every PATH argument: not migrated,
    not written through (name them explicitly to migrate them)."""

    files: List[Tuple[Path, Path]] = field(default_factory=list)
    aliases: List[Tuple[Path, Path, Path]] = field(default_factory=list)
    outside: List[Path] = field(default_factory=list)


def select(
    paths: Sequence[Path],
    exclude: Union[Sequence[str], Callable[[Path], Tuple[Sequence[str], Optional[Iterable[str]]]]] = (),
    skip: Sequence[Path] = (),
) -> Selection:
    """The files of `paths` (existing ones), each real file once: a file named explicitly
    wins, then a file found as itself, then a link to it, so a link and its target are never
    migrated twice and a link is never replaced by a copy. `exclude` is the glob list, or a
    function giving each PATH its globs and `skip_dirs` (its configuration's)."""
    real_roots = [os.path.realpath(p) for p in paths]
    candidates: List[Tuple[int, int, Path, Path, str]] = []  # (rank, order, path, root, real)
    selection = Selection()
    for root in paths:
        explicit = not root.is_dir()
        patterns, skip_dirs = exclude(root) if callable(exclude) else (exclude, None)
        for file in discover([root], patterns, skip, skip_dirs=skip_dirs, dedupe=False):
            if not os.path.exists(file):
                continue  # a dangling link: nothing to read
            real = os.path.realpath(file)
            link = file.is_symlink()
            if link and not explicit and not any(_within(real, r) for r in real_roots):
                selection.outside.append(file)
                continue
            rank = 0 if explicit else 2 if link else 1
            candidates.append((rank, len(candidates), file, root, real))
    best: Dict[str, Tuple[int, int, Path, Path, str]] = {}
    for candidate in candidates:
        kept = best.get(candidate[4])
        if kept is None or candidate[:2] < kept[:2]:
            best[candidate[4]] = candidate
    for candidate in candidates:
        rank, order, file, root, real = candidate
        chosen = best[real]
        if chosen is candidate:
            selection.files.append((file, root))
        elif file.is_symlink() and file != chosen[2]:
            selection.aliases.append((file, chosen[2], root))
    return selection


def _within(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
