"""MSM100 optimizer-constructor: torch.optim optimizers become their mindspore.nn counterparts.

Before::

    import torch.optim as optim
    optimizer = optim.SGD(model.parameters(), 0.1, 0.9, weight_decay=1e-4)
    adam = optim.AdamW(model.parameters(), betas=(0.9, 0.98))

After::

    from mindspore import nn
    # ms-migrate: one parameter group, so MindSpore decays every parameter as torch does
    optimizer = nn.SGD([{'params': model.trainable_params()}], learning_rate=0.1, momentum=0.9, weight_decay=1e-4)
    # ms-migrate: one parameter group, so MindSpore decays every parameter as torch does
    adam = nn.AdamWeightDecay([{'params': model.trainable_params()}], beta1=0.9, beta2=0.98, eps=1e-8, weight_decay=0.01)

Everything class-specific is data (rules/optimizers.json): target class, positional order,
argument renames and splits, defaults that must be written out, float-only arguments,
arguments with no counterpart, exactness. Findings: MSM101 (pair not exact), MSM102 (no
counterpart: call left as it is), MSM103 (argument dropped), MSM104 (arguments hidden in
*args/**kwargs), MSM105 (cannot tell whether params are groups), MSM106 (torch-only optimizer
API used), MSM107 (argument torch does not accept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

import libcst as cst

from ms_migrate.core import params as P
from ms_migrate.core import syntax
from ms_migrate.core import tables
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, INFO, MIGRATION_GUIDE, WARNING, Check
from ms_migrate.rules.base import Rule
from ms_migrate.rules.optimizers import experimental, target

INEXACT = Check("MSM101", "optimizer-inexact", "The MindSpore optimizer does not update parameters exactly like torch's.", WARNING, MIGRATION_GUIDE)
NO_COUNTERPART = Check("MSM102", "optimizer-no-counterpart", "The torch optimizer has no mindspore.nn counterpart; the call is left as it is.", ERROR, MIGRATION_GUIDE)
DROPPED = Check("MSM103", "optimizer-argument-dropped", "An argument with no MindSpore counterpart was dropped.", WARNING, MIGRATION_GUIDE)
HIDDEN = Check("MSM104", "optimizer-arguments-hidden", "Arguments passed through *args/**kwargs cannot be converted.", WARNING, MIGRATION_GUIDE)
GROUPS_UNKNOWN = Check("MSM105", "weight-decay-filter", "Weight decay may be skipped for 'beta'/'gamma' parameters: cannot tell whether params are groups.", WARNING, MIGRATION_GUIDE)
TORCH_API = Check("MSM106", "optimizer-torch-api", "A torch optimizer method MindSpore optimizers do not have.", INFO, MIGRATION_GUIDE)
UNKNOWN_ARG = Check("MSM107", "optimizer-unknown-argument", "An argument the torch optimizer does not accept.", ERROR, MIGRATION_GUIDE)
EXPERIMENTAL = experimental.CHOSEN
KEPT = Check("MSM109", "optimizer-kept-whole", "The optimizer was left in torch because one of its uses (a scheduler, param_groups) has no exact MindSpore form on any API.", ERROR, MIGRATION_GUIDE)

# Arguments that only change speed, never the numbers: dropping them is harmless.
PERFORMANCE_ONLY = {"foreach", "fused", "capturable"}
ONE_GROUP_NOTE = (
    "ms-migrate: one parameter group, so MindSpore decays every parameter as torch does "
    "(ungrouped, it skips names containing 'beta' or 'gamma')"
)
TORCH_METHODS = {
    "state_dict": "MindSpore optimizers have no torch-style state_dict(): save with mindspore.save_checkpoint(optimizer, path)",
    "load_state_dict": "MindSpore optimizers have no torch-style load_state_dict(): use mindspore.load_checkpoint(path) and mindspore.load_param_into_net(optimizer, params)",
}


def optimizer_class(ctx: FileContext, func: cst.BaseExpression) -> Optional[str]:
    """'SGD' for any spelling of torch.optim.SGD (aliases, from-imports, torch.optim.sgd.SGD)."""
    if not ctx.may_be_optim(func):
        return None
    qname = ctx.qualified_name(func)
    if not qname or not qname.startswith("torch.optim."):
        return None
    parts = qname.split(".")
    table = tables.optimizers()
    if parts[-1] not in table or "lr_scheduler" in parts:
        return None
    return parts[-1] if len(parts) in (3, 4) else None


@dataclass
class OptimizerSite:
    """A converted optimizer construction, for the rules that run after this one."""

    call: cst.Call
    torch_class: str
    entry: Dict[str, Any]
    params: Optional[cst.BaseExpression]
    target: Optional[cst.BaseExpression] = None  # what the optimizer is assigned to
    kind: str = P.UNKNOWN  # what the params argument holds: tensors, groups or unknown
    # The groups the optimizer gets, as dicts: those seen in params (plain parameters count as
    # one implicit group), then folded add_param_group groups; complete when none is hidden.
    groups: List[cst.BaseExpression] = field(default_factory=list)
    groups_complete: bool = False
    lr: Optional[cst.BaseExpression] = None  # the torch lr argument, None when absent
    hidden: bool = False  # some arguments come through *args/**kwargs
    scheduled: bool = False  # a scheduler rule gave it a learning-rate list
    learning_rate: Optional[cst.BaseExpression] = None  # that list, rendered as learning_rate=
    extra_groups: List[cst.BaseExpression] = field(default_factory=list)  # folded add_param_group
    folded: Set[cst.CSTNode] = field(default_factory=set)  # their `opt.add_param_group` attributes
    hoisted_keys: Set[cst.CSTNode] = field(default_factory=set)  # group keys moved to the constructor
    # The MindSpore API the optimizer was migrated to: "nn" (mindspore.nn, lr lists),
    # "experimental" (mindspore.experimental.optim: torch's step(), param_groups and
    # lr_scheduler classes stay), or "torch" (left as it is, with a finding). Rules that rewrite
    # uses of the optimizer (schedulers, param_groups, the training step) follow it.
    api: str = "nn"
    # APIs still open for it in this run, best first (a rule that cannot carry a use on `api`
    # gives it up with ctx.demote when another one remains)
    alternatives: List[str] = field(default_factory=list)

    def every_group(self) -> Optional[List[cst.BaseExpression]]:
        """Every group the MindSpore optimizer gets, or None when some cannot be seen."""
        return self.groups if self.groups_complete else None


@dataclass
class _Arg:
    torch_name: str
    index: Optional[int]  # position in the original call's args; None for a hoisted group key
    value: cst.BaseExpression

    @property
    def ref(self):
        """How the plan points at the value: an index into the call's args, or the node."""
        return self.index if self.index is not None else self.value


