"""Issue 10, "silent-wrong classes": constructs the tool once converted with no finding while
training changed. Each variant runs the real torch program and either the tool's MindSpore code
(it must then train the same: same lr at every optimizer step, same parameters, same decay) or
checks that the tool refused it with an error finding at the construct.

Classes covered here (the others are golden fixtures, see the report of issue 10):
1. scheduler.step(arg)                  5. loop-analysis gaps
2. "unfreeze everything" loops          6. moving the optimizer down
7. param_groups written in a helper
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pytest

pytest.importorskip("numpy", reason="the equivalence tier needs the 'equivalence' extra (numpy, torch, mindspore)")
from ms_migrate.core.options import Options

from . import harness as H

# The stepping, placement and param_groups analyses of the mindspore.nn list path: --target nn
# (auto keeps torch's stepping with mindspore.experimental where nn cannot be exact).
NN = Options(target="nn")
from .test_schedulers import differences, mindspore_lrs, real_torch_lrs, show

pytestmark = [
    pytest.mark.equivalence,
    pytest.mark.filterwarnings("ignore:The epoch parameter in `scheduler.step\\(\\)`:UserWarning"),
    pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"),
]


@dataclass
class Variant:
    id: str
    src: str
    expect: str  # "exact" | "flagged" (an error finding with one of `codes`)
    codes: Sequence[str] = ("MSM401",)
    at: str = "scheduler = "  # when flagged: a finding must sit on the first line holding this


def check(variant: Variant):
    result = H.migrate(variant.src, options=NN)
    show(variant.id, result)
    assert not result.error, result.error
    flagged = [f for f in result.findings if f.code in variant.codes and f.severity == "error"]
    real = real_torch_lrs(variant.src)  # the torch program runs (and is valid torch)
    assert len(real) >= 6, len(real)
    if variant.expect == "flagged":
        assert flagged, "silently converted: no " + "/".join(variant.codes) + " error finding"
        line = next(i for i, text in enumerate(variant.src.splitlines(), 1) if variant.at in text)
        assert line in {f.line for f in flagged}, (line, [(f.code, f.line) for f in flagged])
        return result
    assert not flagged, "refused: " + "; ".join(f.message for f in flagged)
    ms = mindspore_lrs(result.code, len(real))
    print("torch     lrs:", [round(r[0], 9) for r in real])
    print("MindSpore lrs:", [round(r[0], 9) for r in ms])
    diff = differences(real, ms)
    assert not diff, f"{len(diff)} of {len(real)} steps differ: " + "; ".join(diff[:6])
    return result


def _param(v: Variant):
    return pytest.param(v, id=v.id)


def per_epoch(scheduler: str, step: str, *, loop: str = "range(epochs)", at_start: bool = False,
              head: str = "") -> str:
    batch = "    for batch in train_loader:\n        optimizer.step()\n"
    step_line = f"    scheduler.step({step})\n"
    body = step_line + batch if at_start else batch + step_line
    return (f"import torch\n{head}train_loader = list(range(3))\nepochs = 7\n"
            f"optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)\n"
            f"scheduler = torch.optim.lr_scheduler.{scheduler}\n"
            f"for epoch in {loop}:\n{body}")


def per_batch(scheduler: str, step: str, *, head: str = "iters = len(train_loader)\n",
              enumerate_: str = "enumerate(train_loader)", guard: str = "") -> str:
    update = "        optimizer.step()\n" if not guard else f"        if {guard}:\n            optimizer.step()\n"
    return (f"import torch\ntrain_loader = list(range(4))\nepochs = 5\n{head}"
            f"optimizer = torch.optim.SGD(net.parameters(), lr=0.1)\n"
            f"scheduler = torch.optim.lr_scheduler.{scheduler}\n"
            f"for epoch in range(epochs):\n    for i, batch in {enumerate_}:\n{update}"
            f"        scheduler.step({step})\n")


CAWR = "CosineAnnealingWarmRestarts(optimizer, T_0=2)"

# ---- class 1: scheduler.step(arg) ------------------------------------------------------------
STEP_ARGUMENT = [
    # the reproducer: torch keeps 0.1 for epochs 0-2 (step(e) sets f(e) for epoch e + 1)
    Variant("StepLR-step(epoch)-end-of-epoch", per_epoch("StepLR(optimizer, 2, 0.5)", "epoch"), "exact"),
    Variant("MultiStepLR-step(epoch + 1)-is-the-plain-schedule",
            per_epoch("MultiStepLR(optimizer, [2, 5], 0.1)", "epoch + 1"), "exact"),
    Variant("CosineAnnealingLR-step(epoch)-range-1-to-epochs+1",
            per_epoch("CosineAnnealingLR(optimizer, T_max=4, eta_min=0.01)", "epoch", loop="range(1, epochs + 1)"),
            "exact"),
    Variant("ExponentialLR-step(epoch)-start-of-epoch",
            per_epoch("ExponentialLR(optimizer, 0.8)", "epoch", at_start=True), "exact"),
    Variant("LambdaLR-step(epoch + 2)-end-of-epoch",
            per_epoch("LambdaLR(optimizer, lambda e: 1 / (e + 1))", "epoch + 2"), "exact"),
    Variant("StepLR-step(epoch)-range-from-a-variable-start",
            per_epoch("StepLR(optimizer, 3, 0.5)", "epoch", loop="range(start_epoch, epochs)",
                      head="start_epoch = 2\n"), "exact"),
    Variant("LinearLR-step(epoch=epoch)-keyword",
            per_epoch("LinearLR(optimizer, start_factor=0.2, total_iters=4)", "epoch=epoch"), "exact"),
    Variant("CosineAnnealingWarmRestarts-step(epoch)-per-epoch",
            per_epoch("CosineAnnealingWarmRestarts(optimizer, T_0=3, eta_min=0.001)", "epoch"), "exact"),
    # the documented per-batch form: a smooth cosine over fractional epochs
    Variant("CosineAnnealingWarmRestarts-step(epoch + i / iters)", per_batch(CAWR, "epoch + i / iters"), "exact"),
    Variant("CosineAnnealingWarmRestarts-step(epoch + i / len(loader))-eta_min",
            per_batch("CosineAnnealingWarmRestarts(optimizer, 3, 1, 0.01)", "epoch + i / len(train_loader)",
                      head=""), "exact"),
    Variant("CosineAnnealingWarmRestarts-i / iters + epoch",
            per_batch(CAWR, "i / iters + epoch"), "exact"),
    # the user's values read a name `i`: the list's index is another name, and so is the count
    Variant("LambdaLR-step(epoch)-lambda-reads-a-global-i",
            per_epoch("LambdaLR(optimizer, lambda e: i / (e + 1))", "epoch", head="i = 1.0\n"), "exact"),
    # ... unless the batch loop rebinds that `i`, which the scheduler reads: refused
    Variant("CosineAnnealingWarmRestarts-eta_min-reads-the-loop-rebound-i-is-flagged",
            per_batch("CosineAnnealingWarmRestarts(optimizer, T_0=2, eta_min=i)", "epoch + i / iters",
                      head="iters = len(train_loader)\ni = 0.01\n"), "flagged"),
    Variant("CosineAnnealingWarmRestarts-iters-of-another-loader-is-flagged",
            per_batch(CAWR, "epoch + i / iters", head="val_loader = list(range(3))\niters = len(val_loader)\n"),
            "flagged"),
    Variant("CosineAnnealingWarmRestarts-accumulation-guard-is-flagged",
            per_batch(CAWR, "epoch + i / iters", guard="i % 2 == 0"), "flagged"),
    Variant("CosineAnnealingWarmRestarts-T_mult-2-is-flagged",
            per_batch("CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)", "epoch + i / iters"), "flagged"),
    # found on the way: the element form ignored T_mult (plain step() too)
    Variant("CosineAnnealingWarmRestarts-T_mult-2-plain-step-is-flagged",
            per_epoch("CosineAnnealingWarmRestarts(optimizer, 2, 2)", ""), "flagged"),
    Variant("StepLR-step(metric)-is-flagged",
            per_epoch("StepLR(optimizer, 2, 0.5)", "val_loss", head="val_loss = 0.5\n"), "flagged"),
    Variant("StepLR-step(epoch)-per-batch-is-flagged", per_batch("StepLR(optimizer, 2, 0.5)", "epoch"), "flagged"),
    Variant("MultiplicativeLR-step(epoch)-is-flagged",
            per_epoch("MultiplicativeLR(optimizer, lambda e: 0.9)", "epoch"), "flagged"),
    Variant("StepLR-step(2 * epoch)-is-flagged", per_epoch("StepLR(optimizer, 2, 0.5)", "2 * epoch"), "flagged"),
    Variant("StepLR-step(epoch)-epoch-rebound-is-flagged",
            per_epoch("StepLR(optimizer, 2, 0.5)", "epoch", head="epoch = 0\n"), "flagged"),
]


@pytest.mark.parametrize("variant", [_param(v) for v in STEP_ARGUMENT])
def test_step_argument_is_exact_or_flagged(variant):
    check(variant)


# ---- class 7: param_groups written in a helper the optimizer is passed to --------------------
IMAGENET_HELPER = """
import argparse
import torch


