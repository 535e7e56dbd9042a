"""The forward_fn builder: which statements before `loss.backward()` compute the loss (they move
into forward_fn), which names it takes (names the loop rebinds), and which of its values the
code reads after the step (returned as aux, with has_aux=True).

    data, target = data.to(device), target.to(device)   # data preparation stays in the loop
    output = model(data)                                 # moves
    loss = F.nll_loss(output, target)                    # moves
    loss.backward()

gives `def forward_fn(data, target): output = model(data); loss = F.nll_loss(output, target);
return loss, output` when `output` is read after the step (else `return loss`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Set

import libcst as cst

from ms_migrate.core import bindings, syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.training_step.shape import Blocked, expr_call, method

# tensor methods that only move or cast a batch: a statement `x = x.to(device)` stays in the loop
_DATA_METHODS = {"to", "cuda", "cpu", "float", "half", "double", "long", "int", "bool", "contiguous"}


@dataclass
class Forward:
    statements: List[cst.CSTNode]  # moved into forward_fn, in order
    params: List[str]  # forward_fn's parameters (and grad_fn's arguments)
    aux: List[str] = field(default_factory=list)  # values returned after the loss
    loss_name: Optional[str] = None  # the loss variable, when backward was called on a name
    models: List[cst.BaseExpression] = field(default_factory=list)  # callees that may be networks
    call_at: Optional[cst.CSTNode] = None  # grad_fn is called after this loss statement (else at backward)


def build(ctx: FileContext, body: List[cst.CSTNode], backward: cst.CSTNode, loss: cst.BaseExpression,
          skip: Set[cst.CSTNode], anchor: Optional[cst.CSTNode], closure_step: Optional[cst.CSTNode] = None) -> Forward:
    """`closure_step`: the `optimizer.step(closure)` statement when `body` is the closure's."""
    index = body.index(backward)
    needed = {n.value for n in syntax.read_names(loss)}
    moved: List[cst.CSTNode] = []
    first = index
    for i in range(index - 1, -1, -1):
        statement = body[i]
        if statement in skip:
            continue
        done = expr_call(statement)
        if method(done, "backward") is not None or method(done, "step") is not None:
            # the previous step (a GAN's other optimizer): what it computed reaches forward_fn as
            # a parameter, a constant to value_and_grad; torch differentiates through it unless
            # the loss statements detach it
            crossing = sorted(needed & set().union(*[_defines(s) for s in body[:i]]))
            for name in crossing:
                if not _only_detached(moved, name) and not _gradient_free(ctx, name, body[:i], set()):
                    raise Blocked(f"`{name}` is computed before `{ctx.code(done)}` and the loss differentiates "
                                  f"through it (torch keeps its graph); forward_fn would get it as a constant: "
                                  f"compute {name} inside this step, or detach it if that is meant")
            break
        defined = _defines(statement)
        if not defined & needed:
            continue
        small = _assignment(statement)
        if small is None:
            raise Blocked(_why_not_movable(ctx, statement, sorted(defined & needed)))
        if _is_data_preparation(small):
            needed -= defined
            continue
        moved.insert(0, statement)
        first = i
        needed -= defined
        needed |= {n.value for n in _reads(small)}
    if isinstance(loss, cst.Name) and not moved:
        raise Blocked(f"cannot find the statements that compute `{loss.value}` before its backward in "
                      "this block")
    moved_set = set(moved)
    defined_here: Set[str] = set()
    for statement in moved:
        defined_here |= _defines(statement)
    last = max((body.index(m) for m in moved), default=index)
    read_before: Set[str] = set()  # what the loss statements above read (a statement left in
    call_at = None                 # between must not change it: it would now run first)
    for statement in body[first:index]:
        if statement in moved_set:
            read_before |= {n.value for n in _reads(statement.body[0])}
            continue
        if statement in skip:
            continue
        if body.index(statement) > last:
            # after the loss statements, before backward (pytorch/examples imagenet: accuracy,
            # meters): grad_fn is called where the last loss statement was, so this statement
            # still runs after the forward pass; it must not change in place what backward
            # would differentiate
            changed = _mutated(statement) & (defined_here | read_before)
            if changed:
                raise Blocked(f"`{ctx.code(statement).strip().splitlines()[0]}` changes {', '.join(sorted(changed))} "
                              "in place between the loss and backward (torch differentiates that change); "
                              "move it after the step")
            call_at = moved[-1] if moved else None
            continue
        read = {n.value for n in syntax.read_names(statement)} & defined_here
        read |= (_mutated(statement) | _defines(statement)) & read_before
        if read:
            raise Blocked(f"`{ctx.code(statement).strip().splitlines()[0]}` reads or changes {', '.join(sorted(read))} "
                          "between the loss statements and backward (it would now run before them); move it after the "
                          "step")
    if closure_step is not None:
        left = [st for st in body[:index] if st not in moved_set and st not in skip]
        if left:
            raise Blocked(f"`{ctx.code(left[0]).strip().splitlines()[0]}` in the closure is not part of the loss")
    forward = Forward(moved, _parameters(ctx, moved, anchor, loss, closure_step))
    forward.call_at = call_at
    # a parameter computed in an enclosing block before this one (the whole step under an `if`, an
    # outer loop) reaches forward_fn as a constant; torch differentiates through it
    outside = _enclosing_before(ctx, backward)
    if closure_step is not None:  # the closure runs at the step: what precedes it in its block too
        items = list(ctx.parent(closure_step).body)
        outside = _enclosing_before(ctx, closure_step) + [
            st for st in items[:items.index(closure_step)] if not isinstance(st, (cst.FunctionDef, cst.ClassDef))]
    for name in forward.params:
        if any(name in _defines(s) for s in outside) and not _only_detached(moved, name) \
                and not _gradient_free(ctx, name, outside, set()):
            raise Blocked(f"`{name}` is computed before the block holding this step's backward and the loss "
                          f"differentiates through it (torch keeps its graph); forward_fn would get it as a "
                          f"constant: compute {name} inside the step's block, or detach it if that is meant")
    forward.loss_name = loss.value if isinstance(loss, cst.Name) else None
    forward.aux = _used_after(ctx, moved, forward.loss_name)
    # a value the loop carries into its next iteration (an RNN's hidden state): forward_fn takes
    # it and rebinds it, so the loop must get the new value back
    forward.aux += [p for p in forward.params if p in defined_here and p not in forward.aux
                    and p != forward.loss_name]
    forward.models = _callees(ctx, moved)
    return forward


