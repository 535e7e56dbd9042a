"""MSM900 unmigrated-reference: the safety net. Every reference to torch.optim that no rule
converted or reported gets a finding, so nothing the tool saw is silent.

Before::

    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)   # no rule handles it
    isinstance(opt, torch.optim.Optimizer)

After: unchanged, with one finding each (MSM901 scheduler, MSM902 other torch.optim name).
"""

from __future__ import annotations

from typing import Tuple

import libcst as cst

from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, MIGRATION_GUIDE, Check
from ms_migrate.rules.base import Rule

DYNAMIC_LR = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore.nn.html#dynamic-learning-rate"

SCHEDULER = Check(
    "MSM901", "scheduler-not-migrated",
    "A torch.optim.lr_scheduler name that ms-migrate did not convert.", ERROR, DYNAMIC_LR,
)
OTHER = Check(
    "MSM902", "torch-optim-not-migrated",
    "A torch.optim name that ms-migrate did not convert.", ERROR, MIGRATION_GUIDE,
)


class Leftovers(Rule):
    code = "MSM900"
    name = "unmigrated-reference"
    summary = "Reports every torch.optim reference that no other rule converted or reported."
    url = MIGRATION_GUIDE
    checks = (SCHEDULER, OTHER)

    def run(self, ctx: FileContext) -> None:
        for statement in ctx.module.body:
            for small in getattr(statement, "body", ()) if isinstance(statement, cst.SimpleStatementLine) else ():
                if (isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar)
                        and small.module is not None and not small.relative
                        and (cst.helpers.get_full_name_for_node(small.module) or "").startswith("torch.optim")):
                    ctx.report(
                        OTHER, small,
                        f"`{ctx.code(small)}` hides which torch.optim names this file uses, so ms-migrate "
                        "cannot see them: import the names explicitly and run it again",
                    )
        for node, qname in ctx.rebound_torch_optim_references():
            parent = ctx.parent(node)
            if ctx.assignment_of(node) is not None or (
                    isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and parent.name is node):
                continue  # the rebinding itself
            lines = ", ".join(str(line) for line in ctx.rebinding_lines(node))
            ctx.report(
                OTHER if qname.startswith("torch.optim.") and ".lr_scheduler" not in qname else SCHEDULER, node,
                f"`{ctx.code(node)}` is imported as {qname} but its name is bound more than once in "
                f"this scope (lines {lines}: another import, a wrapper, functools.partial, an assignment "
                "or a loop target), so ms-migrate cannot tell which one runs here and left it as it "
                "is: convert it by hand, keeping every argument the rebinding adds",
            )
        for node, qname in ctx.torch_optim_references():
            if node not in ctx.handled:
                check, message = unmigrated(qname)
                ctx.report(check, node, message)


def unmigrated(qname: str) -> Tuple[Check, str]:
    """The finding for a torch.optim reference no rule converted or reported (also what
    core/inert.py reports for a file it answers without LibCST)."""
    if ".lr_scheduler" in qname:
        return SCHEDULER, (
            f"{qname} is not migrated: MindSpore optimizers take the whole schedule as a "
            "per-step learning_rate list (mindspore.nn.dynamic_lr); build it by hand"
        )
    return OTHER, (
        f"{qname} is not migrated: replace it with its MindSpore counterpart by hand "
        "(optimizers live in mindspore.nn, e.g. mindspore.nn.Optimizer)"
    )
