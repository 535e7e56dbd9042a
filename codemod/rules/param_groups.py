"""MSM300 param-group-keys: parameter-group keys MindSpore nn optimizers reject are flagged.

mindspore.nn optimizers accept only the group keys params, lr, weight_decay,
grad_centralization and order_params; any other key raises KeyError when the optimizer is
built (mindspore-facts.md section 3).

Before::

    groups = [{'params': conv_params, 'lr': 0.01},
              {'params': other_params, 'nesterov': True}]
    optimizer = optim.SGD(groups, lr=0.01)

After: the optimizer is converted by MSM100; the 'nesterov' key is kept and flagged (MSM301,
severity error, at the key). A `**spread` inside a group dict is flagged too (MSM302).
"""

from __future__ import annotations

from typing import Iterator, List

import libcst as cst

from codemod import params as P
from codemod.context import FileContext
from codemod.findings import ERROR, WARNING, Check
from codemod.rules.base import Rule

GROUPS_URL = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/nn/mindspore.nn.Optimizer.html"
ALLOWED = ("params", "lr", "weight_decay", "grad_centralization", "order_params")

UNSUPPORTED_KEY = Check(
    "MSM301", "group-key-unsupported",
    "A parameter-group key MindSpore nn optimizers reject (KeyError at construction).", ERROR, GROUPS_URL,
)
SPREAD = Check(
    "MSM302", "group-keys-hidden",
    "A **spread in a parameter group hides its keys from the check.", WARNING, GROUPS_URL,
)


class ParamGroupKeys(Rule):
    code = "MSM300"
    name = "param-group-keys"
    summary = "Flags parameter-group keys that MindSpore nn optimizers reject."
    url = GROUPS_URL
    checks = (UNSUPPORTED_KEY, SPREAD)

    def run(self, ctx: FileContext) -> None:
        for site in ctx.shared.get("optimizers", []):
            if site.params is None:
                continue
            for group in _group_dicts(ctx, site.params):
                self._check(ctx, group, site)

    def _check(self, ctx: FileContext, group: cst.BaseExpression, site) -> None:
        target = f"nn.{site.entry['target']}"
        alternative = site.entry.get("alternative")
        for key_node, key in _keys(group):
            if key is None:
                ctx.report(
                    SPREAD, key_node,
                    f"{ctx.code(key_node)} in a parameter group of {target}: its keys cannot be seen; "
                    f"MindSpore accepts only {', '.join(ALLOWED)}",
                )
            elif key not in ALLOWED:
                hint = f", or use {alternative}, which accepts torch-style group keys" if alternative else ""
                ctx.report(
                    UNSUPPORTED_KEY, key_node,
                    f"group key {key!r} is rejected by {target} (KeyError at construction): move it to "
                    f"the constructor if every group shares the same value{hint}",
                )


def _group_dicts(ctx: FileContext, node: cst.BaseExpression, depth: int = 0) -> Iterator[cst.BaseExpression]:
    if depth > 4:
        return
    if isinstance(node, cst.Dict) or P._is_dict_call(node):
        yield node
    elif isinstance(node, (cst.List, cst.Tuple)):
        for element in node.elements:
            if isinstance(element, cst.Element):
                yield from _group_dicts(ctx, element.value, depth + 1)
    elif isinstance(node, cst.Name):
        assignment = P.single_assignment(ctx, node)
        if assignment is None:
            return
        assign = ctx.parent(ctx.parent(assignment.node))
        if isinstance(assign, cst.Assign) and len(assign.targets) == 1:
            yield from _group_dicts(ctx, assign.value, depth + 1)
        for access in assignment.references:
            parent = ctx.parent(access.node)
            if isinstance(parent, cst.Attribute) and parent.attr.value == "append":
                call = ctx.parent(parent)
                if isinstance(call, cst.Call) and call.args:
                    yield from _group_dicts(ctx, call.args[0].value, depth + 1)


def _keys(group: cst.BaseExpression) -> List:
    """(node, key) pairs; key None for a ** spread. Non-literal keys are skipped."""
    out = []
    if isinstance(group, cst.Dict):
        for element in group.elements:
            if isinstance(element, cst.StarredDictElement):
                out.append((element, None))
            elif isinstance(element.key, cst.SimpleString):
                out.append((element.key, element.key.evaluated_value))
    elif isinstance(group, cst.Call):
        for arg in group.args:
            if arg.star == "**":
                out.append((arg, None))
            elif arg.keyword is not None:
                out.append((arg.keyword, arg.keyword.value))
    return out