def adjust_learning_rate(optimizer, epoch, args):
    lr = args.lr * (0.1 ** (epoch // 3))
    for param_group in optimizer.param_groups:
        param_group['lr'] = lr


args = argparse.Namespace(lr=0.1, epochs=7)
train_loader = list(range(3))
optimizer = torch.optim.SGD(net.parameters(), args.lr, momentum=0.9, weight_decay=1e-4)
for epoch in range(args.epochs):
    adjust_learning_rate(optimizer, epoch, args)
    for batch in train_loader:
        optimizer.step()
"""
NESTED_HELPER = """
import torch


def set_lr(opt, value):
    opt.param_groups[0]["lr"] = value


def train(loader, optimizer, epoch):
    set_lr(optimizer, 0.05 * (epoch + 1))
    for batch in loader:
        optimizer.step()


train_loader = list(range(3))
optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
for epoch in range(7):
    train(train_loader, optimizer=optimizer, epoch=epoch)
"""


def _drive(code: str, helper: str, call):
    """Run the migrated module up to its loop, then the loop by hand: `call(helper_fn, optimizer,
    epoch)` before each epoch of 3 updates; the lr before every update."""
    twin = H.make_default_twin(0)
    captured = H.run_snippet(code, H.MINDSPORE, twin)
    assert captured.error is None, captured.error
    view = H.make_view(captured, twin)
    fn, ns = captured.namespace[helper], captured.namespace
    lrs = []
    for epoch in range(7):
        call(fn, captured.optimizer, epoch, ns)
        for _ in range(3):
            lrs.append([next(iter(view.current_lr().values()))])
            view.step({})
    return lrs


EXPERIMENTAL_HELPERS = """
import torch


def warm(opt, epoch):
    opt.param_groups[0]['lr'] = 0.01 * (epoch + 1)


def decay(optimizer, factor):
    for g in optimizer.param_groups:
        g['lr'] = g['lr'] * factor


train_loader = list(range(3))
optimizer = torch.optim.AdamW(net.parameters(), lr=0.01)
for epoch in range(7):
    warm(optimizer, epoch)
    decay(optimizer, 0.5)
    decay(optimizer, 0.5)
    for batch in train_loader:
        optimizer.step()
"""


def test_param_groups_helpers_on_an_experimental_optimizer_are_exact():
    """Under auto, AdamW goes to mindspore.experimental.optim, which keeps param_groups but takes
    a written lr only as a Python float: helpers it flows to (one called twice, one writing back a
    value read from the group) are converted with float(...), and the lrs match torch's."""
    result = H.migrate(EXPERIMENTAL_HELPERS)
    show("experimental helpers", result)
    codes = [f.code for f in result.findings]
    assert not result.error and "MSM108" in codes and not [c for c in codes if c.startswith("MSM3")], codes
    real = real_torch_lrs(EXPERIMENTAL_HELPERS)

    def call(fn, opt, epoch, ns):
        fn(opt, epoch)
        ns["decay"](opt, 0.5)
        ns["decay"](opt, 0.5)

    ms = _drive(result.code, "warm", call)
    assert len(real) == 21
    diff = differences(real, ms)
    assert not diff, diff


@pytest.mark.parametrize("src, helper, call", [
    pytest.param(IMAGENET_HELPER, "adjust_learning_rate", lambda fn, opt, e, ns: fn(opt, e, ns["args"]),
                 id="imagenet-adjust_learning_rate"),
    pytest.param(NESTED_HELPER, "set_lr", lambda fn, opt, e, ns: fn(opt, 0.05 * (e + 1)),
                 id="set_lr-called-from-train-by-keyword"),
])
def test_param_groups_helper_is_converted_exactly(src, helper, call):
    result = H.migrate(src, options=NN)
    show(helper, result)
    assert not result.error and "param_groups" not in result.code
    assert not [f for f in result.findings if f.code.startswith("MSM3")]
    real = real_torch_lrs(src)
    ms = _drive(result.code, helper, call)
    assert len(real) == 21
    print("torch     lrs:", [round(r[0], 9) for r in real])
    print("MindSpore lrs:", [round(r[0], 9) for r in ms])
    diff = differences(real, ms)
    assert not diff, diff


# ---- class 2: "unfreeze everything" loops before the optimizer -------------------------------
UNFREEZE = {
    "plain-loop": """
import torch
for p in net.conv.parameters():
    p.requires_grad = False
for p in net.parameters():
    p.requires_grad = True
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
""",
    "requires_grad_-no-argument-and-a-requires_grad-filter": """
import torch
for p in net.parameters():
    p.requires_grad_()
optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, net.parameters()), lr=0.1, weight_decay=1e-3)
""",
    "named-loop-by-name-with-a-variable-flag": """
import torch
train_all = True
for p in net.parameters():
    p.requires_grad = False
for name, param in net.named_parameters():
    if name.startswith("fc") or train_all:
        param.requires_grad = True
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
""",
    "helper-before-the-optimizer-and-groups": """
import torch


def set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad = flag


set_trainable(net, False)
set_trainable(net, True)
optimizer = torch.optim.SGD([{"params": net.fc.parameters(), "lr": 0.01}, {"params": net.bn.parameters()}],
                            lr=0.1, momentum=0.9, weight_decay=1e-4)
""",
    "submodule-holding-the-batchnorm": """
import torch
for p in net.bn.parameters():
    p.requires_grad = True
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-2)
""",
}


@pytest.mark.parametrize("src", [pytest.param(s, id=k) for k, s in UNFREEZE.items()])
def test_unfreeze_loops_keep_moving_statistics_out_of_the_optimizer(src):
    report = H.check_equivalence(src, aspects=("params", "weight_decay", "update"), steps_per_epoch=4)
    show("unfreeze", report.migration)
    print(report.format())
    assert "moving_mean" in report.ms_source  # the loop skips them by name
    assert "MSM203" in {f.code for f in report.findings}
    report.assert_ok()
    held = {n for g in report.mindspore.groups for n in g}
    assert not [n for n in held if "running" in n or "moving" in n], held


# ---- classes 4, 5, 6: names, loop shapes and placement, each run under torch ---------------------
def program(body: str, *, head: str = "", optimizer: str = "torch.optim.SGD(net.parameters(), lr=0.1)",
            scheduler: str = "torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)") -> str:
    return (f"import torch\n{head}train_loader = list(range(3))\nepochs = 7\n"
            f"optimizer = {optimizer}\nscheduler = {scheduler}\n{body.strip()}\n")


TRAIN_HELPER = '''
def train(loader, optimizer):
    for batch in loader:
        optimizer.step()


def validate(loader, optimizer):
    return optimizer.param_groups[0]["lr"]
'''

OTHERS = [
    # class 5: loop-analysis gaps
    Variant("continue-before-the-step", program("""
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
    if epoch < 2:
        continue
    scheduler.step()
"""), "flagged"),
    Variant("continue-before-the-batch-loop", program("""
for epoch in range(epochs):
    if epoch == 1:
        continue
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
"""), "flagged"),
    Variant("if-between-the-epoch-and-batch-loops", program("""
for epoch in range(epochs):
    if epoch % 2 == 0:
        for batch in train_loader:
            optimizer.step()
    scheduler.step()
"""), "flagged"),
    Variant("train-helper-called-twice-per-epoch", program("""
for epoch in range(epochs):
    train(train_loader, optimizer)
    train(train_loader, optimizer)
    scheduler.step()
""", head=TRAIN_HELPER), "flagged"),
    Variant("train-helper-under-a-condition", program("""
for epoch in range(epochs):
    if epoch > 0:
        train(train_loader, optimizer)
    scheduler.step()
""", head=TRAIN_HELPER), "flagged"),
    Variant("train-helper-called-in-a-loop", program("""
for epoch in range(epochs):
    for loader in (train_loader, train_loader):
        train(loader, optimizer)
    scheduler.step()
""", head=TRAIN_HELPER), "flagged"),
    Variant("break-between-optimizer-and-scheduler-step", program("""
for epoch in range(epochs):
    for i, batch in enumerate(train_loader):
        optimizer.step()
        if i == 1:
            break
        scheduler.step()
""", scheduler="torch.optim.lr_scheduler.StepLR(optimizer, 3, 0.5)"), "flagged"),
    Variant("early-stopping-after-the-step-is-exact", program("""
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
    if epoch >= 4:
        break
"""), "exact"),
    Variant("train-and-a-validate-helper-that-does-not-step-is-exact", program("""
for epoch in range(epochs):
    train(train_loader, optimizer)
    validate(train_loader, optimizer)
    scheduler.step()
""", head=TRAIN_HELPER), "exact"),
    Variant("per-iteration-batch-loop-under-an-if-is-exact", program("""
for epoch in range(epochs):
    if epoch % 2 == 0:
        for batch in train_loader:
            optimizer.step()
            scheduler.step()
""", scheduler="torch.optim.lr_scheduler.StepLR(optimizer, 4, 0.5)"), "exact"),
    Variant("per-iteration-continue-before-the-batch-loop-is-exact", program("""
for epoch in range(epochs):
    if epoch == 2:
        continue
    for batch in train_loader:
        optimizer.step()
        scheduler.step()
""", scheduler="torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)"), "exact"),
    # class 6: moving the optimizer down
    Variant("lr-rebound-between-optimizer-and-loader", """
import torch
epochs = 3
lr = 0.1
optimizer = torch.optim.SGD(net.parameters(), lr=lr)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
lr = 0.5
train_loader = list(range(3))
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
        scheduler.step()
""", "flagged"),
    Variant("T_max-rebound-between-scheduler-and-loader", """
import torch
epochs = 7
T = 4
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T)
T = 10
train_loader = list(range(3))
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
""", "flagged"),
    Variant("unrelated-rebinding-moves-exactly", """
import torch
epochs = 3
lr = 0.1
optimizer = torch.optim.SGD(net.parameters(), lr=lr)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
batch_size = 2
train_loader = list(range(3 * batch_size))[::batch_size]
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
        scheduler.step()
""", "exact"),
    # class 6 siblings: the list reads once what torch reads at every step or at construction
    Variant("lambda-free-name-rebound-in-loop", """
import torch
train_loader = list(range(3))
scale = 1.0
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: scale * 0.9 ** e)
for epoch in range(6):
    for batch in train_loader:
        optimizer.step()
    scale = 0.5
    scheduler.step()
""", "flagged"),
    Variant("def-free-name-rebound-after", """
import torch
train_loader = list(range(3))
warm = 2
def factor(e):
    return min(1.0, (e + 1) / warm)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
warm = 4
for epoch in range(6):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
""", "flagged"),
    Variant("groups-appended-between", """
import torch
groups = [{"params": net.conv.parameters()}]
optimizer = torch.optim.SGD(groups, lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
groups.append({"params": net.fc.parameters()})
train_loader = list(range(3))
for epoch in range(6):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
""", "flagged"),
    Variant("lambda-free-name-stable", """
import torch
train_loader = list(range(3))
scale = 1.0
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: scale * 0.9 ** e)
for epoch in range(6):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
""", "exact"),
    # class 4: a rebound optimizer or scheduler name is not the import
    Variant("functools.partial-rebinding-of-the-optimizer", """
import functools
import torch
from torch.optim import SGD
SGD = functools.partial(SGD, momentum=0.9, weight_decay=1e-2)
train_loader = list(range(3))
optimizer = SGD(net.parameters(), lr=0.1)
for epoch in range(3):
    for batch in train_loader:
        optimizer.step()
""", "flagged", codes=("MSM902",), at="optimizer = SGD("),
    Variant("local-def-wrapper-of-the-scheduler", """
import torch
from torch.optim.lr_scheduler import StepLR
train_loader = list(range(3))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)


def StepLR(optimizer, step_size):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)


scheduler = StepLR(optimizer, 2)
for epoch in range(5):
    for batch in train_loader:
        optimizer.step()
    scheduler.step()
""", "flagged", codes=("MSM401", "MSM901"), at="scheduler = StepLR("),
]


@pytest.mark.parametrize("variant", [_param(v) for v in OTHERS])
def test_names_loops_and_placement_are_exact_or_flagged(variant):
    check(variant)


# ---- class 3: requires_grad changed after the optimizer is built ------------------------------
GRADUAL = [
    Variant("gradual-unfreezing-in-the-epoch-loop", """
import torch
train_loader = list(range(3))
for p in net.conv.parameters():
    p.requires_grad = False
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(4):
    if epoch == 2:
        for p in net.conv.parameters():
            p.requires_grad = True
    for batch in train_loader:
        optimizer.step()
""", "flagged", codes=("MSM204",), at="            p.requires_grad = True"),
    Variant("unfreeze-helper-called-in-the-loop", """
import torch


def unfreeze(module):
    module.requires_grad_(True)


train_loader = list(range(3))
net.conv.requires_grad_(False)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(4):
    if epoch == 2:
        unfreeze(net.conv)
    for batch in train_loader:
        optimizer.step()
""", "flagged", codes=("MSM204",), at="module.requires_grad_(True)"),
    Variant("freezing-later-by-name", """
import torch
train_loader = list(range(3))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(4):
    for batch in train_loader:
        optimizer.step()
    if epoch == 1:
        for name, p in net.named_parameters():
            if name.startswith("fc"):
                p.requires_grad = False
""", "flagged", codes=("MSM204",), at="p.requires_grad = False"),
]


@pytest.mark.parametrize("variant", [_param(v) for v in GRADUAL])
def test_requires_grad_after_the_optimizer_is_flagged(variant):
    check(variant)


FROZEN_BEFORE = """
import torch
for p in net.conv.parameters():
    p.requires_grad = False
for name, p in net.named_parameters():
    if name.startswith("bn"):
        p.requires_grad = False
optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, net.parameters()), lr=0.1, momentum=0.9, weight_decay=1e-4)
"""


def test_freezing_before_the_optimizer_is_exact_and_not_flagged():
    report = H.check_equivalence(FROZEN_BEFORE, aspects=("params", "weight_decay", "update"), steps_per_epoch=4)
    show("frozen before", report.migration)
    print(report.format())
    assert not [f for f in report.findings if f.code in ("MSM203", "MSM204")]
    report.assert_ok()
    held = {n for g in report.mindspore.groups for n in g}
    assert "conv.weight" not in held and "bn.weight" not in held and "fc.weight" in held, held
