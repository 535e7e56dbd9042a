"""May the optimizer move down? The scheduler rule builds the learning-rate list where the data
it needs exists, moving the optimizer (and with it what the scheduler's arguments read) below
statements that came after it. That is only the same program when nothing the moved code reads
changes in between:

    lr = 0.1
    optimizer = SGD(model.parameters(), lr=lr)     # torch reads lr = 0.1 here
    scheduler = CosineAnnealingLR(optimizer, T_max=T)
    lr = 0.5                                       # rebinding: moving would read 0.5
    loader = DataLoader(...)                       # the list needs len(loader)

A name the moved statements read that is rebound (or whose attributes or items are assigned)
between a statement's old place and the new one refuses the move (Unsupported: MSM401).
"""

from __future__ import annotations

from typing import Iterable, Optional, Set

import libcst as cst
from libcst.metadata import Assignment

from ms_migrate.core import syntax
from ms_migrate.core import bindings
from ms_migrate.core.context import FileContext
from ms_migrate.rules.schedulers.formulas import Unsupported


def check_move(ctx: FileContext, block, statements: Iterable[cst.CSTNode], end: int) -> None:
    """Each statement of `block` in `statements` is evaluated after body[end] instead of where
    it stands: refuse when a name it reads is bound, or mutated by an attribute/item
    assignment, by a statement strictly after it up to body[end]."""
    body = list(block.body)
    for statement in statements:
        if statement not in body:
            continue
        start = body.index(statement)
        if start >= end:
            continue
        names = _read_names(statement)
        between = body[start + 1:end + 1]
        found = _rebinding(ctx, names, block, between) or _mutation(names, between)
        if found is not None:
            name, node = found
            raise Unsupported(
                f"`{name}` changes at line {ctx.start(node).line}, after line {ctx.start(statement).line} "
                f"and before line {ctx.start(body[end]).line}, where the data the list needs exists: "
                "the optimizer cannot move down there without reading the later value; compute "
                "that data before the optimizer or build the list by hand")


def _read_names(statement: cst.CSTNode) -> Set[str]:
    values = []
    for small in getattr(statement, "body", ()):
        if isinstance(small, cst.Assign):
            values.append(small.value)
            # `x[i] = ...`, `a.b = ...`: their roots are read too
            values.extend(t.target for t in small.targets if not isinstance(t.target, cst.Name))
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            values.append(small.value)
        else:
            values.append(small)
    return {name.value for value in values for name in syntax.read_names(value)}


def _rebinding(ctx: FileContext, names: Set[str], block, between):
    if not between:
        return None
    for name in sorted(names):
        for binding in ctx.scope_bindings(between[0], name):
            if ctx.child_of(block, binding) in between:
                return name, binding
    return None


_MUTATORS = {"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "add",
             "discard", "sort", "reverse", "popitem"}


def _mutation(names: Set[str], between):
    for statement in between:
        for node in syntax.walk(statement):
            if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value in _MUTATORS):
                root = _root(node.func.value)
                if root is not None and root.value in names:  # groups.append(...), cfg.update(...)
                    return root.value, node
            targets = []
            if isinstance(node, cst.AssignTarget):
                targets.append(node.target)
            elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
                targets.append(node.target)
            elif isinstance(node, cst.Del):
                targets.append(node.target)
            for target in targets:
                if isinstance(target, (cst.Attribute, cst.Subscript)):
                    root = _root(target)
                    if root is not None and root.value in names:
                        return root.value, target
    return None


def _root(node: cst.BaseExpression) -> Optional[cst.Name]:
    while isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node if isinstance(node, cst.Name) else None



def check_late_names(ctx: FileContext, call: cst.Call, args) -> None:
    """torch calls an lr_lambda at every step, reading its free names then; the list reads them
    once. A free name of a lambda (inline, or a name bound once to one) or of a function of this
    file that is rebound after the scheduler is built makes the list differ: refuse."""
    for value in args.values():
        function = value
        if isinstance(value, cst.Name):
            assigned = ctx.assigned_value(value)
            binding = ctx.binding(value)
            function = assigned if isinstance(assigned, cst.Lambda) else (
                binding.node if binding is not None and isinstance(binding.node, cst.FunctionDef) else None)
        if not isinstance(function, (cst.Lambda, cst.FunctionDef)):
            continue
        # a name nothing in the file binds is a builtin or a global no one sets: never later
        names = sorted(n for n in _free_names(ctx, function) if not bindings.never_bound(ctx.analysis, n))
        outer = ctx.scope(function) if names else None
        for name in names if outer is not None else ():
            for assignment in outer[name]:
                if not isinstance(assignment, Assignment):
                    continue  # a builtin
                node = assignment.node
                if _later(ctx, node, call) and not _inside(ctx, node, function):
                    raise Unsupported(
                        f"its lr_lambda reads `{name}`, which changes at line {ctx.start(node).line} after the "
                        "scheduler is built: torch reads it at every step, the list only once; bind it "
                        "once before the scheduler or build the list by hand")


def _free_names(ctx: FileContext, function) -> Set[str]:
    if isinstance(function, cst.Lambda):
        params = {p.name.value for p in function.params.params}
        return {n.value for n in syntax.read_names(function.body)} - params
    reads = {n.value for n in syntax.read_names(function.body)}
    local = {n: bindings.local_bindings(ctx.analysis, n, function.body) for n in reads}
    if all(found is not None for found in local.values()):
        return {n for n, found in local.items() if not found}
    scope = ctx.scope(function.body)
    if scope is None:
        return set()
    return {n for n in reads if n not in scope.assignments}


def _later(ctx: FileContext, node: cst.CSTNode, call: cst.CSTNode) -> bool:
    a, b = ctx.start(node), ctx.start(call)
    return (a.line, a.column) > (b.line, b.column)


def _inside(ctx: FileContext, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
    return any(parent is ancestor for parent in ctx.ancestors(node))
