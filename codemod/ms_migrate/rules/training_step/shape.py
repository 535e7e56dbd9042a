"""The step-shape matcher: from `optimizer.step()`, find the statements of one training step in
its block and check that torch's gradients at the step are exactly those of one loss.

    for data, target in loader:          # the loop body is the block
        optimizer.zero_grad()            # zero_grad of this optimizer, unguarded (or, with
        output = model(data)             #   accumulation, after the step under its guard)
        loss = criterion(output, target) # the loss statements (forward.py)
        loss.backward()                  # exactly one backward since the last zero_grad
        clip_grad_norm_(...)             # clipping (clipping.py); other statements that do
        optimizer.step()                 #   not touch gradients stay where they are
                                         # the step, alone or under one `if` guard

Anything else raises Blocked with what stops the conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import libcst as cst

from ms_migrate.core import bindings, syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.training_step import clipping, loss_scaling
from ms_migrate.rules.training_step.uses import Use


class Blocked(Exception):
    """The step cannot be converted; the message says why, for the user."""


@dataclass
class Step:
    call: cst.Call  # optimizer.step()
    statement: cst.SimpleStatementLine
    use: Use
    optimizer: cst.BaseExpression  # the optimizer expression of the step
    body: List[cst.CSTNode]  # the statements of the block holding backward
    backward: cst.SimpleStatementLine
    loss: cst.BaseExpression  # what .backward() was called on
    zero_grads: List[cst.CSTNode] = field(default_factory=list)  # statements to drop
    guard: Optional[cst.If] = None
    accumulate: bool = False
    accumulator_reset: Optional[cst.CSTNode] = None  # a zero_grad before the loop: `acc = None`
    clips: List[clipping.Clip] = field(default_factory=list)
    function: Optional[cst.CSTNode] = None
    anchor: Optional[cst.CSTNode] = None  # outermost loop around the step (None: no loop)
    scaler: Optional[loss_scaling.Scaler] = None  # a torch GradScaler drives the step
    closure: Optional[cst.FunctionDef] = None  # optimizer.step(closure): the closure's body is the step
    result: Optional[cst.Name] = None  # `loss = optimizer.step(closure)`: what the step's value binds
    holders: List[cst.BaseExpression] = field(default_factory=list)  # whose zero_grad() counts


def expr_call(statement: cst.CSTNode) -> Optional[cst.Call]:
    """The call of a statement line that is only `call(...)`."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            return small.value
    return None


def method(call: Optional[cst.Call], name: str) -> Optional[cst.BaseExpression]:
    """`x` for a call `x.name(...)`."""
    if call is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == name:
        return call.func.value
    return None


