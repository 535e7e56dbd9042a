"""The one place rules are registered, in the order they run."""

from __future__ import annotations

from typing import Dict, Tuple, Type

from codemod.findings import Check
from codemod.rules.base import Rule
from codemod.rules.engine_checks import ENGINE_CHECKS
from codemod.rules.optimizers import OptimizerConstructor
from codemod.rules.leftovers import Leftovers
from codemod.rules.param_groups import ParamGroups
from codemod.rules.parameters import ParameterSelection
from codemod.rules.schedulers import Schedulers

# Order matters: later rules read what earlier ones left on the context (ctx.optimizer_sites);
# Leftovers runs last and reports every torch.optim reference nobody migrated. The engine makes
# a fresh instance of each rule per file, so a rule may keep per-file state on self.
RULES: Tuple[Type[Rule], ...] = (
    OptimizerConstructor,
    ParameterSelection,
    Schedulers,
    ParamGroups,
    Leftovers,
)


def all_checks() -> Dict[str, Tuple[Check, str]]:
    """Every finding code -> (check, code of the rule that emits it)."""
    table: Dict[str, Tuple[Check, str]] = {c.code: (c, "MSM000") for c in ENGINE_CHECKS}
    for rule in RULES:
        for check in rule.checks:
            table[check.code] = (check, rule.code)
    return table

