"""The one place rules are registered, in the order they run."""

from __future__ import annotations

from typing import Dict, Tuple, Type

from ms_migrate.core.findings import Check
from ms_migrate.rules.base import Rule
from ms_migrate.core.engine_checks import ENGINE_CHECKS
from ms_migrate.rules.optimizers.constructor import OptimizerConstructor
from ms_migrate.rules.leftovers import Leftovers
from ms_migrate.rules.param_groups.groups import ParamGroups
from ms_migrate.rules.parameters.selection import ParameterSelection
from ms_migrate.rules.schedulers.to_lists import Schedulers
from ms_migrate.rules.training_step.rule import TrainingStep

# Order matters: later rules read what earlier ones left on the context (ctx.optimizer_sites);
# Leftovers runs last and reports every torch.optim reference nobody migrated. The engine makes
# a fresh instance of each rule per file, so a rule may keep per-file state on self.
RULES: Tuple[Type[Rule], ...] = (
    OptimizerConstructor,
    TrainingStep,
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

