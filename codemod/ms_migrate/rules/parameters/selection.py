"""MSM200 parameter-selection: torch parameter selection becomes MindSpore's.

Parameters that reach an optimizer come from `trainable_params()` (get_parameters() would add
BatchNorm's moving statistics, which the optimizer would then decay); names come from
`Parameter.name`. Loops that freeze or inspect parameters keep every parameter.

Before::

    optimizer = optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    all_params = net.named_parameters()
    no_conv_params = []
    for pname, p in all_params:
        if "conv" not in pname:
            no_conv_params.append(p)
    decay = [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)]
    for p in backbone.parameters():
        p.requires_grad = False

After::

    optimizer = nn.SGD(model.trainable_params(), learning_rate=0.1)
    all_params = net.trainable_params()
    no_conv_params = list(filter(lambda x: "conv" not in x.name, all_params))
    decay = [p for p in model.trainable_params() if not any(nd in p.name for nd in no_decay)]
    for p in backbone.get_parameters():
        p.requires_grad = False

Name literals change too where MindSpore names differ ('LayerNorm.weight' -> 'LayerNorm.gamma',
'bn.bias' -> 'bn.beta', 'embedding.weight' -> 'embedding.embedding_table'); a plain 'bias' or
'weight', which in torch also selects norm or embedding parameters, is flagged (MSM201).
Outside a scope that builds an optimizer, `named_parameters()` becomes
`parameters_and_names()`, which yields the same (name, parameter) pairs plus BatchNorm's moving
statistics.
"""

from __future__ import annotations

from typing import List, Optional, Set

import libcst as cst

from ms_migrate.rules.parameters import loops as L
from ms_migrate.rules.parameters import names as param_names
from ms_migrate.rules.parameters import requires_grad as RG
from ms_migrate.core import params as P
from ms_migrate.core import syntax
from ms_migrate.core import bindings
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, MIGRATION_GUIDE, WARNING, Check
from ms_migrate.rules.base import Rule

NAMES_URL = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/nn/mindspore.nn.Optimizer.html"

NAME_LITERAL = Check(
    "MSM201", "parameter-name-differs",
    "A name filter that selects different parameters in MindSpore (norm: gamma/beta, embedding: embedding_table).",
    WARNING, NAMES_URL,
)
UNFREEZE = Check(
    "MSM203", "unfreeze-moving-statistics",
    "A loop that may set requires_grad=True skips BatchNorm moving statistics, which MindSpore keeps as parameters.",
    WARNING, MIGRATION_GUIDE,
)
LATE_WRITE = Check(
    "MSM204", "requires-grad-after-optimizer",
    "requires_grad changes after the optimizer is built: MindSpore optimizers keep the parameters they were given.",
    ERROR, MIGRATION_GUIDE,
)
MOVING_STATS = Check(
    "MSM202", "parameters-and-names-buffers",
    "parameters_and_names() also yields BatchNorm moving statistics, which torch's named_parameters() does not.",
    WARNING, MIGRATION_GUIDE,
)


