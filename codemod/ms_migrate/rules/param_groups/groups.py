"""MSM300 param-groups: parameter groups and `param_groups` on converted optimizers.

mindspore.nn optimizers accept only the group keys params, lr, weight_decay,
grad_centralization and order_params; any other key raises KeyError when the optimizer is
built (mindspore-facts.md section 3). They have no `param_groups` and no `add_param_group`.

Before::

    groups = [{'params': a, 'momentum': 0.9}, {'params': b, 'momentum': 0.9, 'nesterov': True}]
    optimizer = optim.SGD(groups, lr=0.1)
    optimizer.add_param_group({'params': c, 'weight_decay': 0.0})
    for g in optimizer.param_groups:
        g['lr'] = lr
    print(optimizer.param_groups[0]['lr'])

After::

    groups = [{'params': a}, {'params': b, 'nesterov': True}]   # MSM301 at 'nesterov'
    optimizer = nn.SGD([*groups, {'params': c, 'weight_decay': 0.0}], learning_rate=0.1, momentum=0.9)
    ops.assign(optimizer.learning_rate, Tensor(lr, mstype.float32))
    print(float(optimizer.get_lr()))

A key set to the same value in every group is hoisted to the constructor by MSM100 (exact:
groups override the constructor in torch). Reads of the lr become get_lr() and writes become
ops.assign on the optimizer's one learning_rate, when the optimizer has one fixed lr; any other
use of param_groups is flagged (MSM303), as is an add_param_group that could not be folded
(MSM304) and a **spread in a group (MSM302).
"""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from ms_migrate.core import params as P
from ms_migrate.core import syntax
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, WARNING, Check
from ms_migrate.rules.param_groups import flow
from ms_migrate.rules.base import Rule
from ms_migrate.rules.optimizers.constructor import GROUP_KEYS, OptimizerSite
from ms_migrate.rules.param_groups import experimental

GROUPS_URL = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/nn/mindspore.nn.Optimizer.html"

UNSUPPORTED_KEY = Check(
    "MSM301", "group-key-unsupported",
    "A parameter-group key MindSpore nn optimizers reject (KeyError at construction).", ERROR, GROUPS_URL,
)
SPREAD = Check(
    "MSM302", "group-keys-hidden",
    "Group keys hidden from the check: a **spread in a group, or (experimental target) groups the tool cannot see.", WARNING, GROUPS_URL,
)
PARAM_GROUPS = Check(
    "MSM303", "param-groups-access",
    "optimizer.param_groups has no MindSpore counterpart here.", ERROR, GROUPS_URL,
)
ADD_GROUP = Check(
    "MSM304", "add-param-group",
    "optimizer.add_param_group could not be folded into the constructor.", ERROR, GROUPS_URL,
)

ASSIGN_LR = "OPS.assign(OPT.learning_rate, TENSOR(VALUE, MSTYPE.float32))"


