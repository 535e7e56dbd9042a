"""MSM500 training-step: torch's zero_grad / backward / step become a forward_fn, one
mindspore.value_and_grad built before the loop, and optimizer(grads).

Before::

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for data, target in loader:
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        correct += (output.argmax(1) == target).sum()

After::

    optimizer = nn.SGD(model.trainable_params(), learning_rate=0.1)
    model.set_train(True)
    def forward_fn(data, target):
        output = model(data)
        loss = criterion(output, target)
        return loss, output
    grad_fn = value_and_grad(forward_fn, None, optimizer.parameters, has_aux=True)
    for data, target in loader:
        (loss, output), grads = grad_fn(data, target)
        grads = ops.clip_by_global_norm(grads, 1.0)
        optimizer(grads)
        correct += (output.argmax(1) == target).sum()

The step may sit in a function that receives the optimizer (pytorch/examples mnist); the step may
run under one `if` guard; with the optimizer's zero_grad under that guard too, the gradients are
summed across micro-steps (accumulation). Anything the analysis cannot prove exact is left as it
is with one finding at the step saying what blocks it (MSM501). Other gradient calls outside a
converted step are reported (MSM502). MSM503: MindSpore cells start in inference mode.
"""

from __future__ import annotations

import builtins
from typing import Dict, List, Set

import libcst as cst

from ms_migrate.core import syntax, tables
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, MIGRATION_GUIDE, WARNING, Check
from ms_migrate.rules.base import Rule
from ms_migrate.rules.training_step import clipping, loss_scaling
from ms_migrate.rules.training_step.forward import Forward, build
from ms_migrate.rules.training_step.shape import Blocked, Step, expr_call, match, method, same
from ms_migrate.rules.training_step.uses import Use, local_function, optimizer_uses

AMP = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore.amp.html"

NOT_CONVERTED = Check("MSM501", "step-not-converted", "A training step ms-migrate could not convert: "
                      "the torch step is left as it is.", ERROR, MIGRATION_GUIDE)
GRADIENT_CALL = Check("MSM502", "gradient-call-not-converted", "A torch gradient call outside any "
                      "converted training step.", ERROR, MIGRATION_GUIDE)
INFERENCE_MODE = Check("MSM503", "cells-start-in-inference-mode", "MindSpore cells start in inference "
                       "mode, torch modules in training mode.", WARNING, MIGRATION_GUIDE)