def same(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    return a.deep_equals(b)


def match(ctx: FileContext, call: cst.Call, use: Use, optimizers=(), networks=()) -> Step:
    """`optimizers`: every read of a converted optimizer (another optimizer's zero_grad in the
    block, as in a GAN's two steps, is not this step's business). `call` is `optimizer.step()`
    or a GradScaler's `scaler.step(optimizer)`."""
    optimizer = method(call, "step")
    code = ctx.code(call)
    scaler = None
    if len(call.args) == 1 and call.args[0].value in optimizers and not call.args[0].keyword:
        scaler = loss_scaling.constructor(ctx, optimizer)
        if isinstance(scaler, str):
            raise Blocked(f"`{code}` steps the optimizer through a torch GradScaler: {scaler}; use "
                          "mindspore.amp.DynamicLossScaler / StaticLossScaler by hand (scale the loss in "
                          "forward_fn, unscale the grads, apply them only when mindspore.amp.all_finite(grads), "
                          "then adjust)")
        optimizer = call.args[0].value
    elif call.args:
        closure = _closure_of(ctx, call)
        if isinstance(closure, str):
            raise Blocked(f"`{code}` passes a closure that computes the loss and its gradients (torch calls it "
                          f"once before the update, LBFGS several times): {closure}; a MindSpore optimizer only "
                          "takes gradients: move the closure's loss statements into forward_fn, then loss, grads = "
                          "grad_fn(...) and optimizer(grads) in place of the step, by hand")
        return _match_closure(ctx, call, use, optimizer, closure, code)
    statement = ctx.statement_of(call)
    if expr_call(statement) is not call:
        raise Blocked(f"`{code}` is part of a larger statement")
    block = ctx.parent(statement)
    owner = ctx.parent(block) if isinstance(block, cst.IndentedBlock) else block
    guard = None
    whole = isinstance(owner, (cst.If, cst.Else)) and isinstance(block, cst.IndentedBlock) and all(
        any(method(expr_call(s), name) is not None for s in block.body) for name in ("backward", "zero_grad"))
    if whole:  # the whole step under a condition: the branch is the step's block
        pass
    elif isinstance(owner, cst.If):
        if owner.orelse is not None or block is not owner.body:
            raise Blocked(f"`{code}` sits under an `if` with an `else`")
        guard = owner
        block = ctx.parent(owner)
        owner = ctx.parent(block) if isinstance(block, cst.IndentedBlock) else block
    if not isinstance(block, (cst.IndentedBlock, cst.Module)):
        raise Blocked(f"`{code}` is not a statement of a block")
    if not whole and not isinstance(owner, (cst.For, cst.While, cst.FunctionDef, cst.Module)):
        kind = _line(ctx, owner).rstrip(":") if isinstance(owner, cst.With) else type(owner).__name__.lower()
        raise Blocked(f"`{code}` sits inside a `{kind}` block (only a loop or function body, with at most "
                      "one `if` guard, is understood)")
    body = list(block.body)
    step = Step(call, statement, use, optimizer, body, None, None, guard=guard)  # type: ignore[arg-type]
    step.scaler = scaler
    if scaler is not None:
        _scaler_statements(ctx, step, code)
    step.function = _function_of(ctx, statement)
    step.anchor = _outermost_loop(ctx, block, step.function)
    _check_no_grad_reads(ctx, step.anchor or block, code)
    here = body.index(guard if guard is not None else statement)

    model = _model_of(use)
    holders = [optimizer] + ([model] if model is not None else [])
    step.holders = holders
    zero_unguarded = [i for i, s in enumerate(body) if _zero_grad_of(s, holders)]
    guard_body = list(guard.body.body) if guard is not None else []
    zero_guarded = [i for i, s in enumerate(guard_body) if _zero_grad_of(s, holders)]
    step_in_guard = guard_body.index(statement) if guard is not None else -1
    backwards = [i for i, s in enumerate(body) if method(expr_call(s), "backward") is not None]
    for s in guard_body:
        if method(expr_call(s), "backward") is not None:
            raise _backward_under_guard(ctx, s, guard, code)
    if not backwards:
        nested = [n for n in syntax.walk(step.anchor or block) if isinstance(n, cst.Call)
                  and method(n, "backward") is not None]
        holder = next((a for a in ctx.ancestors(nested[0]) if isinstance(a, (cst.With, cst.For, cst.While, cst.If))),
                      None) if nested else None
        if isinstance(holder, cst.With):
            raise Blocked(f"`{ctx.code(nested[0])}` sits inside `{_line(ctx, holder).rstrip(':')}` while `{code}` does "
                          "not (apex amp.scale_loss, a framework's context): the context changes the loss or its "
                          "gradients, which forward_fn cannot carry; restructure the step by hand")
        if nested:
            raise Blocked(f"`{ctx.code(nested[0])}` sits in a nested block (a micro-step loop, a condition) "
                          f"while `{code}` does not: gradients accumulated over an inner loop are not converted; "
                          "sum the micro-step grads by hand")
        raise _backward_count(ctx, [], code, optimizer)
    for i, s in enumerate(body):
        if i in zero_unguarded or i in backwards or s is statement or s is guard or clipping.read(ctx, s):
            continue
        target = method(expr_call(s), "zero_grad")
        if target is not None and (target in optimizers or any(same(target, m) for m in networks)):
            continue  # another optimizer's (or its network's) zero_grad: not these gradients
        if scaler is not None and s in (scaler.unscale, scaler.update):
            continue
        _check_quiet(ctx, s, optimizer, f"`{code}`")
    for i, s in enumerate(guard_body):
        if i in zero_guarded or s is statement:
            continue
        if method(expr_call(s), "backward") is not None:
            raise _backward_under_guard(ctx, s, guard, code)
        if i > step_in_guard:
            _check_quiet(ctx, s, optimizer, f"`{code}`")
    if any(i < step_in_guard for i in zero_guarded):
        raise Blocked(f"{ctx.code(optimizer)}.zero_grad() runs before `{code}` under the same condition: "
                      "the step would apply zero gradients")

    if zero_unguarded:
        before = [i for i in zero_unguarded if i < here]
        if before:
            window = [i for i in backwards if before[-1] < i < here]
        else:
            window = [i for i in backwards if i > zero_unguarded[-1] or i < here]
        if len(window) != 1 or window[0] > here:
            raise _backward_count(ctx, window, code, optimizer)
        step.zero_grads = [body[i] for i in zero_unguarded] + [guard_body[i] for i in zero_guarded]
    elif zero_guarded and guard is not None:
        window = [i for i in backwards if i < here]
        if len(window) != 1 or len(backwards) != 1:
            raise _backward_count(ctx, backwards, code, optimizer)
        step.accumulate = True
        step.zero_grads = [guard_body[i] for i in zero_guarded]
    else:
        where = "in this loop" if isinstance(owner, (cst.For, cst.While)) else \
            "in this branch" if whole else "in this function"
        raise Blocked(f"no {ctx.code(optimizer)}.zero_grad() {where}: torch adds the gradients of every "
                      f"backward to those of the previous ones before `{code}`; zero them each step, or "
                      "accumulate under the step's condition")
    step.backward = body[window[0]]
    backward_call = expr_call(step.backward)
    step.loss = method(backward_call, "backward")
    if scaler is not None:
        scaled = step.loss
        if not (isinstance(scaled, cst.Call) and method(scaled, "scale") is not None
                and same(method(scaled, "scale"), scaler.name) and len(scaled.args) == 1):
            raise Blocked(f"the backward before `{code}` is not `{scaler.name.value}.scale(loss).backward()`")
        step.loss = scaled.args[0].value
    _check_backward(ctx, backward_call, step.loss)

    # between the backward and the step: clipping, and statements that leave gradients alone
    between = body[window[0] + 1:here] + (guard_body[:step_in_guard] if guard is not None else [])
    for s in between:
        clip = clipping.read(ctx, s)
        if scaler is not None and s is scaler.unscale:
            continue
        if clip is not None:
            if scaler is not None and (scaler.unscale is None or between.index(s) < between.index(scaler.unscale)):
                raise Blocked(f"`{_line(ctx, s)}` clips the scaled gradients (no {scaler.name.value}.unscale_ "
                              "before it)")
            step.clips.append(clip)
        else:
            _check_quiet(ctx, s, optimizer, f"`{code}`")
    if step.accumulate:
        _accumulator_start(ctx, step)
    _check_bound_before(ctx, step)
    return step


def _closure_of(ctx: FileContext, call: cst.Call):
    """The `def closure(): ...` that `optimizer.step(closure)` passes, or why it is not one this
    rule converts: a local function without parameters, used only here."""
    if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star \
            or not isinstance(call.args[0].value, cst.Name):
        return "the argument is not the name of a local function"
    name = call.args[0].value
    assignment = ctx.binding(name)
    node = getattr(assignment, "node", None)
    if not isinstance(node, cst.FunctionDef):
        return f"`{name.value}` is not one local `def`"
    if len(assignment.references) != 1:
        return f"`{name.value}` is used elsewhere too"
    if node.params.params or node.params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) \
            or node.params.kwonly_params or node.params.star_kwarg or node.decorators or node.asynchronous:
        return f"`{name.value}` takes arguments or is decorated"
    if not isinstance(node.body, cst.IndentedBlock) or ctx.parent(node) is not ctx.parent(ctx.statement_of(call)):
        return f"`{name.value}` is not defined in the block of the step"
    body = list(node.body.body)
    last = body[-1] if body else None
    ret = last.body[0] if isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1 else None
    if not isinstance(ret, cst.Return) or not isinstance(ret.value, cst.Name):
        return f"`{name.value}` does not end with `return loss`"
    for inner in syntax.walk(node):
        if isinstance(inner, (cst.Global, cst.Nonlocal, cst.Return, cst.Yield, cst.FunctionDef, cst.Lambda)) \
                and inner is not node and inner is not ret:
            return f"`{name.value}` holds {type(inner).__name__.lower()} statements"
    return node