class ParameterSelection(Rule):
    code = "MSM200"
    name = "parameter-selection"
    summary = "parameters()/named_parameters() selection becomes trainable_params()/Parameter.name."
    url = NAMES_URL
    checks = (NAME_LITERAL, MOVING_STATS, UNFREEZE, LATE_WRITE)

    def run(self, ctx: FileContext) -> None:
        self.ctx = ctx
        migrated = [site for site in ctx.optimizer_sites if site.api != "torch"]  # torch: left as it is
        # nodes whose scopes feed an optimizer (scopes looked up only for a named_parameters call)
        self.optimizer_scope_nodes = [site.call for site in migrated]
        self.done: Set[cst.CSTNode] = set()
        for site in migrated:
            for source in ([site.params] if site.params is not None else []) + site.extra_groups:
                self._feed(source, depth=0)
        if not ctx.torch_optim_references():
            return  # not a training script's optimizer side: its model code is not ours to touch
        for call in ctx.calls:
            if call in self.done:
                continue
            if _method_call(call, "named_parameters"):
                self._named(call)
            elif _method_call(call, "parameters"):
                self._freeze_loop(call)
        for write, site, definite in RG.late_writes(ctx, ctx.optimizer_sites):
            when = "runs" if definite else "may run"
            ctx.report(
                LATE_WRITE, write,
                f"`{_shown(ctx, write)}` {when} after the optimizer at line {ctx.start(site.call).line} is "
                "built: a MindSpore optimizer keeps the parameters it was given (trainable_params() is "
                "taken once), so parameters unfrozen later are never trained and parameters frozen later "
                "keep training, unlike torch; build a new optimizer over trainable_params() after "
                "changing requires_grad (carrying over its state), or give it every parameter to train "
                "from the start",
                severity=ERROR if definite else WARNING,
            )

    # ---- parameters() feeding an optimizer -------------------------------------------------
    def _feed(self, node: cst.BaseExpression, depth: int) -> None:
        """Rewrite the parameter sources of an optimizer's params expression, following names."""
        if depth > 5 or node in self.done:
            return
        if isinstance(node, cst.Call) and _method_call(node, "named_parameters"):
            return  # its loop or comprehension is converted as a whole (_named)
        self.done.add(node)
        ctx = self.ctx
        if isinstance(node, cst.Dict) or P.is_dict_call(node):
            for _, key, value in P.group_keys(node):
                if key == "params":
                    self._feed(value, depth + 1)
                    if P.is_iterator(ctx, value):  # a group's params must be a list in MindSpore
                        ctx.edits.replace(value, P.as_list)
        elif isinstance(node, cst.Call):
            if _method_call(node, "parameters"):
                ctx.edits.replace(node, P.to_trainable_params)
                ctx.convert(self.code)
                return
            requires_grad_source = _requires_grad_filter(ctx, node)
            if requires_grad_source is not None:
                source = requires_grad_source
                ctx.edits.replace(node, lambda _old, src=source: _trainable(src))
                self.done.add(source)
                ctx.convert(self.code)
                return
            for arg in node.args:
                self._feed(arg.value, depth + 1)
            for returned in P.helper_returns(ctx, node):  # params=get_groups(model)
                self.optimizer_scope_nodes.append(returned)  # its selections feed an optimizer
                self._feed(returned, depth + 1)
        elif isinstance(node, (cst.ListComp, cst.GeneratorExp)) and _requires_grad_comprehension(node):
            source = node.for_in.iter
            ctx.edits.replace(node, lambda _old, src=source: _trainable(src))
            self.done.add(source)
            ctx.convert(self.code)
        elif isinstance(node, (cst.ListComp, cst.GeneratorExp)) and node.for_in.inner_for_in is None:
            self._feed(node.for_in.iter, depth + 1)  # [p for p in X.parameters() if p.ndim < 2]
        elif isinstance(node, cst.BinaryOperation):
            self._feed(node.left, depth + 1)
            self._feed(node.right, depth + 1)
        elif isinstance(node, (cst.List, cst.Tuple)):
            for element in node.elements:
                self._feed(element.value, depth + 1)
        elif isinstance(node, cst.Name):
            held = P.holdings(ctx, node)
            for value in [held.value, *held.appended, *held.extended] if held is not None else ():
                self._feed(value, depth + 1)

    # ---- named_parameters() ----------------------------------------------------------------
    def _in_an_optimizer_scope(self, call: cst.Call) -> bool:
        """Is the call in the scope (function body, module...) of an optimizer construction?"""
        if not self.optimizer_scope_nodes:
            return False
        analysis = self.ctx.analysis
        return bindings.innermost_scope(analysis, call) in {
            bindings.innermost_scope(analysis, n) for n in self.optimizer_scope_nodes}

    def _named(self, call: cst.Call) -> None:
        ctx = self.ctx
        parent = ctx.parent(call)
        selecting = self._in_an_optimizer_scope(call)
        if isinstance(parent, cst.CompFor) and parent.iter is call:
            if selecting and self._comprehension(parent, call):
                return
        elif isinstance(parent, cst.For) and parent.iter is call:
            if selecting and self._loop(parent, call):
                return
        elif isinstance(parent, cst.Assign) and len(parent.targets) == 1 and selecting:
            if self._assigned_then_looped(parent, call):
                return
        self._rename(call, selecting)
        if isinstance(parent, cst.CompFor):
            self._translate_literals(list(parent.ifs))
        elif isinstance(parent, cst.For):
            self._translate_literals([parent.body])
            names = L.pair(parent.target) if parent.iter is call else None
            if names is not None:
                self._skip_moving_statistics(parent, call, names[1].value, named=True)

    def _rename(self, call: cst.Call, selecting: bool) -> None:
        """The exact counterpart: (name, parameter) pairs, plus BatchNorm's moving statistics."""
        ctx = self.ctx
        func = call.func
        ctx.edits.replace(func, lambda f: f.with_changes(attr=cst.Name("parameters_and_names")))
        ctx.convert(self.code)
        if selecting:
            ctx.report(
                MOVING_STATS, call,
                f"{ctx.code(call)} became parameters_and_names(), which also yields BatchNorm "
                "moving_mean/moving_variance: if these parameters reach an optimizer, keep only "
                "those with p.requires_grad (or select from trainable_params())",
            )

    def _comprehension(self, comp_for: cst.CompFor, call: cst.Call) -> bool:
        ctx = self.ctx
        comp = ctx.parent(comp_for)
        if not isinstance(comp, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            return False
        if comp_for.inner_for_in is not None:
            return False
        names = L.pair(comp_for.target)
        if names is None:
            return False
        name_var, param_var = names
        param = param_var.value if param_var.value != "_" else "p"
        name_uses = _references(ctx, name_var)
        if name_uses is None:
            return False
        for use in name_uses:
            ctx.edits.replace(use, lambda _old, p=param: _dot_name(p))
        self._translate_literals([*comp_for.ifs, comp.elt if not isinstance(comp, cst.DictComp) else comp.key])
        ctx.edits.replace(comp_for.target, lambda _old, p=param: cst.Name(p))
        ctx.edits.replace(call.func, lambda f: f.with_changes(attr=cst.Name("trainable_params")))
        ctx.convert(self.code)
        if isinstance(comp, cst.DictComp):
            self._translate_lookups(comp)
        return True

    def _translate_lookups(self, comp: cst.DictComp) -> None:
        """`by_name = {n: p ...}` then `by_name['ln.weight']`: the keys are MindSpore names now."""
        ctx = self.ctx
        assign = ctx.parent(comp)
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
                and isinstance(assign.targets[0].target, cst.Name)):
            return
        assignment = ctx.assignment_of(assign.targets[0].target)
        for access in assignment.references if assignment is not None else ():
            subscript = ctx.parent(access.node)
            if isinstance(subscript, cst.Subscript) and subscript.value is access.node and len(subscript.slice) == 1:
                index = subscript.slice[0].slice
                if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
                    self._translate(index.value)

    def _loop(self, loop: cst.For, call: cst.Call) -> bool:
        """A loop over (name, param) pairs that collects parameters: a filter when it has the
        seed's shape, else a loop over trainable_params() with p.name."""
        ctx = self.ctx
        names = L.pair(loop.target)
        if names is None or not L.collects(loop.body):
            return False
        name_var, param_var = names
        name_uses = _references(ctx, name_var)
        if name_uses is None or param_var.value == "_":
            return False
        filters = L.filter_shape(ctx, loop, param_var)
        if filters is not None and L.inits_removable(ctx, loop, filters):
            self._as_filters(loop, call, name_uses, param_var, filters)
            return True
        for use in name_uses:
            ctx.edits.replace(use, lambda _old, p=param_var.value: _dot_name(p))
        self._translate_literals([loop.body])
        ctx.edits.replace(loop.target, lambda _old, p=param_var.value: cst.Name(p))
        ctx.edits.replace(call.func, lambda f: f.with_changes(attr=cst.Name("trainable_params")))
        ctx.convert(self.code)
        return True

    def _assigned_then_looped(self, assign: cst.Assign, call: cst.Call) -> bool:
        """`all_params = net.named_parameters()` then `for n, p in all_params:` (the seed)."""
        ctx = self.ctx
        target = assign.targets[0].target
        if not isinstance(target, cst.Name):
            return False
        assignment = ctx.assignment_of(target)
        if assignment is None:
            return False
        loops = []
        for access in assignment.references:
            loop = ctx.parent(access.node)
            if not (isinstance(loop, cst.For) and loop.iter is access.node):
                return False
            loops.append(loop)
        if len(loops) != 1:
            return False
        return self._loop(loops[0], call)

    def _as_filters(self, loop, call, name_uses, param_var, filters) -> None:
        """Replace the loop by one `L = list(filter(lambda x: cond, src))` per list. The
        conditions are read from the *updated* loop, so name-literal edits inside them apply."""
        ctx = self.ctx
        var = "x"
        for use in name_uses:
            ctx.edits.replace(use, lambda _old: _dot_name(var))
        for use in _references(ctx, param_var) or []:
            ctx.edits.replace(use, lambda _old: cst.Name(var))
        ctx.edits.replace(call.func, lambda f: f.with_changes(attr=cst.Name("trainable_params")))
        self._translate_literals([condition for _, condition, _ in filters if condition is not None])
        targets = [target for target, _, _ in filters]
        for _, _, init in filters:
            ctx.edits.remove(init)

        def rebuild(updated: cst.For):
            test = updated.body.body[0].test
            conditions = [test]
            if len(targets) == 2:
                conditions.append(L.negate(test))
            statements = []
            for target, condition in zip(targets, conditions):
                expr = syntax.fill(f"list(filter(lambda {var}: COND, SRC))", COND=condition, SRC=updated.iter)
                statements.append(cst.SimpleStatementLine(
                    body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(target))], value=expr)]
                ))
            return L.carry_leading(updated, statements)

        ctx.edits.replace(loop, rebuild)
        ctx.convert(self.code)

    # ---- parameters() loops that freeze ----------------------------------------------------
    def _freeze_loop(self, call: cst.Call) -> None:
        ctx = self.ctx
        loop = ctx.parent(call)
        if not (isinstance(loop, cst.For) and loop.iter is call and isinstance(loop.target, cst.Name)):
            return
        if L.freezes(loop.body, loop.target.value):
            ctx.edits.replace(call.func, lambda f: f.with_changes(attr=cst.Name("get_parameters")))
            ctx.convert(self.code)
            self._skip_moving_statistics(loop, call, loop.target.value, named=False)

    def _skip_moving_statistics(self, loop: cst.For, call: cst.Call, var: str, named: bool) -> None:
        """A loop that may unfreeze must not make BatchNorm's moving statistics trainable."""
        if not RG.may_unfreeze(loop.body, var):
            return
        ctx = self.ctx
        ctx.edits.replace(call, lambda c: RG.without_moving_statistics(c, named))
        ctx.report(
            UNFREEZE, loop,
            f"this loop may set requires_grad=True: in MindSpore {'parameters_and_names' if named else 'get_parameters'}() "
            "also yields BatchNorm moving_mean/moving_variance, which would then become trainable and reach "
            "trainable_params() and the optimizer, so the loop skips them by name; skip any other "
            "parameter that is a buffer in torch (requires_grad=False from construction) the same way",
        )

    # ---- name literals ---------------------------------------------------------------------
    def _translate_literals(self, nodes: List[cst.CSTNode]) -> None:
        """Translate or flag parameter-name literals used by these conditions, including those
        in a list the condition names (`no_decay = ['bias', 'LayerNorm.weight']`)."""
        for node in nodes:
            for string in _strings(node):
                self._translate(string)
            for name in syntax.read_names(node):
                value = self.ctx.assigned_value(name)
                if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                    for element in value.elements:
                        if isinstance(element.value, cst.SimpleString):
                            self._translate(element.value)

    def _translate(self, string: cst.SimpleString) -> None:
        if string in self.done:
            return
        self.done.add(string)
        value = string.evaluated_value
        if not isinstance(value, str):
            return
        new = param_names.translate_name(value)
        if new is not None and new != value:
            quote = string.value[len(string.prefix):][0]
            self.ctx.edits.replace(string, lambda s, q=quote, v=new: s.with_changes(value=f"{string.prefix}{q}{v}{q}"))
        elif value in param_names.AMBIGUOUS:
            which = "beta" if "bias" in value else "gamma/embedding_table"
            self.ctx.report(
                NAME_LITERAL, string,
                f"{string.value} in a parameter-name filter: in torch it also matches norm-layer "
                f"{'biases' if 'bias' in value else 'weights and embedding weights'}, which MindSpore "
                f"names {which} (e.g. 'bn.{'beta' if 'bias' in value else 'gamma'}'); add those names "
                "if they must be selected as in torch",
            )


