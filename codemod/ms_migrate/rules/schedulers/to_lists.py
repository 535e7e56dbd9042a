"""MSM400 lr-scheduler: torch schedulers become per-step learning-rate lists.

MindSpore nn optimizers take the whole schedule up front: `learning_rate` is a list indexed by
optimizer step. The rule finds how often the scheduler steps (stepping.py), builds the
exact list (formulas.py), places it where everything it needs exists (moving the
optimizer down when nothing uses it in between), and removes `scheduler.step()`.

Before::

    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(args.epochs):
        for x, y in train_loader:
            ...
            optimizer.step()
        scheduler.step()

After::

    # ms-migrate: StepLR stepped once per epoch, as a per-step learning-rate list
    steps_per_epoch = len(train_loader)
    lr_schedule = nn.dynamic_lr.exponential_decay_lr(0.1, 0.1, args.epochs * steps_per_epoch, steps_per_epoch, 30, is_stair=True)
    optimizer = nn.SGD(model.trainable_params(), learning_rate=lr_schedule, momentum=0.9)
    for epoch in range(args.epochs):
        for x, y in train_loader:
            ...
            optimizer.step()

`scheduler.get_last_lr()` becomes `[float(optimizer.get_lr())]`. What cannot be converted
exactly is left as it is and flagged with what the user must supply (MSM401);
ReduceLROnPlateau and momentum-cycling schedulers are flagged (MSM401); other uses of the
removed scheduler (state_dict, last_epoch, ...) are flagged (MSM402).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import BuiltinAssignment

from ms_migrate.core import params as P
from ms_migrate.rules.schedulers import formulas
from ms_migrate.rules.schedulers import placement
from ms_migrate.rules.schedulers import step_argument
from ms_migrate.rules.schedulers import stepping
from ms_migrate.rules.schedulers import experimental
from ms_migrate.core import syntax
from ms_migrate.core import tables
from ms_migrate.core import bindings
from ms_migrate.core.context import FileContext
from ms_migrate.core.findings import ERROR, WARNING, Check
from ms_migrate.rules.base import Rule
from ms_migrate.rules.optimizers.constructor import OptimizerSite

DYNAMIC_LR = "https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore.nn.html#dynamic-learning-rate"

NOT_CONVERTED = Check(
    "MSM401", "scheduler-not-converted",
    "A learning-rate scheduler that could not be turned into an exact per-step list.", ERROR, DYNAMIC_LR,
)
MOMENTUM = Check(
    "MSM403", "scheduler-cycles-momentum",
    "The scheduler also cycles momentum, which mindspore.nn optimizers keep fixed.", WARNING, DYNAMIC_LR,
)
ASSUMPTION = Check(
    "MSM404", "scheduler-assumption",
    "The per-step list rests on an assumption the code does not guarantee.", WARNING, DYNAMIC_LR,
)
SCHEDULER_USE = Check(
    "MSM402", "scheduler-use",
    "A use of a converted scheduler that has no MindSpore counterpart.", ERROR, DYNAMIC_LR,
)


class Schedulers(Rule):
    code = "MSM400"
    name = "lr-scheduler"
    summary = "torch lr schedulers become exact per-step learning-rate lists given to the optimizer."
    url = DYNAMIC_LR
    checks = (NOT_CONVERTED, SCHEDULER_USE, MOMENTUM, ASSUMPTION)

    def run(self, ctx: FileContext) -> None:
        self.ctx = ctx
        sites = ctx.optimizer_sites
        found = [(call, kind) for call in ctx.calls for kind in [_scheduler_kind(ctx, call)] if kind]
        self.children: Dict[cst.Call, cst.Call] = {}  # child scheduler -> its SequentialLR/Chained
        for call, (name, _) in found:
            if name in COMPOSITES:
                for child in _child_calls(ctx, call, name):
                    self.children[child] = call
        self.per_optimizer: Dict[object, int] = {}  # optimizer binding -> schedulers built on it
        for call, (name, entry) in found:
            if call not in self.children:
                key = _binding(ctx, _optimizer_arg(call, name, entry))
                if key is not None:
                    self.per_optimizer[key] = self.per_optimizer.get(key, 0) + 1
        refused: Dict[cst.Call, str] = {}  # composite scheduler -> why it was not converted
        for call, (name, entry) in found:
            if call in self.children:
                continue
            site = _find_site(ctx, call, name, entry, sites)
            if site is not None and site.api == "torch":
                # stays with its torch optimizer (MSM109 there); said at its own line too
                line = ctx.start(site.call).line
                ctx.report(NOT_CONVERTED, call, f"{name} was not converted: its optimizer (line "
                           f"{line}) stays in torch with all its schedulers (MSM109 there says why)",
                           url=entry.get("url", DYNAMIC_LR))
                refused[call] = name
                ctx.handled.add(call.func)
                continue
            try:
                if site is not None and site.api == "experimental":
                    self._convert_experimental(call, name)
                    site.scheduled = True
                else:
                    self._convert(call, name, entry, sites)
            except formulas.Unsupported as why:
                if site is not None and site.alternatives:
                    # one optimizer is migrated whole: try its next API rather than leave a torch
                    # scheduler around a MindSpore optimizer
                    ctx.demote(site.call, site.api, f"{name}: {why}")
                else:
                    ctx.report(NOT_CONVERTED, call, f"{name} was not converted: {why}",
                               url=entry.get("url", DYNAMIC_LR))
                    refused[call] = name
            ctx.handled.add(call.func)
        for call, (name, entry) in found:
            if call in self.children:
                parent = self.children[call]
                if parent in refused:  # left in place: it gets its own finding, at its own line
                    line = ctx.start(parent).line
                    ctx.report(NOT_CONVERTED, call, f"{name} was not converted: it is part of the "
                               f"{refused[parent]} at line {line}, which was not converted",
                               url=entry.get("url", DYNAMIC_LR))
                ctx.handled.add(call.func)

    def _convert_experimental(self, call: cst.Call, name: str) -> None:
        """The optimizer went to mindspore.experimental.optim: the scheduler (and a composite's
        children) go to its lr_scheduler module, stepping unchanged."""
        entry = _scheduler_kind(self.ctx, call)[1]
        if "kind" in entry:  # a transformers/diffusers factory: an experimental LambdaLR
            args, optimizer, kind = _bind(call, entry)
            experimental.convert_factory(self.ctx, call, kind, args, optimizer)
            self._experimental_uses(call, name)
            return
        calls = [call] + [c for c, parent in self.children.items() if parent is call]
        names = [_scheduler_kind(self.ctx, c)[0] for c in calls]
        if name in COMPOSITES and len(calls) == 1:
            raise formulas.Unsupported(f"the schedulers {name} composes are not constructions visible here")
        if name in experimental.AS_LAMBDA:  # the module lacks it: an exact LambdaLR
            if name == "ChainedScheduler":
                args, optimizer, _ = _bind_chained(call)
                children = [(c, n, _bind(c, _scheduler_kind(self.ctx, c)[1])[0]) for c, n in zip(calls[1:], names[1:])]
                wrapped = [_bind(c, _scheduler_kind(self.ctx, c)[1])[1] for c in calls[1:]]
                names_wrapped = {o.value for o in wrapped}
                if len(names_wrapped) != 1 or (optimizer is not None and not (
                        isinstance(optimizer, cst.Name) and optimizer.value in names_wrapped)):
                    raise formulas.Unsupported("its schedulers wrap different optimizers")
                optimizer = wrapped[0]
            else:
                args, optimizer, _ = _bind(call, entry)
                children = []
            site = _site_of(self.ctx, optimizer, self.ctx.optimizer_sites)
            if self.per_optimizer.get(_binding(self.ctx, optimizer), 0) > 1:
                raise formulas.Unsupported(f"several schedulers drive {optimizer.value}")
            experimental.convert_as_lambda(self.ctx, call, name, args, children, optimizer, site, MOMENTUM)
            self._experimental_uses(call, name)
            return
        experimental.check(self.ctx, calls, names)
        experimental.convert(self.ctx, calls, names, MOMENTUM, None)
        self._experimental_uses(call, name)

    def _experimental_uses(self, call: cst.Call, name: str) -> None:
        """Scheduler methods the experimental classes lack (measured on MindSpore 2.10: they
        have step, get_last_lr and get_lr, no state_dict or load_state_dict): flagged where used."""
        ctx = self.ctx
        assign = ctx.parent(call)
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
            return
        for use in ctx.uses_of(assign.targets[0].target):
            attribute = ctx.parent(use)
            if (isinstance(attribute, cst.Attribute) and attribute.value is use
                    and attribute.attr.value in experimental.TORCH_ONLY_METHODS):
                ctx.report(SCHEDULER_USE, attribute, f"{ctx.code(attribute)}: mindspore.experimental.optim."
                           f"lr_scheduler.{name} has no {attribute.attr.value}() (AttributeError, measured); "
                           "to resume, save what the schedule needs (e.g. the epoch reached) with the "
                           "checkpoint and step a new scheduler to it after loading")

    def _convert(self, call: cst.Call, name: str, entry: Dict, sites: List[OptimizerSite]) -> None:
        """Check everything first (raising Unsupported), then build and record the edits."""
        ctx = self.ctx
        job = self._parts(call, name, entry, sites)
        if job.others and "experimental" in job.site.alternatives:
            uses = ", ".join(sorted({ctx.code(use) for use in job.others}))
            raise formulas.Unsupported(f"{uses} has no counterpart once the scheduler is a list")
        job.timing = stepping.analyze(ctx, job.step_call, job.optimizer)
        step_argument.model(ctx, job.step_call, job.kind or name, job.timing)
        self._place(job)
        placement.check_late_names(ctx, call, job.args)
        build = self._builder(call, name, job.kind, job.args, job.optimizer)
        statements, top_name, group_names = self._lists(job, build)
        self._edit(job, statements, top_name, group_names)
        self._report_uses(job)
        job.site.scheduled = top_name is not None
        ctx.consume(call.func)
        ctx.convert(self.code)

    def _parts(self, call: cst.Call, name: str, entry: Dict, sites: List[OptimizerSite]) -> "_Job":
        """The scheduler's arguments, its optimizer, and its uses; refuses what is not followed."""
        ctx = self.ctx
        if name in formulas.NOT_PRECOMPUTABLE:
            raise formulas.Unsupported(formulas.NOT_PRECOMPUTABLE[name])
        if name == "ChainedScheduler":
            args, optimizer, kind = _bind_chained(call)
            children = _child_calls(ctx, call, name)
            if optimizer is None and children:
                optimizer = _bind(children[0], _scheduler_kind(ctx, children[0])[1])[1]
            if not isinstance(optimizer, cst.Name):
                raise formulas.Unsupported("its schedulers are not constructions visible in this file")
        else:
            args, optimizer, kind = _bind(call, entry)
        site = _site_of(ctx, optimizer, sites)
        if self.per_optimizer.get(_binding(ctx, optimizer), 0) > 1:
            raise formulas.Unsupported(f"several schedulers drive {optimizer.value}; combine them into "
                                        "one (SequentialLR or ChainedScheduler) or build the list by hand")
        statement = ctx.statement_of(call)
        assign = ctx.parent(call)
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
                and isinstance(assign.targets[0].target, cst.Name)
                and isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            raise formulas.Unsupported("it is not assigned to a plain name (`scheduler = ...`)")
        scheduler = assign.targets[0].target
        steps, last_lr, others = _scheduler_uses(ctx, scheduler)
        if len(steps) != 1:
            lines = ", ".join(str(ctx.start(step).line) for step in steps if step is not None)
            how = "never called" if not steps else f"called in {len(steps)} places (or with arguments: lines {lines})"
            raise formulas.Unsupported(f"{scheduler.value}.step() is {how}; ms-migrate follows "
                                        "exactly one argument-free call")
        base = site.lr if site.lr is not None else syntax.value_expr(site.entry["torch_defaults"]["lr"])
        removed = {statement} | {ctx.statement_of(c) for c, parent in self.children.items() if parent is call}
        return _Job(call, name, args, optimizer, kind, site, statement, steps[0], last_lr, others,
                    base, _group_lrs(site), removed)

    def _place(self, job: "_Job") -> None:
        """Where the lists go: before the optimizer, or after the last statement they need (the
        optimizer moves down there when nothing uses it in between)."""
        ctx = self.ctx
        block, position = _block_position(ctx, job.timing.outer)
        job.opt_statement = ctx.statement_of(job.site.call)
        if ctx.parent(job.opt_statement) is not block or block.body.index(job.opt_statement) > position:
            raise formulas.Unsupported("the optimizer is not built in the block that holds the training loop")
        needed_nodes = [job.timing.updates_per_epoch, job.timing.epochs, job.base, *job.args.values(),
                        *job.group_lrs]
        needed = _needed_position(ctx, block, position, needed_nodes, ignore={job.optimizer.value})
        opt_index = block.body.index(job.opt_statement)
        if needed < opt_index:
            return
        _check_unused_between(ctx, job.site.target, block, opt_index, needed, job.removed,
                              _needs(ctx, needed_nodes, _needed_position.name))
        placement.check_move(ctx, block, [job.opt_statement, *job.removed], needed)
        if any(ctx.statement_of(value) is not job.opt_statement for value in job.group_lrs):
            raise formulas.Unsupported("a parameter group with its own lr is built before the "
                                        "data its schedule needs; build the groups after it")
        job.anchor = block.body[needed]

    def _lists(self, job: "_Job", build):
        """The statements to insert: steps_per_epoch, named intermediate values, the lists."""
        ctx = self.ctx
        spe_name = ctx.imports.fresh_name("steps_per_epoch")
        spe = cst.Name(spe_name)
        epochs = job.timing.epochs
        total = spe if epochs is None else syntax.fill("EPOCHS * SPE", EPOCHS=epochs, SPE=spe)
        if job.last_lr:  # get_last_lr() after the last step reads one element further
            total = syntax.fill("TOTAL + 1", TOTAL=total)
        preamble: List[Tuple[str, cst.BaseExpression]] = []

        def let(hint: str, value: cst.BaseExpression) -> cst.BaseExpression:
            if isinstance(value, (cst.Name, cst.Integer, cst.Float, cst.Attribute)):
                return value
            variable = ctx.imports.fresh_name(hint)
            preamble.append((variable, value))
            return cst.Name(variable)

        index = _index_name(ctx, [job.call, *(c for c, p in self.children.items() if p is job.call),
                                  job.base, *job.group_lrs])
        timing = formulas.Timing(
            per_epoch=job.timing.per_epoch, total=total, offset=job.timing.offset, steps_per_epoch=spe,
            nn=ctx.imports.ref("mindspore", "nn"), math=lambda: ctx.imports.module("math"), let=let,
            index=index,
            count=job.timing.count(spe, cst.Name(index)) if job.timing.count is not None else None,
        )
        top = build(job.base, timing)
        if top is None:
            return [], None, []
        top_name = ctx.imports.fresh_name("lr_schedule")
        lists = [(top_name, top)]
        group_names = []
        for value in job.group_lrs:
            group_name = ctx.imports.fresh_name("lr_schedule_group")
            lists.append((group_name, build(value, timing)))
            group_names.append((value, group_name))
        statements = [_assign(spe_name, job.timing.updates_per_epoch)]
        statements += [_assign(n, e) for n, e in preamble + lists]
        _check_builtins(ctx, statements, job.opt_statement)
        how = "once per epoch" if job.timing.per_epoch else "after every optimizer update"
        note = f"# ms-migrate: {job.name} stepped {how}, as a per-step learning-rate list"
        statements[0] = statements[0].with_changes(
            leading_lines=[cst.EmptyLine(indent=True, comment=cst.Comment(note))])
        return statements, top_name, group_names

    def _edit(self, job: "_Job", statements, top_name, group_names) -> None:
        ctx = self.ctx
        if top_name is not None:
            if job.anchor is None:
                # the blank lines above the optimizer now sit above the schedule
                blanks = [line for line in job.opt_statement.leading_lines if line.comment is None]
                statements[0] = statements[0].with_changes(leading_lines=[*blanks, *statements[0].leading_lines])
                ctx.edits.replace(job.opt_statement, lambda st: st.with_changes(
                    leading_lines=[line for line in st.leading_lines if line.comment is not None]))
                ctx.edits.insert_before(job.opt_statement, *statements)
            else:
                ctx.edits.move_after(job.opt_statement, job.anchor, *statements)
            job.site.learning_rate = cst.Name(top_name)  # the optimizer rule renders it
            for value, group_name in group_names:
                ctx.edits.replace(value, lambda _old, n=group_name: cst.Name(n))
        for statement in job.removed:
            ctx.edits.remove(statement)
        ctx.edits.remove(ctx.statement_of(job.step_call))
        for child, parent in self.children.items():
            if parent is job.call:
                ctx.consume(child.func)
        for use in job.last_lr:
            if not job.group_lrs:
                ctx.edits.replace(use, lambda _old: syntax.fill("[float(OPT.get_lr())]", OPT=job.optimizer))

    def _report_uses(self, job: "_Job") -> None:
        ctx = self.ctx
        name, site = job.name, job.site
        if name in formulas.MOMENTUM_CYCLING and syntax.literal_value(job.args.get("cycle_momentum", cst.Name("True"))) is not False:
            ctx.report(MOMENTUM, site.call, f"{name} with cycle_momentum=True (the default) also cycles the "
                       "optimizer's momentum (SGD) or beta1 (Adam) every step, and sets it at construction; "
                       f"nn.{site.entry['target']} keeps them fixed, so training differs: the lr list is exact, "
                       "pass cycle_momentum=False in torch for an exact migration")
        if job.group_lrs:
            for use in job.last_lr:
                ctx.report(SCHEDULER_USE, use, f"{ctx.code(use)}: with parameter groups that have their own "
                           "lr, optimizer.get_lr() returns one lr per parameter; read the one you need")
        for use in job.others:
            ctx.report(SCHEDULER_USE, use, f"{ctx.code(use)}: the scheduler is now the optimizer's "
                       "learning_rate list; to resume, save and restore the optimizer itself "
                       "(mindspore.save_checkpoint(optimizer, path) keeps global_step)")
        for assumption in job.timing.assumptions:
            ctx.report(ASSUMPTION, site.call, f"{name}: {assumption}")

    def _builder(self, call, name, kind, args, optimizer):
        """A function (base lr, timing) -> the list expression, for one (group) base lr."""
        ctx = self.ctx
        if name in ("SequentialLR", "ChainedScheduler"):
            children = []
            for child in _child_calls(ctx, call, name):
                child_kind = _scheduler_kind(ctx, child)
                child_name, child_entry = child_kind
                if child_name in COMPOSITES or child_name in formulas.NOT_PRECOMPUTABLE:
                    raise formulas.Unsupported(f"its child {child_name} cannot be composed")
                if name == "SequentialLR" and child_name in formulas.RELATIVE:
                    raise formulas.Unsupported(f"its child {child_name} continues from the lr the previous "
                                                "child left, which has no closed form here; build the list by hand")
                child_args, child_optimizer, _ = _bind(child, child_entry)
                if child_optimizer.value != optimizer.value:
                    raise formulas.Unsupported("its schedulers wrap different optimizers")
                children.append((child_name, child_args))
            if name == "SequentialLR":
                milestones = args.get("milestones")
                if milestones is None:
                    raise formulas.Unsupported("its milestones are missing")
                return lambda base, timing: formulas.sequential(children, milestones, base, timing)
            return lambda base, timing: formulas.chained(children, base, timing)
        return lambda base, timing: formulas.whole_list(kind or name, args, base, timing)


