"""torch lr schedulers on an experimental optimizer keep torch's structure (part of MSM400).

mindspore.experimental.optim.lr_scheduler has torch's scheduler classes with torch's signatures
and stepping (ReduceLROnPlateau included; no OneCycleLR, no ChainedScheduler), and they drive
only experimental optimizers. So when the optimizer went to mindspore.experimental.optim, its
scheduler changes module and nothing else: `scheduler.step()`, `step(metric)` and
`get_last_lr()` stay.

Before::

    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5)
    ...
    scheduler.step(val_loss)

After::

    optimizer = ms_optim.AdamW(model.trainable_params(), lr=1e-3)
    scheduler = ms_optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5)
    ...
    scheduler.step(val_loss)

OneCycleLR and a ChainedScheduler of multiplicative schedules, which the experimental module
lacks, become an experimental LambdaLR over their exact formula (convert_as_lambda below; the
momentum OneCycleLR cycles is flagged, MSM403, unless cycle_momentum=False). Any other class it
lacks raises Unsupported: the optimizer then gives up the experimental API (or, with nothing
left, the scheduler is flagged). CyclicLR loses its momentum arguments (the experimental class
has none): flagged (MSM403) unless cycle_momentum=False. The experimental classes have no
state_dict()/load_state_dict(): their uses are flagged (MSM402).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core import tables
from ms_migrate.core.context import FileContext
from ms_migrate.rules.optimizers.experimental import optim_module
from ms_migrate.rules.schedulers.formulas import RELATIVE, Unsupported


# torch scheduler methods mindspore.experimental.optim.lr_scheduler classes do not have
# (MindSpore 2.10, measured: StepLR, LambdaLR, SequentialLR and ReduceLROnPlateau have step and
# get_last_lr, the first two get_lr too; none has state_dict or load_state_dict)
TORCH_ONLY_METHODS = ("state_dict", "load_state_dict")


def check(ctx: FileContext, calls: List[cst.Call], names: List[str]) -> None:
    """Raise Unsupported when a scheduler (or a composite's child) has no experimental class."""
    table = tables.load("schedulers")
    if names and names[0] == "SequentialLR" and any(n in RELATIVE for n in names[1:]):
        # measured (tests/equivalence/test_schedulers.py): after the milestone the experimental
        # SequentialLR keeps the lr where torch's MultiplicativeLR child goes on multiplying
        raise Unsupported("mindspore.experimental.optim.lr_scheduler.SequentialLR does not continue a "
                          "MultiplicativeLR child like torch (measured)")
    for call, name in zip(calls, names):
        if name not in table["experimental"]:
            raise Unsupported(f"mindspore.experimental.optim.lr_scheduler has no {name}")
        dropped = table["experimental_without"].get(name, ())
        for arg in call.args:
            if arg.star:
                raise Unsupported(f"the arguments of {name} come through *args/**kwargs")
        positional = table["schedulers"][name]["positional"]
        for i, arg in enumerate(call.args):
            if arg.keyword is None and i - 1 >= 0 and i - 1 < len(positional) and positional[i - 1] in dropped:
                raise Unsupported(f"{name} gets {positional[i - 1]} positionally, which the experimental class lacks")
        _check_step_arguments(ctx, call, name, table)


def _check_step_arguments(ctx: FileContext, call: cst.Call, name: str, table) -> None:
    """`scheduler.step(epoch)` stays as it is: only where the experimental class measured like
    torch with an argument (rules/schedulers.json experimental_step_argument)."""
    if name == "ReduceLROnPlateau":  # step(metric) is its stepping
        return
    assign = ctx.parent(call)
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name)):
        return  # a scheduler not in a plain variable: no step(...) of it can be seen here
    stepped = [ctx.parent(ctx.parent(use)) for use in ctx.uses_of(assign.targets[0].target)]
    with_argument = [c for c in stepped if isinstance(c, cst.Call) and c.args
                     and isinstance(c.func, cst.Attribute) and c.func.attr.value == "step"]
    if not with_argument:
        return
    rule = table["experimental_step_argument"]
    shown = ctx.code(with_argument[0])
    if name not in rule["classes"]:
        raise Unsupported(f"`{shown}`: mindspore.experimental's {name}.step(epoch) does not set the "
                          "count as torch does (measured)")
    required = rule["only_with"].get(name, {})
    positional = table["schedulers"][name]["positional"]
    for keyword, value in required.items():
        given = _argument(call, keyword, positional)
        if given is not None and syntax.literal_value(given) != value:
            raise Unsupported(f"`{shown}`: mindspore.experimental's {name}.step(epoch) with {keyword} "
                              f"other than {value} fails (measured)")


