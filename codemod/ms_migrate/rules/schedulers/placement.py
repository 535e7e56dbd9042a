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
    scope = ctx.scope(between[0]) if between else None
    if scope is None:
        return None
    for name in sorted(names):
        for assignment in scope[name]:
            if not isinstance(assignment, Assignment) or assignment.scope is not scope:
                continue
            if _top(ctx, assignment.node, block) in between:
                return name, assignment.node
    return None


def _mutation(names: Set[str], between):
    for statement in between:
        for node in syntax.walk(statement):
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


def _top(ctx: FileContext, node: cst.CSTNode, block) -> Optional[cst.CSTNode]:
    child = node
    for parent in ctx.ancestors(node):
        if parent is block:
            return child
        child = parent
    return None