COMPOSITES = ("SequentialLR", "ChainedScheduler")


@dataclass
class _Job:
    """One scheduler conversion, filled in step by step."""

    call: cst.Call
    name: str
    args: Dict[str, cst.BaseExpression]
    optimizer: cst.Name
    kind: Optional[str]
    site: OptimizerSite
    statement: cst.CSTNode
    step_call: cst.Call
    last_lr: List[cst.Call]
    others: List[cst.CSTNode]
    base: cst.BaseExpression
    group_lrs: List[cst.BaseExpression]
    removed: set  # the scheduler's statement and those of its SequentialLR/Chained children
    timing: Optional[stepping.Stepping] = None
    opt_statement: Optional[cst.CSTNode] = None
    anchor: Optional[cst.CSTNode] = None  # move the optimizer after this statement


def _binding(ctx: FileContext, name: Optional[cst.Name]):
    """What a name refers to here (its one assignment), to tell same-named optimizers apart."""
    if name is None:
        return None
    assignment = ctx.binding(name)
    return assignment if assignment is not None else (id(ctx.scope(name)), name.value)


def _optimizer_arg(call: cst.Call, name: str, entry: Dict) -> Optional[cst.Name]:
    """The optimizer a scheduler construction wraps, when it is a plain name."""
    try:
        if name == "ChainedScheduler":
            _, optimizer, _ = _bind_chained(call)
        else:
            _, optimizer, _ = _bind(call, entry)
    except formulas.Unsupported:
        return None
    return optimizer if isinstance(optimizer, cst.Name) else None


