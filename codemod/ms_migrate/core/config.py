"""Configuration in pyproject.toml, table [tool.ms-migrate], found as ruff finds its own: the
nearest pyproject.toml holding that table, searched upward from each PATH (from the current
folder for stdin); `--config FILE` names one explicitly (a pyproject.toml, or a TOML file whose
top level holds the same keys).

    [tool.ms-migrate]
    select = ["MSM1", "MSM4"]          # codes or prefixes to report (default: all)
    ignore = ["MSM106"]                # codes or prefixes never reported
    target = "auto"                    # auto | nn | experimental
    exclude = ["legacy"]               # replaces the default skip list (.git, venv, build, ...)
    extend-exclude = ["scripts/old_*.py"]  # added to it
    per-file-ignores = {"tests/*" = ["MSM1"]}
    max-file-size = 1000000            # bytes; larger files are skipped with a finding

Unknown keys and bad values raise ConfigError (exit 2 on the command line)."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

TABLE = "ms-migrate"
TARGETS = ("auto", "nn", "experimental")
KEYS = ("select", "ignore", "target", "exclude", "extend-exclude", "per-file-ignores", "max-file-size")
PREFIX = re.compile(r"^MSM\d{0,3}$")


class ConfigError(Exception):
    """A configuration that cannot be used: says which file, which key and what is accepted."""


@dataclass(frozen=True)
class Config:
    path: Optional[Path] = None  # the file it came from (None: defaults)
    select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    target: Optional[str] = None
    exclude: Optional[Tuple[str, ...]] = None  # None: the default skip list
    extend_exclude: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    max_file_size: Optional[int] = None

    @property
    def root(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def anchored(self, patterns: Sequence[str]) -> List[str]:
        """Patterns with a '/' are relative to the config's folder: made absolute so that
        discovery matches them whatever the current folder; bare names match any part."""
        return [str(self.root.absolute() / p) if "/" in p.rstrip("/") else p for p in patterns]

    def ignores_for(self, file: Path) -> Tuple[str, ...]:
        """The codes per-file-ignores adds for `file` (globs relative to the config's folder,
        or matching the file name)."""
        if not self.per_file_ignores:
            return ()
        absolute = Path(os.path.abspath(file))
        try:
            relative = absolute.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            relative = absolute.as_posix()
        codes: List[str] = []
        for pattern, found in self.per_file_ignores:
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(absolute.name, pattern):
                codes.extend(found)
        return tuple(codes)


def _load_toml(path: Path) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def find(start: Path) -> Optional[Path]:
    """The nearest pyproject.toml with a [tool.ms-migrate] table, from `start` upward."""
    here = Path(os.path.abspath(start))
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and TABLE in _load_toml(candidate).get("tool", {}):
            return candidate
    return None


def load(path: Optional[Path], explicit: bool = False) -> Config:
    """The configuration in `path` (defaults when None). An explicit file that is not a
    pyproject.toml may hold the keys at its top level."""
    if path is None:
        return Config()
    data = _load_toml(path)
    if "tool" in data or path.name == "pyproject.toml":
        table = data.get("tool", {}).get(TABLE)
        if table is None:
            if explicit:
                raise ConfigError(f"{path}: no [tool.{TABLE}] table")
            return Config()
        where = f"{path}: [tool.{TABLE}]"
    else:
        table, where = data, str(path)
    return parse(table, path, where)


def parse(table: Dict[str, Any], path: Optional[Path], where: str) -> Config:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(KEYS)})")
    values: Dict[str, Any] = {"path": path}
    if "select" in table:
        values["select"] = codes(table["select"], f"{where} select")
    if "ignore" in table:
        values["ignore"] = codes(table["ignore"], f"{where} ignore")
    if "target" in table:
        values["target"] = target(table["target"], f"{where} target")
    for key in ("exclude", "extend-exclude"):
        if key in table:
            values[key.replace("-", "_")] = tuple(_strings(table[key], f"{where} {key}"))
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{where} per-file-ignores must be a table of glob = [codes]")
        values["per_file_ignores"] = tuple(
            (glob, codes(found, f"{where} per-file-ignores {glob!r}")) for glob, found in pfi.items()
        )
    if "max-file-size" in table:
        size = table["max-file-size"]
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(f"{where} max-file-size must be a positive number of bytes, not {size!r}")
        values["max_file_size"] = size
    return Config(**values)


def codes(value: Any, where: str) -> Tuple[str, ...]:
    """Finding codes or prefixes (`MSM101`, `MSM1`, `MSM`; `ALL` for every code), checked
    against the codes the tool has."""
    from ms_migrate.rules.registry import all_checks

    known = set(all_checks())
    found = []
    for item in _strings(value, where):
        code = item.strip().upper()
        if code == "ALL":
            code = "MSM"
        if not PREFIX.match(code) or not any(k.startswith(code) for k in known):
            raise ConfigError(f"{where}: {item!r} is not a finding code or prefix "
                              "(`ms-migrate rules` lists them; e.g. MSM101, MSM1, ALL)")
        found.append(code)
    return tuple(found)


def target(value: Any, where: str) -> str:
    if value not in TARGETS:
        raise ConfigError(f"{where} must be one of {', '.join(TARGETS)}, not {value!r}")
    return value


def _strings(value: Any, where: str) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, not {value!r}")
    return value
