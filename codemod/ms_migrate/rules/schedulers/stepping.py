"""How often a scheduler steps, found from the loops around `scheduler.step()` and the
optimizer's `step()`: once per optimizer update (per iteration) or once per epoch, with the
number of epochs and of updates per epoch read from the loops' iterables.

    for epoch in range(args.epochs):                 # epochs: args.epochs
        for step, batch in enumerate(train_loader):  # updates per epoch: len(train_loader)
            if (step + 1) % accum == 0:              #   ... // accum with this guard
                optimizer.step()
                scheduler.step()                     # per iteration (same loop, same guard)
        scheduler.step()                             # or per epoch (the loop around it)

The batch loop may sit in a function of the same file that the epoch loop calls with the
optimizer (pytorch/examples mnist). Anything else raises Unsupported with what the user must
supply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.schedulers import gaps
from ms_migrate.rules.schedulers.formulas import Unsupported

_WRAPPERS = ("enumerate", "tqdm", "tqdm.tqdm", "tqdm.auto.tqdm", "iter")


@dataclass
class Stepping:
    per_epoch: bool
    epochs: Optional[cst.BaseExpression]  # None: no epoch loop (one pass)
    updates_per_epoch: cst.BaseExpression
    outer: cst.CSTNode  # the statement of the scheduler's function holding the loops
    offset: int = 0  # 1 when a per-epoch scheduler steps at the start of each epoch
    assumptions: List[str] = field(default_factory=list)  # what the list assumes (warnings)
    epoch_loop: Optional[cst.For] = None
    batch_loop: Optional[cst.For] = None
    update: Optional[cst.Call] = None  # the optimizer.step() the list is indexed by
    # the scheduler's count at the list's step index given (steps per epoch, the index name),
    # when not the plain one (scheduler.step(epoch): step_argument.py)
    count: Optional[Callable[[cst.BaseExpression, cst.Name], cst.BaseExpression]] = None


@dataclass
class _Update:
    call: cst.Call  # optimizer.step() (or scaler.step(optimizer))
    site: cst.CSTNode  # where the scheduler's function reaches it: the call itself, or the helper call
    loops: List[cst.For]  # loops around it, outermost first, across the call into a helper
    guards: list  # (if, branch) between the innermost loop and the update
    mapping: dict  # helper parameter name -> argument expression at the call site


def analyze(ctx: FileContext, step_call: cst.Call, optimizer: cst.Name) -> Stepping:
    function = _function_of(ctx, step_call)
    s_loops, s_guards = _loops_and_guards(ctx, step_call, function)
    if not s_loops:
        raise Unsupported("scheduler.step() is not inside a loop")
    update = _find_update(ctx, optimizer, function)
    u_loops = update.loops
    if u_loops and u_loops[-1] is s_loops[-1] and len(u_loops) == len(s_loops):
        per_epoch = False
        batch_loop = s_loops[-1]
        epoch_loop = s_loops[-2] if len(s_loops) > 1 else None
        if [(id(g), b) for g, b in update.guards] != [(id(g), b) for g, b in s_guards]:
            raise Unsupported("scheduler.step() and optimizer.step() sit under different conditions "
                              "in the batch loop; supply the number of optimizer updates yourself")
        _check_order(ctx, update.call, step_call)
        gaps.exit_between(ctx, update.call, step_call)
    elif len(u_loops) == len(s_loops) + 1 and all(a is b for a, b in zip(u_loops, s_loops)):
        per_epoch = True
        batch_loop = u_loops[-1]
        epoch_loop = s_loops[-1]
        if s_guards:
            raise Unsupported("scheduler.step() runs under a condition in the epoch loop; supply the "
                              "epochs at which it steps yourself")
        batch_side = update.site if update.mapping else batch_loop
        gaps.epoch_body_is_straight(ctx, epoch_loop, step_call, batch_side)
    else:
        raise Unsupported("cannot tell from the loops how often scheduler.step() runs relative to "
                          "optimizer.step()")
    if len(s_loops) > 2 or (per_epoch and len(u_loops) > 2):
        raise Unsupported("more than two loops around the training step")
    updates = _updates_per_epoch(ctx, batch_loop, update)
    epochs = _epochs(ctx, epoch_loop) if epoch_loop is not None else None
    outer = s_loops[0]
    result = Stepping(per_epoch, epochs, updates, ctx.statement_of(outer),
                      epoch_loop=epoch_loop, batch_loop=batch_loop, update=update.call)
    if per_epoch and ctx.index_in(epoch_loop.body, step_call) < ctx.index_in(epoch_loop.body, batch_side):
        result.offset = 1  # torch's epoch e then already runs with the scheduler's count e + 1
    exit_ = _early_exit(batch_loop)
    if exit_ is not None:
        result.assumptions.append(
            f"the batch loop can leave early (`{ctx.code(exit_).strip()}`): the list assumes every batch "
            "of every epoch updates the optimizer; if that is not so, shorten steps_per_epoch")
    return result



def _early_exit(loop: cst.For) -> Optional[cst.CSTNode]:
    """A break/continue/return of this loop (not of a nested loop or function)."""
    stack = list(syntax.children(loop.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.For, cst.While, cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, (cst.Break, cst.Continue, cst.Return)):
            return node
        stack.extend(syntax.children(node))
    return None


def _function_of(ctx: FileContext, node: cst.CSTNode) -> cst.CSTNode:
    for parent in ctx.ancestors(node):
        if isinstance(parent, (cst.FunctionDef, cst.Module)):
            return parent
    return ctx.module


def _loops_and_guards(ctx: FileContext, node: cst.CSTNode, stop: cst.CSTNode) -> Tuple[List[cst.For], list]:
    loops: List[cst.For] = []
    guards: list = []
    child = node
    for parent in ctx.ancestors(node):
        if parent is stop or isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            break
        if isinstance(parent, cst.While):
            raise Unsupported("a while loop drives training; supply the number of optimizer steps")
        if isinstance(parent, cst.For) and child is parent.body:
            loops.append(parent)
        if isinstance(parent, cst.If) and not loops and child is not parent.test:
            guards.append((parent, "body" if child is parent.body else "else"))
        child = parent
    loops.reverse()
    guards.reverse()
    return loops, guards


def _is_step_of(ctx: FileContext, call: cst.Call, name: str) -> bool:
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "step":
        return False
    if isinstance(func.value, cst.Name) and func.value.value == name and not call.args:
        return True
    # scaler.step(optimizer)
    return len(call.args) == 1 and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == name


def _find_update(ctx: FileContext, optimizer: cst.Name, function: cst.CSTNode) -> _Update:
    name = optimizer.value
    own = [c for c in ctx.calls if _is_step_of(ctx, c, name) and _function_of(ctx, c) is function]
    if len(own) > 1:
        raise Unsupported(f"{name}.step() is called in several places")
    found = [_Update(c, c, *_loops_and_guards(ctx, c, function), {}) for c in own]
    found += _helper_updates(ctx, name, function)
    if len(found) > 1:
        lines = ", ".join(str(line) for line in sorted(ctx.start(u.site).line for u in found))
        raise Unsupported(f"{name}.step() is reached from {len(found)} places (lines {lines}), so the "
                          "updates per epoch are not those of one loop; supply the number of optimizer "
                          "steps yourself")
    if found:
        return found[0]
    raise Unsupported(f"no {name}.step() found in the function that steps the scheduler or in a "
                      "function of this file it calls")


def _helper_updates(ctx: FileContext, name: str, function: cst.CSTNode) -> List[_Update]:
    """Calls of functions of this file that are given the optimizer and step it."""
    found = []
    # mnist: train(args, model, device, train_loader, optimizer, epoch) holds the batch loop
    for call in ctx.calls:
        if not isinstance(call.func, cst.Name):
            continue
        helper = ctx.local_function(call.func)
        if helper is None or _function_of(ctx, call) is not function:
            continue
        mapping = _bind_call(call, helper)
        inner = [n for n, v in mapping.items() if isinstance(v, cst.Name) and v.value == name]
        if not inner:
            continue
        steps = [c for c in ctx.calls if _is_step_of(ctx, c, inner[0]) and _function_of(ctx, c) is helper]
        if not steps and not gaps.passes_on(ctx, helper, inner[0]):
            continue  # given the optimizer, never steps it (validate(model, optimizer))
        if len(steps) != 1:
            raise Unsupported(f"{call.func.value}() does not call {inner[0]}.step() exactly once")
        outer_loops, outer_guards = _loops_and_guards(ctx, call, function)
        inner_loops, inner_guards = _loops_and_guards(ctx, steps[0], helper)
        if inner_loops:
            gaps.helper_reaches_its_loop(ctx, helper, inner_loops[0])
        found.append(_Update(steps[0], call, outer_loops + inner_loops,
                             inner_guards if inner_loops else outer_guards, mapping))
    return found


def _bind_call(call: cst.Call, function: cst.FunctionDef) -> dict:
    params = [p.name.value for p in function.params.params]
    mapping = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            continue
        if arg.keyword is not None:
            mapping[arg.keyword.value] = arg.value
        elif i < len(params):
            mapping[params[i]] = arg.value
    return mapping


def _check_order(ctx: FileContext, update: cst.Call, step: cst.Call) -> None:
    if ctx.start(step).line < ctx.start(update).line:
        raise Unsupported("scheduler.step() runs before optimizer.step() (torch's legacy order): "
                          "the first update would already use the second lr")


def _unwrap(ctx: FileContext, iterable: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(iterable, cst.Call) and iterable.args:
        name = ctx.qualified_name(iterable.func) or syntax.dotted(iterable.func) or ""
        if name not in _WRAPPERS and not name.endswith(".tqdm"):
            break
        iterable = iterable.args[0].value
    return iterable


def _updates_per_epoch(ctx: FileContext, loop: cst.For, update: _Update) -> cst.BaseExpression:
    source = _unwrap(ctx, loop.iter)
    source = _map(source, update.mapping)
    count = syntax.fill("len(X)", X=source)
    if not update.guards:
        return count
    if len(update.guards) != 1:
        raise Unsupported("optimizer.step() sits under nested conditions; supply the number of "
                          "optimizer updates per epoch")
    guard, branch = update.guards[0]
    index, start = _enumerate_index(ctx, loop)
    found = _accumulation(guard.test, index) if branch == "body" else None
    if found is None:
        raise Unsupported(f"optimizer.step() runs under `{ctx.code(guard.test)}`: supply the number of "
                          "optimizer updates per epoch (a gradient-accumulation guard "
                          "`(step + 1) % k == 0` is understood)")
    kind, k = found
    k = _map(k, update.mapping)
    first = syntax.literal_value(start) if start is not None else 0
    # updates = how many counter values in the epoch are multiples of k
    if kind == "plus_one":  # counter + 1 over [start + 1, start + n]
        if first == 0:
            return syntax.fill("len(X) // K", X=source, K=k)
        return syntax.fill("(S + len(X)) // K - S // K", X=source, K=k, S=start)
    if first == 0:  # counter over [start, start + n - 1]
        return syntax.fill("(len(X) + K - 1) // K", X=source, K=k)
    if first == 1:
        return syntax.fill("len(X) // K", X=source, K=k)
    return syntax.fill("(S + len(X) - 1) // K - (S - 1) // K", X=source, K=k, S=start)


def _map(node: cst.BaseExpression, mapping: dict) -> cst.BaseExpression:
    return syntax.fill_names(node, mapping) if mapping else node


def _enumerate_index(ctx: FileContext, loop: cst.For):
    """The counter name of `for i, batch in enumerate(loader[, start])` and its start (None: 0)."""
    iterable = loop.iter
    if isinstance(iterable, cst.Call) and (ctx.qualified_name(iterable.func) or syntax.dotted(iterable.func)) == "enumerate":
        target = loop.target
        if isinstance(target, cst.Tuple) and target.elements and isinstance(target.elements[0].value, cst.Name):
            start = None
            for i, arg in enumerate(iterable.args):
                if (arg.keyword is not None and arg.keyword.value == "start") or (arg.keyword is None and i == 1):
                    start = arg.value
            return target.elements[0].value.value, start
    return None, None


def _accumulation(test: cst.BaseExpression, index: Optional[str]):
    """`(i + 1) % K == 0` -> ('plus_one', K); `i % K == 0` -> ('plain', K)."""
    if index is None or not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    target = test.comparisons[0]
    if not isinstance(target.operator, cst.Equal) or syntax.literal_value(target.comparator) != 0:
        return None
    left = test.left
    if not (isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Modulo)):
        return None
    counter = left.left
    if isinstance(counter, cst.Name) and counter.value == index:
        return "plain", left.right
    if (isinstance(counter, cst.BinaryOperation) and isinstance(counter.operator, cst.Add)
            and isinstance(counter.left, cst.Name) and counter.left.value == index
            and syntax.literal_value(counter.right) == 1):
        return "plus_one", left.right
    return None


def _epochs(ctx: FileContext, loop: cst.For) -> cst.BaseExpression:
    iterable = _unwrap(ctx, loop.iter)
    name = ctx.qualified_name(iterable.func) if isinstance(iterable, cst.Call) else None
    if isinstance(iterable, cst.Call) and (name in ("range", "tqdm.trange") or syntax.dotted(iterable.func) in ("range", "trange")):
        args = [a.value for a in iterable.args]
        if len(args) == 1:
            return args[0]
        if len(args) == 2:
            start, stop = args
            if (isinstance(stop, cst.BinaryOperation) and isinstance(stop.operator, cst.Add)
                    and syntax.literal_value(stop.right) is not syntax.MISSING
                    and syntax.same_value(syntax.literal_value(stop.right), syntax.literal_value(start))):
                return stop.left
            if syntax.literal_value(start) == 0:
                return stop
            return syntax.fill("STOP - START", STOP=stop, START=start)
    return syntax.fill("len(X)", X=iterable)