def _child_calls(ctx: FileContext, call: cst.Call, name: str) -> List[cst.Call]:
    """The scheduler constructions a SequentialLR / ChainedScheduler composes."""
    listed = None
    for i, arg in enumerate(call.args):
        keyword = arg.keyword.value if arg.keyword else None
        if keyword == "schedulers" or (keyword is None and i == (1 if name == "SequentialLR" else 0)):
            listed = arg.value
    if not isinstance(listed, (cst.List, cst.Tuple)):
        return []
    children = []
    for element in listed.elements:
        value = element.value
        if isinstance(value, cst.Name):
            value = ctx.assigned_value(value)
        if isinstance(value, cst.Call) and _scheduler_kind(ctx, value) is not None:
            children.append(value)
        else:
            return []
    return children


def _bind_chained(call: cst.Call):
    """ChainedScheduler(schedulers, optimizer=None): the optimizer comes from its children."""
    optimizer = None
    for i, arg in enumerate(call.args):
        keyword = arg.keyword.value if arg.keyword else ("schedulers" if i == 0 else "optimizer")
        if keyword == "optimizer":
            optimizer = arg.value
    return {}, optimizer, None


def _scheduler_kind(ctx: FileContext, call: cst.Call) -> Optional[Tuple[str, Dict]]:
    qname = ctx.qualified_name(call.func) if ctx.may_be_optim(call.func) else None
    if not qname:
        return None
    table = tables.load("schedulers")
    parts = qname.split(".")
    if qname.startswith("torch.optim.lr_scheduler.") and parts[-1] in table["schedulers"]:
        return parts[-1], table["schedulers"][parts[-1]]
    if qname in table["factories"]:
        return parts[-1], table["factories"][qname]
    return None


