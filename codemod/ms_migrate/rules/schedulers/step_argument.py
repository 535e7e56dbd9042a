"""`scheduler.step(arg)`: torch 2.13 sets the scheduler's count (`last_epoch`) to `arg` and
computes the lr from it (the closed form where the class has one, else get_lr() at that count;
CosineAnnealingWarmRestarts takes fractional epochs). The lr a step sets is used by the
optimizer steps that follow it. Two shapes are modelled exactly, everything else refused
(Unsupported: MSM401):

    for epoch in range(start, epochs):          # once per epoch, end of the epoch:
        for batch in loader: optimizer.step()   #   epoch 0 trains at f(0) (the lr set at
        scheduler.step(epoch + c)               #   construction), epoch j >= 1 at f(start+c+j-1)
                                                # (at the start of the epoch: f(start + c + j))

    iters = len(loader)                         # CosineAnnealingWarmRestarts, per batch:
    for epoch in range(epochs):                 #   optimizer step k uses f((k - 1) / iters),
        for i, batch in enumerate(loader):      #   step 0 f(0): a smooth cosine
            optimizer.step()
            scheduler.step(epoch + i / iters)

The schedules modelled are those whose lr at a count is a closed form of it (not
MultiplicativeLR, which multiplies the current lr, nor the composites, whose step() takes no
argument, nor the cyclic ones, which also move momentum).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.schedulers.formulas import Unsupported
from ms_migrate.rules.schedulers.stepping import Stepping, _enumerate_index, _unwrap

# lr at count T is a closed form of T (torch's _get_closed_form_lr, or get_lr() reading only
# last_epoch: LambdaLR and the transformers factories built on it).
CLOSED_FORM = {"StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
               "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "LambdaLR",
               "linear", "cosine", "constant", "constant_with_warmup"}
FRACTIONAL = {"CosineAnnealingWarmRestarts"}


def model(ctx: FileContext, step_call: cst.Call, name: str, timing: Stepping) -> None:
    """Set timing.count for scheduler.step(arg), or raise Unsupported. No argument: nothing."""
    if not step_call.args:
        return
    arg = _argument(step_call)
    shown = ctx.code(step_call).strip()
    if arg is None or not isinstance(ctx.parent(step_call), cst.Expr):
        raise Unsupported(f"`{shown}` is not a plain call with one epoch argument")
    if name not in CLOSED_FORM:
        raise Unsupported(f"`{shown}`: {name} given an epoch does not follow a closed form of it; "
                          "call step() without an argument")
    if timing.per_epoch:
        timing.count = _per_epoch(ctx, arg, timing, shown)
    elif name in FRACTIONAL:
        timing.count = _fractional(ctx, arg, timing, shown)
    else:
        raise Unsupported(f"`{shown}` once per optimizer update sets the count to its argument; "
                          "ms-migrate models an argument only once per epoch (step(epoch)) and for "
                          "CosineAnnealingWarmRestarts per batch (step(epoch + i / iters))")


def _argument(call: cst.Call) -> Optional[cst.BaseExpression]:
    if len(call.args) != 1 or call.args[0].star:
        return None
    arg = call.args[0]
    if arg.keyword is not None and arg.keyword.value != "epoch":
        return None
    return arg.value


def _refuse(shown: str, why: str) -> Unsupported:
    return Unsupported(f"`{shown}` sets the scheduler's count to its argument (torch's deprecated "
                       f"form), and {why}; call step() without an argument, or build the list by hand")


def _loop_variable(ctx: FileContext, name: cst.BaseExpression, target: cst.BaseExpression) -> bool:
    """Is `name` a read of the loop target `target` (and of nothing else)?"""
    if not isinstance(name, cst.Name) or not isinstance(target, cst.Name):
        return False
    assignment = ctx.binding(name)
    return assignment is not None and assignment.node is target


def _range_start(ctx: FileContext, loop: cst.For) -> Optional[cst.BaseExpression]:
    """START of `for e in range([START, ]STOP)` (0 when absent), None for any other iterable."""
    iterable = _unwrap(ctx, loop.iter)
    if not (isinstance(iterable, cst.Call) and syntax.dotted(iterable.func) in ("range", "trange")):
        return None
    args = iterable.args
    if any(a.keyword is not None or a.star for a in args) or not 1 <= len(args) <= 2:
        return None
    return args[0].value if len(args) == 2 else cst.Integer("0")


def _epoch_plus_constant(ctx: FileContext, arg: cst.BaseExpression, loop: cst.For):
    """`epoch`, `epoch + c`, `c + epoch`, `epoch - c` with c an integer literal: c, or None."""
    if _loop_variable(ctx, arg, loop.target):
        return 0
    if isinstance(arg, cst.BinaryOperation) and isinstance(arg.operator, (cst.Add, cst.Subtract)):
        left, right = arg.left, arg.right
        if isinstance(arg.operator, cst.Add) and _loop_variable(ctx, right, loop.target):
            left, right = right, left
        constant = syntax.literal_value(right)
        if _loop_variable(ctx, left, loop.target) and isinstance(constant, int) and not isinstance(constant, bool):
            return constant if isinstance(arg.operator, cst.Add) else -constant
    return None


def _per_epoch(ctx: FileContext, arg: cst.BaseExpression, timing: Stepping, shown: str):
    loop = timing.epoch_loop
    if loop is None:
        raise _refuse(shown, "no epoch loop drives it")
    c = _epoch_plus_constant(ctx, arg, loop)
    start = _range_start(ctx, loop)
    if c is None or start is None:
        raise _refuse(shown, "its argument is not the epoch loop's variable (plus a constant) over a range()")
    first = syntax.literal_value(start)
    literal = isinstance(first, int) and not isinstance(first, bool)
    if timing.offset:  # stepped before the epoch's updates: epoch j trains at f(start + c + j)
        shift = first + c if literal else _plus(start, c)
        return lambda spe, i: _plus(syntax.fill("I // SPE", I=i, SPE=spe), shift)
    # stepped after the epoch's updates: epoch 0 at f(0), epoch j >= 1 at f(start + c + j - 1)
    shift = first + c - 1 if literal else _plus(start, c - 1)
    if shift == 0:
        return lambda spe, i: syntax.fill("I // SPE", I=i, SPE=spe)
    if shift == -1:
        return lambda spe, i: syntax.fill("max(I // SPE - 1, 0)", I=i, SPE=spe)
    return lambda spe, i: syntax.fill("(COUNT if I >= SPE else 0)", COUNT=_plus(syntax.fill("I // SPE", I=i, SPE=spe), shift), I=i, SPE=spe)


def _plus(count: cst.BaseExpression, shift) -> cst.BaseExpression:
    if isinstance(shift, int):
        if shift == 0:
            return count
        return syntax.fill(f"COUNT {'+' if shift > 0 else '-'} {abs(shift)}", COUNT=count)
    return syntax.fill("COUNT + SHIFT", COUNT=count, SHIFT=shift)


def _fractional(ctx: FileContext, arg: cst.BaseExpression, timing: Stepping, shown: str):
    """`epoch + i / iters` after every update, iters the number of batches (= updates)."""
    epoch_loop, batch_loop = timing.epoch_loop, timing.batch_loop
    if epoch_loop is None or batch_loop is None:
        raise _refuse(shown, "there is no epoch loop around the batch loop")
    if timing.assumptions:
        raise _refuse(shown, "the batch loop can leave early")
    if not (isinstance(arg, cst.BinaryOperation) and isinstance(arg.operator, cst.Add)):
        raise _refuse(shown, "it is not `epoch + i / iters`")
    epoch, fraction = arg.left, arg.right
    if not _loop_variable(ctx, epoch, epoch_loop.target):
        epoch, fraction = fraction, epoch
    start = _range_start(ctx, epoch_loop)
    index, index_start = _enumerate_index(ctx, batch_loop)
    if not (_loop_variable(ctx, epoch, epoch_loop.target) and start is not None and index is not None
            and isinstance(fraction, cst.BinaryOperation) and isinstance(fraction.operator, cst.Divide)
            and isinstance(fraction.left, cst.Name) and fraction.left.value == index
            and _binding_is_enumerate_index(ctx, fraction.left, batch_loop)):
        raise _refuse(shown, "it is not `epoch + i / iters` with epoch the epoch loop's variable over a "
                             "range() and i the batch loop's enumerate() index")
    if not _counts_batches(ctx, fraction.right, batch_loop):
        raise _refuse(shown, f"`{ctx.code(fraction.right)}` is not len() of the batch loop's iterable")
    if timing.update is None or _guarded(ctx, timing.update, batch_loop):
        raise _refuse(shown, "not every batch updates the optimizer")
    a = syntax.literal_value(start)
    s = syntax.literal_value(index_start) if index_start is not None else 0
    if not (isinstance(a, int) and isinstance(s, int)) or a < 0 or s < 0:
        raise _refuse(shown, "the epoch range or the enumerate() start is not a non-negative literal")
    # update k (k >= 1) follows the step of batch k - 1: count a + (k - 1 + s) / iters
    if a == 0 and s == 0:
        return lambda spe, i: syntax.fill("max(I - 1, 0) / SPE", I=i, SPE=spe)
    return lambda spe, i: syntax.fill(f"({a} + (I - 1 + {s}) / SPE if I else 0)", I=i, SPE=spe)


def _binding_is_enumerate_index(ctx: FileContext, name: cst.Name, loop: cst.For) -> bool:
    assignment = ctx.binding(name)
    target = loop.target
    return (assignment is not None and isinstance(target, cst.Tuple) and target.elements
            and assignment.node is target.elements[0].value)


def _counts_batches(ctx: FileContext, node: cst.BaseExpression, loop: cst.For) -> bool:
    """`len(X)` (directly, or a name bound once to it) with X the batch loop's iterable."""
    if isinstance(node, cst.Name):
        value = ctx.assigned_value(node)
        if value is None:
            return False
        node = value
    source = _unwrap(ctx, loop.iter)
    if not (isinstance(node, cst.Call) and syntax.is_name(node.func, "len") and len(node.args) == 1):
        return False
    counted = node.args[0].value
    if not counted.deep_equals(source):
        return False
    # the same variable: one binding each, and the same one
    names = [n for n in syntax.read_names(counted)]
    sources = [n for n in syntax.read_names(source)]
    return all(ctx.binding(a) is not None and ctx.binding(a) is ctx.binding(b) for a, b in zip(names, sources))


def _guarded(ctx: FileContext, update: cst.Call, loop: cst.For) -> bool:
    for parent in ctx.ancestors(update):
        if parent is loop:
            return False
        if isinstance(parent, (cst.If, cst.Try, cst.For, cst.While)):
            return True
    return True