def _shown(ctx: FileContext, write: cst.CSTNode) -> str:
    """The write as written: the whole `p.requires_grad = v`, or the requires_grad_() call."""
    target = ctx.parent(write)
    assign = ctx.parent(target) if isinstance(target, cst.AssignTarget) else None
    return ctx.code(assign if isinstance(assign, cst.Assign) else write).strip()


def _method_call(call: cst.Call, name: str) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value == name and not call.args


def _trainable(source: cst.Call) -> cst.BaseExpression:
    if isinstance(source, cst.Call) and _method_call(source, "parameters"):
        return P.to_trainable_params(source)
    return cst.Call(func=cst.Attribute(value=source, attr=cst.Name("trainable_params")))


def _requires_grad_filter(ctx: FileContext, call: cst.Call) -> Optional[cst.Call]:
    """`filter(lambda p: p.requires_grad, X.parameters())` -> the X.parameters() call."""
    name = ctx.qualified_name(call.func) or (call.func.value if isinstance(call.func, cst.Name) else None)
    if name != "filter" or len(call.args) != 2:
        return None
    fn, source = call.args[0].value, call.args[1].value
    if not (isinstance(source, cst.Call) and _method_call(source, "parameters")):
        return None
    if isinstance(fn, cst.Lambda) and len(fn.params.params) == 1:
        var = fn.params.params[0].name.value
        body = fn.body
        if isinstance(body, cst.Attribute) and body.attr.value == "requires_grad" and syntax.is_name(body.value, var):
            return source
    return None