def _bind(call: cst.Call, entry: Dict) -> Tuple[Dict[str, cst.BaseExpression], cst.Name, Optional[str]]:
    """Arguments by torch name, the optimizer, and the factory kind (None for a torch class)."""
    kind = entry.get("kind")
    positional = (["name", "optimizer"] if kind == "by_name" else ["optimizer"]) + entry["positional"]
    args: Dict[str, cst.BaseExpression] = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            raise formulas.Unsupported("its arguments come through *args/**kwargs")
        key = arg.keyword.value if arg.keyword is not None else (positional[i] if i < len(positional) else None)
        if key is None:
            raise formulas.Unsupported("it has more positional arguments than expected")
        args[key] = arg.value
    optimizer = args.pop("optimizer", None)
    if not isinstance(optimizer, cst.Name):
        raise formulas.Unsupported("its optimizer is not a plain name")
    if kind == "by_name":
        scheduler_name = args.pop("name", None)
        if not isinstance(scheduler_name, cst.SimpleString):
            raise formulas.Unsupported("the scheduler name is not a string literal")
        value = scheduler_name.evaluated_value
        if value not in ("linear", "cosine", "constant", "constant_with_warmup"):
            raise formulas.Unsupported(f"get_scheduler({value!r}) is not converted; 'linear', 'cosine', "
                                        "'constant' and 'constant_with_warmup' are")
        kind = value
    last_epoch = args.pop("last_epoch", None)
    if last_epoch is not None and syntax.literal_value(last_epoch) != -1:
        raise formulas.Unsupported("last_epoch resumes a schedule midway; start the list at that step by hand")
    return args, optimizer, kind


