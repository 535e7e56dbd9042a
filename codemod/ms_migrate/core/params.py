"""What an optimizer's `params` argument holds, and the simple `parameters()` rewrite.

MindSpore treats a list of tensors and a list of group dicts differently (its weight-decay name
filter applies only to the first), so the optimizer rule must know which one it is looking at.
When it cannot be told statically the answer is UNKNOWN and the rule flags instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional

import libcst as cst

from ms_migrate.core import syntax

if TYPE_CHECKING:
    from ms_migrate.core.context import FileContext

TENSORS = "tensors"
GROUPS = "groups"
UNKNOWN = "unknown"

# Methods of an nn.Module / Cell that return plain parameters.
PARAMETER_METHODS = {"parameters", "trainable_params", "get_parameters"}
_CHAINS = {"itertools.chain", "itertools.chain.from_iterable"}


def classify(ctx: "FileContext", node: cst.BaseExpression, depth: int = 0) -> str:
    if depth > 6:
        return UNKNOWN
    if isinstance(node, (cst.Dict,)) or is_dict_call(node):
        return GROUPS  # a single group dict where a list was expected; still groups
    if isinstance(node, (cst.List, cst.Tuple)):
        kinds = {_element_kind(ctx, e, depth) for e in node.elements}
        return kinds.pop() if len(kinds) == 1 else UNKNOWN
    if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
        return GROUPS if isinstance(node.elt, cst.Dict) or is_dict_call(node.elt) else TENSORS
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        left, right = classify(ctx, node.left, depth + 1), classify(ctx, node.right, depth + 1)
        return left if left == right else UNKNOWN
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in PARAMETER_METHODS:
            return TENSORS
        name = ctx.qualified_name(func) or (func.value if isinstance(func, cst.Name) else None)
        if name == "filter":
            return TENSORS
        if name in ("list", "tuple") and len(node.args) == 1:
            return classify(ctx, node.args[0].value, depth + 1)
        if name in _CHAINS:
            kinds = {classify(ctx, a.value, depth + 1) for a in node.args}
            return TENSORS if kinds == {TENSORS} else UNKNOWN
        returned = helper_returns(ctx, node)
        if returned:
            kinds = {classify(ctx, r, depth + 1) for r in returned}
            return kinds.pop() if len(kinds) == 1 else UNKNOWN
        return UNKNOWN
    if isinstance(node, cst.Name):
        return _classify_name(ctx, node, depth)
    return UNKNOWN


def _element_kind(ctx: "FileContext", element: cst.BaseElement, depth: int) -> str:
    if isinstance(element, cst.StarredElement):
        return UNKNOWN
    value = element.value
    if isinstance(value, cst.Dict) or is_dict_call(value):
        return GROUPS
    if isinstance(value, cst.Name):
        kind = _classify_name(ctx, value, depth)
        # a name bound to one tensor (a loop target over parameters) is a tensor element
        return GROUPS if kind == GROUPS else (TENSORS if kind == TENSORS else UNKNOWN)
    return UNKNOWN


def is_dict_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict"


def _classify_name(ctx: "FileContext", name: cst.Name, depth: int) -> str:
    assignment = ctx.binding(name)
    if assignment is None:
        return UNKNOWN
    # `for n, p in model.named_parameters()` / `for p in model.parameters()`: p is one tensor.
    loop = _enclosing_for_target(ctx, assignment.node)
    if loop is not None:
        iterable = loop.iter
        if isinstance(iterable, cst.Name):  # `all_params = net.named_parameters()` first
            iterable = ctx.assigned_value(iterable) or iterable
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute):
            if iterable.func.attr.value in PARAMETER_METHODS | {"named_parameters"}:
                return TENSORS
        return UNKNOWN
    held = holdings(ctx, name)
    if held is None:
        return UNKNOWN
    kinds = {_element_kind(ctx, cst.Element(value=v), depth + 1) for v in held.appended}
    kinds |= {classify(ctx, v, depth + 1) for v in held.extended}
    if not _is_empty_list(held.value) or not kinds:
        kinds.add(classify(ctx, held.value, depth + 1))
    return kinds.pop() if len(kinds) == 1 else UNKNOWN


def _is_empty_list(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.List, cst.Tuple)) and not node.elements


@dataclass
class Holdings:
    """What a variable holds: `name = value`, then `name.append(x)` (appended), and
    `name.extend(xs)` / `name += xs` (extended). `complete` is False when another use may
    change it (insert, item assignment, another method) and so not everything is seen."""

    value: cst.BaseExpression
    appended: List[cst.BaseExpression] = field(default_factory=list)
    extended: List[cst.BaseExpression] = field(default_factory=list)
    complete: bool = True


def holdings(ctx: "FileContext", name: cst.Name) -> Optional[Holdings]:
    """Holdings of the variable a name read refers to, when it has one plain assignment."""
    value = ctx.assigned_value(name)
    if value is None:
        return None
    held = Holdings(value)
    for access in ctx.binding(name).references:
        parent = ctx.parent(access.node)
        if isinstance(parent, cst.Attribute) and parent.value is access.node:
            call = ctx.parent(parent)
            method = parent.attr.value
            if method in ("append", "extend") and isinstance(call, cst.Call) and len(call.args) == 1:
                (held.appended if method == "append" else held.extended).append(call.args[0].value)
            else:
                held.complete = False
        elif isinstance(parent, cst.AugAssign) and parent.target is access.node:
            held.extended.append(parent.value)
        elif not isinstance(parent, (cst.Arg, cst.Element)):
            held.complete = False
    return held


def _enclosing_for_target(ctx: "FileContext", node: cst.CSTNode) -> Optional[cst.For]:
    child = node
    for parent in ctx.ancestors(node):
        if isinstance(parent, cst.For):
            return parent if child is parent.target else None
        if not isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
            return None
        child = parent
    return None


def to_trainable_params(call: cst.Call) -> cst.Call:
    assert isinstance(call.func, cst.Attribute)
    return call.with_changes(func=call.func.with_changes(attr=cst.Name("trainable_params")))


_ITERATOR_FUNCTIONS = {"filter", "map", "zip", "iter", "reversed", "itertools.chain",
                      "itertools.chain.from_iterable", "itertools.islice"}


def is_iterator(ctx: "FileContext", node: cst.BaseExpression) -> bool:
    """An expression that yields once (MindSpore consumes it while checking a group)."""
    if isinstance(node, cst.GeneratorExp):
        return True
    if isinstance(node, cst.Call):
        name = ctx.qualified_name(node.func) or (node.func.value if isinstance(node.func, cst.Name) else None)
        return name in _ITERATOR_FUNCTIONS
    return False


def as_list(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, cst.GeneratorExp):
        return cst.ListComp(elt=node.elt, for_in=node.for_in)
    return cst.Call(func=cst.Name("list"), args=[cst.Arg(value=node)])


def group_dicts(ctx: "FileContext", node: cst.BaseExpression) -> "tuple[list, bool]":
    """The group dicts (Dict literals or dict(...) calls) an optimizer's params can hold, and
    whether that list is complete (every element seen: literal lists and appended dicts only)."""
    found: list = []
    complete = _collect_groups(ctx, node, found, 0)
    return found, complete and bool(found)


def helper_returns(ctx: "FileContext", call: cst.Call) -> list:
    """What a function of this file returns, for `params=get_groups(model)`: the expressions of
    its return statements (not of nested functions); empty when it is not such a function."""
    if not isinstance(call.func, cst.Name):
        return []
    assignment = ctx.binding(call.func)
    function = assignment.node if assignment is not None else None
    if not isinstance(function, cst.FunctionDef):
        return []
    values = []
    stack = list(syntax.children(function.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Return):
            if node.value is None:
                return []
            values.append(node.value)
        stack.extend(syntax.children(node))
    return values


def _collect_groups(ctx: "FileContext", node: cst.BaseExpression, found: list, depth: int) -> bool:
    if depth > 4:
        return False
    if isinstance(node, cst.Dict) or is_dict_call(node):
        found.append(node)
        return True
    if isinstance(node, cst.Call):
        returned = helper_returns(ctx, node)
        ok = bool(returned)
        for value in returned:
            ok = _collect_groups(ctx, value, found, depth + 1) and ok
        return ok
    if isinstance(node, (cst.List, cst.Tuple)):
        ok = True
        for element in node.elements:
            if isinstance(element, cst.Element):
                ok = _collect_groups(ctx, element.value, found, depth + 1) and ok
            else:
                ok = False
        return ok
    if isinstance(node, cst.Name):
        held = holdings(ctx, node)
        if held is None:
            return False
        ok = _collect_groups(ctx, held.value, found, depth + 1)
        for value in held.appended:
            ok = _collect_groups(ctx, value, found, depth + 1) and ok
        return ok and held.complete and not held.extended
    return False


def group_keys(group: cst.BaseExpression) -> list:
    """(key node, key or None for a ** spread, value node) of a group dict; non-literal keys
    give key ''."""
    out = []
    if isinstance(group, cst.Dict):
        for element in group.elements:
            if isinstance(element, cst.StarredDictElement):
                out.append((element, None, None))
            elif isinstance(element.key, cst.SimpleString) and isinstance(element.key.evaluated_value, str):
                out.append((element.key, element.key.evaluated_value, element.value))
            else:
                out.append((element.key, "", element.value))
    elif isinstance(group, cst.Call):
        for arg in group.args:
            if arg.star == "**":
                out.append((arg, None, None))
            elif arg.keyword is not None:
                out.append((arg.keyword, arg.keyword.value, arg.value))
            else:
                out.append((arg, "", arg.value))
    return out


def without_key(group: cst.BaseExpression, key: str) -> cst.BaseExpression:
    """The group dict (an updated node) without `key`, keeping its layout."""
    if isinstance(group, cst.Dict):
        kept = [e for e in group.elements
                if not (isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
                        and e.key.evaluated_value == key)]
        if kept and len(kept) < len(group.elements):
            kept[-1] = kept[-1].with_changes(comma=group.elements[-1].comma)
        return group.with_changes(elements=kept)
    if isinstance(group, cst.Call):
        kept = [a for a in group.args if not (a.keyword is not None and a.keyword.value == key)]
        if kept and len(kept) < len(group.args):
            kept[-1] = kept[-1].with_changes(comma=group.args[-1].comma)
        return group.with_changes(args=kept)
    return group
