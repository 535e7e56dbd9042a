"""torch GradScaler -> mindspore.amp.DynamicLossScaler (mindspore-facts.md section 6).

    scaler = torch.amp.GradScaler("cuda", init_scale=2.**16, growth_interval=2000)
    ...
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)                      # optional, before clipping
    scaler.step(optimizer)
    scaler.update()

becomes

    scaler = amp.DynamicLossScaler(scale_value=2.**16, scale_factor=2, scale_window=2000)
    def forward_fn(...): ...; return scaler.scale(loss), loss
    (_, loss), grads = grad_fn(...)
    grads = scaler.unscale(grads)
    grads_finite = amp.all_finite(grads)        # before any clipping
    if grads_finite:
        optimizer(grads)
    scaler.adjust(grads_finite)

Exact where torch's growth and backoff are one integer factor (growth_factor == 1 /
backoff_factor, an integer): MindSpore uses scale_factor for both. (MindSpore never lets the
scale drop below 1; torch does, after ~16 overflows in a row from 65536.)

`GradScaler(enabled=False)` scales nothing and steps on every gradient, finite or not: the step
is a plain step (no scaler, no all_finite guard; get_scale() is 1.0). torch has no static mode:
an enabled GradScaler raises AssertionError for growth_factor <= 1 or backoff_factor >= 1
(measured, torch 2.13), so nothing maps to mindspore.amp.StaticLossScaler; a huge
growth_interval (never growing, still backing off on an overflow) is the DynamicLossScaler with
that scale_window, up to 2**31 - 1 (MindSpore counts the window in an int32 that wraps
beyond)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext

SCALERS = ("torch.amp.GradScaler", "torch.cuda.amp.GradScaler", "torch.amp.grad_scaler.GradScaler",
           "torch.cpu.amp.GradScaler", "torch.cuda.amp.grad_scaler.GradScaler")
_DEFAULTS = {"init_scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
             "enabled": True}


@dataclass
class Scaler:
    name: cst.Name  # the scaler variable at the step
    construction: cst.Call
    scale_value: cst.BaseExpression
    factor: int
    window: cst.BaseExpression
    unscale: Optional[cst.CSTNode] = None  # the `scaler.unscale_(optimizer)` statement
    update: Optional[cst.CSTNode] = None  # the `scaler.update()` statement
    reads: Optional[list] = None  # `scaler.get_scale()` calls in the step's block
    disabled: bool = False  # GradScaler(enabled=False): a plain step


def constructor(ctx: FileContext, name: cst.BaseExpression):
    """The GradScaler a name holds, converted; or why it cannot be."""
    if not isinstance(name, cst.Name):
        return f"`{ctx.code(name)}` is not a plain variable holding a GradScaler"
    value = ctx.assigned_value(name)
    if not isinstance(value, cst.Call) or not ctx.may_be_tracked(value.func) \
            or ctx.qualified_name(value.func) not in SCALERS:
        return f"cannot see the torch GradScaler `{name.value}` holds"
    cuda = ctx.qualified_name(value.func).startswith("torch.cuda.")
    names = ["init_scale", "growth_factor", "backoff_factor", "growth_interval", "enabled"]
    if not cuda:
        names = ["device", *names]
    args = {}
    for i, arg in enumerate(value.args):
        if arg.star:
            return f"`{ctx.code(value)}` hides arguments in {arg.star}"
        key = arg.keyword.value if arg.keyword is not None else names[i] if i < len(names) else None
        if key is None:
            return f"`{ctx.code(value)}`: too many arguments"
        args[key] = arg.value
    literal = {k: syntax.literal_value(v) for k, v in args.items() if k != "device"}
    enabled = literal.get("enabled", True)
    if enabled is False:
        statement = ctx.statement_of(value)
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            return f"`{ctx.code(value)}` (disabled) shares its line with other statements"
        return Scaler(name, value, syntax.value_expr(1.0), 1, syntax.value_expr(1), disabled=True)
    if enabled is not True:
        return (f"`{ctx.code(value)}`: enabled={ctx.code(args['enabled'])} is only known at run time "
                "(enabled, torch scales the loss and skips steps with inf/nan gradients; disabled, it "
                "steps on every gradient); write both branches by hand, or make it a literal and rerun")
    growth = literal.get("growth_factor", _DEFAULTS["growth_factor"])
    backoff = literal.get("backoff_factor", _DEFAULTS["backoff_factor"])
    if growth is syntax.MISSING or backoff is syntax.MISSING:
        return f"`{ctx.code(value)}`: growth_factor/backoff_factor are not literals"
    if not isinstance(growth, (int, float)) or not isinstance(backoff, (int, float)) \
            or isinstance(growth, bool) or isinstance(backoff, bool):
        return f"`{ctx.code(value)}`: growth_factor/backoff_factor are not numbers"
    if growth <= 1.0 or backoff >= 1.0:
        return (f"`{ctx.code(value)}`: torch raises AssertionError for growth_factor <= 1 or "
                "backoff_factor >= 1 on an enabled GradScaler (it has no static mode), so this torch "
                "code does not run; for a fixed scale that skips steps with inf/nan gradients use "
                "mindspore.amp.StaticLossScaler(scale_value=S) with the all_finite guard")
    init = literal.get("init_scale", _DEFAULTS["init_scale"])
    if isinstance(init, (int, float)) and not isinstance(init, bool) and init < 1.0:
        return (f"`{ctx.code(value)}`: init_scale={init} is below 1, which "
                "mindspore.amp.DynamicLossScaler rejects (ValueError)")
    interval = literal.get("growth_interval", _DEFAULTS["growth_interval"])
    if isinstance(interval, int) and not isinstance(interval, bool) and interval >= 2 ** 31:
        return (f"`{ctx.code(value)}`: growth_interval={ctx.code(args['growth_interval'])} is 2**31 or "
                "more; mindspore.amp.DynamicLossScaler counts scale_window in an int32 that wraps "
                "(measured): use scale_window=2**31 - 1, which never grows in practice, by hand")
    if float(growth) != int(growth) or float(growth) * float(backoff) != 1.0:
        return (f"`{ctx.code(value)}`: growth_factor={growth} and backoff_factor={backoff}; "
                "mindspore.amp.DynamicLossScaler grows by an integer scale_factor and backs off by "
                "1/scale_factor")
    scale = args.get("init_scale") or syntax.value_expr(_DEFAULTS["init_scale"])
    window = args.get("growth_interval") or syntax.value_expr(_DEFAULTS["growth_interval"])
    return Scaler(name, value, scale, int(growth), window)


def replace_constructor(ctx: FileContext, scaler: Scaler) -> None:
    if scaler.disabled:  # nothing scales: the scaler is gone, get_scale() is 1.0
        ctx.edits.remove(ctx.statement_of(scaler.construction))
        ctx.consume(scaler.construction.func)
        for read in scaler.reads or ():
            ctx.edits.replace(read, syntax.value_expr(1.0))
        return
    amp = ctx.imports.ref("mindspore", "amp")
    call = syntax.fill(f"AMP.DynamicLossScaler(scale_value=S, scale_factor={scaler.factor}, scale_window=W)",
                       AMP=amp, S=scaler.scale_value, W=scaler.window)
    ctx.edits.replace(scaler.construction, call)
    ctx.consume(scaler.construction.func)
    for read in scaler.reads or ():
        ctx.edits.replace(read, syntax.fill("float(S.scale_value)", S=scaler.name))


def after_grads(ctx: FileContext, scaler: Scaler, grads: str, finite: str) -> List[cst.BaseStatement]:
    """Unscale, then test the unscaled gradients (torch records inf/nan at unscale_, before any
    clipping: MindSpore's clip_by_value would turn a NaN into a finite bound)."""
    amp = cst.Module([]).code_for_node(ctx.imports.ref("mindspore", "amp"))
    return [cst.parse_statement(f"{grads} = {scaler.name.value}.unscale({grads})\n"),
            cst.parse_statement(f"{finite} = {amp}.all_finite({grads})\n")]


def apply(ctx: FileContext, scaler: Scaler, optimizer: str, grads: str, finite: str) -> cst.BaseStatement:
    return cst.parse_statement(f"if {finite}:\n    {optimizer}({grads})\n")