def _find_site(ctx: FileContext, call: cst.Call, name: str, entry: Dict, sites: List[OptimizerSite]) -> Optional[OptimizerSite]:
    """The optimizer site a scheduler wraps (a ChainedScheduler: its first child's), or None."""
    optimizer = _optimizer_arg(call, name, entry)
    if optimizer is None and name == "ChainedScheduler":
        children = _child_calls(ctx, call, name)
        if children:
            kind = _scheduler_kind(ctx, children[0])
            optimizer = _optimizer_arg(children[0], kind[0], kind[1]) if kind else None
    if optimizer is None:
        return None
    assignment = ctx.binding(optimizer)
    for site in sites:
        if assignment is not None and site.target is assignment.node:
            return site
    return None


def _site_of(ctx: FileContext, optimizer: cst.Name, sites: List[OptimizerSite]) -> OptimizerSite:
    assignment = ctx.binding(optimizer)
    for site in sites:
        if assignment is not None and site.target is assignment.node:
            if site.hidden:
                raise formulas.Unsupported("the optimizer's arguments come through *args/**kwargs")
            return site
    raise formulas.Unsupported(f"{optimizer.value} is not a torch.optim optimizer built once in this file")


def _scheduler_uses(ctx: FileContext, scheduler: cst.Name):
    steps, last_lr, others = [], [], []
    for use in ctx.uses_of(scheduler):
        attribute = ctx.parent(use)
        call = ctx.parent(attribute) if isinstance(attribute, cst.Attribute) else None
        called = isinstance(call, cst.Call) and call.func is attribute
        if called and attribute.attr.value == "step" and not call.args:
            if isinstance(ctx.parent(call), cst.Expr):
                steps.append(call)
                continue
        if called and attribute.attr.value == "get_last_lr" and not call.args:
            last_lr.append(call)
            continue
        if isinstance(attribute, cst.Attribute) and attribute.value is use:
            others.append(attribute)
            if attribute.attr.value == "step":
                steps.append(call)  # step(epoch) or step(metric): counted, so it is refused
        else:
            raise formulas.Unsupported(f"{scheduler.value} is passed on or used as a value at line "
                                        f"{ctx.start(use).line} (`{_first_line(ctx, ctx.statement_of(use))}`); "
                                        "ms-migrate cannot follow it")
    return steps, last_lr, [o for o in others if o.attr.value != "step"]


