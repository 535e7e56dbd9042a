"""The loop shapes the parameter rule rewrites (mindspore-facts.md section 4):

    lst = []                                 lst = list(filter(lambda x: cond(x.name), src))
    for n, p in src:                   ->
        if cond(n):
            lst.append(p)   # or lst += [p]; an else branch fills a second list

and the questions the rule asks of a loop: does it collect parameters, does it freeze them.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext


def pair(target: cst.BaseExpression) -> Optional[Tuple[cst.Name, cst.Name]]:
    if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
        first, second = (e.value for e in target.elements)
        if isinstance(first, cst.Name) and isinstance(second, cst.Name):
            return first, second
    return None


def collects(body: cst.BaseSuite) -> bool:
    """Does the loop body append parameters to lists (an optimizer selection)?"""
    for node in syntax.walk(body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("append", "extend"):
            return True
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
            return True
    return False


def freezes(body: cst.BaseSuite, var: str) -> bool:
    for node in syntax.walk(body):
        if isinstance(node, cst.AssignTarget):
            target = node.target
            if isinstance(target, cst.Attribute) and target.attr.value == "requires_grad" and syntax.is_name(target.value, var):
                return True
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            if node.func.attr.value == "requires_grad_" and syntax.is_name(node.func.value, var):
                return True
    return False


def appended(statement: cst.CSTNode, param: str) -> Optional[str]:
    """`L.append(p)` or `L += [p]` as the only statement: the list's name."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if (isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
                and isinstance(call.func.value, cst.Name) and len(call.args) == 1 and syntax.is_name(call.args[0].value, param)):
            return call.func.value.value
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign) and isinstance(small.target, cst.Name):
        value = small.value
        if isinstance(value, cst.List) and len(value.elements) == 1 and syntax.is_name(value.elements[0].value, param):
            return small.target.value
    return None


def single_statement(suite: cst.BaseSuite) -> Optional[cst.CSTNode]:
    body = suite.body if isinstance(suite, cst.IndentedBlock) else None
    if body is None or len(body) != 1:
        return None
    return body[0]


def filter_shape(ctx: FileContext, loop: cst.For, param: cst.Name):
    """The seed's loop shape: `for n, p in src: if cond: A.append(p) [else: B.append(p)]`.
    Returns [(list name, condition, None)] (init statements are filled in later) or None."""
    if loop.orelse is not None:
        return None
    statement = single_statement(loop.body)
    if not isinstance(statement, cst.If):
        return None
    then = single_statement(statement.body)
    target = appended(then, param.value) if then is not None else None
    if target is None:
        return None
    result = [(target, statement.test, None)]
    if statement.orelse is not None:
        if not isinstance(statement.orelse, cst.Else):
            return None
        other = single_statement(statement.orelse.body)
        other_target = appended(other, param.value) if other is not None else None
        if other_target is None or other_target == target:
            return None
        result.append((other_target, None, None))
    return result


def inits_removable(ctx: FileContext, loop: cst.For, filters: list) -> bool:
    """Each target list is `L = []` once, earlier in the same block, used only by this loop."""
    block = ctx.parent(loop)
    if not isinstance(block, (cst.IndentedBlock, cst.Module)):
        return False
    body = list(block.body)
    position = body.index(loop)
    for i, (target, condition, _) in enumerate(filters):
        init = None
        for statement in body[:position]:
            if (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                    and isinstance(statement.body[0], cst.Assign) and len(statement.body[0].targets) == 1
                    and syntax.is_name(statement.body[0].targets[0].target, target)
                    and isinstance(statement.body[0].value, cst.List) and not statement.body[0].value.elements):
                init = statement
        if init is None:
            return False
        name = init.body[0].targets[0].target
        assignment = ctx.assignment_of(name)
        if assignment is None:
            return False
        scope = ctx.scope(name)
        others = [a for a in scope.assignments[target] if a.scope is scope and a.node is not assignment.node]
        if any(not within(ctx, a.node, loop) for a in others):
            return False  # rebound elsewhere (`L += [p]` inside the loop is fine)
        uses = [a.node for a in scope.accesses[target]]
        if any(not within(ctx, u, loop) and ctx.start(u).line < ctx.start(loop).line for u in uses):
            return False  # used between its init and the loop
        filters[i] = (target, condition, init)
    return True


def within(ctx: FileContext, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
    return any(parent is ancestor for parent in ctx.ancestors(node))


def negate(test: cst.BaseExpression) -> cst.BaseExpression:
    """`a in b` -> `a not in b` (and ==, is); `not x` -> `x`; else `not (test)`."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and not test.lpar:
        target = test.comparisons[0]
        opposite = _OPPOSITE.get(type(target.operator))
        if opposite is not None:
            return test.with_changes(comparisons=[target.with_changes(operator=opposite())])
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return test.expression
    return cst.UnaryOperation(operator=cst.Not(), expression=syntax.parenthesized(test))


def carry_leading(old: cst.CSTNode, new: List[cst.BaseStatement]) -> cst.CSTNode:
    first = new[0].with_changes(leading_lines=getattr(old, "leading_lines", ()))
    return cst.FlattenSentinel([first, *new[1:]])  # type: ignore[return-value]


_OPPOSITE = {cst.In: cst.NotIn, cst.NotIn: cst.In, cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal,
             cst.Is: cst.IsNot, cst.IsNot: cst.Is}



