"""Which files a run looks at: explicit files as given, directories walked for *.py."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence

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
    skip_dirs: Optional[Iterable[str]] = None,
) -> List[Path]:
    """Files to migrate, sorted and without duplicates. `skip` holds folders never to enter
    (the --out-dir); `skip_dirs` replaces the folder names always skipped (SKIP_DIRS)."""
    skipped = {p.resolve() for p in skip}
    names = SKIP_DIRS if skip_dirs is None else set(skip_dirs)
    seen = set()
    found: List[Path] = []
    for path in paths:
        for file in _walk(path, exclude, skipped, names):
            key = file.resolve()
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


def relative_to_cwd(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def out_path(file: Path, root: Path, out_dir: Path) -> Path:
    """Where --out-dir puts `file`: its path below the cwd when it lies there, else its path
    below the PATH argument it was found under."""
    rel: Optional[Path]
    try:
        rel = file.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        base = root if root.is_dir() else root.parent
        rel = file.resolve().relative_to(base.resolve())
    return out_dir / rel