def _first_line(ctx: FileContext, statement: cst.CSTNode) -> str:
    lines = [line.strip() for line in ctx.code(statement).splitlines() if line.strip()
             and not line.strip().startswith("#")]
    return lines[0] if lines else ""


def _group_lrs(site: OptimizerSite) -> List[cst.BaseExpression]:
    groups = site.every_group()
    if groups is not None:
        return [value for group in groups for _, key, value in P.group_keys(group) if key == "lr"]
    raise formulas.Unsupported("cannot see every parameter group; groups with their own lr need their own list")


def _block_position(ctx: FileContext, statement: cst.CSTNode):
    block = ctx.parent(statement)
    if not isinstance(block, (cst.Module, cst.IndentedBlock)):
        raise formulas.Unsupported("the training loop is not a statement of a plain block")
    return block, list(block.body).index(statement)


def _needed_position(ctx: FileContext, block, loop_position: int, nodes, ignore=()) -> int:
    """Index in `block` of the last statement binding a name the lists need (-1: none). The
    optimizer's own name (inline children of SequentialLR mention it) is not needed. The name
    bound there is left in `_needed_position.name` for messages."""
    loop = block.body[loop_position]
    body = list(block.body)
    needed = -1
    _needed_position.name = None  # type: ignore[attr-defined]
    for name in sorted({n.value for node in nodes for n in syntax.read_names(node)} - set(ignore)):
        for binding in ctx.scope_bindings(loop, name):
            top = ctx.child_of(block, binding)
            if top is None:
                continue
            index = body.index(top)
            if index >= loop_position:
                raise formulas.Unsupported(f"{name} is only set inside or after the training loop "
                                            f"(line {ctx.start(top).line})")
            if index > needed:
                needed = index
                _needed_position.name = (name, ctx.start(top).line)  # type: ignore[attr-defined]
    return needed


