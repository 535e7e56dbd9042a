"""What may skip a scheduler step or an optimizer update without the loops showing it: the
stepping analysis (stepping.py) asks these questions and refuses (Unsupported: MSM401) what it
cannot prove exact.

    for epoch in range(epochs):
        if epoch >= warmup_epochs:          # a condition between the epoch and batch loops
            for batch in loader:
                optimizer.step()
        if epoch < 2:
            continue                        # an exit that skips scheduler.step()
        scheduler.step()

    def train(model, loader, optimizer):
        if not model.training:
            return                          # an exit before the helper's batch loop
        for batch in loader:
            optimizer.step()
"""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.schedulers.formulas import Unsupported

_CONDITIONAL = (cst.If, cst.Try, cst.While) + ((cst.TryStar,) if hasattr(cst, "TryStar") else ()) \
    + ((cst.Match,) if hasattr(cst, "Match") else ())
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def exits(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The break/continue statements that leave the loop `node` is the body of (not those of
    nested loops), and every return (not in nested functions)."""
    stack = [(node, False)]
    while stack:
        current, nested = stack.pop()
        if isinstance(current, cst.Return) or (not nested and isinstance(current, (cst.Break, cst.Continue))):
            yield current
            continue
        loop = isinstance(current, (cst.For, cst.While))
        for child in syntax.children(current):
            if not isinstance(child, _SCOPES):
                stack.append((child, nested or (loop and child is current.body)))



def _conditions_between(ctx: FileContext, node: cst.CSTNode, stop: cst.CSTNode) -> Optional[cst.CSTNode]:
    for parent in ctx.ancestors(node):
        if parent is stop:
            return None
        if isinstance(parent, _CONDITIONAL):
            return parent
    return None


def _header(ctx: FileContext, node: cst.CSTNode) -> str:
    if isinstance(node, (cst.If, cst.While)):
        return f"`{type(node).__name__.lower()} {ctx.code(node.test).strip()}`"
    return f"a `{type(node).__name__.lower()}` block"


def epoch_body_is_straight(ctx: FileContext, epoch_loop: cst.For, step_call: cst.Call,
                           batch_side: cst.CSTNode) -> None:
    """Per-epoch stepping: every epoch runs the batch loop and scheduler.step() once."""
    body = epoch_loop.body
    condition = _conditions_between(ctx, batch_side, body)
    if condition is not None:
        raise Unsupported(f"the batch loop runs under {_header(ctx, condition)} inside the epoch loop, "
                          "so some epochs may not update the optimizer; supply the epochs that train "
                          "yourself")
    step_at = ctx.index_in(body, step_call)
    batch_at = ctx.index_in(body, batch_side)
    for exit_ in exits(body):
        if any(parent is batch_side for parent in ctx.ancestors(exit_)):
            continue  # the batch loop's own exits: the early-exit assumption (MSM404) covers them
        if ctx.index_in(body, exit_) > max(step_at, batch_at):
            continue  # after the epoch's updates and its step (early stopping): nothing skipped
        raise Unsupported(f"`{ctx.code(exit_).strip()}` in the epoch loop can skip scheduler.step() or the "
                          "epoch's updates, so the scheduler's count is not the epoch number; "
                          "supply the epochs at which it steps yourself")


def exit_between(ctx: FileContext, update: cst.Call, step_call: cst.Call) -> None:
    """Per-iteration stepping: nothing may leave the batch loop between optimizer.step() and
    scheduler.step() (the scheduler would miss a step the optimizer made)."""
    update_statement = ctx.statement_of(update)
    for block in ctx.ancestors(update_statement):
        if not isinstance(block, (cst.IndentedBlock, cst.Module)):
            continue
        u = ctx.index_in(block, update)
        s = ctx.index_in(block, step_call)
        if s < 0:
            continue
        for statement in list(block.body)[u + 1:s]:
            for exit_ in exits(statement):
                raise Unsupported(f"`{ctx.code(exit_).strip()}` between optimizer.step() and "
                                  "scheduler.step() can skip a scheduler step; move it before the "
                                  "update or after the scheduler step")
        return


def helper_reaches_its_loop(ctx: FileContext, helper: cst.FunctionDef, loop: cst.For) -> None:
    """A helper holding the batch loop runs it on every call: no condition around it, no
    return before it."""
    condition = _conditions_between(ctx, loop, helper)
    if condition is not None:
        raise Unsupported(f"{helper.name.value}() runs its batch loop under {_header(ctx, condition)}, "
                          "so some calls may not update the optimizer; supply the number of "
                          "optimizer steps yourself")
    at = ctx.index_in(helper.body, loop)
    for exit_ in exits(helper.body):
        if ctx.index_in(helper.body, exit_) < at:
            raise Unsupported(f"`{ctx.code(exit_).strip()}` in {helper.name.value}() can return before "
                              "its batch loop; supply the number of optimizer steps yourself")


def passes_on(ctx: FileContext, helper: cst.FunctionDef, name: str) -> bool:
    """Does the helper hand its optimizer parameter to another call (which may step it)?"""
    for node in _walk_function(helper):
        if isinstance(node, cst.Call):
            for arg in node.args:
                if isinstance(arg.value, cst.Name) and arg.value.value == name:
                    return True
    return False


def _walk_function(function: cst.FunctionDef):
    stack = [function.body]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in syntax.children(current) if not isinstance(c, _SCOPES))
