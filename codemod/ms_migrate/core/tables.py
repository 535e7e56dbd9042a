"""Load the mapping tables (rules/*.json). In a source checkout or an editable install they are
read from the top-level rules/ folder; in a wheel they ship as ms_migrate/tables/."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

_PACKAGE = Path(__file__).resolve().parent.parent  # ms_migrate/


def tables_dir() -> Path:
    for candidate in (_PACKAGE / "tables", _PACKAGE.parent.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("ms-migrate's mapping tables (rules/*.json) are missing")


@lru_cache(maxsize=None)
def load(name: str) -> Dict[str, Any]:
    with open(tables_dir() / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


def optimizers() -> Dict[str, Dict[str, Any]]:
    return load("optimizers")["optimizers"]


def experimental_classes() -> Dict[str, Dict[str, Any]]:
    """mindspore.experimental.optim class -> its signature (positional order, defaults)."""
    return load("optimizers")["experimental_classes"]