def _needs(ctx: FileContext, nodes, bound) -> str:
    """`len(train_loader)` (set at line 240): what the schedule reads that is set last."""
    if bound is None:
        return ""
    name, line = bound
    for node in nodes:
        if node is not None and name in {n.value for n in syntax.read_names(node)}:
            return f"`{ctx.code(node)}` ({name} is set at line {line})"
    return f"`{name}` (set at line {line})"



def _check_unused_between(ctx, optimizer: cst.Name, block, start: int, end: int, removed,
                          needs: str = "") -> None:
    """Refuse to move the optimizer down past a statement that uses it, naming that use (and
    its line) and the data the schedule waits for (`needs`)."""
    body = list(block.body)
    between = body[start + 1:end + 1]
    for use in ctx.uses_of(optimizer):
        top = ctx.child_of(block, use)
        if top is not None and top in between and top not in removed:
            chain = use
            while isinstance(ctx.parent(chain), cst.Attribute) and ctx.parent(chain).value is chain:
                chain = ctx.parent(chain)
            name = cst.helpers.get_full_name_for_node(optimizer) or "the optimizer"
            raise formulas.Unsupported(
                f"`{ctx.code(chain)}` (line {ctx.start(use).line}) uses {name} before {needs or 'the data its schedule needs'} "
                f"exists, so {name} cannot be built after it; move that use below, or build the "
                "per-step lr list by hand")