@dataclass
class _Plan:
    """What to emit, computed from the original call; rendered against the updated one."""

    params_index: Optional[int]
    wrap_group: bool = False
    args: List[Tuple[str, Any]] = field(default_factory=list)  # (ms name, source)
    keep: List[int] = field(default_factory=list)  # hidden *args/**kwargs kept as they are
    params_iterator: bool = False  # params yields once (a group needs a list)


class OptimizerConstructor(Rule):
    code = "MSM100"
    name = "optimizer-constructor"
    summary = "torch.optim optimizers become mindspore.nn optimizers with the same hyper-parameters."
    url = MIGRATION_GUIDE
    checks = (INEXACT, NO_COUNTERPART, DROPPED, HIDDEN, GROUPS_UNKNOWN, TORCH_API, UNKNOWN_ARG, EXPERIMENTAL, KEPT)

    def run(self, ctx: FileContext) -> None:
        sites = []
        for call in ctx.calls:
            cls = optimizer_class(ctx, call.func)
            if cls is None:
                continue
            entry = tables.optimizers()[cls]
            sites.append(self._convert(ctx, call, cls, entry))
        ctx.optimizer_sites = sites
        migrated = [site for site in sites if site.api != target.TORCH]
        if migrated:
            self._torch_api_uses(ctx, migrated)

    # ---- no counterpart -------------------------------------------------------------------
    def _no_counterpart(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, rejected=()) -> None:
        alternative = entry.get("alternative")
        hint = f"; the exact alternative is {alternative}" if alternative else ""
        if rejected:  # the experimental form exists, but a group rules it out
            hint = "; " + "; ".join(rejected)
        ctx.report(
            NO_COUNTERPART, call,
            f"torch.optim.{cls} was left as it is: {entry['inexact']}{hint}", url=entry["url"],
        )
        ctx.handled.add(call.func)

    # ---- conversion -----------------------------------------------------------------------
    def _convert(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict) -> OptimizerSite:
        """Choose the API (rules/optimizers/target.py), then convert to it."""
        if "positional" not in entry:  # no MindSpore form at all (LBFGS, Adafactor, Muon)
            self._no_counterpart(ctx, call, cls, entry)
            return OptimizerSite(call, cls, entry, None, api=target.TORCH)
        bound, hidden, problems = _bind(call, entry)
        site = self._site(ctx, call, cls, entry, bound, hidden)
        added = self._added_groups(ctx, site)
        hoistable = self._hoistable(ctx, site, [g for _, c in added for g in [c.args[0].value]])
        choice = target.choose(ctx, call, cls, entry, bound, site, added, hoistable)
        site.api, site.alternatives = choice.api, choice.alternatives
        if choice.api == target.TORCH:
            self._kept(ctx, call, cls, entry, choice)
        elif choice.api == target.EXPERIMENTAL:
            # its add_param_group raises at the first step (measured): target.choose ruled the
            # API out unless every such call folds into the constructor's group list
            self._fold_added_groups(ctx, site, added)
            experimental.convert(ctx, call, cls, entry, choice, bound, hidden, problems, site)
        else:
            self._convert_nn(ctx, call, cls, entry, bound, hidden, problems, site, added, hoistable, choice)
        return site

    def _kept(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, choice) -> None:
        ctx.handled.add(call.func)
        if entry["target"] is None and not choice.given_up:
            self._no_counterpart(ctx, call, cls, entry, choice.rejected)
            return
        why = "; ".join(f"{api}: {reason}" for api, reason in choice.given_up.items())
        ctx.report(KEPT, call, f"torch.optim.{cls} was left as it is, with its schedulers and "
                   f"param_groups uses, so that they keep working together ({why})", url=entry["url"])

    def _convert_nn(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, bound, hidden, problems,
                    site: OptimizerSite, added, hoistable, choice) -> None:
        self._report_binding(ctx, call, cls, entry, hidden, problems)
        plan = _Plan(
            params_index=bound["params"].index if "params" in bound else None,
            keep=sorted([i for i, _ in hidden] + [i for i, _, _ in problems]),
        )
        plan.params_iterator = site.params is not None and P.is_iterator(ctx, site.params)
        self._fold_added_groups(ctx, site, added)
        if site.kind == P.GROUPS and site.groups_complete:
            # after folding: folded groups share the defaults
            self._hoist(ctx, site, bound, self._hoistable(ctx, site, []))
        self._plan_arguments(ctx, call, cls, entry, bound, bool(hidden), plan)
        self._exactness(ctx, call, cls, entry, bound, choice)
        self._weight_decay(ctx, call, entry, bound, plan, site)
        nn = ctx.imports.ref("mindspore", "nn")
        func = cst.Attribute(value=nn, attr=cst.Name(entry["target"]))
        ctx.edits.replace(call, lambda updated: _render(updated, func, plan, site, ctx.edits))
        ctx.consume(call.func)
        ctx.handled.add(call.func)
        ctx.convert(self.code)

    def _report_binding(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, hidden, problems) -> None:
        for _, node, message in problems:
            ctx.report(UNKNOWN_ARG, node, f"torch.optim.{cls} {message}; it was kept as it is", url=entry["url"])
        if hidden:
            ctx.report(
                HIDDEN, call,
                f"arguments passed through {' and '.join(star.kind for _, star in hidden)} to "
                f"torch.optim.{cls} cannot be seen: rename them for nn.{entry['target']} by hand "
                f"(lr -> learning_rate{_rename_hint(entry)})",
                url=entry["url"],
            )

    def _site(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, bound, hidden) -> OptimizerSite:
        """What later rules need to know (read only: no edits)."""
        site = OptimizerSite(call, cls, entry, bound["params"].value if "params" in bound else None)
        site.lr = bound["lr"].value if "lr" in bound else None
        site.hidden = bool(hidden)
        parent = ctx.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            site.target = parent.targets[0].target
        if site.params is None:
            return site
        site.kind = P.classify(ctx, site.params)
        if site.kind == P.GROUPS:
            site.groups, site.groups_complete = P.group_dicts(ctx, site.params)
        elif site.kind == P.TENSORS:
            site.groups, site.groups_complete = [_implicit_group(site.params)], True
        return site

    def _plan_arguments(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, bound, hidden: bool, plan: _Plan) -> None:
        """Every visible argument renamed, split, made float or dropped; then the torch defaults
        MindSpore does not share, written out; then fixed extras (SparseAdam's use_lazy)."""
        floats = set(entry.get("floats", []))
        for torch_name, arg in sorted(bound.items(), key=lambda kv: (kv[1].index is None, kv[1].index or 0)):
            if torch_name == "params":
                continue
            mapped = entry["arguments"].get(torch_name)
            if mapped is None:
                self._drop(ctx, call, cls, entry, arg)
            elif isinstance(mapped, list):
                for i, ms_name in enumerate(mapped):
                    plan.args.append((ms_name, ("split", arg.ref, i, ms_name in floats)))
            else:
                plan.args.append((mapped, ("arg", arg.ref, mapped in floats)))
        for torch_name, mapped in entry["arguments"].items():
            if torch_name in bound or hidden:  # with hidden arguments a default may be among them
                continue
            default = entry["torch_defaults"][torch_name]
            names = mapped if isinstance(mapped, list) else [mapped]
            values = default if isinstance(mapped, list) else [default]
            for ms_name, value in zip(names, values):
                if not syntax.same_value(value, entry["ms_defaults"][ms_name]):
                    if ms_name in floats and isinstance(value, int):
                        value = float(value)
                    plan.args.append((ms_name, ("value", value)))
        for ms_name, value in entry.get("extra", {}).items():
            plan.args.append((ms_name, ("value", value)))

    # ---- parameter groups -------------------------------------------------------------------
    def _hoistable(self, ctx: FileContext, site: OptimizerSite, extra: List[cst.BaseExpression]):
        """The keys nn groups reject that every group (with `extra`, groups still to be folded)
        sets to the same value: (key, value, key nodes). Read only."""
        groups = [*site.groups, *extra]
        if not (site.kind == P.GROUPS and site.groups_complete) or not groups:
            return []
        per_group = [{key: (node, value) for node, key, value in P.group_keys(g)} for g in groups]
        if any(None in keys or "" in keys for keys in per_group):
            return []
        known = set(site.entry.get("arguments", ())) | set(site.entry.get("unsupported", ()))
        out = []
        for key in sorted(set(per_group[0]) - set(GROUP_KEYS)):
            if key not in known or not all(key in keys for keys in per_group):
                continue
            values = [keys[key][1] for keys in per_group]
            if not all(_same_expression(ctx, values[0], v) for v in values[1:]):
                continue
            out.append((key, values[0], [keys[key][0] for keys in per_group]))
        return out

    def _hoist(self, ctx: FileContext, site: OptimizerSite, bound: Dict[str, "_Arg"], hoistable) -> None:
        """A key MindSpore groups reject, set to the same value in every group, becomes a
        constructor argument (groups override the constructor in torch, so it wins there too)."""
        for key, value, key_nodes in hoistable:
            bound[key] = _Arg(key, None, value)
            for group in site.groups:
                ctx.edits.replace(group, lambda g, k=key: P.without_key(g, k))
            site.hoisted_keys.update(key_nodes)

    def _added_groups(self, ctx: FileContext, site: OptimizerSite) -> list:
        """`opt.add_param_group(g)` statements after the construction in the same block that can
        move into the constructor: between the construction and each of them, only statements
        that provably neither use `opt` nor touch what the group reads (see _independent):
        (statement, call) pairs. Read only."""
        target = site.target
        statement = ctx.statement_of(site.call)
        block = ctx.parent(statement)
        if not isinstance(target, cst.Name) or not isinstance(block, (cst.Module, cst.IndentedBlock)):
            return []
        if "add_param_group" not in ctx.names_in_use:
            return []  # (no such attribute in the file: the uses need not be looked up)
        body = list(block.body)
        calls = {}  # block statement -> the add_param_group call it is
        using = set()  # block statements holding another use of the optimizer
        for use in ctx.uses_of(target):
            call = _added_group(ctx, use)
            holder = ctx.child_of(block, use)
            if call is not None and ctx.statement_of(call) is holder:
                calls[holder] = call
            elif holder is not None:
                using.add(holder)
        folded = []
        between: List[cst.CSTNode] = []
        for following in body[body.index(statement) + 1:]:
            call = calls.get(following)
            if call is not None and following not in using:
                group = call.args[0].value
                names = {name.value for name in syntax.read_names(group)}
                if target.value in names or any(not _independent(s, names) for s in between):
                    break
                folded.append((following, call))
                continue
            if following in using or not _independent(following, set()):
                break
            between.append(following)
        return folded

    def _fold_added_groups(self, ctx: FileContext, site: OptimizerSite, folded: list) -> None:
        """The add_param_group groups join the constructor's group list."""
        if not folded:
            return
        if site.kind == P.UNKNOWN:
            ctx.report(
                GROUPS_UNKNOWN, site.params,
                f"add_param_group groups were folded into the constructor assuming {ctx.code(site.params)} "
                f"holds plain parameters (it became the first group); if it holds groups, list them instead",
            )
            site.groups, site.groups_complete = [_implicit_group(site.params)], True
        for following, call in folded:
            group = call.args[0].value
            site.extra_groups.append(group)
            site.groups.append(group)
            site.groups_complete &= isinstance(group, cst.Dict) or P.is_dict_call(group)
            ctx.edits.remove(following)
            ctx.handled.add(call.func)
            site.folded.add(call.func)

    def _drop(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, arg: _Arg) -> None:
        value = syntax.literal_value(arg.value)
        default = entry["torch_defaults"].get(arg.torch_name, syntax.MISSING)
        if value is not syntax.MISSING and syntax.same_value(value, default):
            return  # a literal default changes nothing
        code = ctx.code(arg.value)
        supported_by = entry["unsupported"].get(arg.torch_name)
        if arg.torch_name in PERFORMANCE_ONLY:
            severity, effect = INFO, "it only affects speed"
        elif value is syntax.MISSING:
            severity, effect = WARNING, "if it is not the default, training will differ"
        else:
            severity, effect = ERROR, "training will differ"
        hint = f"; {supported_by} supports it" if supported_by else ""
        ctx.report(
            DROPPED, arg.value,
            f"{arg.torch_name}={code} has no counterpart in nn.{entry['target']} and was dropped: {effect}{hint}",
            severity=severity, url=entry["url"],
        )

    def _exactness(self, ctx: FileContext, call: cst.Call, cls: str, entry: Dict, bound: Dict[str, _Arg], choice) -> None:
        variant = choice.candidate
        if variant is not None and variant.get("exact"):
            preset = ", ".join(f"{k}={v!r}" for k, v in variant.get("set", {}).items())
            hint = (f"; for exact updates use mindspore.experimental.optim.{variant['target']}"
                    f"{f'({preset})' if preset else ''} (--target auto or experimental)")
        else:
            hint = ""
        if not entry["exact"]:
            ctx.report(INEXACT, call, f"torch.optim.{cls} -> nn.{entry['target']}: {entry['inexact']}{hint}", url=entry["url"])
            return
        for torch_name, why in entry.get("exact_only_with", {}).items():
            if torch_name not in bound:
                continue
            value = syntax.literal_value(bound[torch_name].value)
            if value is syntax.MISSING or not syntax.same_value(value, entry["torch_defaults"][torch_name]):
                ctx.report(
                    INEXACT, bound[torch_name].value,
                    f"{torch_name}={ctx.code(bound[torch_name].value)}: {why}{hint}", url=entry["url"],
                )

    def _weight_decay(self, ctx: FileContext, call: cst.Call, entry: Dict, bound: Dict[str, _Arg], plan: _Plan, site: OptimizerSite) -> None:
        if "weight_decay" not in entry["arguments"] or plan.params_index is None or site.extra_groups:
            return
        if "weight_decay" in bound:
            value = syntax.literal_value(bound["weight_decay"].value)
        else:
            value = entry["torch_defaults"]["weight_decay"]
        if value is not syntax.MISSING and syntax.same_value(value, 0):
            return
        params_value = call.args[plan.params_index].value
        kind = site.kind
        if kind == P.TENSORS:
            plan.wrap_group = True
            ctx.edits.comment(ctx.statement_of(call), ONE_GROUP_NOTE)
        elif kind == P.UNKNOWN:
            ctx.report(
                GROUPS_UNKNOWN, params_value,
                f"cannot tell whether {ctx.code(params_value)} holds parameter groups: if it holds plain "
                "parameters, MindSpore skips weight decay for every parameter whose name contains "
                f"'beta' or 'gamma' (all norm layers); pass [{{'params': {ctx.code(params_value)}}}] instead",
                url=entry["url"],
            )

    # ---- uses of the converted optimizer ---------------------------------------------------
    def _torch_api_uses(self, ctx: FileContext, sites: List["OptimizerSite"]) -> None:
        targets = []
        for site in sites:
            call = site.call
            parent = ctx.parent(call)
            if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
                targets.append(parent.targets[0].target)
        for target in targets:
            for use in ctx.uses_of(target):
                attribute = ctx.parent(use)
                if isinstance(attribute, cst.Attribute) and attribute.value is use:
                    why = TORCH_METHODS.get(attribute.attr.value)
                    if why:
                        call = ctx.parent(attribute)
                        shown = call if isinstance(call, cst.Call) and call.func is attribute else attribute
                        ctx.report(TORCH_API, attribute, f"{ctx.code(shown)}: {why}")