# tensor methods that are no network (their receiver is checked on its own)
_TENSOR_METHODS = _DATA_METHODS | {"type", "size", "view", "reshape", "detach", "clone", "unsqueeze", "squeeze",
                                   "permute", "transpose", "fill_", "zero_", "numel", "dim", "mean", "sum",
                                   "shape", "flatten", "item", "t"}


def _gradient_free(ctx: FileContext, name: str, before: List[cst.CSTNode], seen: Set[str]) -> bool:
    """`name`'s value, computed in `before` (this iteration), calls no network: only imported
    functions (torch.ones, torch.randn) and tensor methods on values that are themselves free."""
    if name in seen:
        return False
    seen = seen | {name}
    for statement in reversed(before):
        if name not in _defines(statement):
            continue
        small = _assignment(statement)
        if small is None:
            return False
        for node in syntax.walk(small.value):
            if not isinstance(node, cst.Call):
                continue
            func = node.func
            if ctx.qualified_names(func):
                continue  # torch.zeros, np.random.normal: an imported function
            if isinstance(func, cst.Attribute) and func.attr.value in _TENSOR_METHODS:
                continue
            if isinstance(func, cst.Name) and func.value in ("len", "int", "float", "range", "min", "max"):
                continue
            return False
        index = before.index(statement)
        return all(_gradient_free(ctx, read.value, before[:index], seen)
                   for read in syntax.read_names(small.value)
                   if any(read.value in _defines(s) for s in before[:index]))
    return True