class ParamGroups(Rule):
    code = "MSM300"
    name = "param-groups"
    summary = "Checks group keys, folds add_param_group, converts param_groups lr reads and writes."
    url = GROUPS_URL
    checks = (UNSUPPORTED_KEY, SPREAD, PARAM_GROUPS, ADD_GROUP)

    def run(self, ctx: FileContext) -> None:
        self.seen: set = set()  # param_groups attributes converted or reported
        for site in ctx.optimizer_sites:
            if site.api == "experimental":  # torch's groups are accepted; param_groups stays
                experimental.convert(ctx, site, PARAM_GROUPS)
            if site.api != "nn":
                # param_groups stays (experimental keeps it; a torch optimizer is still torch's)
                self.seen.update(_param_groups_attributes(ctx, site))
                continue
            for group in site.groups:
                self._check_keys(ctx, group, site)
            if site.target is not None:
                self._uses(ctx, site)
        self._helper_uses(ctx)
        if ctx.optimizer_sites:
            self._unknown_holders(ctx)
        if any(site.api != "torch" for site in ctx.optimizer_sites):
            self._unknown_added_groups(ctx)

    # ---- keys -------------------------------------------------------------------------------
    def _check_keys(self, ctx: FileContext, group, site: OptimizerSite) -> None:
        target = f"nn.{site.entry['target']}"
        alternative = site.entry.get("alternative")
        for key_node, key, _ in P.group_keys(group):
            if key is None:
                ctx.report(
                    SPREAD, key_node,
                    f"{ctx.code(key_node)} in a parameter group of {target}: its keys cannot be seen; "
                    f"MindSpore accepts only {', '.join(GROUP_KEYS)}",
                )
            elif key and key not in GROUP_KEYS and key_node not in site.hoisted_keys:
                hint = f", or use {alternative}, which accepts torch-style group keys" if alternative else ""
                ctx.report(
                    UNSUPPORTED_KEY, key_node,
                    f"group key {key!r} is rejected by {target} (KeyError at construction): set it "
                    f"on the constructor if every group can share one value{hint}",
                )

    # ---- uses of the optimizer --------------------------------------------------------------
    def _uses(self, ctx: FileContext, site: OptimizerSite) -> None:
        for use in ctx.uses_of(site.target):
            attribute = ctx.parent(use)
            if not (isinstance(attribute, cst.Attribute) and attribute.value is use):
                continue
            name = attribute.attr.value
            if name == "add_param_group" and attribute not in site.folded:
                self._refuse(
                    ctx, site, ADD_GROUP, attribute,
                    "MindSpore optimizers take every parameter group at construction (mindspore.nn "
                    "has no add_param_group; mindspore.experimental.optim's raises at the first step, "
                    "measured): add this group to the constructor's list (it could not be folded "
                    "automatically: only statements that provably leave the optimizer and what the "
                    "group reads alone may come between the construction and the call, in one block)",
                )
            elif name == "param_groups":
                self._param_groups(ctx, site, use, attribute)

    def _helper_uses(self, ctx: FileContext) -> None:
        """param_groups in functions the optimizer is passed to: converted as the optimizer's
        own when every call passes that one optimizer, else flagged."""
        for helper in flow.helper_parameters(ctx, ctx.optimizer_sites):
            for use in helper.uses:
                attribute = flow.param_groups_of(ctx, use)
                if attribute is None:
                    continue
                apis = {site.api for site in helper.sites}
                if apis == {"torch"}:  # the optimizer stayed in torch: so does its param_groups
                    self.seen.add(attribute)
                    continue
                if (apis == {"experimental"} and helper.complete
                        and len({site.scheduled for site in helper.sites}) == 1):
                    self.seen.add(attribute)
                    experimental.convert_use(ctx, helper.sites[0], PARAM_GROUPS, use)
                    continue
                signatures = {_signature(site) for site in helper.sites}
                if apis == {"nn"} and helper.complete and len(signatures) == 1 and None not in signatures:
                    # every optimizer it gets has the same kind of lr: one conversion fits all
                    self._param_groups(ctx, helper.sites[0], use, attribute)
                    continue
                if helper.returned:
                    why = f"{helper.name} is bound more than once"
                elif len(helper.sites) == 1 or not helper.complete:
                    why = f"{helper.function.name.value}() is also called with other values than the one converted optimizer"
                else:
                    why = (f"{helper.function.name.value}() is called with {len(helper.sites)} converted "
                           "optimizers whose lrs differ in kind (groups, schedules)")
                self.seen.add(attribute)
                ctx.report(PARAM_GROUPS, attribute, f"{ctx.code(attribute)}: MindSpore optimizers have no "
                           f"param_groups, and {why}, so this use cannot be converted for all of them: "
                           f"{_advice()}")

    def _unknown_holders(self, ctx: FileContext) -> None:
        """Any other `X.param_groups` in a file whose optimizers were converted: X may be one of
        them (a method's parameter, an attribute of another object), so it is flagged."""
        for reference in ctx.references:
            node = reference
            while isinstance(node, cst.Attribute):
                if node.attr.value == "param_groups" and node not in self.seen:
                    self.seen.add(node)
                    ctx.report(PARAM_GROUPS, node, f"{ctx.code(node)}: ms-migrate cannot tell whether "
                               f"{ctx.code(node.value)} is one of the optimizers it converted in this file; "
                               f"if it is, MindSpore optimizers have no param_groups: {_advice()}")
                node = node.value

    def _unknown_added_groups(self, ctx: FileContext) -> None:
        """`X.add_param_group(...)` where X is not an optimizer's own variable (a helper's
        parameter, another alias): X may be a migrated optimizer. mindspore.nn optimizers have
        no add_param_group, and mindspore.experimental.optim's raises at the first step, so an
        experimental optimizer passed to a helper calling it gives that API up (its own calls
        ruled it out in target.choose already), and what is left is flagged."""
        own = set()
        for site in ctx.optimizer_sites:
            for use in ctx.uses_of(site.target) if site.target is not None else ():
                own.add(ctx.parent(use))
        for helper in flow.helper_parameters(ctx, ctx.optimizer_sites):
            for use in helper.uses:
                attribute = ctx.parent(use)
                if not (isinstance(attribute, cst.Attribute) and attribute.value is use
                        and attribute.attr.value == "add_param_group"):
                    continue
                for site in helper.sites:  # the optimizer gets a group after construction
                    if site.api == "experimental":
                        ctx.demote(site.call, "experimental",
                                   f"{helper.function.name.value}() calls {ctx.code(attribute)}(...) on it, and "
                                   "mindspore.experimental.optim's add_param_group raises at the first step")
                if all(site.api == "torch" for site in helper.sites) and helper.complete:
                    own.add(attribute)  # a torch optimizer's: torch's own call
        migrated = [f"torch.optim.{site.torch_class} at line {ctx.start(site.call).line}"
                    for site in ctx.optimizer_sites if site.api != "torch"]
        names = ", ".join(migrated[:3]) + (f" and {len(migrated) - 3} more" if len(migrated) > 3 else "")
        for reference in ctx.references:
            node = reference
            while isinstance(node, cst.Attribute):
                if node.attr.value == "add_param_group" and node not in own and node not in self.seen:
                    self.seen.add(node)
                    ctx.report(ADD_GROUP, node, f"{ctx.code(node)}: ms-migrate cannot tell whether "
                               f"{ctx.code(node.value)} is an optimizer it migrated ({names} in this "
                               "file); if it is, this fails: mindspore.nn optimizers have no "
                               "add_param_group, and mindspore.experimental.optim's raises at the first "
                               "step (measured); give the constructor every group instead",
                               severity=WARNING)
                node = node.value

    def _param_groups(self, ctx: FileContext, site: OptimizerSite, use, attribute) -> None:
        self.seen.add(attribute)
        groups = site.every_group()
        shared_lr = groups is not None and all(key not in ("lr", None) for g in groups for _, key, _ in P.group_keys(g))
        fixed_lr = shared_lr and not site.scheduled  # one lr Parameter that ops.assign can change
        outer = ctx.parent(attribute)
        # for g in opt.param_groups: g['lr'] = v
        if isinstance(outer, cst.For) and outer.iter is attribute:
            value = _loop_lr_write(outer)
            if value is not None and fixed_lr:
                self._assign(ctx, outer, use, value)
                return
            why = ("it does more than set 'lr'" if value is None else
                   "its lr is now a per-step list" if site.scheduled else "its groups have their own lr")
            self._refuse(ctx, site, PARAM_GROUPS, attribute, f"{ctx.code(attribute)} loop cannot be converted ({why}): "
                       f"{_advice()}")
            return
        item = _lr_item(ctx, attribute)
        if item is not None:
            parent = ctx.parent(item)
            if isinstance(parent, cst.AssignTarget):
                assign = ctx.parent(parent)
                statement = ctx.parent(assign)
                single = (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                          and len(assign.targets) == 1)
                if fixed_lr and len(groups) == 1 and single:
                    self._assign(ctx, statement, use, assign.value)
                    return
                self._refuse(ctx, site, PARAM_GROUPS, item, f"{ctx.code(item)} = ... cannot be converted (one group of "
                           f"several, or groups with their own lr): {_advice()}")
                return
            if isinstance(parent, cst.AugAssign) and parent.target is item:
                self._refuse(ctx, site, PARAM_GROUPS, item, f"{ctx.code(item)} cannot be converted: {_advice()}")
                return
            if shared_lr:  # a read: the lr the next optimizer step uses, fixed or scheduled
                ctx.edits.replace(item, lambda _old, u=use: syntax.fill("float(OPT.get_lr())", OPT=u))
                ctx.convert(self.code)
                return
            self._refuse(ctx, site, PARAM_GROUPS, item, f"{ctx.code(item)}: MindSpore optimizers have no param_groups; "
                       "optimizer.get_lr() returns one lr per parameter when groups have their own lr "
                       "(get_lr_parameter(p) gives one parameter's)")
            return
        self._refuse(ctx, site, PARAM_GROUPS, attribute, f"{ctx.code(attribute)}: MindSpore optimizers have no "
                   f"param_groups: {_advice()}")

    def _refuse(self, ctx: FileContext, site: OptimizerSite, check, node, message: str) -> None:
        """A use nn cannot carry: under --target auto the optimizer goes to the experimental API
        (which keeps param_groups and add_param_group) instead of being flagged."""
        if "experimental" in site.alternatives:
            ctx.demote(site.call, "nn", f"{ctx.code(node)} has no exact mindspore.nn form")
        else:
            ctx.report(check, node, message)

    def _assign(self, ctx: FileContext, statement: cst.CSTNode, use: cst.CSTNode, value: cst.BaseExpression) -> None:
        refs = dict(
            OPS=ctx.imports.ref("mindspore", "ops"),
            TENSOR=ctx.imports.ref("mindspore", "Tensor"),
            MSTYPE=ctx.imports.ref("mindspore", "dtype", preferred="mstype"),
        )

        def rebuild(updated, value=value, use=use):
            call = syntax.fill(ASSIGN_LR, OPT=use, VALUE=value, **refs)
            line = cst.SimpleStatementLine(body=[cst.Expr(value=call)])
            return line.with_changes(leading_lines=getattr(updated, "leading_lines", ()))

        ctx.edits.replace(statement, rebuild)
        ctx.convert(self.code)