def _requires_grad_comprehension(comp) -> bool:
    """`[p for p in X.parameters() if p.requires_grad]`."""
    for_in = comp.for_in
    if for_in.inner_for_in is not None or len(for_in.ifs) != 1 or not isinstance(for_in.target, cst.Name):
        return False
    var = for_in.target.value
    test = for_in.ifs[0].test
    return (
        syntax.is_name(comp.elt, var)
        and isinstance(for_in.iter, cst.Call) and _method_call(for_in.iter, "parameters")
        and isinstance(test, cst.Attribute) and test.attr.value == "requires_grad" and syntax.is_name(test.value, var)
    )


def _references(ctx: FileContext, name: cst.Name) -> Optional[List[cst.Name]]:
    """The uses of a loop variable, or None when it is also bound elsewhere."""
    assignment = ctx.assignment_of(name)
    if assignment is None:
        return None
    scope = ctx.scope(name)
    if len([a for a in scope.assignments[name.value] if a.scope is scope]) != 1:
        return None
    return [access.node for access in assignment.references if isinstance(access.node, cst.Name)]


def _dot_name(var: str) -> cst.BaseExpression:
    return cst.Attribute(value=cst.Name(var), attr=cst.Name("name"))


def _strings(node: cst.CSTNode):
    return (n for n in syntax.walk(node) if isinstance(n, cst.SimpleString))


