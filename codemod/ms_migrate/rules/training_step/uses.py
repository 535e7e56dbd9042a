"""Which expressions stand for a converted optimizer: reads of the name (or `self.x` chain) a
torch.optim construction was assigned to, and, one call deep, the parameter of a function of
this file that receives it (pytorch/examples mnist: `train(args, model, device, train_loader,
optimizer, epoch)`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import libcst as cst
from libcst.metadata import Assignment

from ms_migrate.core import bindings
from ms_migrate.core.context import FileContext


@dataclass
class Use:
    """One read of a converted optimizer."""

    site: object  # the OptimizerSite
    function: cst.CSTNode  # the FunctionDef (or Module) the read sits in
    # helper parameter name -> argument expression at its one call site (empty when the
    # optimizer is read where it was built, or when the helper has several call sites)
    mapping: Dict[str, cst.BaseExpression] = field(default_factory=dict)
    through: Optional[cst.Call] = None  # the call that passed the optimizer in


def function_of(ctx: FileContext, node: cst.CSTNode) -> cst.CSTNode:
    for parent in ctx.ancestors(node):
        if isinstance(parent, (cst.FunctionDef, cst.Module)):
            return parent
    return ctx.module


def optimizer_uses(ctx: FileContext, sites) -> Dict[cst.CSTNode, Use]:
    """Every read of a converted optimizer, keyed by the read node."""
    uses: Dict[cst.CSTNode, Use] = {}
    for site in sites:
        if site.target is None:
            continue
        for node in ctx.uses_of(site.target):
            uses[node] = Use(site, function_of(ctx, node))
    passed: Dict[cst.CSTNode, List[Use]] = {}  # Param -> uses through calls
    calls: Dict[cst.FunctionDef, List[cst.Call]] = {}
    for call in ctx.calls:
        helper = local_function(ctx, call.func)
        if helper is None:
            continue
        calls.setdefault(helper, []).append(call)
        for param, arg in _bind(call, helper):
            if arg in uses:
                passed.setdefault(param, []).append(Use(uses[arg].site, helper, {}, call))
    for param, found in passed.items():
        helper = ctx.parent(ctx.parent(param))  # Param -> Parameters -> FunctionDef
        single = len(calls.get(helper, ())) == 1 and len(found) == 1
        mapping = dict(_bind_names(found[0].through, helper)) if single else {}
        for read in _param_reads(ctx, helper, param):
            uses[read] = Use(found[0].site, helper, mapping, found[0].through)
    return uses


def _param_reads(ctx: FileContext, helper: cst.FunctionDef, param: cst.Param) -> List[cst.CSTNode]:
    """The reads of a helper's parameter (without the scope analysis where bindings.py can)."""
    reads = bindings.param_reads(ctx.analysis, param)
    if reads is not None:
        return list(reads)
    scope = ctx.scope(helper.body)
    if scope is None:
        return []
    return [access.node for assignment in scope.assignments[param.name.value]
            if isinstance(assignment, Assignment) and assignment.node is param
            for access in assignment.references]


def local_function(ctx: FileContext, func: cst.BaseExpression) -> Optional[cst.FunctionDef]:
    """The module-level or nested function of this file a plain-name call calls."""
    return ctx.local_function(func)


def _bind(call: cst.Call, function: cst.FunctionDef):
    """(Param, argument expression) for every argument of a call that names one parameter."""
    params = list(function.params.params)
    by_name = {p.name.value: p for p in [*params, *function.params.kwonly_params]}
    position = 0
    for arg in call.args:
        if arg.star == "*":
            return  # later positions are unknown
        if arg.star:
            continue
        if arg.keyword is not None:
            if arg.keyword.value in by_name:
                yield by_name[arg.keyword.value], arg.value
        else:
            if position < len(params):
                yield params[position], arg.value
            position += 1


def _bind_names(call: cst.Call, function: cst.FunctionDef):
    for param, value in _bind(call, function):
        yield param.name.value, value
