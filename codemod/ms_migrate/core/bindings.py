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
literal of the scope (LibCST reads string annotations).

The same way, each certain or else None (UNKNOWN for local_function), it answers:

    param_reads          the reads of a def's parameter
    binding_of           the one assignment a read reads (ctx.binding), one Binding per target
    bound_several_times  a read whose own scope binds its name more than once (no one binding)
    shared_binding       a target that shares its scope with other bindings of its name
                         (ctx.assignment_of): every read there is a reference of each
    local_function       the def a plain-name call calls (ctx.local_function)
    local_bindings       the bindings of a name in one function body or the module
                         (ctx.scope_bindings)
    never_bound          a name nothing in the file binds (a builtin wherever it is read)
    import_reads         the reads of a torch import bound once
    innermost_scope      the scope a node is in, as LibCST partitions them"""

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
    statement = _assignment_statement(analysis, target)
    scope = _scope_of(analysis, statement) if statement is not None else None
    if scope is None:
        return None
    return _reads(analysis, target, scope, _last(analysis, statement))


def _assignment_statement(analysis: "Analysis", target: cst.Name) -> Optional[cst.CSTNode]:
    """The statement line of `target = value` / `target: T = value`; None for any other target."""
    parents = analysis.parents
    holder = parents.get(target)
    if isinstance(holder, cst.AssignTarget):
        assign = parents.get(holder)
        if isinstance(assign, cst.Assign) and holder.target is target:
            return parents.get(assign)
    elif isinstance(holder, cst.AnnAssign):
        if holder.target is target and holder.value is not None:
            return parents.get(holder)
    return None


def _not_a_variable(node: cst.Name, parent: Optional[cst.CSTNode]) -> bool:
    """`x.name`, `f(name=1)`: the name there is an attribute or a keyword, not a variable."""
    return (isinstance(parent, cst.Attribute) and parent.attr is node) or (
        isinstance(parent, cst.Arg) and parent.keyword is node)


def _star_import(analysis: "Analysis") -> bool:
    """Does a `from m import *` (which may bind any name) appear anywhere in the file?"""
    return any(isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar)
               for node in analysis.imports)


def param_reads(analysis: "Analysis", param: cst.Param) -> Optional[List[cst.Name]]:
    """The reads of a def's parameter (its Assignment's references, as LibCST keys it by the
    Param), in source order; None when not sure (as `reads_of`; a lambda's parameter)."""
    function = analysis.parents.get(analysis.parents.get(param))  # Param -> Parameters -> def
    if not isinstance(function, cst.FunctionDef):
        return None
    # bound in the function's body, before any of it runs: every read there comes after
    return _reads(analysis, param.name, function.body, analysis.order.get(function.body, -1))


def _reads(analysis: "Analysis", target: cst.Name, scope: cst.CSTNode, after: int) -> Optional[List[cst.Name]]:
    """The reads of `target` in `scope` (a function body or the module), all after `after`
    (a source order), when every other occurrence of the name there is a plain read."""
    name = target.value
    if name in analysis.declared or name in analysis.imported:
        return None
    parents, order = analysis.parents, analysis.order
    low, high = order.get(scope, -1), _last(analysis, scope)  # (the module is not numbered)
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
        return [target] if innermost_scope(ctx.analysis, read) is home else []
    return None


def target_statement(ctx, target: cst.Name) -> cst.CSTNode:
    holder = ctx.analysis.parents.get(target)
    return ctx.analysis.parents.get(holder) if isinstance(holder, cst.AssignTarget) else holder


def innermost_scope(analysis: "Analysis", node: cst.CSTNode) -> Optional[cst.CSTNode]:
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


UNKNOWN = object()  # local_function: "ask the scope analysis"


def local_function(analysis: "Analysis", read: cst.Name):
    """The FunctionDef the name `read` refers to when that def is the name's one binding in
    the scope the read sees (what `[a for a in scope[name] if isinstance(a, Assignment)]` holds
    then, one FunctionDef); None when no def can be meant; UNKNOWN when only the scope analysis
    can tell. Answered without it when the def is the name's only binding in the whole file --
    every other occurrence is a plain read, an attribute (`x.name`) or a keyword (`f(name=1)`);
    no import, `global` or `nonlocal` of it; no star import -- and the def is in the module (seen
    from everywhere) or in a function's body (seen from inside that body only)."""
    name = read.value
    if name not in analysis.functions:
        return None  # no def of that name in the file
    if name in analysis.declared or name in analysis.imported or _star_import(analysis):
        return UNKNOWN
    parents = analysis.parents
    definition = None
    for node in analysis.by_value.get(name, ()):
        parent = parents.get(node)
        if isinstance(parent, cst.FunctionDef) and parent.name is node:
            if definition is not None:
                return UNKNOWN  # defined twice
            definition = parent
        elif not (_not_a_variable(node, parent) or _plain_read(parents, node, parent)):
            return UNKNOWN
    if definition is None:
        return UNKNOWN
    home = _scope_of(analysis, definition)
    if home is None:
        return UNKNOWN  # a method: the class body's scope rules apply
    if isinstance(home, cst.Module):
        return definition
    order = analysis.order
    at = order.get(read, -1)
    return definition if order.get(home, -1) <= at <= _last(analysis, home) else None


class Binding:
    """What a rule reads of LibCST's Assignment (`node`, `name`, `references` with each
    access's `node`), for a target `binding_of` answers: one object per target, so that
    identity comparisons hold."""

    __slots__ = ("name", "node", "references")

    def __init__(self, target: cst.Name, reads: List[cst.Name]) -> None:
        self.name = target.value
        self.node = target
        self.references = tuple(_Access(read) for read in reads)


class _Access:
    __slots__ = ("node",)

    def __init__(self, node: cst.Name) -> None:
        self.node = node


def binding_at(analysis: "Analysis", target: cst.Name) -> Optional[Binding]:
    """The Binding an `x = ...` target makes, when `reads_of` answers it (one object per
    target); None when not known (ask the scope analysis)."""
    cache = analysis.target_bindings
    if target not in cache:
        reads = reads_of(analysis, target)
        cache[target] = Binding(target, reads) if reads is not None else None
    return cache[target]


def binding_of(analysis: "Analysis", read: cst.Name) -> Optional[Binding]:
    """The binding the name `read` reads, when `reads_of` answers an `x = ...` target of that
    name and lists `read`: that target is then the one binding the read's scope sees (what
    LibCST's `scope[name]` holds then, one Assignment, whose references are those reads).
    None when not known (ask the scope analysis)."""
    cache = analysis.read_bindings
    name = read.value
    if name not in cache:
        found: dict = {}
        for node in analysis.by_value.get(name, ()):
            holder = analysis.parents.get(node)
            if isinstance(holder, (cst.AssignTarget, cst.AnnAssign)) and holder.target is node:
                binding = binding_at(analysis, node)
                if binding is None or _a_parameter_too(analysis, node):
                    continue  # (a parameter of the same name: two bindings in that scope)
                for access in binding.references:
                    found[access.node] = binding
        cache[name] = found
    return cache[name].get(read)


def _a_parameter_too(analysis: "Analysis", target: cst.Name) -> bool:
    """Is the target's name also a parameter of the function whose body the target is in (a
    binding of the same scope that `reads_of`, which looks at the body, does not see)?"""
    node = analysis.parents.get(target)
    while node is not None and not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Module)):
        node = analysis.parents.get(node)
    if not isinstance(node, cst.FunctionDef):
        return False
    params = node.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    return any(p.name.value == target.value for p in every)


