"""`ms-migrate explain CODE`: what a finding means, a before/after, and what to do.

Every finding code the tool has carries an entry here (tests/test_explain.py checks it); rule
codes (MSM100, ...) explain the rule from its docstring."""

from __future__ import annotations

import inspect
from typing import Dict, Optional, Tuple

# code -> (before, after, what to do). `after` is what ms-migrate writes (or leaves).
EXPLANATIONS: Dict[str, Tuple[str, str, str]] = {
    "MSM001": (
        "def f(:\n    pass",
        "(unchanged)",
        "Fix the syntax error (the file does not run either), then run ms-migrate again.",
    ),
    "MSM002": (
        "(any file)",
        "(unchanged)",
        "ms-migrate failed on this file and left it untouched. Report it with the message and, "
        "if you can, the file; the rest of the run is not affected.",
    ),
    "MSM003": (
        "(a file without read or write permission)",
        "(unchanged)",
        "Make the file readable (and writable, for an in-place run), then run again.",
    ),
    "MSM004": (
        "# ms-migrate: ignore[MSM101]\nx = 1",
        "(unchanged)",
        "The suppression silences nothing on its line or the next: delete it (or fix its codes).",
    ),
    "MSM010": (
        "(a generated module of several megabytes that imports torch.optim)",
        "(unchanged)",
        "Migrate it with a higher limit (--max-file-size BYTES, 0: none, or max-file-size in "
        "[tool.ms-migrate]); LibCST needs about 1 GB of memory per MB of source.",
    ),
    "MSM011": (
        "(a FIFO, socket or device named x.py)",
        "(not read)",
        "Nothing to do if it is not Python source; exclude it (--exclude) to silence the finding.",
    ),
    "MSM012": (
        "(a file whose bytes LibCST does not reproduce around an edited statement)",
        "(unchanged)",
        "Migrate the file by hand or remove the unusual bytes (form feeds, stray carriage "
        "returns) near the torch code, and please report the file.",
    ),
    "MSM013": (
        "proj/shared.py -> ../../common/shared.py (a symbolic link found in a folder)",
        "(the link and its target unchanged)",
        "Name the link or its target as a PATH to migrate the file it points to, or exclude it.",
    ),
    "MSM014": (
        "if a == 0:\n    pass\nelif a == 1:\n    pass\n... (thousands of elif, or an expression nested "
        "thousands deep)",
        "(unchanged)",
        "Split the deepest if/elif chain or expression (a dict of handlers, a loop over terms), "
        "then run ms-migrate again.",
    ),
    "MSM101": (
        "optimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)",
        "optimizer = nn.Adam([{'params': model.trainable_params()}], learning_rate=1e-3, weight_decay=1e-4)",
        "The MindSpore optimizer updates differently (the message says how, e.g. where eps enters). "
        "Use the exact alternative the message names, or accept the difference; then delete the "
        "marker. Under --target nn this also covers AdamW, RMSprop, Adam and Adagrad, which "
        "--target auto writes exactly with mindspore.experimental.optim.",
    ),
    "MSM102": (
        "optimizer = optim.LBFGS(model.parameters())",
        "optimizer = optim.LBFGS(model.parameters())  (left as it is)",
        "MindSpore has no counterpart on any target: port the optimizer by hand (or use the "
        "alternative the message names), then delete the marker.",
    ),
    "MSM108": (
        "optimizer = optim.AdamW(model.parameters(), lr=1e-3)",
        "from mindspore.experimental import optim as ms_optim\n"
        "optimizer = ms_optim.AdamW(model.trainable_params(), lr=1e-3)",
        "Information only: mindspore.nn cannot reproduce this optimizer (the message says why), so "
        "the exact mindspore.experimental.optim class was written, keeping torch's structure "
        "(scheduler.step(), param_groups). Use --target nn to get mindspore.nn with a warning instead.",
    ),
    "MSM109": (
        "optimizer = optim.SGD(model.parameters(), lr=0.1)\n"
        "scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=n)  # n unknown",
        "(the optimizer and its schedulers left in torch)",
        "One of the optimizer's uses (a scheduler, a param_groups write) has no exact form on any "
        "MindSpore API, so nothing of it was migrated rather than half of it. The message names the "
        "use: rewrite it (e.g. give the schedule's length), then run ms-migrate again.",
    ),
    "MSM103": (
        "optim.SGD(params, lr=0.1, foreach=flag)",
        "nn.SGD(params, learning_rate=0.1)",
        "An argument with no MindSpore counterpart was dropped and may change training: check "
        "that the default behaviour is what you want, then delete the marker.",
    ),
    "MSM104": (
        "optim.SGD(params, **opt_kwargs)",
        "nn.SGD(params, **opt_kwargs)",
        "Arguments passed through *args/**kwargs keep their torch names (lr, betas, ...): rename "
        "them to MindSpore's (learning_rate, beta1/beta2, ...) where they are built.",
    ),
    "MSM105": (
        "optim.Adam(get_params(model), weight_decay=1e-4)",
        "nn.Adam(get_params(model), weight_decay=1e-4)",
        "Ungrouped MindSpore optimizers skip weight decay on parameters whose name holds 'beta' "
        "or 'gamma'. Pass the parameters as one group ([{'params': ...}]) to decay them all.",
    ),
    "MSM106": (
        "optimizer.zero_grad()\nloss.backward()\noptimizer.step()",
        "(unchanged)",
        "MindSpore computes gradients with mindspore.value_and_grad and applies them with "
        "optimizer(grads); rewrite the training step (see the docs link).",
    ),
    "MSM107": (
        "optim.SGD(params, lr=0.1, momentun=0.9)",
        "(unchanged)",
        "torch itself would reject this argument: fix the call (a typo?), then run again.",
    ),
    "MSM201": (
        "[p for n, p in model.named_parameters() if 'bias' not in n]",
        "list(filter(lambda x: 'bias' not in x.name, model.trainable_params()))",
        "In torch 'bias'/'weight' also match norm layers, whose MindSpore names are beta/gamma: "
        "check which parameters the filter should select and add the MindSpore names.",
    ),
    "MSM202": (
        "for name, p in model.named_parameters(): ...",
        "for name, p in model.parameters_and_names(): ...",
        "parameters_and_names() also yields BatchNorm moving statistics: skip them (they are not "
        "trainable) if the loop must see exactly torch's parameters.",
    ),
    "MSM203": (
        "for p in model.parameters():\n    p.requires_grad = True",
        "for p in filter(lambda p: not p.name.endswith((\"moving_mean\", \"moving_variance\")), "
        "model.get_parameters()):\n    p.requires_grad = True",
        "MindSpore keeps BatchNorm's moving statistics as parameters; an unfreeze loop must skip them "
        "or they reach the optimizer. Other torch buffers ported as parameters need the same guard.",
    ),
    "MSM204": (
        "optimizer = optim.SGD(model.parameters(), lr=0.1)\n...\nfor p in model.backbone.parameters():\n"
        "    p.requires_grad = True  # at epoch k",
        "(flagged: trainable_params() snapshots the parameters trainable at construction)",
        "torch trains parameters unfrozen after the optimizer was built; a MindSpore optimizer keeps "
        "the list it was given. Build the optimizer over every parameter that will ever train, or "
        "rebuild it after unfreezing.",
    ),
    "MSM301": (
        "optim.SGD([{'params': a, 'momentum': 0.9}, {'params': b, 'momentum': 0.5}], lr=0.1)",
        "(the key is left; MindSpore raises KeyError at construction)",
        "mindspore.nn optimizers accept only params, lr, weight_decay, grad_centralization and "
        "order_params in a group: split into separate optimizers or use one value for all groups.",
    ),
    "MSM302": (
        "optim.SGD([{'params': a, **extra}], lr=0.1)",
        "nn.SGD([{'params': a, **extra}], learning_rate=0.1)",
        "The spread group keys could not be checked: make sure they are keys MindSpore accepts. "
        "Under the experimental target (or auto choosing it), MSM302 also marks an optimizer some "
        "of whose groups the tool cannot see (built in a helper, spread, non-literal keys): the "
        "experimental form is exact only if no group sets the keys the message names (e.g. "
        "weight_decay for torch Adam written as experimental AdamW(weight_decay=0.0), maximize or "
        "decoupled_weight_decay, which experimental NAdam/RAdam ignore); check the groups.",
    ),
    "MSM303": (
        "for g in optimizer.param_groups: g['momentum'] = 0.5",
        "(unchanged)",
        "MindSpore optimizers have no param_groups: read the lr with optimizer.get_lr() and "
        "change hyper-parameters through the optimizer's Parameters (ops.assign).",
    ),
    "MSM304": (
        "optimizer.add_param_group({'params': head.parameters()})  # later, conditionally",
        "(unchanged)",
        "Groups must be given at construction in MindSpore (mindspore.nn has no add_param_group; "
        "mindspore.experimental.optim's raises at the first step, measured), so the tool folds "
        "the call into the constructor when nothing between them uses the optimizer or what the "
        "group reads. Otherwise (a step, a scheduler or a param_groups read first, a condition, a "
        "helper) build the full group list before the optimizer.",
    ),
    "MSM401": (
        "scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer)",
        "(unchanged)",
        "The schedule cannot be precomputed from the code: the message names what blocks it "
        "(and its line) and what to supply. Build the per-step lr list by hand (see the docs "
        "link) or restructure the code as the message says, then run again.",
    ),
    "MSM402": (
        "torch.save(scheduler.state_dict(), path)",
        "(unchanged)",
        "The scheduler was converted into an lr list and no longer exists: remove or replace "
        "this use (the step count lives in the optimizer's global_step). On an experimental "
        "scheduler (mindspore.experimental.optim.lr_scheduler), state_dict() and "
        "load_state_dict() do not exist (AttributeError, measured): save what the schedule needs "
        "(e.g. the epoch reached) and step a new scheduler to it after loading.",
    ),
    "MSM403": (
        "optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=100)",
        "lr list for OneCycleLR (momentum stays fixed)",
        "torch also cycles momentum/beta1; MindSpore keeps it fixed. Pass cycle_momentum=False "
        "in torch to compare, or accept the difference.",
    ),
    "MSM404": (
        "scheduler.step() per batch, steps per epoch from len(train_loader)",
        "lr_schedule = [...] built from len(train_loader)",
        "The list rests on an assumption the message states (e.g. every epoch has "
        "len(train_loader) steps): check it holds, then delete the marker.",
    ),
    "MSM501": (
        "optimizer.zero_grad()\nloss = criterion(model(x), y)\n(loss + aux).backward()\n"
        "loss.backward()\noptimizer.step()",
        "(the step left as torch code, flagged at the step)",
        "The step has a shape ms-migrate cannot prove it converts exactly (the message names what "
        "blocks it: two backwards, a closure that does more than zero_grad/loss/backward/return loss, "
        "create_graph, autocast, a GradScaler enabled only at run time, a framework's backward...). "
        "Write forward_fn, grad_fn = mindspore.value_and_grad(forward_fn, None, "
        "optimizer.parameters) and optimizer(grads) by hand, then delete the marker.",
    ),
    "MSM502": (
        "grads = torch.autograd.grad(loss, model.parameters())",
        "(left as it is)",
        "A gradient call outside any optimizer step (autograd.grad, accelerator.backward, "
        "Lightning's manual_backward, a wrapper that takes the optimizer): port it to "
        "mindspore.grad / value_and_grad by hand.",
    ),
    "MSM503": (
        "for x, y in loader:\n    loss, grads = grad_fn(x, y)\n    optimizer(grads)",
        "(unchanged; add model.set_train(True) before the loop)",
        "MindSpore cells start in inference mode, torch modules in training mode: without a "
        "set_train(True) call, Dropout and BatchNorm behave as in evaluation. Call "
        "model.set_train(True) before training.",
    ),
    "MSM901": (
        "sched_cls = torch.optim.lr_scheduler.StepLR",
        "(unchanged)",
        "A scheduler name used in a way no rule converts: construct it directly "
        "(scheduler = StepLR(optimizer, ...)) so ms-migrate can convert it, or port it by hand.",
    ),
    "MSM902": (
        "isinstance(opt, torch.optim.Optimizer)",
        "(unchanged)",
        "A torch.optim name no rule converts: port it by hand (mindspore.nn.Optimizer for type "
        "checks), then run again.",
    ),
}