class TrainingStep(Rule):
    code = "MSM500"
    name = "training-step"
    summary = "zero_grad/backward/step become forward_fn + mindspore.value_and_grad + optimizer(grads)."
    url = MIGRATION_GUIDE
    checks = (NOT_CONVERTED, GRADIENT_CALL, INFERENCE_MODE)

    def run(self, ctx: FileContext) -> None:
        if not ctx.optimizer_sites:
            return
        self.ctx = ctx
        uses = optimizer_uses(ctx, ctx.optimizer_sites)
        self.claimed: Set[cst.CSTNode] = set()  # backward / zero_grad calls a step accounts for
        self.flagged_functions: Set[cst.CSTNode] = set()  # functions with an MSM501 step
        self.converted_calls: Set[cst.CSTNode] = set()  # calls a converted step replaced
        converted: List[tuple] = []
        failed_sites: Set[int] = set()
        accumulating: Set[int] = set()
        stepped: Set[int] = set()  # sites whose step() the code calls (directly or in a helper)
        # `netD.zero_grad()` for an optimizer built from netD.parameters() (DCGAN)
        networks = [(site, method(site.params, "parameters")) for site in ctx.optimizer_sites
                    if isinstance(site.params, cst.Call) and method(site.params, "parameters") is not None]
        for call in ctx.calls:
            target = method(call, "step")
            if target is None:
                continue
            if target in uses:
                use = uses[target]
            elif len(call.args) == 1 and call.args[0].value in uses:  # scaler.step(optimizer)
                use = uses[call.args[0].value]
            else:
                continue
            stepped.add(id(use.site))
            try:
                step = match(ctx, call, use, uses, [n for o, n in networks if o is not use.site])
                forward = build(ctx, step.body, step.backward, step.loss, set(step.zero_grads), step.anchor,
                                step.statement if step.closure is not None else None)
                self._check_clips(step)
            except Blocked as blocked:
                self._flag(call, use, str(blocked))
                failed_sites.add(id(use.site))
                continue
            converted.append((step, forward))
            if step.accumulate:
                accumulating.add(id(use.site))
        models: List[cst.BaseExpression] = []
        for step, forward in converted:
            self._convert(step, forward)
            models += [m for m in forward.models if not any(m.deep_equals(o) for o in models)]
        trained = self._train_eval(models)
        warned: Set[cst.CSTNode] = set()
        for step, forward in converted:
            if not trained and step.function not in warned:  # once per function
                warned.add(step.function)
                ctx.report(INFERENCE_MODE, step.call,
                           "MindSpore cells start in inference mode (torch modules start in training mode): "
                           f"call {' / '.join(ctx.code(m) + '.set_train()' for m in forward.models[:2]) or 'set_train() on the network'}"
                           " before this loop if the network has dropout or batch normalization")
        self._leftovers(uses, failed_sites | accumulating)
        self._hidden_steps(uses, stepped)

    # ---- flagging ---------------------------------------------------------------------------
    def _flag(self, call: cst.Call, use: Use, why: str) -> None:
        ctx = self.ctx
        ctx.report(NOT_CONVERTED, call, f"training step not converted: {why}; it is left as torch code "
                   "(MindSpore optimizers are called as optimizer(grads) with grads from "
                   "mindspore.value_and_grad)")
        # this step's backward and zero_grad calls are covered by this one finding
        function = use.function
        self.flagged_functions.add(function)
        for node in syntax.walk(function):
            if isinstance(node, cst.Call) and (method(node, "backward") is not None or method(node, "zero_grad") is not None):
                self.claimed.add(node)

    def _check_clips(self, step: Step) -> None:
        for clip in step.clips:
            if clip.problem:
                raise Blocked(clip.problem)
            problem = clipping.clipped_set_problem(self.ctx, clip, step.use.site, step.use.mapping,
                                                   step.use.through is not None)
            if problem:
                raise Blocked(problem)

    # ---- conversion -------------------------------------------------------------------------
    def _convert(self, step: Step, forward: Forward) -> None:
        ctx = self.ctx
        edits = ctx.edits
        names = ctx.imports
        forward_name = names.fresh_name("forward_fn")
        grad_fn = names.fresh_name("grad_fn")
        grads = names.fresh_name("grads")
        loss_name = forward.loss_name or ("_" if "_" not in ctx.names_in_use else names.fresh_name("loss"))
        value_and_grad = ctx.imports.ref("mindspore", "value_and_grad")

        captured: Dict[cst.CSTNode, cst.CSTNode] = {}
        for statement in forward.statements:
            for node in syntax.walk(statement):  # x.detach() -> ops.stop_gradient(x), the same value
                if isinstance(node, cst.Call) and method(node, "detach") is not None and not node.args:
                    ops = ctx.imports.ref("mindspore", "ops")
                    edits.replace(node, lambda updated, ops=ops: syntax.fill(
                        "OPS.stop_gradient(X)", OPS=ops, X=updated.func.value))
            edits.replace(statement, lambda updated, s=statement: captured.setdefault(s, updated))
            edits.remove(statement)
        returned = [loss_name, *forward.aux] if forward.loss_name else [None, *forward.aux]
        scaler = step.scaler
        if scaler is not None:
            loss_scaling.replace_constructor(ctx, scaler)
        if scaler is not None and scaler.disabled:  # GradScaler(enabled=False): a plain step
            targets_list = [n or loss_name for n in returned]
        elif scaler is not None:
            unused = "_" if "_" not in ctx.names_in_use else names.fresh_name("scaled_loss")
            returned = ["<scaled>", *returned] if forward.loss_name else ["<scaled>", None, *forward.aux]
            targets_list = [unused, *[n or loss_name for n in returned[1:]]]
        else:
            targets_list = [n or loss_name for n in returned]
        if step.closure is not None:  # the closure's names are its own: bind only what the step returned
            targets_list[0] = step.result.value if step.result is not None else (
                "_" if "_" not in ctx.names_in_use else names.fresh_name("loss"))

        def define() -> cst.FunctionDef:
            body = [captured[s] for s in forward.statements]
            if body:
                body[0] = body[0].with_changes(leading_lines=[
                    line for line in body[0].leading_lines if line.comment is not None])
            values = [cst.Name(n) if n and n != "<scaled>" else step.loss for n in returned]
            if scaler is not None and not scaler.disabled:
                values[0] = syntax.fill("S.scale(L)", S=scaler.name, L=values[1])
            value = values[0] if len(values) == 1 else cst.Tuple(
                [cst.Element(v, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                 for v in values[:-1]] + [cst.Element(values[-1])], lpar=[], rpar=[])
            body.append(cst.SimpleStatementLine(body=[cst.Return(value=value)]))
            params = cst.Parameters(params=[cst.Param(cst.Name(p)) for p in forward.params])
            return cst.FunctionDef(name=cst.Name(forward_name), params=params, body=cst.IndentedBlock(body=body))

        aux = ", has_aux=True" if len(returned) > 1 else ""
        optimizer_code = ctx.code(step.optimizer)
        build_grad_fn = cst.parse_statement(
            f"{grad_fn} = {_code(value_and_grad)}"
            f"({forward_name}, None, {optimizer_code}.parameters{aux})\n")
        setup: list = [define, build_grad_fn]
        accumulated = names.fresh_name("accumulated_grads") if step.accumulate else None
        if accumulated and step.accumulator_reset is None:
            setup.append(cst.parse_statement(f"{accumulated} = None\n"))
        anchor = step.anchor if step.anchor is not None else step.closure if step.closure is not None else step.backward
        for item in setup:
            edits.insert_before(anchor, item)

        # the call in place of backward
        targets = ", ".join(targets_list)
        if len(targets_list) > 1:
            targets = f"({targets})"
        call = cst.parse_statement(f"{targets}, {grads} = {grad_fn}({', '.join(forward.params)})\n")
        if step.closure is not None:  # the step runs the closure: the call takes the step's place
            edits.remove(step.closure)
            edits.insert_before(step.statement, call)
        elif forward.call_at is not None:  # statements between the loss and backward stay after the call
            edits.insert_after(forward.call_at, call)
            edits.remove(step.backward)
        else:
            edits.replace(step.backward, lambda updated, new=call: new.with_changes(leading_lines=updated.leading_lines))
        self.claimed.add(expr_call(step.backward))
        after_call: list = []
        applied = grads
        if scaler is not None:
            if not scaler.disabled:  # finite before any clipping, as torch's unscale_ records it
                finite = names.fresh_name("grads_finite")
                after_call += loss_scaling.after_grads(ctx, scaler, grads, finite)
            self.converted_calls.add(step.call)
            if scaler.unscale is not None:
                edits.remove(scaler.unscale)
                self.converted_calls.add(expr_call(scaler.unscale))
        if accumulated:
            after_call.append(cst.parse_statement(
                f"{accumulated} = {grads} if {accumulated} is None else "
                f"tuple(a + g for a, g in zip({accumulated}, {grads}))\n"))
            applied = accumulated
        if after_call:
            edits.insert_after(step.backward, *after_call)
        for clip in step.clips:
            new = clipping.statements(ctx, clip, applied)
            edits.replace(clip.statement, lambda updated, first=new[0]: first.with_changes(leading_lines=updated.leading_lines))
            if len(new) > 1:
                edits.insert_after(clip.statement, *new[1:])
        # the step
        if scaler is not None and scaler.disabled:  # steps on every gradient, finite or not
            edits.replace(step.statement, lambda updated: cst.parse_statement(
                f"{optimizer_code}({applied})\n").with_changes(leading_lines=updated.leading_lines))
            edits.remove(scaler.update)
        elif scaler is not None:
            guarded = loss_scaling.apply(ctx, scaler, optimizer_code, applied, finite)
            edits.replace(step.statement, lambda updated: guarded.with_changes(leading_lines=updated.leading_lines))
            edits.replace(scaler.update, lambda updated: cst.parse_statement(
                f"{scaler.name.value}.adjust({finite})\n").with_changes(leading_lines=updated.leading_lines))
        elif step.closure is not None:
            edits.replace(step.statement, lambda updated: cst.parse_statement(
                f"{optimizer_code}({applied})\n").with_changes(leading_lines=[]))
        else:
            edits.replace(step.statement, lambda updated, name=applied: _apply(updated, name))
        for statement in step.zero_grads:
            self.claimed.add(expr_call(statement))
            if accumulated and statement in (step.guard.body.body if step.guard else ()):
                edits.replace(statement, lambda updated: cst.parse_statement(f"{accumulated} = None\n").with_changes(
                    leading_lines=updated.leading_lines))
            else:
                edits.remove(statement)
        if step.accumulator_reset is not None:
            self.claimed.add(expr_call(step.accumulator_reset))
            edits.replace(step.accumulator_reset, lambda updated: cst.parse_statement(
                f"{accumulated} = None\n").with_changes(leading_lines=updated.leading_lines))
        ctx.convert(self.code)

    def _train_eval(self, models: List[cst.BaseExpression]) -> bool:
        """`model.train()` / `model.eval()` on a network a converted step calls -> set_train;
        True when some train() was seen."""
        ctx = self.ctx
        trained = False
        keys = {syntax.dotted(m) for m in models} - {None}
        if not keys:
            return False
        for call in ctx.calls:
            for name in ("train", "eval"):
                target = method(call, name)
                if target is None or syntax.dotted(target) not in keys:
                    continue
                statement = ctx.statement_of(call)
                if expr_call(statement) is not call or len(call.args) > (1 if name == "train" else 0):
                    continue
                if call.args and (call.args[0].keyword is not None and call.args[0].keyword.value != "mode"):
                    continue
                value = call.args[0].value if call.args else cst.Name("True" if name == "train" else "False")
                if name == "train":
                    trained = True
                ctx.edits.replace(call, lambda updated, v=value: updated.with_changes(
                    func=updated.func.with_changes(attr=cst.Name("set_train")),
                    args=[cst.Arg(value=v)]))
        return trained

    def _leftovers(self, uses: Dict[cst.CSTNode, Use], not_plain: Set[int]) -> None:
        ctx = self.ctx
        for call in ctx.calls:
            if call in self.claimed:
                continue
            target = method(call, "zero_grad")
            if target is not None and target in uses:
                site = uses[target].site
                statement = ctx.statement_of(call)
                if id(site) not in not_plain and expr_call(statement) is call:
                    ctx.edits.remove(statement)  # gradients are computed fresh by every grad_fn call
                    continue
                ctx.report(GRADIENT_CALL, call, f"`{ctx.code(call)}` is not part of a converted training step: "
                           "MindSpore optimizers have no zero_grad(); remove it once the step is converted")
                continue
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value.endswith("backward"):
                ctx.report(GRADIENT_CALL, call, f"`{ctx.code(call)}` is not part of a training step ms-migrate "
                           "could match: compute gradients with grad_fn = mindspore.value_and_grad(forward_fn, "
                           "None, optimizer.parameters) and apply them with optimizer(grads)")


    def _hidden_steps(self, uses: Dict[cst.CSTNode, Use], stepped: Set[int]) -> None:
        """An optimizer the code never steps itself: a framework or a wrapper steps it."""
        ctx = self.ctx
        for site in ctx.optimizer_sites:
            function = next((a for a in ctx.ancestors(site.call) if isinstance(a, cst.FunctionDef)), None)
            if id(site) not in stepped and function is not None and function.name.value == "configure_optimizers":
                ctx.report(GRADIENT_CALL, site.call, "Lightning steps the optimizer configure_optimizers returns "
                           "(training_step's loss is differentiated by the framework): MindSpore has no "
                           "Lightning; write the step as forward_fn + mindspore.value_and_grad + optimizer(grads)")
                continue
            for node, use in uses.items():
                if use.site is not site:
                    continue
                arg = ctx.parent(node)
                call = ctx.parent(arg) if isinstance(arg, cst.Arg) else None
                if not isinstance(call, cst.Call) or local_function(ctx, call.func) is not None \
                        or use.function in self.flagged_functions or call in self.converted_calls:
                    continue  # a helper of this file, or a step already reported
                qname = ctx.qualified_name(call.func) if ctx.may_be_optim(call.func) else None
                if qname and (qname.startswith("torch.optim") or qname in tables.load("schedulers")["factories"]):
                    continue
                last = (syntax.dotted(call.func) or "").split(".")[-1]
                if (isinstance(call.func, cst.Name) and hasattr(builtins, last)) or last.endswith(("LR", "Scheduler")) \
                        or "schedule" in last.lower():
                    continue  # print(optimizer), a scheduler class: they do not step it
                ctx.report(GRADIENT_CALL, call, f"`{_first_line(ctx.code(call))}` receives the optimizer: if it "
                           "runs backward or step() inside (timm NativeScaler, accelerate, a trainer): that "
                           "step stays torch code; write it as forward_fn + mindspore.value_and_grad + "
                           "optimizer(grads)")


def _first_line(code: str) -> str:
    return code.strip().splitlines()[0]


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _apply(updated: cst.SimpleStatementLine, grads: str) -> cst.SimpleStatementLine:
    expr = updated.body[0]
    call = expr.value
    new = cst.Call(func=call.func.value, args=[cst.Arg(value=cst.Name(grads))])
    return updated.with_changes(body=[expr.with_changes(value=new)])