# the statements whose Name targets (also inside tuples/lists, starred) bind in their scope
_TARGET_FIELDS = {
    cst.AssignTarget: "target", cst.AnnAssign: "target", cst.AugAssign: "target", cst.For: "target",
    cst.AsName: "name", cst.NamedExpr: "target",
}


def local_bindings(analysis: "Analysis", name: str, scope: cst.CSTNode) -> Optional[List[cst.Name]]:
    """The Name nodes that bind `name` in `scope` itself (a function body or the module, as
    `innermost_scope` gives it; not in scopes nested in it): assignment, augmented, annotated,
    for, with/except `as`, walrus targets and the function's parameters. None when not sure:
    an import, `global`/`nonlocal` or a def/class of the name, any occurrence of it there that is
    neither such a target nor a plain read. (LibCST: the nodes of `scope[name]` whose scope is
    that scope.)"""
    if name in analysis.declared or name in analysis.imported:
        return None
    parents, order = analysis.parents, analysis.order
    if not isinstance(scope, cst.Module):
        function = parents.get(scope)
        if not (isinstance(function, cst.FunctionDef) and function.body is scope):
            return None  # a class body, a lambda, a comprehension
        low, high = order.get(scope, -1), _last(analysis, scope)
    else:
        low, high, function = -1, 1 << 62, None
    found = []
    for node in analysis.by_value.get(name, ()):
        parent = parents.get(node)
        if isinstance(parent, cst.Param) and parent.name is node:
            if function is not None and parents.get(parent) is function.params:
                found.append(node)  # a parameter of the scope's own function
            continue  # (another function's or a lambda's: bound in that one's scope)
        at = order.get(node, -1)
        if at < low or at > high:
            continue
        if _not_a_variable(node, parent):
            continue
        if innermost_scope(analysis, node) is not scope:
            continue
        if _plain_read(parents, node, parent):
            continue
        if _is_target(parents, node):
            found.append(node)
            continue
        return None
    return found