def explain(code: str) -> Optional[str]:
    from ms_migrate.rules.registry import RULES, all_checks

    code = code.strip().upper()
    for rule in RULES:
        if rule.code == code:
            doc = inspect.cleandoc(rule.__doc__ or "")
            codes = ", ".join(c.code for c in rule.checks)
            return f"{rule.code} {rule.name}: {rule.summary}\n\n{doc}\n\nFindings: {codes}\nDocs: {rule.url}"
    if code == "MSM000":
        from ms_migrate.core.engine_checks import ENGINE_CHECKS

        listed = "\n".join(f"    {c.code} {c.name} ({c.severity}): {c.summary}" for c in ENGINE_CHECKS)
        return f"MSM000 engine: parsing, reading and internal errors, and unused suppressions.\n\n{listed}"
    checks = all_checks()
    if code not in checks:
        return None
    check, rule_code = checks[code]
    before, after, todo = EXPLANATIONS.get(code, ("", "", check.summary))
    parts = [f"{check.code} {check.name} ({check.severity}, rule {rule_code})", "", check.summary]
    if before:
        parts += ["", "Before:", _indent(before), "", "After (what ms-migrate writes):", _indent(after)]
    parts += ["", "What to do:", _indent(todo)]
    if check.severity != "info":
        parts += ["", f"In-place runs write `# ms-migrate: {check.code} ...` above the line; every run "
                  "reports it until you delete that marker (or silence it with "
                  f"`# ms-migrate: ignore[{check.code}]`)."]
    if check.url:
        parts += ["", f"Docs: {check.url}"]
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