def _match_closure(ctx: FileContext, call: cst.Call, use: Use, optimizer, closure: cst.FunctionDef,
                   code: str) -> Step:
    """`optimizer.step(closure)` on an optimizer that calls its closure once (every torch.optim
    class but LBFGS, which is never converted): the closure's zero_grad / loss / backward are the
    step, run where the step is; its returned loss is the step's value."""
    statement = ctx.statement_of(call)
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 else None
    result = None
    if isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1 \
            and isinstance(small.targets[0].target, cst.Name):
        result = small.targets[0].target
    elif expr_call(statement) is not call:
        raise Blocked(f"`{code}` is part of a larger statement")
    block = ctx.parent(statement)
    body = list(closure.body.body)[:-1]
    returned = closure.body.body[-1].body[0].value
    step = Step(call, statement, use, optimizer, body, None, None)  # type: ignore[arg-type]
    step.closure, step.result = closure, result
    step.function = _function_of(ctx, statement)
    step.anchor = _outermost_loop(ctx, block, step.function)
    _check_no_grad_reads(ctx, step.anchor or block, code)
    for other in block.body:  # nothing else in the step's block works on gradients
        if other is not statement and other is not closure:
            _check_quiet(ctx, other, optimizer, f"`{code}`")
    model = _model_of(use)
    holders = [optimizer] + ([model] if model is not None else [])
    step.holders = holders
    zeros = [i for i, s in enumerate(body) if _zero_grad_of(s, holders)]
    backwards = [i for i, s in enumerate(body) if method(expr_call(s), "backward") is not None]
    if not zeros:
        raise Blocked(f"the closure of `{code}` does not call {ctx.code(optimizer)}.zero_grad(): torch adds its "
                      "gradients to those of the previous steps")
    if len(backwards) != 1 or zeros[-1] > backwards[0]:
        raise _backward_count(ctx, backwards, code, optimizer)
    step.zero_grads = [body[i] for i in zeros]
    step.backward = body[backwards[0]]
    step.loss = method(expr_call(step.backward), "backward")
    if not same(step.loss, returned):
        raise Blocked(f"the closure of `{code}` returns `{ctx.code(returned)}`, not the loss it differentiates")
    _check_backward(ctx, expr_call(step.backward), step.loss)
    for i, s in enumerate(body):
        if i not in zeros and i != backwards[0] and i > backwards[0]:
            raise Blocked(f"`{_line(ctx, s)}` runs after the backward in the closure of `{code}`")
        if i not in zeros and i != backwards[0]:
            _check_quiet(ctx, s, optimizer, f"`{code}`")
    _check_bound_before(ctx, step)
    return step