_AS_HOLDERS = tuple(getattr(cst, n) for n in ("WithItem", "ExceptHandler", "ExceptStarHandler") if hasattr(cst, n))


def _is_target(parents, node: cst.Name) -> bool:
    """Is `node` (inside tuples, lists, starred elements) the target of a statement that binds?"""
    child = node
    parent = parents.get(child)
    while isinstance(parent, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
        child, parent = parent, parents.get(parent)
    field = _TARGET_FIELDS.get(type(parent))
    if field is None or getattr(parent, field) is not child:
        return False
    if isinstance(parent, cst.AsName):  # with/except `as`, not an import's (imports: above)
        return isinstance(parents.get(parent), _AS_HOLDERS)
    return True


def never_bound(analysis: "Analysis", name: str) -> bool:
    """True when nothing in the file binds `name` (every occurrence a plain read, an attribute
    or a keyword; no import, def, `global`/`nonlocal`, star import): it is then the builtin or
    global it reads wherever it is read. False when not sure."""
    if (name in analysis.declared or name in analysis.imported or name in analysis.functions
            or _star_import(analysis)):
        return False
    parents = analysis.parents
    for node in analysis.by_value.get(name, ()):
        parent = parents.get(node)
        if not (_not_a_variable(node, parent) or _plain_read(parents, node, parent)):
            return False
    return True


def bound_several_times(analysis: "Analysis", read: cst.Name) -> bool:
    """True when the scope the name `read` is in binds that name more than once itself (`L =
    []` then `L += [p]`): LibCST's `scope[name]` then holds several Assignments, so the read has
    no one binding. False when not so or not sure."""
    home = innermost_scope(analysis, read)
    found = local_bindings(analysis, read.value, home) if home is not None else None
    return found is not None and len(found) >= 2


def shared_binding(analysis: "Analysis", target: cst.Name) -> Optional[Binding]:
    """The Binding of a target `shared_reads` answers (one object per target); None when not
    known (ask the scope analysis)."""
    cache = analysis.shared_bindings
    if target not in cache:
        reads = shared_reads(analysis, target)
        cache[target] = Binding(target, reads) if reads is not None else None
    return cache[target]


def shared_reads(analysis: "Analysis", target: cst.Name) -> Optional[List[cst.Name]]:
    """The reads of a target that shares its name with other bindings of the same scope (`out
    = model(x)` in two loops of one function): LibCST's scope analysis is not flow-sensitive, so
    every read of the name in that scope (and in scopes nested in it that do not bind it) is a
    reference of each of those Assignments. None when not sure: the target is not an `x = ...`
    target of a function body or the module, or the name occurs in that span in any way other
    than such a target of the scope itself, a plain read, an attribute or a keyword (or in a
    string)."""
    parents = analysis.parents
    statement = _assignment_statement(analysis, target)
    scope = _scope_of(analysis, statement) if statement is not None else None
    name = target.value
    if scope is None or name in analysis.declared or name in analysis.imported:
        return None
    order = analysis.order
    low, high = order.get(scope, -1), _last(analysis, scope)
    reads = []
    for node in analysis.by_value.get(name, ()):
        at = order.get(node, -1)
        if at < low or at > high:
            continue
        parent = parents.get(node)
        if _not_a_variable(node, parent):
            continue
        if _plain_read(parents, node, parent):
            reads.append(node)
        elif not (_is_target(parents, node) and innermost_scope(analysis, node) is scope):
            return None
    keys = analysis.string_orders
    for string in analysis.strings[bisect_left(keys, low):bisect_right(keys, high)] if analysis.strings else ():
        if name in string.value:
            return None
    return reads
