"""Gradient clipping between backward and step, on the grads tuple:

    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    norm = clip_grad_norm_(model.parameters(), max_norm)   # the total norm is used
    clip_grad_value_(model.parameters(), 0.5)

become

    grad_norm = ops.norm(ops.stack([ops.norm(g) for g in grads])); grads = ops.clip_by_global_norm(grads, 1.0)
    grads = tuple(ops.where(ops.isnan(grad_norm), grad_norm, g) for g in grads)   # torch: NaN norm, NaN grads
    norm = ...; grads = ops.clip_by_global_norm(grads, max_norm); grads = (the same NaN spread)
    grads = tuple(ops.where(ops.isnan(g), g, ops.clip_by_value(g, -0.5, 0.5)) for g in grads)

Only when the clipped parameters are provably the optimizer's (same expression as the
optimizer's params); torch's 2-norm only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext

NORM = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm_",
        "torch.nn.utils.clip_grad_norm", "torch.nn.utils.clip_grad.clip_grad_norm")
VALUE = ("torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grad.clip_grad_value_")


@dataclass
class Clip:
    statement: cst.SimpleStatementLine
    call: cst.Call
    kind: str  # "norm" | "value"
    params: Optional[cst.BaseExpression]
    limit: Optional[cst.BaseExpression]
    result: Optional[cst.BaseExpression]  # the name the total norm is assigned to
    problem: str = ""  # why it cannot be converted


def read(ctx: FileContext, statement: cst.CSTNode) -> Optional[Clip]:
    """The clipping call a statement is (`clip(...)` or `name = clip(...)`), or None."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    result = None
    if isinstance(small, cst.Expr):
        call = small.value
    elif isinstance(small, cst.Assign) and len(small.targets) == 1:
        call, result = small.value, small.targets[0].target
    else:
        return None
    if not isinstance(call, cst.Call) or not ctx.may_be_tracked(call.func):
        return None
    name = ctx.qualified_name(call.func)
    kind = "norm" if name in NORM else "value" if name in VALUE else None
    if kind is None:
        return None
    args = _bind(call, ("parameters", "max_norm" if kind == "norm" else "clip_value", "norm_type",
                        "error_if_nonfinite", "foreach"))
    clip = Clip(statement, call, kind, args.get("parameters"), args.get("max_norm", args.get("clip_value")), result)
    if any(a.star for a in call.args) or clip.params is None or clip.limit is None:
        clip.problem = f"`{ctx.code(call)}`: cannot see its arguments"
    elif kind == "norm" and "norm_type" in args and not syntax.same_value(syntax.literal_value(args["norm_type"]), 2):
        clip.problem = (f"`{ctx.code(call)}`: norm_type={ctx.code(args['norm_type'])}; "
                        "ops.clip_by_global_norm clips by the 2-norm only")
    elif "error_if_nonfinite" in args and syntax.literal_value(args["error_if_nonfinite"]) is not False:
        clip.problem = f"`{ctx.code(call)}`: error_if_nonfinite has no MindSpore counterpart"
    elif kind == "value" and result is not None:
        clip.problem = f"`{ctx.code(call)}` returns None in torch"
    elif result is not None and not isinstance(result, cst.Name):
        clip.problem = f"`{ctx.code(statement).strip()}`: the norm goes to something other than a name"
    return clip


def clipped_set_problem(ctx: FileContext, clip: Clip, site, mapping, through_helper: bool) -> str:
    """Why the clipped parameters may differ from the optimizer's ('' when they are the same)."""
    params = clip.params
    if through_helper and not mapping:
        return (f"`{ctx.code(clip.call)}` clips {ctx.code(params)}: the function is called from several "
                "places, so it cannot be shown to be the parameters the optimizer updates")
    shown = syntax.fill_names(params, mapping) if mapping else params
    if site.params is not None and shown.deep_equals(site.params):
        return ""
    return (f"`{ctx.code(clip.call)}` clips {ctx.code(params)}, the optimizer updates "
            f"{ctx.code(site.params) if site.params is not None else 'other parameters'}: the clipped set may "
            "differ (MindSpore clips the optimizer's gradients); clip the right grads by hand")


def statements(ctx: FileContext, clip: Clip, grads: str) -> list:
    """The MindSpore statements for one clip, on the gradients named `grads`."""
    ops = ctx.imports.ref("mindspore", "ops")
    g = cst.Name(grads)
    if clip.kind == "value":
        # torch.clamp keeps a NaN, MindSpore's clip_by_value (and clamp) turn it into a bound (measured)
        value = syntax.fill("tuple(OPS.where(OPS.isnan(g), g, OPS.clip_by_value(g, -LIMIT, LIMIT)) for g in G)",
                            OPS=ops, G=g, LIMIT=clip.limit)
        return [_assign(g, value)]
    # a NaN total norm makes torch's clip coefficient NaN and every gradient NaN; MindSpore's
    # clip_by_global_norm leaves the finite gradients as they are (measured): spread the NaN
    result = clip.result if clip.result is not None else cst.Name(ctx.imports.fresh_name("grad_norm"))
    norm = syntax.fill("OPS.norm(OPS.stack([OPS.norm(g) for g in G]))", OPS=ops, G=g)
    clipped = syntax.fill("OPS.clip_by_global_norm(G, LIMIT)", OPS=ops, G=g, LIMIT=clip.limit)
    spread = syntax.fill("tuple(OPS.where(OPS.isnan(N), N, g) for g in G)", OPS=ops, N=result, G=g)
    return [_assign(result, norm), _assign(g, clipped), _assign(g, spread)]


def _assign(target: cst.BaseExpression, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(target=target)], value=value)])


def _bind(call: cst.Call, names) -> dict:
    out = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            continue
        if arg.keyword is not None:
            out[arg.keyword.value] = arg.value
        elif i < len(names):
            out[names[i]] = arg.value
    return out
