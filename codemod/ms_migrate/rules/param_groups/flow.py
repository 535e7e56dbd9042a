"""Where a converted optimizer flows: functions of this file it is passed to, e.g. the
ImageNet example's

    def adjust_learning_rate(optimizer, epoch, args):
        lr = args.lr * (0.1 ** (epoch // 30))
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
    ...
    adjust_learning_rate(optimizer, epoch, args)

`helper_parameters` follows every converted optimizer into the parameters of the functions it
is passed to (transitively), or the variables that receive it from a function returning it,
and says for each whether it always holds that one optimizer (then its uses can be converted
like the optimizer's own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

import libcst as cst
from libcst.metadata import Assignment

from ms_migrate.core.context import FileContext


@dataclass
class HelperParameter:
    function: cst.FunctionDef
    name: str
    sites: list = field(default_factory=list)  # the OptimizerSites passed to it
    complete: bool = True  # every call of the function passes one of those sites
    uses: List[cst.Name] = field(default_factory=list)
    returned: bool = False  # a variable assigned what a function returns, not a parameter


def helper_parameters(ctx: FileContext, sites) -> List[HelperParameter]:
    found: Dict[tuple, HelperParameter] = {}
    # (the nodes that hold an optimizer, the site) to follow
    work = [(_holders(ctx, site.target), site) for site in sites if site.target is not None]
    for site in sites:  # `return optim.SGD(...)`: the variables its callers assign
        for holder in _returned_to(ctx, site):
            key = (holder.function, holder.name)
            if key not in found:
                found[key] = holder
                work.append((holder.uses, site))
            if site not in found[key].sites:
                found[key].sites.append(site)
    depth = 0
    while work and depth < 5:
        depth += 1
        following = []
        for uses, site in work:
            for use in uses:
                bound = _bound_parameter(ctx, use)
                if bound is None:
                    continue
                function, name = bound
                key = (function, name)
                helper = found.get(key)
                if helper is None:
                    helper = found[key] = HelperParameter(function, name, uses=_parameter_uses(ctx, function, name))
                    following.append((helper.uses, site))
                if site not in helper.sites:
                    helper.sites.append(site)
        work = following
    holders = {id(n) for helper in found.values() for n in helper.uses}
    holders |= {id(n) for site in sites if site.target is not None for n in _holders(ctx, site.target)}
    for helper in found.values():
        if not helper.returned:
            helper.complete = _every_call_passes(ctx, helper, holders)
    return list(found.values())


def _holders(ctx: FileContext, target: cst.BaseExpression) -> List[cst.CSTNode]:
    """The reads of an optimizer's variable; for `self.optimizer`, also the bare chain passed on
    (`set_lr(self.optimizer, v)`), which uses_of leaves out."""
    uses = list(ctx.uses_of(target))
    if isinstance(target, cst.Attribute):
        dotted = cst.helpers.get_full_name_for_node(target)
        uses += [r for r in ctx.references if r is not target and isinstance(r, cst.Attribute)
                 and cst.helpers.get_full_name_for_node(r) == dotted]
    return uses


def _returned_to(ctx: FileContext, site) -> List[HelperParameter]:
    """`def build(model): return optim.SGD(...)` (or `opt = optim.SGD(...); return opt`), then
    `optimizer = build(model)`: the variables holding what a function of this file returns."""
    statement = ctx.parent(site.call)
    returned = isinstance(statement, cst.Return)
    if not returned and isinstance(site.target, cst.Name):
        returned = any(isinstance(ctx.parent(use), cst.Return) for use in ctx.uses_of(site.target))
    function = next((a for a in ctx.ancestors(site.call) if isinstance(a, cst.FunctionDef)), None)
    if not returned or function is None:
        return []
    scope = ctx.scope(function)
    assignments = list(scope.assignments[function.name.value]) if scope is not None else []
    if len(assignments) != 1 or assignments[0].node is not function:
        return []
    holders = []
    for access in assignments[0].references:
        call = ctx.parent(access.node)
        assign = ctx.parent(call) if isinstance(call, cst.Call) and call.func is access.node else None
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
            continue
        target = assign.targets[0].target
        if isinstance(target, cst.Name):
            caller = next((a for a in ctx.ancestors(assign) if isinstance(a, cst.FunctionDef)), ctx.module)
            scope = ctx.scope(target)
            single = scope is not None and ctx.assignment_of(target) is not None and len(
                [a for a in scope.assignments[target.value] if isinstance(a, Assignment)]) == 1
            uses = list(ctx.uses_of(target))
            holders.append(HelperParameter(caller, target.value, uses=uses, complete=single, returned=True))
    return holders


def _bound_parameter(ctx: FileContext, use: cst.CSTNode):
    """(function, parameter name) when `use` is an argument of a call of a function of this file."""
    arg = ctx.parent(use)
    call = ctx.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (isinstance(call, cst.Call) and arg.value is use and not arg.star):
        return None
    function = ctx.local_function(call.func)
    if function is None:
        return None
    name = _parameter_for(call, arg, function)
    return (function, name) if name is not None else None


def _parameter_for(call: cst.Call, arg: cst.Arg, function: cst.FunctionDef) -> Optional[str]:
    params = [*function.params.posonly_params, *function.params.params]
    if arg.keyword is not None:
        names = {p.name.value for p in params} | {p.name.value for p in function.params.kwonly_params}
        return arg.keyword.value if arg.keyword.value in names else None
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[: positional.index(arg)]):
        return None
    index = positional.index(arg)
    return params[index].name.value if index < len(params) else None


def _parameter_uses(ctx: FileContext, function: cst.FunctionDef, name: str) -> List[cst.Name]:
    scope = ctx.scope(function.body)
    if scope is None:
        return []
    uses = []
    assignments = [a for a in scope.assignments[name] if isinstance(a, Assignment)]
    if len(assignments) != 1:  # rebound in the function: not followed
        return []
    for access in assignments[0].references:
        if isinstance(access.node, cst.Name):
            uses.append(access.node)
    return uses


def _every_call_passes(ctx: FileContext, helper: HelperParameter, holders: Set[int]) -> bool:
    scope = ctx.scope(helper.function)
    if scope is None:
        return False
    for assignment in scope.assignments[helper.function.name.value]:
        if assignment.node is not helper.function:
            return False
        for access in assignment.references:
            call = ctx.parent(access.node)
            if not (isinstance(call, cst.Call) and call.func is access.node):
                return False  # passed on as a value: its calls cannot be seen
            args = [a for a in call.args if _parameter_for(call, a, helper.function) == helper.name]
            if len(args) != 1 or id(args[0].value) not in holders:
                return False
    return True


def param_groups_of(ctx: FileContext, use: cst.CSTNode) -> Optional[cst.Attribute]:
    """`use.param_groups` when `use` (a name holding an optimizer) is read that way, else None."""
    attribute = ctx.parent(use)
    if isinstance(attribute, cst.Attribute) and attribute.value is use and attribute.attr.value == "param_groups":
        return attribute
    return None