def _param_groups_attributes(ctx: FileContext, site: OptimizerSite) -> List[cst.Attribute]:
    if site.target is None:
        return []
    found = (flow.param_groups_of(ctx, use) for use in ctx.uses_of(site.target))
    return [attribute for attribute in found if attribute is not None]


def _signature(site: OptimizerSite):
    """What decides how a param_groups use converts: the number of groups, whether they share
    one lr, whether it is a schedule (None: groups not all seen)."""
    groups = site.every_group()
    if groups is None:
        return None
    shared = all(key not in ("lr", None) for g in groups for _, key, _ in P.group_keys(g))
    return len(groups), shared, site.scheduled


def _advice() -> str:
    return ("read the lr with optimizer.get_lr(), change a single fixed lr with "
            "ops.assign(optimizer.learning_rate, Tensor(v, mstype.float32)), or give MindSpore the "
            "whole schedule as a per-step learning_rate list")


def _lr_item(ctx: FileContext, attribute: cst.Attribute) -> Optional[cst.Subscript]:
    """`opt.param_groups[i]['lr']`: the outer subscript."""
    index = ctx.parent(attribute)
    if not (isinstance(index, cst.Subscript) and index.value is attribute):
        return None
    item = ctx.parent(index)
    if isinstance(item, cst.Subscript) and item.value is index and len(item.slice) == 1:
        key = item.slice[0].slice
        if isinstance(key, cst.Index) and isinstance(key.value, cst.SimpleString) and key.value.evaluated_value == "lr":
            return item
    return None


def _loop_lr_write(loop: cst.For) -> Optional[cst.BaseExpression]:
    """The value of `g['lr'] = value`, the loop's only statement, not depending on g."""
    if not isinstance(loop.target, cst.Name) or loop.orelse is not None:
        return None
    body = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else loop.body.body
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    assign = body[0].body[0]
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
        return None
    target = assign.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)
            and target.value.value == loop.target.value and len(target.slice) == 1):
        return None
    key = target.slice[0].slice
    if not (isinstance(key, cst.Index) and isinstance(key.value, cst.SimpleString) and key.value.evaluated_value == "lr"):
        return None
    if any(isinstance(n, cst.Name) and n.value == loop.target.value for n in syntax.walk(assign.value)):
        return None
    return assign.value

