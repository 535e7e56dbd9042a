"""`requires_grad` writes, which MindSpore's parameter selection makes riskier than torch's.

1. A loop that may set requires_grad to True over `get_parameters()` would also make
   BatchNorm's moving_mean/moving_variance trainable (in MindSpore they are Parameters with
   requires_grad=False; in torch they are buffers, never in parameters()). They would then reach
   trainable_params() and the optimizer (decay, momentum). The loop skips them:

       for p in model.parameters():               for p in filter(lambda p: not p.name.endswith(
           p.requires_grad = True          ->         ("moving_mean", "moving_variance")), model.get_parameters()):
                                                       p.requires_grad = True

   with a warning (MSM203): other torch buffers ported as Parameters(requires_grad=False) would
   need the same.

2. A MindSpore optimizer takes its parameters at construction (trainable_params() is a
   snapshot; torch's optimizer holds frozen parameters too and trains them once unfrozen). A
   requires_grad write that can run after a converted optimizer is built is flagged (MSM204).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext

MOVING_STATISTICS = ("moving_mean", "moving_variance")
_PARAMETER_SOURCES = {"parameters", "named_parameters", "get_parameters", "trainable_params",
                      "parameters_and_names"}


def writes(node: cst.CSTNode) -> Iterator[Tuple[cst.CSTNode, cst.BaseExpression, Optional[cst.BaseExpression]]]:
    """(write node, receiver, value) of `X.requires_grad = v` and `X.requires_grad_(v)` below
    node; value None for `requires_grad_()` (True)."""
    for sub in syntax.walk(node):
        if isinstance(sub, cst.Assign):
            for target in sub.targets:
                if isinstance(target.target, cst.Attribute) and target.target.attr.value == "requires_grad":
                    yield target.target, target.target.value, sub.value
        elif (isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute)
              and sub.func.attr.value == "requires_grad_"):
            value = sub.args[0].value if sub.args else None
            yield sub, sub.func.value, value


def may_unfreeze(body: cst.CSTNode, var: str) -> bool:
    """Does the loop body set requires_grad of `var` to anything but a literal False?"""
    for _, receiver, value in writes(body):
        if syntax.is_name(receiver, var) and (value is None or syntax.literal_value(value) is not False):
            return True
    return False


def without_moving_statistics(iterable: cst.BaseExpression, named: bool) -> cst.BaseExpression:
    """`filter(<not BatchNorm moving statistics>, iterable)` over parameters or (name, parameter)."""
    test = "not item[1].name.endswith(SUFFIXES)" if named else "not p.name.endswith(SUFFIXES)"
    var = "item" if named else "p"
    suffixes = cst.parse_expression(repr(MOVING_STATISTICS).replace("'", '"'))
    return syntax.fill(f"filter(lambda {var}: {test}, ITER)", SUFFIXES=suffixes, ITER=iterable)


# ---- writes after the optimizer is built -------------------------------------------------------

def late_writes(ctx: FileContext, sites) -> List[Tuple[cst.CSTNode, object, bool]]:
    """(write, site, definite) for requires_grad writes on parameters or modules that can run
    after a converted optimizer is constructed; definite False when that cannot be told."""
    found: List[Tuple[cst.CSTNode, object, bool]] = []
    if not sites:
        return found
    _FUNCTIONS.clear()
    try:
        # (function, optimizer variable) -> constructions there, for rebuilds after a write
        built: dict = {}
        for site in sites:
            if site.target is not None:
                built.setdefault((_function(ctx, site.call), ctx.code(site.target)), []).append(site.call)
        if not {"requires_grad", "requires_grad_"} & ctx.names_in_use:
            return found  # no such attribute in the file (no walk needed)
        found_writes = list(writes(ctx.module))
        if not found_writes:
            return found  # (no requires_grad write: the bindings need not be looked up)
        sources = _parameter_source_bindings(ctx)
        for write, receiver, _ in found_writes:
            if not _on_parameters(ctx, write, receiver, sources):
                continue
            where = _function(ctx, write)
            candidates = sites
            if where is ctx.module or (isinstance(where, cst.FunctionDef) and _class_of(ctx, where) is None
                                       and not _called(ctx, where)):
                # nothing calls it later: only the constructions of its own function matter
                candidates = [site for site in sites if _function(ctx, site.call) is where]
            verdicts = [(_runs_after(ctx, write, site.call, depth=0), site) for site in candidates
                        if not _rebuilt_after(ctx, write, site, built)]
            for verdict, site in sorted(verdicts, key=lambda v: v[0] is not True):
                if verdict is not False:
                    found.append((write, site, verdict is True))
                    break
    finally:
        _FUNCTIONS.clear()
    return found


def _rebuilt_after(ctx: FileContext, write: cst.CSTNode, site, built: dict) -> bool:
    """The optimizer is built again after the write, in the same function and into the same
    variable (`unfreeze; optimizer = SGD(model.parameters())`): the write precedes it."""
    if site.target is None:
        return False
    calls = built.get((_function(ctx, write), ctx.code(site.target)), ())
    return any(_after(ctx, call, write) for call in calls)


def _parameter_source_bindings(ctx: FileContext) -> list:
    """The bindings of the roots of `X.parameters()`-like calls in the file."""
    found = []
    for call in ctx.calls:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _PARAMETER_SOURCES:
            root = _root(func.value)
            binding = ctx.binding(root) if root is not None else None
            if binding is not None and all(binding is not b for b in found):
                found.append(binding)
    return found


def _on_parameters(ctx: FileContext, write: cst.CSTNode, receiver: cst.BaseExpression, sources: list) -> bool:
    """A loop variable over a parameter source; a module (a chain whose root also has
    .parameters() called on it somewhere in the file); or, for requires_grad_(True/False), a
    function parameter (unfreeze(module) helpers)."""
    if isinstance(receiver, cst.Name):
        loop = _enclosing_loop_over(ctx, write, receiver.value)
        if loop is not None:
            iterable = loop.iter
            return (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)
                    and iterable.func.attr.value in _PARAMETER_SOURCES)
    root = _root(receiver)
    if root is None or root.value == "self":
        return False
    binding = ctx.binding(root)
    if binding is None:
        return False
    if (isinstance(write, cst.Call) and write.args and isinstance(binding.node, cst.Param)
            and isinstance(syntax.literal_value(write.args[0].value), bool)):
        return True
    return any(binding is other for other in sources)


def _enclosing_loop_over(ctx: FileContext, node: cst.CSTNode, name: str) -> Optional[cst.For]:
    """The innermost loop around `node` whose target binds `name`."""
    for parent in ctx.ancestors(node):
        if isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return None
        if isinstance(parent, cst.For):
            targets = [parent.target] if isinstance(parent.target, cst.Name) else [
                e.value for e in getattr(parent.target, "elements", ())]
            if any(syntax.is_name(t, name) for t in targets):
                return parent
    return None


def _root(node: cst.BaseExpression) -> Optional[cst.Name]:
    while isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node if isinstance(node, cst.Name) else None


_FUNCTIONS: dict = {}  # node -> its function, for one late_writes() run


def _function(ctx: FileContext, node: cst.CSTNode) -> cst.CSTNode:
    found = _FUNCTIONS.get(node)
    if found is None:
        found = next((p for p in ctx.ancestors(node) if isinstance(p, (cst.FunctionDef, cst.Lambda))), ctx.module)
        _FUNCTIONS[node] = found
    return found


def _after(ctx: FileContext, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    pa, pb = ctx.start(a), ctx.start(b)
    return (pa.line, pa.column) > (pb.line, pb.column)


def _runs_after(ctx: FileContext, node: cst.CSTNode, construction: cst.Call, depth: int):
    """True: `node` runs after the construction; False: it does not (or nothing in this file
    makes it); None: cannot tell."""
    where, built = _function(ctx, node), _function(ctx, construction)
    if where is built:
        return _after(ctx, node, construction)
    if where is ctx.module or not isinstance(where, cst.FunctionDef) or depth > 4:
        return False if where is ctx.module else None
    owner = _class_of(ctx, where)
    if owner is not None:
        if where.name.value == "__init__":
            return False  # model code: the model exists before its parameters reach an optimizer
        # another method of the class that builds the optimizer (a trainer): its calls are not seen
        return None if _class_of(ctx, built) is owner else False
    scope = ctx.scope(where)
    assignments = list(scope.assignments[where.name.value]) if scope is not None else []
    if len(assignments) != 1 or assignments[0].node is not where:
        return None
    verdicts = set()
    for access in assignments[0].references:
        call = ctx.parent(access.node)
        if not (isinstance(call, cst.Call) and call.func is access.node):
            return None  # passed on as a value (a callback)
        verdicts.add(_runs_after(ctx, call, construction, depth + 1))
    if True in verdicts:
        return True
    return None if None in verdicts else False


def _called(ctx: FileContext, function: cst.FunctionDef) -> bool:
    """Is the function's name read anywhere (called, or passed on)?"""
    scope = ctx.scope(function)
    return scope is None or any(a.references for a in scope.assignments[function.name.value])


def _class_of(ctx: FileContext, function: cst.CSTNode) -> Optional[cst.ClassDef]:
    block = ctx.parent(function)
    owner = ctx.parent(block) if block is not None else None
    return owner if isinstance(owner, cst.ClassDef) else None
