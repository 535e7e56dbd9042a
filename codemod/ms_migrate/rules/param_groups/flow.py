"""Where a converted optimizer flows: functions of this file it is passed to, e.g. the
ImageNet example's

    def adjust_learning_rate(optimizer, epoch, args):
        lr = args.lr * (0.1 ** (epoch // 30))
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
    ...
    adjust_learning_rate(optimizer, epoch, args)

`helper_parameters` follows every converted optimizer into the parameters of the functions it
is passed to (transitively), and says for each such parameter whether every call of the
function passes that one optimizer (then its uses can be converted like the optimizer's own).
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

    @property
    def site(self):
        """The one optimizer every call passes, or None."""
        return self.sites[0] if self.complete and len(self.sites) == 1 else None


def helper_parameters(ctx: FileContext, sites) -> List[HelperParameter]:
    found: Dict[tuple, HelperParameter] = {}
    # (the Name nodes that hold an optimizer, the site) to follow
    work = [(list(ctx.uses_of(site.target)), site) for site in sites if isinstance(site.target, cst.Name)]
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
    holders |= {id(n) for site in sites if isinstance(site.target, cst.Name) for n in ctx.uses_of(site.target)}
    for helper in found.values():
        helper.complete = _every_call_passes(ctx, helper, holders)
    return list(found.values())


def _local_function(ctx: FileContext, func: cst.BaseExpression) -> Optional[cst.FunctionDef]:
    if not isinstance(func, cst.Name):
        return None
    assignment = ctx.binding(func)
    node = assignment.node if assignment is not None else None
    return node if isinstance(node, cst.FunctionDef) else None


def _bound_parameter(ctx: FileContext, use: cst.CSTNode):
    """(function, parameter name) when `use` is an argument of a call of a function of this file."""
    arg = ctx.parent(use)
    call = ctx.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (isinstance(call, cst.Call) and arg.value is use and not arg.star):
        return None
    function = _local_function(ctx, call.func)
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