def _scaler_statements(ctx: FileContext, step: Step, code: str) -> None:
    """The GradScaler's unscale_/update statements in the step's block; it has no other use."""
    scaler = step.scaler
    if step.guard is not None:
        raise Blocked(f"`{code}` runs under a condition: a GradScaler step with accumulation is not converted")
    mine = {"scale": [], "unscale_": [], "update": [], "step": [], "get_scale": []}
    for statement in step.body:
        for node in syntax.walk(statement):
            if isinstance(node, cst.Call):
                for name in mine:
                    target = method(node, name)
                    if target is not None and same(target, scaler.name):
                        mine[name].append((statement, node))
    for name in ("unscale_", "update"):
        found = [s for s, c in mine[name] if expr_call(s) is c]
        if len(found) > 1 or (name == "update" and len(found) != 1):
            raise Blocked(f"`{code}`: expected one `{scaler.name.value}.{name}()` statement in its block")
        setattr(scaler, "unscale" if name == "unscale_" else "update", found[0] if found else None)
    if scaler.update is not None and step.body.index(scaler.update) < step.body.index(step.statement):
        raise Blocked(f"`{scaler.name.value}.update()` runs before `{code}`")
    scaler.reads = [c for _, c in mine["get_scale"] if not c.args]
    counted = sum(len(v) for v in mine.values())
    assignment = ctx.binding(scaler.name)
    uses = len(assignment.references) if assignment is not None else -1
    if uses != counted:
        raise Blocked(f"the GradScaler `{scaler.name.value}` is also used outside this step (or its uses "
                      "cannot be counted): convert it by hand to mindspore.amp.DynamicLossScaler")


def _backward_under_guard(ctx, s, guard, code) -> Blocked:
    return Blocked(f"`{_line(ctx, s)}` runs under `{_line(ctx, guard)}` with `{code}`, the zero_grad "
                   "outside it: forward_fn would move the forward pass before the backward (and what it "
                   "changes, e.g. batch-norm statistics) under the condition; put the zero_grad, the loss "
                   "and the backward under it, or all outside")


def _backward_count(ctx, found, code, optimizer) -> Blocked:
    if not found:
        return Blocked(f"no loss.backward() before `{code}` since {ctx.code(optimizer)}.zero_grad(): "
                       "there is no loss to differentiate in this block")
    return Blocked(f"{len(found)} backward calls add to the gradients `{code}` applies (several losses, "
                   "or another optimizer's backward between this optimizer's zero_grad() and step()); "
                   "sum the losses in one forward_fn by hand")