def _enclosing_before(ctx: FileContext, statement: cst.CSTNode) -> List[cst.CSTNode]:
    """The statements that run before `statement`'s block in the blocks around it, up to its
    function: outermost first."""
    out: List[List[cst.CSTNode]] = []
    child = statement
    block = ctx.parent(child)
    while block is not None and not isinstance(block, cst.Module):
        owner = ctx.parent(block) if isinstance(block, cst.IndentedBlock) else None
        if owner is None or isinstance(owner, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            break
        if child is not statement:
            items = list(block.body)
            out.insert(0, items[:items.index(child)] if child in items else [])
        child = owner
        while not isinstance(ctx.parent(child), (cst.IndentedBlock, cst.Module)):  # If inside elif/else
            child = ctx.parent(child)
            if child is None:
                return [s for part in out for s in part if not isinstance(s, (cst.FunctionDef, cst.ClassDef))]
        block = ctx.parent(child)
    if isinstance(block, (cst.IndentedBlock, cst.Module)) and child is not statement:
        items = list(block.body)
        out.insert(0, items[:items.index(child)] if child in items else [])
    # a def or class before binds nothing the step reads (its body runs elsewhere)
    return [s for part in out for s in part if not isinstance(s, (cst.FunctionDef, cst.ClassDef))]


def _mutated(statement: cst.CSTNode) -> Set[str]:
    """Names a statement may change in place: `x.mul_(2)`, `x[0] = 1`, `x.data = ...`, `x += 1`."""
    out: Set[str] = set()
    for node in syntax.walk(statement):
        target = None
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            attr = node.func.attr.value
            if attr.endswith("_") and not attr.startswith("__"):
                target = node.func.value
        elif isinstance(node, cst.AssignTarget) and isinstance(node.target, (cst.Subscript, cst.Attribute)):
            target = node.target
        elif isinstance(node, cst.AugAssign):
            target = node.target
        while isinstance(target, (cst.Attribute, cst.Subscript, cst.Call)):
            target = target.value if not isinstance(target, cst.Call) else target.func
        if isinstance(target, cst.Name):
            out.add(target.value)
    return out


def _only_detached(moved: List[cst.CSTNode], name: str) -> bool:
    """Every read of `name` in the loss statements is `name.detach()`."""
    for statement in moved:
        detached = set()
        for node in syntax.walk(statement):
            if isinstance(node, cst.Call) and method(node, "detach") is not None and not node.args \
                    and syntax.is_name(node.func.value, name):
                detached.add(node.func.value)
        for read in syntax.read_names(statement.body[0].value):
            if read.value == name and read not in detached:
                return False
    return True


def _assignment(statement: cst.CSTNode):
    """The one plain assignment to names a statement line is, or None."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
        if isinstance(small, cst.AnnAssign) and small.value is None:
            return None
        targets = [small.target]
    else:
        return None
    return small if all(_names_only(t) for t in targets) else None


def _names_only(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(isinstance(e, cst.Element) and _names_only(e.value) for e in target.elements)
    return False


def _target_names(target: cst.BaseExpression):
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for e in target.elements:
            yield from _target_names(e.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _defines(statement: cst.CSTNode) -> Set[str]:
    """Names a statement (line or compound) binds."""
    out: Set[str] = set()
    for node in syntax.walk(statement):
        if isinstance(node, cst.AssignTarget):
            out |= {n.value for n in _target_names(node.target)}
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            out |= {n.value for n in _target_names(node.target)}
        elif isinstance(node, (cst.For, cst.CompFor)):
            out |= {n.value for n in _target_names(node.target)}
        elif isinstance(node, cst.AsName):
            out |= {n.value for n in _target_names(node.name)}
        elif isinstance(node, cst.NamedExpr):
            out |= {n.value for n in _target_names(node.target)}
    return out


def _reads(small) -> List[cst.Name]:
    names = list(syntax.read_names(small.value))
    if isinstance(small, cst.AugAssign):
        names += list(_target_names(small.target))
    return names


def _is_data_preparation(small) -> bool:
    """`x = x.to(device)`, `x, y = x.cuda(), y.cuda()`: moves or casts a batch, no network."""
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False
    target, value = small.targets[0].target, small.value
    pairs = []
    if isinstance(target, cst.Name):
        pairs = [(target, value)]
    elif isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Tuple) \
            and len(target.elements) == len(value.elements):
        pairs = [(t.value, v.value) for t, v in zip(target.elements, value.elements)]
    if not pairs:
        return False
    for name, expr in pairs:
        if not isinstance(name, cst.Name):
            return False
        while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
                and expr.func.attr.value in _DATA_METHODS \
                and all(isinstance(a.value, (cst.Name, cst.Attribute)) or syntax.is_literal(a.value) for a in expr.args):
            expr = expr.func.value
        if not (isinstance(expr, cst.Name) and expr.value == name.value):
            return False
    return True


def _why_not_movable(ctx: FileContext, statement: cst.CSTNode, names: List[str]) -> str:
    what = ", ".join(names)
    if isinstance(statement, cst.With):
        items = " ".join(ctx.code(i.item) for i in statement.items)
        if "autocast" in items:
            return (f"{what} is computed under `with {items}`: MindSpore 2.10 has no autocast context; "
                    "cast the network with mindspore.amp.auto_mixed_precision(network, 'O1') or drop the "
                    "block, then rerun")
        return f"{what} is computed inside `with {items}`; forward_fn needs those statements on their own"
    line = ctx.code(statement).strip().splitlines()[0]
    return f"{what} is computed by `{line}`, which cannot be moved into a forward_fn"


def _parameters(ctx: FileContext, moved: List[cst.CSTNode], anchor: Optional[cst.CSTNode],
                loss: cst.BaseExpression, closure_step: Optional[cst.CSTNode] = None) -> List[str]:
    """Names the loss statements read before binding them that the code (re)binds at or after
    where grad_fn is built: the loop's variables and what the loop computes. (In a closure they
    read those of the function around it.)"""
    if anchor is None:
        return []
    anchor_line = ctx.start(anchor).line
    if closure_step is None:
        rebound_later = _rebound_later(ctx, loss, anchor_line)
    else:
        rebound_later = _rebound_later_in_closure(ctx, loss, anchor_line, closure_step)
    params: List[str] = []
    defined: Set[str] = set()
    reads = [_reads(statement.body[0]) for statement in moved] + [list(syntax.read_names(loss))]
    for i, names in enumerate(reads):
        for name in names:
            if name.value in defined or name.value in params:
                continue
            if rebound_later(name):
                params.append(name.value)
        if i < len(moved):
            defined |= _defines(moved[i])
    return params


def _rebound_later(ctx: FileContext, loss: cst.BaseExpression, anchor_line: int):
    """`name -> is it read in the loss's scope and bound in that scope at or after anchor_line`
    (ctx.scope_bindings: without the scope analysis where core/bindings.py can)."""
    home = bindings.innermost_scope(ctx.analysis, loss)

    def rebound_later(name: cst.Name) -> bool:
        if bindings.innermost_scope(ctx.analysis, name) is not home:
            return False
        return any(ctx.start(b).line >= anchor_line for b in ctx.scope_bindings(loss, name.value))

    return rebound_later


def _rebound_later_in_closure(ctx: FileContext, loss: cst.BaseExpression, anchor_line: int,
                              closure_step: cst.CSTNode):
    """The same question in a closure, whose loss reads the bindings of the function around
    it (LibCST's scope analysis)."""
    home = ctx.scope(loss)
    bound = next((ctx.scope(n) for n in syntax.walk(closure_step) if ctx.scope(n) is not None), home)

    def rebound_later(name: cst.Name) -> bool:
        scope = ctx.scope(name)
        if scope is not home:
            return False
        return any(getattr(a, "scope", None) is bound and getattr(a, "node", None) in ctx.positions
                   and ctx.start(a.node).line >= anchor_line for a in scope[name.value])

    return rebound_later


def _used_after(ctx: FileContext, moved: List[cst.CSTNode], loss_name: Optional[str]) -> List[str]:
    """Names the loss statements bind that are read anywhere else."""
    inside: Set[cst.CSTNode] = set()
    for statement in moved:
        inside.update(syntax.walk(statement))
    out: List[str] = []
    for statement in moved:
        small = statement.body[0]
        for name in _target_names(small.target if not isinstance(small, cst.Assign) else cst.Tuple(
                [cst.Element(t.target) for t in small.targets])):
            if name.value == loss_name or name.value in out:
                continue
            assignment = ctx.assignment_of(name)
            if assignment is None:
                continue
            if any(access.node not in inside for access in assignment.references):
                out.append(name.value)
    return out


def _callees(ctx: FileContext, moved: List[cst.CSTNode]) -> List[cst.BaseExpression]:
    """Called names/attributes that are not imports (the network, the criterion)."""
    out = []
    calls = [node for statement in moved for node in syntax.walk(statement) if isinstance(node, cst.Call)]
    calls.sort(key=lambda c: (ctx.positions[c].end.line, ctx.positions[c].end.column))
    for node in calls:
        func = node.func
        if isinstance(func, cst.Attribute) and not syntax.is_name(func.value, "self"):
            continue  # x.detach(), torch.relu: methods and module functions, not networks
        if not isinstance(func, (cst.Name, cst.Attribute)) or ctx.qualified_names(func):
            continue
        if not any(func.deep_equals(o) for o in out):
            out.append(func)
    return out