# Builtins the emitted lists call (len, min, max, sum, range, float, ...).
_BUILTINS_USED = frozenset({"len", "float", "int", "min", "max", "sum", "range", "list", "tuple", "map"})


def _check_builtins(ctx: FileContext, statements, at: cst.CSTNode) -> None:
    """Refuse when the file rebinds a builtin the lists call, where they go (`max = 5`, a
    parameter named `len`): the list would call the file's value instead."""
    read = {n.value for statement in statements for n in syntax.read_names(statement)}
    names = sorted(name for name in read & _BUILTINS_USED if not bindings.never_bound(ctx.analysis, name))
    scope = ctx.scope(at) if names else None
    if scope is None:
        return
    for name in names:
        if any(not isinstance(a, BuiltinAssignment) for a in scope[name]):
            raise formulas.Unsupported(f"this file binds the name `{name}`, which the learning-rate "
                                        f"list calls as Python's builtin; rename it or build the list by hand")


def _index_name(ctx: FileContext, values) -> str:
    """The comprehension variable: `i`, unless a value put inside the comprehension reads a
    name `i` (it would read the step index instead). Never `m`, the milestones' variable."""
    read = {n.value for node in values for n in syntax.read_names(node)}
    if "i" not in read:
        return "i"
    name, counter = "step_index", 1
    while name in read or name in ctx.names_in_use:
        counter += 1
        name = f"step_index_{counter}"
    return name


def _assign(name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=value)])