def _zero_grad_of(statement: cst.CSTNode, holders) -> bool:
    """`optimizer.zero_grad()`, or `model.zero_grad()` when the optimizer holds model.parameters()."""
    target = method(expr_call(statement), "zero_grad")
    return target is not None and any(same(target, h) for h in holders)


def _model_of(use: Use) -> Optional[cst.BaseExpression]:
    """`model` when the optimizer was built from `model.parameters()` (as the step's function
    names it): zeroing the model's gradients zeroes every gradient the optimizer uses."""
    params = use.site.params
    if not (isinstance(params, cst.Call) and method(params, "parameters") is not None and not params.args):
        return None
    model = method(params, "parameters")
    if use.through is None:
        return model
    for name, value in use.mapping.items():
        if value.deep_equals(model):
            return cst.Name(name)
    return None


_FRAMEWORK_BACKWARDS = (("accelerator", "Hugging Face Accelerate"), ("fabric", "Lightning Fabric"),
                        ("engine", "DeepSpeed"))


def _check_backward(ctx: FileContext, call: cst.Call, loss: cst.BaseExpression) -> None:
    if call.args:
        keywords = {a.keyword.value for a in call.args if a.keyword is not None}
        if keywords == {"retain_graph"} and len(call.args) == 1:
            return  # the only backward of this step: keeping its graph changes no gradient
        if keywords & {"retain_graph", "create_graph", "inputs"}:
            raise Blocked(f"`{ctx.code(call)}`: {', '.join(sorted(keywords))} has no counterpart in "
                          "mindspore.value_and_grad (it differentiates a function, not a recorded graph); "
                          "restructure the step by hand")
        owner = (syntax.dotted(loss) or "").split(".")[-1].lower()
        framework = next((name for key, name in _FRAMEWORK_BACKWARDS if key in owner), None)
        if framework is not None:
            raise Blocked(f"`{ctx.code(call)}` is {framework}'s backward (it scales, synchronizes or "
                          "accumulates the gradients inside), which MindSpore does not have: write the step as "
                          "forward_fn + mindspore.value_and_grad + optimizer(grads) by hand")
        raise Blocked(f"`{ctx.code(call)}` passes arguments to backward (a gradient, or a framework's "
                      "backward): restructure the step by hand")
    if isinstance(loss, cst.Call) and method(loss, "scale") is not None:
        raise Blocked(f"`{ctx.code(call)}` scales the loss for mixed precision (torch GradScaler): use "
                      "mindspore.amp.DynamicLossScaler / StaticLossScaler in forward_fn, unscale the "
                      "gradients, and apply them only when mindspore.amp.all_finite(grads)")


def _check_quiet(ctx: FileContext, statement: cst.CSTNode, optimizer, what: str) -> None:
    """A statement that stays where it is must not touch gradients or step anything."""
    for node in syntax.walk(statement):
        if isinstance(node, cst.Attribute) and node.attr.value in ("grad", "backward"):
            raise Blocked(f"`{_line(ctx, statement)}` uses .{node.attr.value} in the step of {what}")
        if isinstance(node, cst.Call):
            name = node.func.attr.value if isinstance(node.func, cst.Attribute) else \
                node.func.value if isinstance(node.func, cst.Name) else ""
            if "grad" in name and name != "no_grad" or "unscale" in name:
                raise Blocked(f"`{_line(ctx, statement)}` works on gradients in the step of {what}")
            if "hook" in name:
                raise Blocked(f"`{_line(ctx, statement)}` registers a hook, which may change the gradients "
                              f"backward computes (mindspore.value_and_grad runs no torch hooks) in the step of {what}")
            target = method(node, "step")
            if target is not None and same(target, optimizer):
                raise Blocked(f"{ctx.code(optimizer)}.step() is called twice in the step of {what}")
            if any(same(a.value, optimizer) for a in node.args):
                raise Blocked(f"`{_line(ctx, statement)}` hands the optimizer to another call in the "
                              f"step of {what}")


