"""Which MindSpore API an optimizer goes to (`--target auto|nn|experimental`).

    nn            mindspore.nn, with per-step lr lists (today's conversion; inexact pairs flagged)
    experimental  mindspore.experimental.optim: torch's names, groups, param_groups, step() and
                  lr_scheduler classes stay
    auto          nn where it is exact, experimental where nn cannot be:

    optim.SGD(model.parameters(), lr=0.1, momentum=0.9)          -> nn.SGD(...)           (exact)
    optim.AdamW(model.parameters(), lr=1e-3)                     -> experimental AdamW   (nn has no bias correction)
    optim.Adam(model.parameters(), lr=1e-3)                      -> experimental AdamW(weight_decay=0.0)  (measured)
    optim.SGD([{'params': a, 'nesterov': True}, ...], lr=0.1)    -> experimental SGD     (nn rejects the key)

The choice is a list of APIs, best first, ending with "torch" (left as it is, flagged). A rule
that later finds the chosen API cannot carry one of the optimizer's uses (a scheduler that
cannot become an exact list, a param_groups lr write) gives it up with ctx.demote and the file
is migrated again on the next API, so the optimizer and its uses always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import libcst as cst

from ms_migrate.core import params as P
from ms_migrate.core import syntax

NN, EXPERIMENTAL, TORCH = "nn", "experimental", "torch"

# nn group keys (mindspore-facts.md section 3); anything else raises KeyError in nn
NN_GROUP_KEYS = ("params", "lr", "weight_decay", "grad_centralization", "order_params")
# arguments that only change speed: never a reason to change API
PERFORMANCE_ONLY = {"foreach", "fused", "capturable"}
# torch arguments that do not change the values an update computes (differentiable only lets
# autograd record the step)
NUMERICALLY_INERT = PERFORMANCE_ONLY | {"differentiable"}


@dataclass
class Choice:
    api: str
    alternatives: List[str]  # the APIs still open after `api`, best first
    variant: Optional[Dict] = None  # the experimental form (rules/optimizers.json), if any
    reasons: List[str] = field(default_factory=list)  # why experimental rather than nn
    # keys a group the tool cannot see must leave alone for the experimental form to be exact
    unseen_keys: Dict[str, object] = field(default_factory=dict)
    rejected: List[str] = field(default_factory=list)  # experimental forms a group ruled out
    candidate: Optional[Dict] = None  # the experimental form the call allows, chosen or not
    given_up: Dict[str, str] = field(default_factory=dict)  # api -> why (earlier passes)


def argument_value(bound, name: str, entry: Dict):
    """The literal value of a torch argument (its torch default when absent), or MISSING."""
    if name in bound:
        return syntax.literal_value(bound[name].value)
    return entry["torch_defaults"].get(name, syntax.MISSING)


def variant_for(entry: Dict, bound, hidden: bool = False, groups: Optional["GroupView"] = None,
                rejected: Optional[List[str]] = None) -> Optional[Dict]:
    """The first experimental form of the class whose `when` the call provably satisfies (with
    arguments hidden in *args/**kwargs, an absent argument proves nothing), and that every group
    the optimizer gets (`groups`, when known) lets through: a group overrides the constructor in
    torch, so a group setting a `when` key to another value, or a torch argument the
    experimental class does not take (it ignores such a key silently, measured), rules the form
    out. Why each form was ruled out by a group goes to `rejected`."""
    for variant in entry.get("experimental", ()):
        when = variant.get("when", {})
        if hidden and (when or variant.get("set")):
            continue
        if not all(_is(argument_value(bound, name, entry), want) for name, want in when.items()):
            continue
        why = groups.conflict(entry, variant) if groups is not None else None
        if why:
            if rejected is not None:
                rejected.append(f"mindspore.experimental.optim.{variant['target']} would not be exact: {why}")
            continue
        return variant
    return None


def risky_keys(entry: Dict, variant: Dict) -> Dict[str, object]:
    """Group keys the experimental form cannot carry unless a group leaves them alone: its `when`
    keys (-> the value they need) and torch arguments the experimental class lacks (-> torch's
    default, the only value it reproduces)."""
    from ms_migrate.core import tables

    accepted = tables.experimental_classes()[variant["target"]]["defaults"]
    out: Dict[str, object] = dict(variant.get("when", {}))
    for name, default in entry["torch_defaults"].items():
        if name not in accepted and name not in out and name not in NUMERICALLY_INERT:
            out[name] = default
    return out


@dataclass
class GroupView:
    """The groups an optimizer gets, as far as they can be seen: the group dicts of its params
    argument, the add_param_group groups, and whether any group may hide from the tool (groups
    built where it cannot follow, a ** spread, a non-literal key, an add_param_group argument
    that is not a dict literal)."""

    dicts: List[cst.BaseExpression]
    complete: bool
    # add_param_group calls that cannot be folded into the constructor: the experimental
    # optimizers take no group after construction (every one raises at its first step,
    # measured: their state is built in __init__), so such a call rules that API out
    unfolded: List[cst.CSTNode] = field(default_factory=list)

    def conflict(self, entry: Dict, variant: Dict) -> Optional[str]:
        """Why a seen group rules the experimental form out (None: none does)."""
        risky = risky_keys(entry, variant)
        for group in self.dicts:
            for _, key, value in P.group_keys(group):
                if key not in risky:
                    continue
                literal = syntax.literal_value(value)
                if literal is syntax.MISSING or not syntax.same_value(literal, risky[key]):
                    shown = "a value the tool cannot read" if literal is syntax.MISSING else repr(literal)
                    if key in variant.get("when", {}):
                        return (f"a group sets {key!r} to {shown}, and this form is exact only with "
                                f"{key}={risky[key]!r} in every group")
                    return (f"a group sets {key!r} to {shown}, which mindspore.experimental.optim."
                            f"{variant['target']} does not take (it ignores the key)")
        return None

    def unseen(self, entry: Dict, variant: Dict) -> Dict[str, object]:
        """The keys a group the tool cannot see would have to leave alone (empty: all seen)."""
        return {} if self.complete else risky_keys(entry, variant)


def group_view(ctx, site, added) -> GroupView:
    """What target choice needs to know about the groups (read only)."""
    dicts = []
    unfolded: List[cst.CSTNode] = []
    complete = True
    if site.kind == P.GROUPS:
        dicts.extend(site.groups)
        complete = site.groups_complete
    elif site.kind != P.TENSORS:
        complete = False  # it may hold groups
    for _, call in added:
        dicts.append(call.args[0].value)
    folded = {call for _, call in added}
    if site.target is not None:
        for use in ctx.uses_of(site.target):
            attribute = ctx.parent(use)
            if not (isinstance(attribute, cst.Attribute) and attribute.value is use
                    and attribute.attr.value == "add_param_group"):
                continue
            call = ctx.parent(attribute)
            if call in folded:
                continue
            unfolded.append(attribute)
            arg = call.args[0].value if isinstance(call, cst.Call) and len(call.args) == 1 \
                and not call.args[0].star and not call.args[0].keyword else None
            if arg is not None and (isinstance(arg, cst.Dict) or P.is_dict_call(arg)):
                dicts.append(arg)
            else:
                complete = False
    for group in dicts:
        if not (isinstance(group, cst.Dict) or P.is_dict_call(group)):
            complete = False
        elif any(key is None or key == "" for _, key, _ in P.group_keys(group)):
            complete = False
    if added and site.kind not in (P.GROUPS, P.TENSORS):
        # folding needs to know whether params holds groups (nn assumes not, with MSM105)
        unfolded.extend(call.func for _, call in added)
    return GroupView(dicts, complete, unfolded)


def _is(value, want) -> bool:
    return value is not syntax.MISSING and syntax.same_value(value, want)


def nn_problems(ctx, cls: str, entry: Dict, bound, site, added, hoistable) -> List[str]:
    """Why mindspore.nn cannot reproduce this construction exactly (empty: it can)."""
    if entry["target"] is None:
        return [entry["inexact"]]
    out = []
    if not entry.get("exact"):
        out.append(f"nn.{entry['target']} is not exact: {entry['inexact']}")
    for name, why in entry.get("exact_only_with", {}).items():
        if name in bound and not _is(argument_value(bound, name, entry), entry["torch_defaults"][name]):
            out.append(f"{name}={ctx.code(bound[name].value)}: {why}")
    for name, arg in bound.items():
        if name in entry["unsupported"] and name not in PERFORMANCE_ONLY:
            if not _is(syntax.literal_value(arg.value), entry["torch_defaults"].get(name, syntax.MISSING)):
                out.append(f"nn.{entry['target']} has no {name}")
    hoisted = {node for _, _, nodes in hoistable for node in nodes}
    groups = [*site.groups, *(call.args[0].value for _, call in added)]
    rejected = []
    for group in groups:
        for node, key, _ in P.group_keys(group):
            if key is None:
                rejected.append("** (keys nn cannot check)")
            elif key and key not in NN_GROUP_KEYS and node not in hoisted:
                rejected.append(repr(key))
    if rejected:
        out.append(f"nn groups reject the key{'s' if len(set(rejected)) > 1 else ''} "
                   f"{', '.join(sorted(set(rejected)))}")
    return out


def choose(ctx, call: cst.Call, cls: str, entry: Dict, bound, site, added, hoistable) -> Choice:
    wanted = ctx.options.target
    groups = group_view(ctx, site, added)
    rejected: List[str] = []
    variant = variant_for(entry, bound, site.hidden, groups, rejected)
    if variant is not None and groups.unfolded:
        rejected.append(f"mindspore.experimental.optim.{variant['target']} takes no parameter group after "
                        f"construction (add_param_group raises at its first step, measured), and "
                        f"{ctx.code(groups.unfolded[0])}(...) at line {ctx.start(groups.unfolded[0]).line} "
                        "cannot be folded into the constructor")
        variant = None
    has_nn = entry["target"] is not None
    reasons: List[str] = []
    if wanted == NN:
        order = [NN] if has_nn else []
    elif wanted == EXPERIMENTAL:
        order = [EXPERIMENTAL] if variant else ([NN] if has_nn else [])
        reasons = ["--target experimental"]
    else:
        problems = nn_problems(ctx, cls, entry, bound, site, added, hoistable)
        class_only = [p for p in problems if not p.startswith(f"nn.{entry['target']} is not exact")]
        if variant and problems and (variant.get("exact") or class_only or not has_nn):
            order = [EXPERIMENTAL] + ([NN] if has_nn else [])
            reasons = problems
        else:
            order = ([NN] if has_nn else []) + ([EXPERIMENTAL] if variant else [])
    given_up = ctx.given_up(call)
    open_apis = [api for api in order if api not in given_up] + [TORCH]
    api = open_apis[0]
    if api == EXPERIMENTAL and not reasons:
        reasons = [f"{a} could not carry it: {why}" for a, why in given_up.items()]
    chosen = variant if api == EXPERIMENTAL else None
    return Choice(api, open_apis[1:], chosen, reasons, given_up=dict(given_up),
                  unseen_keys=groups.unseen(entry, chosen) if chosen else {}, rejected=rejected,
                  candidate=variant if EXPERIMENTAL not in given_up else None)
