"""param_groups on an experimental optimizer (part of MSM300).

mindspore.experimental.optim keeps torch's `param_groups`, but a group's 'lr' is a float32
Parameter (measured, tests/equivalence/test_experimental.py): it cannot be formatted
(`f"{lr:.5f}"` raises TypeError), and writing back a Tensor (`g['lr'] = g['lr'] * 0.1`) is
silently ignored by the optimizer, which only takes a written lr when it is a Python float. So
reads become `float(...)` and written values `float(...)`:

Before::

    for g in optimizer.param_groups:
        g['lr'] = g['lr'] * 0.1
    print(f"{optimizer.param_groups[0]['lr']:.5f}")

After::

    for g in optimizer.param_groups:
        g['lr'] = float(float(g['lr']) * 0.1)
    print(f"{float(optimizer.param_groups[0]['lr']):.5f}")

An augmented write (`g['lr'] *= 0.1`) and any lr write on an optimizer an experimental scheduler
drives (the scheduler keeps its own lr and overrides the write, unlike torch's) are flagged
(MSM303).
"""

from __future__ import annotations

from typing import List

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext
from ms_migrate.rules.param_groups import flow


def convert(ctx: FileContext, site, check) -> None:
    if site.target is None:
        return
    for use in ctx.uses_of(site.target):
        convert_use(ctx, site, check, use)


def convert_use(ctx: FileContext, site, check, use: cst.CSTNode) -> None:
    """One use of a name holding the optimizer (its own variable, or a helper's parameter)."""
    attribute = flow.param_groups_of(ctx, use)
    if attribute is None:
        return
    outer = ctx.parent(attribute)
    if isinstance(outer, cst.For) and outer.iter is attribute and isinstance(outer.target, cst.Name):
        for item in _lr_items_of(ctx, outer.body, outer.target.value):
            _item(ctx, site, check, item)
        return
    item = _lr_item(ctx, attribute)
    if item is not None:
        _item(ctx, site, check, item)


def _item(ctx: FileContext, site, check, item: cst.Subscript) -> None:
    parent = ctx.parent(item)
    if isinstance(parent, cst.AssignTarget):
        assign = ctx.parent(parent)
        if site.scheduled:
            ctx.report(check, item, f"{ctx.code(item)} = ...: an experimental lr scheduler drives this optimizer "
                       "and keeps its own lr, so unlike torch's it overrides this write at its next step "
                       "(measured); set the lr through the scheduler or drop the scheduler")
        ctx.edits.replace(assign.value, lambda value: syntax.as_float(value))
        return
    if isinstance(parent, cst.AugAssign) and parent.target is item:
        ctx.report(check, item, f"{ctx.code(item)} {ctx.code(parent.operator).strip()} ...: the group's lr is a "
                   "MindSpore Parameter and the optimizer ignores a Tensor written back; write a float: "
                   f"{ctx.code(item)} = float({ctx.code(item)} ...)")
        return
    ctx.edits.replace(item, lambda value: syntax.fill("float(X)", X=value))


def _lr_item(ctx: FileContext, attribute: cst.Attribute):
    from ms_migrate.rules.param_groups.groups import _lr_item as lr_item

    return lr_item(ctx, attribute)


def _lr_items_of(ctx: FileContext, body: cst.CSTNode, name: str) -> List[cst.Subscript]:
    """`name['lr']` subscripts in a loop body (not in nested functions)."""
    out = []
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        if (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == name
                and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)
                and isinstance(node.slice[0].slice.value, cst.SimpleString)
                and node.slice[0].slice.value.evaluated_value == "lr"):
            out.append(node)
        stack.extend(syntax.children(node))
    return out