GROUP_KEYS = ("params", "lr", "weight_decay", "grad_centralization", "order_params")


def _same_expression(ctx: FileContext, a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    left, right = syntax.literal_value(a), syntax.literal_value(b)
    if left is not syntax.MISSING or right is not syntax.MISSING:
        return left is not syntax.MISSING and right is not syntax.MISSING and syntax.same_value(left, right)
    return isinstance(a, (cst.Name, cst.Attribute)) and a.deep_equals(b)


# calls a statement between a construction and an add_param_group may make: builtins that do
# not run code of the objects a group reads (any other call might use the optimizer, or change
# what the group's expression evaluates to, through a name the tool cannot see)
_HARMLESS_CALLS = {"print", "len", "int", "float", "str", "bool", "range", "list", "tuple", "dict",
                   "set", "min", "max", "abs", "round", "isinstance", "repr", "format"}
_SIMPLE = (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Expr, cst.Pass)


def _independent(statement: cst.CSTNode, names: Set[str]) -> bool:
    """Whether moving an add_param_group above `statement` provably changes nothing: a simple
    line of assignments and expressions, calling only harmless builtins, reading or binding
    none of `names` (what the group reads)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    if not all(isinstance(small, _SIMPLE) for small in statement.body):
        return False
    for node in syntax.walk(statement):
        if isinstance(node, cst.Call):
            if not (isinstance(node.func, cst.Name) and node.func.value in _HARMLESS_CALLS):
                return False
        elif isinstance(node, (cst.Await, cst.Yield, cst.NamedExpr, cst.Lambda)):
            return False
        elif isinstance(node, cst.Name) and node.value in names:
            return False
    return True


def _added_group(ctx: FileContext, use: cst.CSTNode) -> Optional[cst.Call]:
    attribute = ctx.parent(use)
    if isinstance(attribute, cst.Attribute) and attribute.value is use and attribute.attr.value == "add_param_group":
        call = ctx.parent(attribute)
        if isinstance(call, cst.Call) and len(call.args) == 1 and not call.args[0].keyword and not call.args[0].star:
            expr = ctx.parent(call)
            if isinstance(expr, cst.Expr):
                return call
    return None


def _rename_hint(entry: Dict) -> str:
    renames = [f"{k} -> {v if isinstance(v, str) else '/'.join(v)}" for k, v in entry["arguments"].items() if k != "lr" and k != v]
    return (", " + ", ".join(renames)) if renames else ""


def _bind(call: cst.Call, entry: Dict):
    """Name every visible argument by torch's signature. Returns (bound, hidden, problems)."""
    positional = ["params", *entry["positional"]]
    known = set(entry["torch_defaults"]) | {"params"}  # every torch parameter has a default
    bound: Dict[str, _Arg] = {}
    hidden = []
    problems = []
    position = 0
    for index, arg in enumerate(call.args):
        if arg.star:
            hidden.append((index, _Star(arg)))
            continue
        if arg.keyword is None:
            if position >= len(positional):
                problems.append((index, arg, "takes no more positional arguments"))
                continue
            bound[positional[position]] = _Arg(positional[position], index, arg.value)
            position += 1
        else:
            name = arg.keyword.value
            if name not in known:
                problems.append((index, arg, f"has no argument {name!r}"))
                continue
            bound[name] = _Arg(name, index, arg.value)
    return bound, hidden, problems


class _Star:
    def __init__(self, arg: cst.Arg) -> None:
        self.arg = arg
        self.kind = "**kwargs" if arg.star == "**" else "*args"


def _render(call: cst.Call, func: cst.BaseExpression, plan: _Plan, site: OptimizerSite, edits) -> cst.Call:
    """Build the MindSpore call from the *updated* torch call (its args may hold other rules'
    rewrites) and the plan: params first, then keywords, then any hidden *args/**kwargs."""
    original = list(call.args)
    out: List[Tuple[cst.Arg, Optional[int]]] = []
    if plan.params_index is not None:
        params_arg = original[plan.params_index]
        value = params_arg.value
        if site.extra_groups:
            value = _with_groups(value, plan, site, edits)
        elif plan.wrap_group:
            value = _one_group(P.as_list(value) if plan.params_iterator else value)
        out.append((params_arg.with_changes(value=value), plan.params_index))
    for ms_name, source in plan.args:
        kind = source[0]
        if kind == "arg":
            _, ref, is_float = source
            index = ref if isinstance(ref, int) else None
            value = original[index].value if index is not None else ref
            if is_float:
                value = syntax.as_float_tuple(value) if ms_name in _PAIR_ARGUMENTS else syntax.as_float(value)
            template = original[index] if index is not None else None
            out.append((_keyword(template, ms_name, value), index))
        elif kind == "split":
            _, ref, position, is_float = source
            index = ref if isinstance(ref, int) else None
            pair = original[index].value if index is not None else ref
            if isinstance(pair, (cst.Tuple, cst.List)) and len(pair.elements) == 2:
                value = pair.elements[position].value
            else:
                value = syntax.subscript(pair, position)
            if is_float:
                value = syntax.as_float(value)
            if position == 0 and index is not None:
                out.append((_keyword(original[index], ms_name, value), index))
            else:
                out.append((_keyword(None, ms_name, value), None))
        else:
            out.append((_keyword(None, ms_name, syntax.value_expr(source[1])), None))
    if site.learning_rate is not None:
        _set_learning_rate(out, site.learning_rate, first=1 if plan.params_index is not None else 0)
    out.extend((original[i], i) for i in plan.keep)
    return call.with_changes(func=func, args=_fix_commas(out, original))


def _set_learning_rate(out: List[Tuple[cst.Arg, Optional[int]]], value: cst.BaseExpression, first: int) -> None:
    """learning_rate=<value> in place of the lr argument, or right after params."""
    for i, (arg, origin) in enumerate(out):
        if arg.keyword is not None and arg.keyword.value == "learning_rate":
            out[i] = (arg.with_changes(value=value), origin)
            return
    out.insert(first, (_keyword(None, "learning_rate", value), None))


_PAIR_ARGUMENTS = {"etas", "step_sizes"}


def _with_groups(value: cst.BaseExpression, plan: _Plan, site: OptimizerSite, edits) -> cst.BaseExpression:
    """The constructor's params with folded add_param_group groups appended (their own edits,
    e.g. parameters() -> trainable_params(), applied: the statements they came from are gone)."""
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    literal = site.kind == P.GROUPS and isinstance(value, cst.List)
    if literal:
        head = list(value.elements)
    elif site.kind == P.GROUPS:
        head = [cst.StarredElement(value=value)]
    else:
        first = P.as_list(value) if plan.params_iterator else value
        head = [cst.Element(value=_one_group(first).elements[0].value)]
    if head:
        head[-1] = head[-1].with_changes(comma=comma)
    extra = [cst.Element(value=edits.apply_to(g), comma=comma) for g in site.extra_groups]
    extra[-1] = extra[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    base = value if literal else cst.List(elements=[])
    return base.with_changes(elements=[*head, *extra])


def _implicit_group(params: cst.BaseExpression) -> cst.Dict:
    """Plain parameters as the one group torch makes of them (never written out)."""
    return cst.Dict(elements=[cst.DictElement(key=cst.SimpleString("'params'"), value=params)])


def _one_group(value: cst.BaseExpression) -> cst.BaseExpression:
    group = cst.Dict(elements=[cst.DictElement(key=cst.SimpleString("'params'"), value=value)])
    return cst.List(elements=[cst.Element(value=group)])


_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def _keyword(template: Optional[cst.Arg], name: str, value: cst.BaseExpression) -> cst.Arg:
    if template is None:
        return cst.Arg(value=value, keyword=cst.Name(name), equal=_EQUAL)
    equal = template.equal if template.keyword is not None else _EQUAL
    return template.with_changes(keyword=cst.Name(name), value=value, equal=equal)


def _fix_commas(args: List[Tuple[cst.Arg, Optional[int]]], original: List[cst.Arg]) -> List[cst.Arg]:
    """Keep the original layout. `args` pairs each new argument with the index of the original
    argument it came from (or None). An argument that was not last keeps its own comma (and any
    comment on it); others get the separator the call already uses; the new last argument gets
    the original trailing comma. A comment after the old last argument stays with it."""
    last = len(original) - 1
    separators = [a.comma for a in original[:-1] if isinstance(a.comma, cst.Comma)]
    separator = separators[0] if separators else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    trailing = original[-1].comma if original else cst.MaybeSentinel.DEFAULT
    fixed = []
    for i, (arg, origin) in enumerate(args):
        own = origin is not None and origin != last and isinstance(arg.comma, cst.Comma)
        if i < len(args) - 1:
            if own:
                comma = arg.comma
            elif origin == last:
                comma = _with_comment(separator, _comment(trailing))
            else:
                comma = separator
        else:
            comma = trailing if origin == last else _with_comment(trailing, None)
        fixed.append(arg.with_changes(comma=comma))
    return fixed


def _comment(comma) -> Optional[cst.TrailingWhitespace]:
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        first = comma.whitespace_after.first_line
        return first if first.comment is not None else None
    return None


def _with_comment(comma, first_line: Optional[cst.TrailingWhitespace]):
    """`comma` with its end-of-line comment replaced by `first_line`'s (None: no comment)."""
    if not isinstance(comma, cst.Comma) or not isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return comma
    ws = comma.whitespace_after
    return comma.with_changes(
        whitespace_after=ws.with_changes(first_line=first_line or cst.TrailingWhitespace())
    )