def _argument(call: cst.Call, keyword: str, positional: List[str]) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    index = positional.index(keyword) + 1 if keyword in positional else None  # after the optimizer
    plain = [arg for arg in call.args if arg.keyword is None]
    return plain[index].value if index is not None and index < len(plain) else None


def convert(ctx: FileContext, calls: List[cst.Call], names: List[str], momentum_check, site) -> None:
    """Point every call at mindspore.experimental.optim.lr_scheduler (check() passed)."""
    table = tables.load("schedulers")
    for call, name in zip(calls, names):
        dropped = set(table["experimental_without"].get(name, ()))
        cycle = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "cycle_momentum"), None)
        if dropped and (cycle is None or syntax.literal_value(cycle) is not False):
            ctx.report(momentum_check, call, f"{name} with cycle_momentum=True (the default) also cycles the "
                       "optimizer's momentum (SGD) or beta1 (Adam); mindspore.experimental.optim.lr_scheduler."
                       f"{name} has no momentum arguments, so training differs: pass cycle_momentum=False in "
                       "torch for an exact migration")

        def render(updated: cst.Call, name=name, dropped=dropped) -> cst.Call:
            module = optim_module(ctx)
            func = cst.Attribute(value=cst.Attribute(value=module, attr=cst.Name("lr_scheduler")),
                                 attr=cst.Name(name))
            args = [a for a in updated.args if not (a.keyword is not None and a.keyword.value in dropped)]
            if args and len(args) < len(updated.args):
                args[-1] = args[-1].with_changes(comma=updated.args[-1].comma)
            if name in COUNTED:
                args = [_int_count(a) if _is_lr_lambda(a, i) else a for i, a in enumerate(args)]
            return updated.with_changes(func=func, args=args)

        optim_module(ctx)  # plan the import now
        ctx.edits.replace(call, render)
        ctx.consume(call.func)
        ctx.handled.add(call.func)
        ctx.convert("MSM400")


# The experimental LambdaLR and MultiplicativeLR call lr_lambda with their count as an int32
# MindSpore Parameter, where torch passes an int (measured): `warmup[e]` raises ValueError and
# arithmetic runs in float32. So the function gets int(count), as in torch:
#   LambdaLR(opt, f)  ->  LambdaLR(opt, lambda step, fn=f: fn(int(step)))
# (fn bound once, when the scheduler is built, as torch stores it; a list gets one per group)
COUNTED = ("LambdaLR", "MultiplicativeLR")
_WRAP = "lambda step, fn=FN: fn(int(step))"


def _is_lr_lambda(arg: cst.Arg, index: int) -> bool:
    return (arg.keyword.value == "lr_lambda") if arg.keyword is not None else index == 1


def _int_count(arg: cst.Arg) -> cst.Arg:
    value = arg.value
    if isinstance(value, (cst.List, cst.Tuple)):
        wrapped = value.with_changes(elements=[e.with_changes(value=syntax.fill(_WRAP, FN=e.value))
                                               for e in value.elements])
    else:
        wrapped = syntax.fill(_WRAP, FN=value)
    return arg.with_changes(value=wrapped)


# transformers/diffusers factories are torch LambdaLRs: the same lambda (their formula, values
# bound once as the factories bind them) on the experimental LambdaLR
FACTORY_LAMBDAS = {
    "linear": "lambda step, w=W, n=N: step / max(1, w) if step < w else max(0.0, (n - step) / max(1, n - w))",
    "cosine": ("lambda step, w=W, n=N, c=C: step / max(1, w) if step < w else "
               "max(0.0, 0.5 * (1.0 + MATH.cos(MATH.pi * c * 2.0 * ((step - w) / max(1, n - w)))))"),
    "constant": "lambda step: 1.0",
    "constant_with_warmup": "lambda step, w=W: step / max(1.0, w) if step < w else 1.0",
}


