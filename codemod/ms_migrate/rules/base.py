"""The rule contract: a rule reads the shared FileContext and records edits and findings."""

from __future__ import annotations

from typing import ClassVar, Tuple

from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import Check


class Rule:
    """A rule has a stable code (MSM + three digits, grouped by area), a name, a one-line
    summary, a docs URL, and the checks (finding codes) it may emit. Its docstring shows what
    it does, before and after."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    url: ClassVar[str]
    checks: ClassVar[Tuple[Check, ...]] = ()

    def run(self, ctx: FileContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError
