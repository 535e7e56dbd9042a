"""The reads of a variable, without LibCST's scope analysis, where the file's shape makes them
certain; None everywhere else (the caller asks the scope analysis then).

The rules follow an optimizer through its variable (`optimizer = torch.optim.SGD(...)`, then
`optimizer.step()`, `StepLR(optimizer, ...)`, `optimizer.param_groups`): ctx.uses_of. The scope
analysis answers that for any file, but costs more than parsing it. This module answers the
common shape alone:

    def train(model):                       # the scope: a function body (or the module)
        optimizer = torch.optim.SGD(...)    # the only binding of the name in that scope and
        ...                                 #   in every scope nested in it
        optimizer.step()                    # every read comes after the binding statement,
        return optimizer                    #   in a position that can only be a read

and gives what LibCST's `Assignment.references` gives there (tests/test_bindings.py compares the
two on every assignment of every fixture and of generated mutations). It gives up -- returns
None -- on anything else: a class body, `global`/`nonlocal` of the name anywhere, an import of
it anywhere, any other occurrence of the name in the scope that is not a plain read (a
parameter, a for/with/except target, a walrus, `del`, a keyword, an augmented assignment,
tuple unpacking...), a read before or inside the binding statement, the name inside a string
literal of the scope (LibCST reads string annotations)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, List, Optional

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from ms_migrate.core.context import Analysis

# (parent type, the fields of it where a Name can only be read)
_READ_FIELDS = {
    cst.Attribute: ("value",),
    cst.Call: ("func",),
    cst.Arg: ("value",),
    cst.Subscript: ("value",),
    cst.Index: ("value",),
    cst.Return: ("value",),
    cst.Expr: ("value",),
    cst.Assign: ("value",),
    cst.AnnAssign: ("value",),
    cst.BinaryOperation: ("left", "right"),
    cst.BooleanOperation: ("left", "right"),
    cst.UnaryOperation: ("expression",),
    cst.Comparison: ("left",),
    cst.ComparisonTarget: ("comparator",),
    cst.IfExp: ("test", "body", "orelse"),
    cst.If: ("test",),
    cst.While: ("test",),
    cst.For: ("iter",),
    cst.CompFor: ("iter",),
    cst.Yield: ("value",),
    cst.Assert: ("test", "msg"),
    cst.WithItem: ("item",),
    cst.DictElement: ("key", "value"),
    cst.Await: ("expression",),
    cst.FormattedStringExpression: ("expression",),
    cst.Lambda: ("body",),
}
# containers whose elements are reads when the container itself is one of these fields
_READ_CONTAINERS = {cst.Return: "value", cst.Arg: "value", cst.Expr: "value", cst.Assign: "value"}
_SCOPES = (cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def reads_of(analysis: "Analysis", target: cst.Name) -> Optional[List[cst.Name]]:
    """The Name nodes that read what `target` (an `x = ...` target) binds, in source order;
    None when this module cannot be sure (see the module docstring)."""
    parents = analysis.parents
    holder = parents.get(target)
    if isinstance(holder, cst.AssignTarget):
        statement_part = parents.get(holder)
        if not isinstance(statement_part, cst.Assign) or holder.target is not target:
            return None
    elif isinstance(holder, cst.AnnAssign):
        if holder.target is not target or holder.value is None:
            return None
        statement_part = holder
    else:
        return None
    name = target.value
    if name in analysis.declared or name in analysis.imported:
        return None
    statement = parents.get(statement_part)
    scope = _scope_of(analysis, statement)
    if scope is None:
        return None
    order = analysis.order
    low, high = order.get(scope, -1), _last(analysis, scope)  # (the module is not numbered)
    after = _last(analysis, statement)
    reads = []
    for node in analysis.by_value.get(name, ()):
        at = order.get(node, -1)
        if at < low or at > high or node is target:
            continue
        parent = parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            continue  # `x.name`: not a variable
        if at <= after or not _plain_read(parents, node, parent):
            return None
        reads.append(node)
    strings = analysis.strings
    if strings:
        keys = analysis.string_orders
        for string in strings[bisect_left(keys, low):bisect_right(keys, high)]:
            if name in string.value:
                return None
    return reads


def import_reads(analysis: "Analysis", name: str) -> Optional[List[cst.Name]]:
    """The reads of a name that one import in module scope binds and nothing else in the file
    does (prescan.single_imports), as the scope analysis gives that import's references; None
    when not sure (a read before the import, a name in a position that may not be a read, the
    name inside a string literal)."""
    if (name not in analysis.single_imports or name not in analysis.imported_at
            or analysis.import_count[name] != 1):  # (`import torch` twice: which one is read?)
        return None
    parents, order = analysis.parents, analysis.order
    imported_at = analysis.imported_at[name]
    reads = []
    for node in analysis.by_value.get(name, ()):
        parent = parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            continue
        if order.get(node, -1) < imported_at or not _plain_read(parents, node, parent):
            return None
        reads.append(node)
    if any(name in string.value for string in analysis.strings):
        return None
    return reads


def binding_lines_in_scope(ctx, read: cst.Name) -> Optional[List[cst.Name]]:
    """The targets binding `read`'s name in the scope `read` is in, when `read` is one of the
    reads `reads_of` answers for an optimizer's variable: [the target] when the read is in that
    function (or module) itself, [] when it is in a scope nested in it; None when not known."""
    for site in ctx.optimizer_sites:
        target = site.target
        if not isinstance(target, cst.Name) or target.value != read.value:
            continue
        reads = reads_of(ctx.analysis, target)
        if reads is None or not any(r is read for r in reads):
            continue
        home = _scope_of(ctx.analysis, ctx.analysis.parents.get(target_statement(ctx, target)))
        return [target] if _innermost_scope(ctx.analysis, read) is home else []
    return None


def target_statement(ctx, target: cst.Name) -> cst.CSTNode:
    holder = ctx.analysis.parents.get(target)
    return ctx.analysis.parents.get(holder) if isinstance(holder, cst.AssignTarget) else holder


def _innermost_scope(analysis: "Analysis", node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The body of the innermost function holding `node`, or the module; a class, lambda or
    comprehension on the way: that node (a scope of its own). A function's decorators, defaults
    and annotations, a lambda's defaults and a comprehension's first iterable belong to the
    enclosing scope."""
    parents = analysis.parents
    child = node
    while True:
        parent = parents.get(child)
        if parent is None:
            return child if isinstance(child, cst.Module) else None
        if isinstance(parent, cst.FunctionDef) and child is parent.body:
            return child
        if isinstance(parent, cst.ClassDef) and child is parent.body:
            return parent
        if isinstance(parent, cst.Lambda) and child is parent.body:
            return parent
        if isinstance(parent, cst.CompFor) and child is parent.iter:
            outer = parents.get(parent)
            if isinstance(outer, _COMPREHENSIONS) and outer.for_in is parent:
                child = outer  # the first iterable: read where the comprehension is
                continue
        if isinstance(parent, _COMPREHENSIONS):
            return parent
        child = parent


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def _scope_of(analysis: "Analysis", statement: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The body of the function the statement is in, or the module; None in a class body."""
    node = statement
    parents = analysis.parents
    while True:
        parent = parents.get(node)
        if parent is None:
            return node if isinstance(node, cst.Module) else None
        if isinstance(parent, (cst.FunctionDef,)):
            return node if node is parent.body else None
        if isinstance(parent, _SCOPES):
            return None
        node = parent


def _last(analysis: "Analysis", node: cst.CSTNode) -> int:
    """The source order of the last node inside `node` (the index walk's numbering)."""
    children = analysis.children
    while True:
        kids = children.get(node)
        if not kids:
            return analysis.order.get(node, -1)
        node = kids[-1]


def _plain_read(parents, node: cst.Name, parent: Optional[cst.CSTNode]) -> bool:
    fields = _READ_FIELDS.get(type(parent))
    if fields is not None:
        return any(getattr(parent, f) is node for f in fields)
    if isinstance(parent, cst.Element) and parent.value is node:
        container = parents.get(parent)
        outer = parents.get(container)
        field = _READ_CONTAINERS.get(type(outer))
        return (isinstance(container, (cst.Tuple, cst.List, cst.Set)) and field is not None
                and getattr(outer, field) is container)
    return False