def convert_factory(ctx: FileContext, call: cst.Call, kind: str, args: Dict[str, cst.BaseExpression],
                    optimizer: cst.BaseExpression) -> None:
    """`get_linear_schedule_with_warmup(opt, W, N)` -> `lr_scheduler.LambdaLR(opt, lambda ...)`."""
    template = FACTORY_LAMBDAS.get(kind)
    if template is None:
        raise Unsupported(f"the {kind!r} schedule has no experimental form here")
    values = {}
    for placeholder, name in (("W", "num_warmup_steps"), ("N", "num_training_steps")):
        if placeholder in template.replace("MATH", ""):
            if name not in args:
                raise Unsupported(f"its {name} argument is missing")
            values[placeholder] = args[name]
    if "C" in template:
        values["C"] = args.get("num_cycles", cst.Float("0.5"))
    if "MATH" in template:
        values["MATH"] = ctx.imports.module("math")
    unknown = set(args) - {"num_warmup_steps", "num_training_steps", "num_cycles"}
    if unknown:
        raise Unsupported(f"its arguments {', '.join(sorted(unknown))} are not converted")
    lam = syntax.fill(template, **values)
    # the count arrives as an int32 Parameter (see COUNTED): the formula reads int(step)
    lam = lam.with_changes(body=syntax.fill_names(lam.body, {"step": syntax.fill("int(step)")}))
    module = optim_module(ctx)

    def render(updated: cst.Call) -> cst.Call:
        func = cst.Attribute(value=cst.Attribute(value=module, attr=cst.Name("lr_scheduler")),
                             attr=cst.Name("LambdaLR"))
        return cst.Call(func=func, args=[cst.Arg(value=optimizer), cst.Arg(value=lam)])

    ctx.edits.replace(call, render)
    ctx.consume(call.func)
    ctx.handled.add(call.func)
    ctx.convert("MSM400")


# ---- classes the experimental module lacks, as an exact LambdaLR ------------------------------
# OneCycleLR (its lr at step T is absolute: the factor is that lr over the group's own lr) and a
# ChainedScheduler of multiplicative schedules (base lr times the product of their factors, as
# for the nn lists: formulas.chained) become `lr_scheduler.LambdaLR(optimizer, lambda T: ...)`
# on the formula the nn path lists, in the scheduler's own count T: stepping stays where it was.
# Every value the formula reads is bound once, just before the scheduler, as torch reads it then.
AS_LAMBDA = ("OneCycleLR", "ChainedScheduler")


def convert_as_lambda(ctx: FileContext, call: cst.Call, name: str, args: Dict[str, cst.BaseExpression],
                      children: List[tuple], optimizer: cst.Name, site, momentum_check) -> None:
    """`children`: (call, name, args) of a ChainedScheduler's schedulers. Raises Unsupported."""
    from ms_migrate.core import params as P
    from ms_migrate.rules.schedulers import formulas

    statement = ctx.statement_of(call)
    assign = ctx.parent(call)
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name) and isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1):
        raise Unsupported("it is not assigned to a plain name (`scheduler = ...`)")
    for use in ctx.uses_of(assign.targets[0].target):
        attribute = ctx.parent(use)
        if not (isinstance(attribute, cst.Attribute) and attribute.value is use):
            # passed on (a trainer, a helper): it would get a LambdaLR where it expects the class
            raise Unsupported(f"{ctx.code(use)} is passed on or used as a value at line {ctx.start(use).line}")
        outer = ctx.parent(attribute) if isinstance(attribute, cst.Attribute) else None
        if (isinstance(attribute, cst.Attribute) and attribute.attr.value == "step"
                and isinstance(outer, cst.Call) and outer.args):
            raise Unsupported(f"`{ctx.code(outer)}`: a step with an argument is not converted to a LambdaLR")
    for child_call, child_name, _ in children:
        if child_name not in formulas.CHAINABLE:
            raise Unsupported(f"its child {child_name} does not just multiply the lr by a factor of its own "
                              "count, so the chain is not a product of factors")
        if not any(node is call for node in ctx.ancestors(child_call)):
            raise Unsupported("its schedulers are built in other statements (they would drive the optimizer too)")
    if name == "OneCycleLR":
        groups = site.every_group() if site is not None else None
        if groups is None or any(key in ("lr", None) for g in groups for _, key, _ in P.group_keys(g)):
            raise Unsupported("its optimizer's groups do not all share one lr (or cannot all be seen), "
                              "and OneCycleLR gives every group the same lr")
    preamble: List[cst.BaseStatement] = []

    made: set = set()  # the names bound here (each once)

    def let(hint: str, value: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(value, (cst.Integer, cst.Float)) or (isinstance(value, cst.Name) and value.value in made):
            return value
        variable = ctx.imports.fresh_name(hint)
        made.add(variable)
        preamble.append(cst.SimpleStatementLine(body=[cst.Assign(
            targets=[cst.AssignTarget(target=cst.Name(variable))], value=value)]))
        return cst.Name(variable)

    def bound(values: Dict[str, cst.BaseExpression]) -> Dict[str, cst.BaseExpression]:
        out = {}
        for key, value in values.items():
            literal = syntax.literal_value(value) is not syntax.MISSING
            out[key] = value if literal or isinstance(value, cst.Lambda) else let(key, value)
        return out

    timing = formulas.Timing(per_epoch=False, total=cst.Integer("0"), offset=0,
                             steps_per_epoch=cst.Integer("1"), nn=None,
                             math=lambda: ctx.imports.module("math"), let=let)
    param = "step" if "step" not in ctx.names_in_use else ctx.imports.fresh_name("step")
    # the experimental LambdaLR passes its count as a MindSpore int32 Parameter (measured): int()
    # keeps the formula in Python floats, as torch's (in float32, OneCycleLR's linear tail loses
    # 0.6% to cancellation, measured)
    T = syntax.fill("int(S)", S=cst.Name(param))
    if name == "OneCycleLR":
        args = bound(args)
        base = let("base_lr", syntax.fill("float(OPT.param_groups[0]['lr'])", OPT=optimizer))
        value = formulas.element("OneCycleLR", args, base, T, timing)
        body = syntax.fill("VALUE / BASE", VALUE=value, BASE=base)
    else:
        body = None
        for _, child_name, child_args in children:
            factor = formulas.factor(child_name, bound(child_args), T, timing)
            body = factor if body is None else syntax.fill("P * F", P=body, F=factor)
    lam = cst.Lambda(params=cst.Parameters(params=[cst.Param(name=cst.Name(param))]), body=body)
    if name == "OneCycleLR":
        cycle = args.get("cycle_momentum")
        if cycle is None or syntax.literal_value(cycle) is not False:
            ctx.report(momentum_check, call, "OneCycleLR with cycle_momentum=True (the default) also cycles the "
                       "optimizer's momentum (SGD) or beta1 (Adam) every step, and sets it at construction; the "
                       "experimental LambdaLR written for it only sets the lr (exact), so training differs: pass "
                       "cycle_momentum=False in torch for an exact migration")
    module = optim_module(ctx)

    def render(updated: cst.Call) -> cst.Call:
        func = cst.Attribute(value=cst.Attribute(value=module, attr=cst.Name("lr_scheduler")),
                             attr=cst.Name("LambdaLR"))
        return cst.Call(func=func, args=[cst.Arg(value=optimizer, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                                         cst.Arg(value=lam)])

    ctx.edits.replace(call, render)
    note = (f"ms-migrate: {name} as an experimental LambdaLR over its exact formula "
            f"(mindspore.experimental.optim.lr_scheduler has no {name})")
    if preamble:  # the note above the values the formula reads
        preamble[0] = preamble[0].with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment("# " + note))])
        ctx.edits.insert_before(statement, *preamble)
    else:
        ctx.edits.comment(statement, note)
    ctx.consume(call.func)
    ctx.handled.add(call.func)
    for child_call, _, _ in children:
        ctx.consume(child_call.func)
        ctx.handled.add(child_call.func)
    ctx.convert("MSM400")
