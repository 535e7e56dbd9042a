"""torch.optim optimizers to mindspore.experimental.optim (part of MSM100; chosen by target.py).

The experimental optimizers take torch's argument names, defaults and group keys, keep
`param_groups` and `add_param_group`, and are driven by mindspore.experimental.optim.lr_scheduler
classes, so the call keeps its shape. The form comes from rules/optimizers.json ("experimental":
the class, the arguments it sets, the torch arguments its choice expresses), as measured.

Before::

    optimizer = optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), foreach=False)
    adam = optim.Adam(model.parameters(), lr=1e-3)

After::

    from mindspore.experimental import optim as ms_optim
    optimizer = ms_optim.AdamW(model.trainable_params(), lr=1e-3, betas=(0.9, 0.98))
    adam = ms_optim.AdamW(model.trainable_params(), lr=1e-3, weight_decay=0.0)

An info finding (MSM108) says why the experimental API was chosen. Torch arguments the class
does not take (foreach, fused, capturable, differentiable, ...) are dropped: silently when they
are literal defaults, else with MSM103.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from ms_migrate.core import syntax
from ms_migrate.core import tables
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, INFO, MIGRATION_GUIDE, WARNING, Check

EXPERIMENTAL_DOCS = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore.experimental.html"

CHOSEN = Check(
    "MSM108", "optimizer-experimental",
    "The optimizer went to mindspore.experimental.optim, which reproduces torch where mindspore.nn cannot.",
    INFO, EXPERIMENTAL_DOCS,
)

MODULE = ("mindspore.experimental", "optim")


def optim_module(ctx: FileContext) -> cst.BaseExpression:
    """`optim` (or `ms_optim` when the name is taken): mindspore.experimental.optim."""
    return ctx.imports.ref(*MODULE)


def convert(ctx: FileContext, call: cst.Call, cls: str, entry: Dict, choice, bound, hidden, problems, site) -> None:
    from ms_migrate.rules.optimizers import constructor as C

    variant = choice.variant
    name = variant["target"]
    signature = tables.experimental_classes()[name]
    accepted = signature["defaults"]
    consumed = set(variant.get("consumes", ()))
    preset = variant.get("set", {})
    floats = set(signature.get("floats", ()))
    for _, node, message in problems:
        ctx.report(C.UNKNOWN_ARG, node, f"torch.optim.{cls} {message}; it was kept as it is", url=entry["url"])
    if hidden:
        ctx.report(
            C.HIDDEN, call,
            f"arguments passed through {' and '.join(star.kind for _, star in hidden)} to torch.optim.{cls} "
            f"cannot be seen: mindspore.experimental.optim.{name} takes torch's names, but not "
            "foreach, fused, capturable or differentiable", url=entry["url"],
        )
    torch_positional = ["params", *entry["positional"]]
    ms_positional = ["params", *signature["positional"]]
    plan: List[Tuple[str, Optional[int], object]] = []  # (keyword or "" for positional, index, value source)
    still_positional = True
    for index, arg in enumerate(call.args):
        if arg.star:
            plan.append(("*", index, False))
            continue
        torch_name = arg.keyword.value if arg.keyword else (
            torch_positional[index] if index < len(torch_positional) else None)
        if torch_name is None or (torch_name not in bound and torch_name != "params"):
            plan.append(("*", index, False))  # an argument torch rejects: kept, reported above
            continue
        if torch_name in consumed or torch_name in preset:
            still_positional = still_positional and arg.keyword is not None
            continue
        if torch_name != "params" and torch_name not in accepted:
            _drop(ctx, entry, name, bound[torch_name])
            still_positional = still_positional and arg.keyword is not None
            continue
        positional = arg.keyword is None and still_positional and index < len(ms_positional) \
            and ms_positional[index] == torch_name
        still_positional = still_positional and positional
        plan.append(("" if positional else torch_name, index, torch_name if torch_name in floats else False))
    for ms_name, value in preset.items():
        plan.append((ms_name, None, value))
    if not hidden:
        for torch_name, default in entry["torch_defaults"].items():
            if torch_name in bound or torch_name in preset or torch_name not in accepted:
                continue
            ms_default = accepted[torch_name]
            if ms_default is None or not syntax.same_value(default, ms_default):
                if torch_name in floats:
                    default = [float(v) for v in default] if isinstance(default, list) else float(default)
                plan.append((torch_name, None, default))
    module = optim_module(ctx)
    func = cst.Attribute(value=module, attr=cst.Name(name))
    groups = None
    if site.extra_groups:  # folded add_param_group groups: params becomes the group list
        from ms_migrate.core import params as P

        groups = C._Plan(params_index=bound["params"].index)
        groups.params_iterator = P.is_iterator(ctx, site.params)
    ctx.edits.replace(call, lambda updated: _render(updated, func, plan, C, site, groups, ctx.edits))
    ctx.consume(call.func)
    ctx.handled.add(call.func)
    ctx.convert("MSM100")
    why = "; ".join(choice.reasons) if choice.reasons else "exact"
    target_text = f"mindspore.experimental.optim.{name}"
    if preset:
        target_text += "(" + ", ".join(f"{k}={syntax.format_number(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v}" for k, v in preset.items()) + ")"
    inexact = "" if variant.get("exact") else f"; it is not exact either: {variant['inexact']}"
    ctx.report(
        CHOSEN, call,
        f"torch.optim.{cls} -> {target_text} ({why}){inexact}. It keeps torch's argument names, "
        "parameter groups and param_groups, and only mindspore.experimental.optim.lr_scheduler "
        "classes can drive it; --target nn writes mindspore.nn instead",
        url=signature["url"],
    )
    if not variant.get("exact"):
        ctx.report(C.INEXACT, call, f"torch.optim.{cls} -> {target_text}: {variant['inexact']}", url=entry["url"])
    if choice.unseen_keys:
        from ms_migrate.rules.param_groups.groups import SPREAD

        keys = " or ".join(f"{k} (other than {v!r})" for k, v in choice.unseen_keys.items())
        ctx.report(
            SPREAD, site.params if site.params is not None else call,
            f"some parameter groups of torch.optim.{cls} cannot be seen here: {target_text} is exact "
            f"only if no group sets {keys}, which torch honours per group and "
            f"mindspore.experimental.optim.{name} {'ignores' if any(k not in variant.get('when', {}) for k in choice.unseen_keys) else 'treats differently'}; "
            "check the groups", url=entry["url"],
        )


def _drop(ctx: FileContext, entry: Dict, name: str, arg) -> None:
    from ms_migrate.rules.optimizers import constructor as C

    value = syntax.literal_value(arg.value)
    default = entry["torch_defaults"].get(arg.torch_name, syntax.MISSING)
    if value is not syntax.MISSING and syntax.same_value(value, default):
        return
    if arg.torch_name in C.PERFORMANCE_ONLY:
        severity, effect = INFO, "it only affects speed"
    elif value is syntax.MISSING:
        severity, effect = WARNING, "if it is not the default, training will differ"
    else:
        severity, effect = ERROR, "training will differ"
    ctx.report(
        C.DROPPED, arg.value,
        f"{arg.torch_name}={ctx.code(arg.value)} has no counterpart in mindspore.experimental.optim.{name} "
        f"and was dropped: {effect}", severity=severity, url=entry["url"],
    )


def _render(call: cst.Call, func: cst.BaseExpression, plan, C, site=None, groups=None, edits=None) -> cst.Call:
    original = list(call.args)
    out = []
    for keyword, index, value in plan:
        if index is not None:
            arg = original[index]
            if groups is not None and index == groups.params_index:
                # the constructor's params as the first group (its keyword arguments stay the
                # defaults of every group, as in torch), then the folded groups
                arg = arg.with_changes(value=C._with_groups(arg.value, groups, site, edits))
            if value:  # the experimental class wants a float here
                convert = syntax.as_float_tuple if _is_pair(arg.value, value) else syntax.as_float
                arg = arg.with_changes(value=convert(arg.value))
            if keyword in ("", "*") or (arg.keyword is not None and arg.keyword.value == keyword):
                out.append((arg, index))
            else:
                out.append((C._keyword(arg, keyword, arg.value), index))
        else:
            out.append((C._keyword(None, keyword, syntax.value_expr(value)), None))
    return call.with_changes(func=func, args=C._fix_commas(out, original))


_PAIRS = {"betas", "etas", "step_sizes"}


def _is_pair(value: cst.BaseExpression, keyword: str) -> bool:
    return keyword in _PAIRS or isinstance(value, (cst.Tuple, cst.List))