def _check_no_grad_reads(ctx: FileContext, region: cst.CSTNode, code: str) -> None:
    for node in syntax.walk(region):
        if isinstance(node, cst.Attribute) and node.attr.value == "grad":
            if _unscales_by_hand(ctx, node):
                raise Blocked(f"`{_line(ctx, ctx.statement_of(node))}` divides the gradients by hand (manual static "
                              "loss scaling): MindSpore parameters have no .grad; scale with "
                              "mindspore.amp.StaticLossScaler(scale_value=S): return scaler.scale(loss) from "
                              f"forward_fn and grads = scaler.unscale(grads) before the step of `{code}`")
            if syntax.dotted(node.value) in ("torch.autograd", "autograd"):
                raise Blocked(f"`{ctx.code(node)}` computes gradients next to `{code}`: mindspore.grad / "
                              "value_and_grad differentiate a function; restructure the step by hand")
            raise Blocked(f"`{ctx.code(node)}`: the training loop reads or writes .grad, which MindSpore "
                          f"parameters do not have; the gradients of `{code}` are the tuple grad_fn returns")


def _unscales_by_hand(ctx: FileContext, grad: cst.Attribute) -> bool:
    """`p.grad /= S`, `p.grad.div_(S)`, `p.grad.data.mul_(1 / S)`."""
    parent = ctx.parent(grad)
    if isinstance(parent, cst.Attribute) and parent.attr.value == "data":
        grad, parent = parent, ctx.parent(parent)
    if isinstance(parent, cst.AugAssign) and parent.target is grad:
        return isinstance(parent.operator, (cst.DivideAssign, cst.MultiplyAssign))
    if isinstance(parent, cst.Attribute) and parent.attr.value in ("div_", "mul_"):
        return isinstance(ctx.parent(parent), cst.Call)
    return False


def _line(ctx: FileContext, statement: cst.CSTNode) -> str:
    return ctx.code(statement).strip().splitlines()[0] if ctx.code(statement).strip() else ""


def _function_of(ctx: FileContext, node: cst.CSTNode) -> cst.CSTNode:
    for parent in ctx.ancestors(node):
        if isinstance(parent, (cst.FunctionDef, cst.Module)):
            return parent
    return ctx.module


def _outermost_loop(ctx: FileContext, block, function) -> Optional[cst.CSTNode]:
    loop = None
    for node in [block, *ctx.ancestors(block)]:
        if node is function or isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            break
        if isinstance(node, (cst.For, cst.While)):
            loop = node
    return loop


def _accumulator_start(ctx: FileContext, step: Step) -> None:
    """Where the summed gradients start from zero: before the loops (no other zero_grad), or at
    the one zero_grad of this optimizer in the block around the innermost loop."""
    others = []
    for node in syntax.walk(step.function):
        target = method(node, "zero_grad") if isinstance(node, cst.Call) else None
        if target is not None and any(same(target, h) for h in step.holders) \
                and ctx.statement_of(node) not in step.zero_grads:
            others.append(ctx.statement_of(node))
    if not others:
        return
    if len(others) == 1:
        node = step.guard if step.guard is not None else step.statement
        for loop in ctx.ancestors(node):
            if loop is step.function:
                break
            if not isinstance(loop, (cst.For, cst.While)):
                continue
            outer = ctx.parent(loop)
            if isinstance(outer, (cst.IndentedBlock, cst.Module)) and others[0] in outer.body:
                items = list(outer.body)
                if items.index(others[0]) < items.index(loop):
                    step.accumulator_reset = others[0]
                    return
    raise Blocked(f"`{_line(ctx, others[0])}` also runs at line {ctx.start(others[0]).line}: cannot tell when "
                  "the accumulated gradients restart")


def _check_bound_before(ctx: FileContext, step: Step) -> None:
    """grad_fn is built before the loop: the optimizer must exist there."""
    if step.anchor is None or not isinstance(step.optimizer, cst.Name):
        return
    known = bindings.binding_lines_in_scope(ctx, step.optimizer)  # without the scope analysis
    if known is not None:
        anchor_line = ctx.start(step.anchor).line
        if any(ctx.start(n).line >= anchor_line for n in known):
            raise Blocked(f"{step.optimizer.value} is (re)built inside the training loop; "
                          "grad_fn = mindspore.value_and_grad(...) needs it before the loop")
        return
    scope = ctx.scope(step.optimizer)
    if scope is None:
        return
    anchor_line = ctx.start(step.anchor).line
    for assignment in scope[step.optimizer.value]:
        node = getattr(assignment, "node", None)
        if node is not None and getattr(assignment, "scope", None) is scope and node in ctx.positions \
                and ctx.start(node).line >= anchor_line:
            raise Blocked(f"{step.optimizer.value} is (re)built inside the training loop; "
                          "grad_fn = mindspore.value_and_grad(...) needs it before the loop")
