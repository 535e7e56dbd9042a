"""The scheduler rule (MSM400) against torch: the tool's per-step learning-rate lists must equal
the lr torch uses at every optimizer step.

Every case is a small torch training script. It is checked three ways, the MindSpore side always
being the TOOL's migration (``ms_migrate.core.engine.migrate_source``), never a hand-copied expected output:

1. the real torch run: the whole torch snippet is executed, loops included (the batch loops only
   call ``optimizer.zero_grad()``/``optimizer.step()``; the twin network has no gradients, so
   nothing trains), and a global optimizer step pre-hook records every group's lr just before each
   ``optimizer.step()``. This is the ground truth: it follows the snippet's own loops, its
   gradient-accumulation guard, its helper function (mnist layout), whatever they are;
2. the equivalence harness (``harness.check_equivalence``): the torch side is stepped
   ``epochs x updates-per-epoch`` times with the captured scheduler stepped per epoch or per
   iteration (``scheduler_step="auto"``, asserted to infer the right style), and the MindSpore
   side (the migrated code run up to its training loop) reports ``optimizer.get_lr()`` before
   each step, i.e. the list element at ``global_step``. The harness's torch trace must equal the
   real run (so the harness plan really is the snippet's loop), and the harness must report no
   mismatch (lr per parameter, 1e-6 relative; the parameter groups; for SGD also the updates);
3. element-wise, per parameter group: the MindSpore lr at optimizer step i equals the real torch
   lr at step i, 1e-6 relative (MindSpore keeps the list as float32).

The tool's output and findings are printed for every case (``pytest -s`` shows them).

transformers / diffusers: they are not installed here (checked with ``import transformers`` in
``_transformers_module``). The torch side of those cases then imports a stand-in ``transformers``
module, injected into ``sys.modules`` for the duration of the test only, whose
``get_linear_schedule_with_warmup`` / ``get_cosine_schedule_with_warmup`` / ``get_scheduler``
build ``torch.optim.lr_scheduler.LambdaLR`` with the exact lr_lambda formulas of
transformers/optimization.py (v4.x; also reachable as ``transformers.optimization``). The
migrated MindSpore code still carries the (now unused) ``from transformers import ...`` line, so
it imports the stand-in too; the stand-in records every call and the test asserts it was only
ever called with a torch optimizer: the MindSpore side never uses it
(``test_migrated_factory_code_runs_without_transformers`` is the strict xfail for that leftover
import).

Last two sections: loop variants around the documented layouts (legacy order,
``enumerate(.., 1)``, ``break``, two schedulers on one optimizer, ...), and the composite/cyclic
schedulers (SequentialLR, ChainedScheduler, OneCycleLR, CyclicLR), which the harness cannot
drive on the torch side (see there). The reference is the real torch run alone, the MindSpore
side the tool's code run directly; the tool must be exact or refuse with an MSM4xx error finding.

A silent difference (no MSM4xx finding) is a strict xfail whose reason gives the numbers; the
tests are never loosened to pass.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import math
import sys
import types
from dataclasses import dataclass
from typing import List, Sequence

import pytest

pytest.importorskip("numpy", reason="the equivalence tier needs the 'equivalence' extra (numpy, torch, mindspore)")
from . import harness as H

from ms_migrate.core.options import Options

NN = Options(target="nn")  # these tests prove the mindspore.nn list path (--target nn)
from .seeds import seed

pytestmark = [
    pytest.mark.equivalence,
    # the legacy-order variants call scheduler.step() before optimizer.step() on purpose
    pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"),
]

RTOL = 1e-6  # == harness.LR_RTOL
ABS = 1e-12  # lrs that are zero up to rounding (cosine at T_max, polynomial at the end)

E, S = 7, 3  # per-epoch cases: 7 epochs x 3 optimizer steps
IE, IS = 3, 7  # per-iteration cases: 21 optimizer steps, past every milestone/T_max/warmup below


# ---------------------------------------------------------------------------------------------
# Snippets
# ---------------------------------------------------------------------------------------------

SGD = "torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)"
SGD_PLAIN = "torch.optim.SGD(net.parameters(), lr=0.05)"

PER_EPOCH_LOOP = """
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.zero_grad()
        optimizer.step()
    scheduler.step()
"""
PER_ITERATION_LOOP = """
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        optimizer.zero_grad()
        optimizer.step()
        scheduler.step()
"""


def loop_snippet(scheduler: str, style: str, *, epochs: int, steps: int, optimizer: str = SGD,
                 head: str = "", imports: str = "import torch\n") -> str:
    loop = PER_EPOCH_LOOP if style == "epoch" else PER_ITERATION_LOOP
    return (f"{imports}{head}\n"
            f"train_loader = list(range({steps}))\n"
            f"epochs = {epochs}\n"
            f"optimizer = {optimizer}\n"
            f"scheduler = {scheduler}\n"
            f"{loop}")


DEF_PER_EPOCH = '''
def lr_factor(epoch):
    """a step schedule written as a function"""
    if epoch < 2:
        return 1.0
    return 0.5 ** (epoch - 1) if epoch < 5 else 0.05
'''
DEF_PER_ITERATION = '''
def warmup(step):
    return min(1.0, (step + 1) / 10)
'''
YOLO_LF = """
import math
lf = lambda x: ((1 - math.cos(x * math.pi / epochs)) / 2) * (0.01 - 1) + 1
"""

LRS = "torch.optim.lr_scheduler"
# id -> (scheduler expression, extra source before the loader). Arguments in epochs.
PER_EPOCH = {
    "StepLR": (f"{LRS}.StepLR(optimizer, step_size=2, gamma=0.5)", ""),
    "StepLR-positional-default-gamma": (f"{LRS}.StepLR(optimizer, 3)", ""),
    "MultiStepLR": (f"{LRS}.MultiStepLR(optimizer, milestones=[2, 5], gamma=0.1)", ""),
    "MultiStepLR-repeated-milestone": (f"{LRS}.MultiStepLR(optimizer, [2, 2, 5], 0.5)", ""),
    "ExponentialLR": (f"{LRS}.ExponentialLR(optimizer, gamma=0.9)", ""),
    "CosineAnnealingLR-past-T_max": (f"{LRS}.CosineAnnealingLR(optimizer, T_max=4, eta_min=0.001)", ""),
    "CosineAnnealingLR-full-period": (f"{LRS}.CosineAnnealingLR(optimizer, 3)", ""),
    "CosineAnnealingWarmRestarts-T_mult=1": (
        f"{LRS}.CosineAnnealingWarmRestarts(optimizer, T_0=3, T_mult=1, eta_min=0.01)", ""),
    "CosineAnnealingWarmRestarts-defaults": (f"{LRS}.CosineAnnealingWarmRestarts(optimizer, 2)", ""),
    "PolynomialLR": (f"{LRS}.PolynomialLR(optimizer, total_iters=4, power=2.0)", ""),
    "PolynomialLR-defaults": (f"{LRS}.PolynomialLR(optimizer)", ""),
    "LinearLR-warmup": (f"{LRS}.LinearLR(optimizer, start_factor=0.1, total_iters=3)", ""),
    "LinearLR-decay": (f"{LRS}.LinearLR(optimizer, start_factor=1.0, end_factor=0.2, total_iters=4)", ""),
    "LinearLR-defaults": (f"{LRS}.LinearLR(optimizer)", ""),
    "ConstantLR": (f"{LRS}.ConstantLR(optimizer, factor=0.5, total_iters=2)", ""),
    "ConstantLR-defaults": (f"{LRS}.ConstantLR(optimizer)", ""),
    "LambdaLR-inline-lambda": (f"{LRS}.LambdaLR(optimizer, lr_lambda=lambda epoch: 0.95 ** epoch)", ""),
    "LambdaLR-def-function": (f"{LRS}.LambdaLR(optimizer, lr_lambda=lr_factor)", DEF_PER_EPOCH),
    "LambdaLR-named-lambda-yolo": (f"{LRS}.LambdaLR(optimizer, lr_lambda=lf)", YOLO_LF),
    "MultiplicativeLR-constant": (f"{LRS}.MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.9)", ""),
}
# Arguments in optimizer steps (21 in all).
PER_ITERATION = {
    "StepLR": (f"{LRS}.StepLR(optimizer, step_size=4, gamma=0.5)", ""),
    "MultiStepLR": (f"{LRS}.MultiStepLR(optimizer, milestones=[5, 12], gamma=0.1)", ""),
    "ExponentialLR": (f"{LRS}.ExponentialLR(optimizer, 0.9)", ""),
    "CosineAnnealingLR-past-T_max": (f"{LRS}.CosineAnnealingLR(optimizer, T_max=8)", ""),
    "CosineAnnealingWarmRestarts-T_mult=1": (
        f"{LRS}.CosineAnnealingWarmRestarts(optimizer, 6, 1, 0.005)", ""),
    "PolynomialLR": (f"{LRS}.PolynomialLR(optimizer, total_iters=10, power=2.0)", ""),
    "LinearLR": (f"{LRS}.LinearLR(optimizer, start_factor=0.1, total_iters=8)", ""),
    "ConstantLR": (f"{LRS}.ConstantLR(optimizer, factor=0.5, total_iters=5)", ""),
    "LambdaLR-inline-lambda": (f"{LRS}.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 10))", ""),
    "LambdaLR-def-function": (f"{LRS}.LambdaLR(optimizer, warmup)", DEF_PER_ITERATION),
    "MultiplicativeLR-constant": (f"{LRS}.MultiplicativeLR(optimizer, lambda step: 0.95)", ""),
}
CLASSES = ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "PolynomialLR", "LinearLR", "ConstantLR", "LambdaLR", "MultiplicativeLR")


@dataclass
class Case:
    id: str
    src: str
    epochs: int
    updates_per_epoch: int  # optimizer updates per epoch (not batches)
    style: str  # how often scheduler.step() runs: "epoch" | "iteration"
    aspects: Sequence[str] = ("params", "lr", "update")
    scheduler: str = "scheduler"  # the scheduler's variable in the snippet
    xfail: str = ""  # a tool bug: the precise difference (strict xfail)


def _class_cases() -> List[Case]:
    out = []
    for style, table, epochs, steps in (("epoch", PER_EPOCH, E, S), ("iteration", PER_ITERATION, IE, IS)):
        for name, (scheduler, head) in table.items():
            optimizer = SGD if style == "epoch" else SGD_PLAIN
            src = loop_snippet(scheduler, style, epochs=epochs, steps=steps, head=head, optimizer=optimizer)
            out.append(Case(f"{name}-per-{style}", src, epochs, steps, style))
    return out


CLASS_CASES = _class_cases()


def test_every_converted_class_is_covered_in_both_styles():
    for style in ("epoch", "iteration"):
        covered = {c.id.split("-")[0] for c in CLASS_CASES if c.style == style}
        assert covered == set(CLASSES), (style, sorted(set(CLASSES) - covered))


ACCUMULATION_PLUS_ONE = """
import torch
accum = 2
train_loader = list(range(7))  # 7 batches -> 3 optimizer updates per epoch
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 10))
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        if (step + 1) % accum == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
"""
ACCUMULATION_PLAIN = """
import torch
accum = 3
train_loader = list(range(7))  # updates at batches 0, 3, 6 -> 3 per epoch
epochs = 4
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        if step % accum == 0:
            optimizer.step()
            scheduler.step()
"""
ACCUMULATION_PER_EPOCH = """
import torch
accum = 4
train_loader = list(range(9))  # 9 batches -> 2 optimizer updates per epoch
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 5], gamma=0.1)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        if (step + 1) % accum == 0:
            optimizer.step()
            optimizer.zero_grad()
    scheduler.step()
"""
MNIST_LAYOUT = """
import argparse
import torch
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR


def train(args, model, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, data in enumerate(train_loader):
        optimizer.zero_grad()
        optimizer.step()


args = argparse.Namespace(lr=1.0, gamma=0.7, epochs=7)
train_loader = list(range(3))
optimizer = optim.Adadelta(net.parameters(), lr=args.lr)
scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
for epoch in range(1, args.epochs + 1):
    train(args, net, train_loader, optimizer, epoch)
    scheduler.step()
"""
OPTIMIZER_BEFORE_LOADER = """
import torch
from torch import optim
epochs = 7
dataset = list(range(6))
optimizer = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * 2)
loader = torch.utils.data.DataLoader(dataset, batch_size=2)  # 3 batches
for epoch in range(epochs):
    for x in loader:
        optimizer.zero_grad()
        optimizer.step()
        scheduler.step()
    print(epoch, scheduler.get_last_lr())
"""
OPTIMIZER_BEFORE_LOADER_PER_EPOCH = """
import torch
from torch import optim
epochs = 7
optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
scheduler = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)
dataset = list(range(5))
loader = torch.utils.data.DataLoader(dataset, batch_size=2)  # 3 batches, the last one short
for epoch in range(epochs):
    for x in loader:
        optimizer.zero_grad()
        optimizer.step()
    scheduler.step()
"""
GROUPS_DEFAULT_LR = """
import torch
train_loader = list(range(3))
epochs = 7
optimizer = torch.optim.SGD(
    [{"params": net.fc.parameters(), "lr": 0.01}, {"params": net.conv.parameters()}],
    lr=0.1,
    momentum=0.9,
)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 5], gamma=0.1)
for epoch in range(epochs):
    for images in train_loader:
        optimizer.zero_grad()
        optimizer.step()
    scheduler.step()
"""
GROUPS_ALL_OWN_LR_PER_ITERATION = """
import torch
train_loader = list(range(7))
epochs = 3
optimizer = torch.optim.SGD(
    [{"params": net.conv.parameters(), "lr": 0.02},
     {"params": net.fc.parameters(), "lr": 0.005, "weight_decay": 0.0}],
    lr=0.1,
)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [5, 12], 0.5)
for epoch in range(epochs):
    for step, images in enumerate(train_loader):
        optimizer.zero_grad()
        optimizer.step()
        scheduler.step()
"""

LAYOUT_CASES = [
    Case("accumulation-(step+1)%k-LambdaLR-per-iteration", ACCUMULATION_PLUS_ONE, 7, 3, "iteration"),
    Case("accumulation-step%k-StepLR-per-iteration", ACCUMULATION_PLAIN, 4, 3, "iteration"),
    Case("accumulation-(step+1)%k-MultiStepLR-per-epoch", ACCUMULATION_PER_EPOCH, 7, 2, "epoch"),
    # Adadelta: only the lr and the parameters are compared (the update rule is another table's job)
    Case("mnist-layout-StepLR-per-epoch", MNIST_LAYOUT, 7, 3, "epoch", aspects=("params", "lr")),
    Case("optimizer-before-loader-CosineAnnealingLR-per-iteration", OPTIMIZER_BEFORE_LOADER, 7, 3, "iteration"),
    Case("optimizer-before-loader-ExponentialLR-per-epoch", OPTIMIZER_BEFORE_LOADER_PER_EPOCH, 7, 3, "epoch"),
    Case("groups-own-lr-MultiStepLR-per-epoch", GROUPS_DEFAULT_LR, 7, 3, "epoch"),
    Case("groups-all-own-lr-MultiStepLR-per-iteration", GROUPS_ALL_OWN_LR_PER_ITERATION, 3, 7, "iteration"),
]


# ---------------------------------------------------------------------------------------------
# transformers stand-in (torch side only)
# ---------------------------------------------------------------------------------------------

def _linear_lambda(step, *, num_warmup_steps, num_training_steps):
    # transformers/optimization.py _get_linear_schedule_with_warmup_lr_lambda
    if step < num_warmup_steps:
        return float(step) / float(max(1, num_warmup_steps))
    return max(0.0, float(num_training_steps - step) / float(max(1, num_training_steps - num_warmup_steps)))


def _cosine_lambda(step, *, num_warmup_steps, num_training_steps, num_cycles):
    # transformers/optimization.py _get_cosine_schedule_with_warmup_lr_lambda
    if step < num_warmup_steps:
        return float(step) / float(max(1, num_warmup_steps))
    progress = float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def _constant_warmup_lambda(step, *, num_warmup_steps):
    # transformers/optimization.py _get_constant_schedule_with_warmup_lr_lambda
    if step < num_warmup_steps:
        return float(step) / float(max(1.0, num_warmup_steps))
    return 1.0


def make_fake_transformers(calls: list) -> types.ModuleType:
    """A `transformers` stand-in: the factories build torch LambdaLR with transformers' formulas.
    Every call appends the optimizer it was given to `calls`."""
    import torch

    LambdaLR = torch.optim.lr_scheduler.LambdaLR
    fake = types.ModuleType("transformers")
    fake.__doc__ = "test stand-in for transformers (tests/equivalence/test_schedulers.py)"

    def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, last_epoch=-1):
        calls.append(optimizer)
        fn = functools.partial(_linear_lambda, num_warmup_steps=num_warmup_steps,
                               num_training_steps=num_training_steps)
        return LambdaLR(optimizer, fn, last_epoch)

    def get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, num_cycles=0.5,
                                        last_epoch=-1):
        calls.append(optimizer)
        fn = functools.partial(_cosine_lambda, num_warmup_steps=num_warmup_steps,
                               num_training_steps=num_training_steps, num_cycles=num_cycles)
        return LambdaLR(optimizer, fn, last_epoch)

    def get_constant_schedule_with_warmup(optimizer, num_warmup_steps, last_epoch=-1):
        calls.append(optimizer)
        fn = functools.partial(_constant_warmup_lambda, num_warmup_steps=num_warmup_steps)
        return LambdaLR(optimizer, fn, last_epoch)

    def get_scheduler(name, optimizer, num_warmup_steps=None, num_training_steps=None, scheduler_specific_kwargs=None):
        factories = {"linear": get_linear_schedule_with_warmup, "cosine": get_cosine_schedule_with_warmup}
        if name == "constant_with_warmup":
            return get_constant_schedule_with_warmup(optimizer, num_warmup_steps=num_warmup_steps)
        return factories[name](optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)

    fake.optimization = types.ModuleType("transformers.optimization")
    for fn in (get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup,
               get_constant_schedule_with_warmup, get_scheduler):
        setattr(fake, fn.__name__, fn)
        setattr(fake.optimization, fn.__name__, fn)
    return fake


def _transformers_module():
    try:
        import transformers  # noqa: F401
        return transformers
    except ImportError:
        return None


@pytest.fixture
def transformers_for_torch(monkeypatch):
    """The real transformers if installed; else the stand-in, put into sys.modules for this test
    only. Yields the list of optimizers the stand-in was called with (None: real transformers)."""
    if _transformers_module() is not None:
        yield None
        return
    calls: list = []
    fake = make_fake_transformers(calls)
    monkeypatch.setitem(sys.modules, "transformers", fake)
    monkeypatch.setitem(sys.modules, "transformers.optimization", fake.optimization)
    yield calls


HF_LOOP = """
for epoch in range(epochs):
    for step, batch in enumerate(train_dataloader):
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()
"""
HF_LINEAR = """
import torch
from transformers import get_linear_schedule_with_warmup
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.AdamW(net.parameters(), lr=5e-4)
lr_scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=4, num_training_steps=18)
""" + HF_LOOP  # 21 steps: warm-up 0..3, decay to 0 at step 18, then 0 (max(0.0, ...))
HF_COSINE = """
import torch
from transformers import get_cosine_schedule_with_warmup
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
lr_scheduler = get_cosine_schedule_with_warmup(optimizer, 5, epochs * len(train_dataloader))
""" + HF_LOOP
HF_COSINE_CYCLES = """
import torch
from transformers import get_cosine_schedule_with_warmup
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
lr_scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=3, num_training_steps=21, num_cycles=1.5)
""" + HF_LOOP
HF_BY_NAME = """
import torch
from transformers import get_scheduler
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=6, num_training_steps=21)
""" + HF_LOOP
HF_BY_NAME_CONSTANT_WARMUP = HF_BY_NAME.replace('"linear"', '"constant_with_warmup"').replace(
    ", num_training_steps=21", "")

HF_MODULE_ATTRIBUTE = """
import torch
import transformers
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
lr_scheduler = transformers.get_linear_schedule_with_warmup(optimizer, 2, 21)
""" + HF_LOOP
HF_OPTIMIZATION_MODULE = """
import torch
from transformers.optimization import get_cosine_schedule_with_warmup
train_dataloader = list(range(7))
epochs = 3
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
lr_scheduler = get_cosine_schedule_with_warmup(optimizer, 2, 21)
""" + HF_LOOP

HF_CASES = [
    # AdamW -> nn.AdamWeightDecay is an inexact pair (test_harness.py): lr and params only
    Case("transformers-get_linear_schedule_with_warmup", HF_LINEAR, 3, 7, "iteration",
         aspects=("params", "lr"), scheduler="lr_scheduler"),
    Case("transformers-get_cosine_schedule_with_warmup", HF_COSINE, 3, 7, "iteration",
         aspects=("params", "lr"), scheduler="lr_scheduler"),
    Case("transformers-get_cosine_schedule_with_warmup-num_cycles", HF_COSINE_CYCLES, 3, 7, "iteration",
         aspects=("params", "lr"), scheduler="lr_scheduler"),
    Case("transformers-get_scheduler-linear", HF_BY_NAME, 3, 7, "iteration", scheduler="lr_scheduler"),
    Case("transformers-get_scheduler-constant_with_warmup", HF_BY_NAME_CONSTANT_WARMUP, 3, 7, "iteration",
         scheduler="lr_scheduler"),
    Case("transformers-module-attribute", HF_MODULE_ATTRIBUTE, 3, 7, "iteration", scheduler="lr_scheduler"),
    Case("transformers.optimization-import", HF_OPTIMIZATION_MODULE, 3, 7, "iteration", scheduler="lr_scheduler"),
]


# ---------------------------------------------------------------------------------------------
# Running torch for real, and comparing
# ---------------------------------------------------------------------------------------------

def real_torch_lrs(src: str) -> List[List[float]]:
    """Execute the whole torch snippet (loops included) with the torch twin as `net`/`model`;
    return each group's lr just before every optimizer.step() (of the first optimizer)."""
    import torch.optim.optimizer as torch_optimizer

    net = H.make_default_twin(0).torch_net
    seen: list = []
    lrs: List[List[float]] = []

    def hook(optimizer, args, kwargs):
        if not seen:
            seen.append(optimizer)
        if optimizer is seen[0]:
            lrs.append([float(g["lr"]) for g in optimizer.param_groups])

    handle = torch_optimizer.register_optimizer_step_pre_hook(hook)
    try:
        namespace = {"__name__": "__torch_real_run__", "net": net, "model": net}
        exec(compile(src, "<torch real run>", "exec"), namespace)
    finally:
        handle.remove()
    return lrs


def per_group(trace: H.Trace, groups: List[List[str]]) -> List[List[float]]:
    """Per-step, per-group lrs from a harness trace (per-parameter); every parameter of a group
    must have the same lr."""
    out = []
    for step, lrs in enumerate(trace.lrs, start=1):
        row = []
        for g in groups:
            values = {lrs[name] for name in g}
            assert len(values) == 1, f"{trace.framework} step {step}: group {g} has lrs {values}"
            row.append(values.pop())
        out.append(row)
    return out


def differences(expected: List[List[float]], actual: List[List[float]], rtol: float = RTOL) -> List[str]:
    out = []
    if len(actual) < len(expected):
        out.append(f"only {len(actual)} of {len(expected)} optimizer steps have an lr")
    for i, (e_row, a_row) in enumerate(zip(expected, actual)):
        for g, (e, a) in enumerate(zip(e_row, a_row)):
            if not math.isclose(e, a, rel_tol=rtol, abs_tol=ABS):
                out.append(f"step {i} group {g}: torch {e:.9g} vs MindSpore {a:.9g}")
    return out


def show(title: str, result) -> None:
    print(f"\n===== {title}: the tool's output =====")
    print(result.code)
    print("----- findings -----")
    for f in result.findings:
        print(f"  {f.code} {f.severity} line {f.line}: {f.message}")
    if getattr(result, "error", None):
        print(f"  tool error: {result.error}")


def scheduler_findings(result) -> list:
    """MSM4xx, and MSM109: the optimizer kept in torch with its scheduler (one optimizer is
    migrated whole, issue 12)."""
    return [f for f in result.findings if f.code.startswith("MSM4") or f.code == "MSM109"]


def check_case(case: Case) -> H.EquivalenceReport:
    result = H.migrate(case.src, options=NN)
    show(case.id, result)
    refused = scheduler_findings(result)
    assert not result.error, result.error
    assert not refused, "the tool did not convert the scheduler: " + "; ".join(
        f"{f.code} line {f.line}: {f.message}" for f in refused)
    how = "once per epoch" if case.style == "epoch" else "after every optimizer update"
    assert f"stepped {how}, as a per-step learning-rate list" in result.code
    assert f"{case.scheduler}.step()" not in result.code and "lr_scheduler." not in result.code

    assert H.infer_scheduler_step(case.src, [case.scheduler]) == case.style
    real = real_torch_lrs(case.src)
    total = case.epochs * case.updates_per_epoch
    assert len(real) == total, f"the torch loop made {len(real)} optimizer steps, expected {total}"

    report = H.check_equivalence(case.src, options=NN, epochs=case.epochs, steps_per_epoch=case.updates_per_epoch,
                                 scheduler_step="auto", aspects=case.aspects)
    print(report.format())
    assert report.ms_source == result.code
    assert report.torch is not None and report.mindspore is not None, report.format()
    groups = report.torch.groups
    harness_torch = per_group(report.torch, groups)
    # the harness stepped the torch scheduler exactly like the snippet's own loop did
    assert not differences(real, harness_torch, rtol=1e-12), differences(real, harness_torch, rtol=1e-12)
    ms = per_group(report.mindspore, groups) if not report.failed("params") else []
    print("torch     lrs:", [[round(v, 9) for v in row] for row in real])
    print("MindSpore lrs:", [[round(v, 9) for v in row] for row in ms])
    diff = differences(real, ms)
    assert not diff, f"{len(diff)} difference(s): " + "; ".join(diff[:8]) + "\n" + report.format()
    report.assert_ok()
    return report


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", [_param(c) for c in CLASS_CASES])
def test_scheduler_class(case: Case):
    check_case(case)


@pytest.mark.parametrize("case", [_param(c) for c in LAYOUT_CASES])
def test_loop_layouts_and_groups(case: Case):
    report = check_case(case)
    if case.id.startswith("groups"):
        assert len(report.torch.groups) == 2 and "lr_schedule_group" in report.ms_source
        # the two groups really follow different lists
        assert all(row[0] != row[1] for row in per_group(report.mindspore, report.torch.groups))


@pytest.mark.parametrize("case", [_param(c) for c in HF_CASES])
def test_transformers_factories(case: Case, transformers_for_torch):
    import torch

    check_case(case)
    if transformers_for_torch is not None:  # the stand-in: only ever called for torch
        assert transformers_for_torch, "the torch side did not use the transformers stand-in"
        assert all(isinstance(o, torch.optim.Optimizer) for o in transformers_for_torch), \
            [type(o) for o in transformers_for_torch]


LEFTOVER_TRANSFORMERS_IMPORT = (  # fixed; the test below is its regression test
    "the tool kept `from transformers import get_linear_schedule_with_warmup` in the migrated "
    "MindSpore code although the factory call was replaced by the lr list and the name is no "
    "longer used (ms_migrate/core/imports.py only removes unused torch.optim imports); without "
    "transformers the migrated code stops at that line: ModuleNotFoundError: import of "
    "transformers halted; None in sys.modules")


def test_migrated_factory_code_runs_without_transformers(monkeypatch):
    """The MindSpore side of a factory case must not need transformers: run the tool's output up
    to its training loop with `import transformers` failing."""
    result = H.migrate(HF_LINEAR, options=NN)
    show("transformers factory, run without transformers", result)
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` raise
    captured = H.run_snippet(result.code, H.MINDSPORE, H.make_default_twin(0))
    assert captured.error is None, f"{type(captured.error).__name__}: {captured.error}"
    assert captured.optimizer is not None


# ---------------------------------------------------------------------------------------------
# The seed document's ExponentialLR example
# ---------------------------------------------------------------------------------------------

SEED_PRINTS = [0.09, 0.081, 0.0729, 0.06561, 0.059049]  # printed after each of the 5 epochs


def _print_argument(code: str) -> str:
    """The source of the argument of the print() inside the training loop."""
    tree = ast.parse(code)
    loop = next(s for s in tree.body if isinstance(s, ast.For))
    calls = [n for n in ast.walk(loop) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "print"]
    assert len(calls) == 1, [ast.unparse(c) for c in calls]
    return ast.unparse(calls[0].args[0])


def test_seed_3_exponential_lr_prints_like_torch():
    src = seed("seed_3_exponential_lr")
    result = H.migrate(src, options=NN)
    show("seed_3_exponential_lr.py", result)
    assert not scheduler_findings(result), [f.message for f in scheduler_findings(result)]
    assert "print([float(optimizer.get_lr())])" in result.code
    statements = ast.unparse(ast.parse(result.code))  # without the comments
    assert "get_last_lr" not in statements and "scheduler" not in statements

    # torch: the seed verbatim (its own Net, 5 epochs of real training); what it prints
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(src, "<seed 3 torch>", "exec"), {"__name__": "__seed__"})
    printed = [ast.literal_eval(line) for line in out.getvalue().split("\n") if line.strip()]
    assert len(printed) == 5 and all(len(p) == 1 for p in printed), printed
    assert not differences([[v] for v in SEED_PRINTS], printed, rtol=1e-12), printed

    # MindSpore: the migrated code up to its loop, then 1 optimizer step per epoch (the seed's
    # dataset has one batch) and the migrated print argument evaluated after each epoch
    twin = H.make_default_twin(0)
    captured = H.run_snippet(result.code, H.MINDSPORE, twin)
    assert captured.error is None, captured.error
    schedule = captured.namespace["lr_schedule"]
    assert len(schedule) == 5 * 1 + 1  # one more than the steps: get_lr() after the last one
    view = H.make_view(captured, twin)
    expression = _print_argument(result.code)
    assert expression == "[float(optimizer.get_lr())]"
    ms_printed = []
    for _ in range(5):
        view.step({})  # zero gradients; only global_step matters here
        ms_printed.append(eval(expression, captured.namespace))
    print("torch prints    :", printed)
    print("MindSpore prints:", ms_printed)
    diff = differences(printed, ms_printed)
    assert not diff, diff
    # the list's per-epoch values (element e * steps_per_epoch after epoch e) are the printed ones
    assert not differences(printed, [[float(schedule[e])] for e in range(1, 6)]), list(schedule)

    # and the lr used by each of the 5 optimizer steps matches torch's
    report = H.check_equivalence(src, epochs=5, steps_per_epoch=1, options=NN)
    print(report.format())
    report.assert_ok()
    assert [round(lr["conv.weight"], 6) for lr in report.mindspore.lrs] == [0.1, 0.09, 0.081, 0.0729, 0.06561]


# ---------------------------------------------------------------------------------------------
# Loop variants around the documented layouts: the tool must be exact, or flag (MSM4xx error)
# ---------------------------------------------------------------------------------------------
# The harness steps the torch scheduler strictly per epoch or per iteration and cannot express
# e.g. a scheduler stepped at the START of each epoch, so here the reference is only the real
# torch run, and the MindSpore side is the tool's code run up to its loop, stepped len(real)
# times, reading optimizer.get_lr() before each step.

def mindspore_lrs(code: str, steps: int) -> List[List[float]]:
    twin = H.make_default_twin(0)
    captured = H.run_snippet(code, H.MINDSPORE, twin)
    assert captured.error is None, f"{type(captured.error).__name__}: {captured.error}"
    view = H.make_view(captured, twin)
    groups = view.groups()
    out = []
    for _ in range(steps):
        lrs = view.current_lr()
        out.append([lrs[g[0]] for g in groups])
        view.step({})  # zero gradients: only global_step matters
    return out


@dataclass
class Variant:
    id: str
    src: str
    expect: str  # "exact" | "flagged" (an MSM4xx error finding: the scheduler is left for the user)
    #              | "warned" (converted, with a warning naming the assumption the list rests on)
    xfail: str = ""
    requires: Sequence[str] = ()  # finding codes that must be reported as well (e.g. MSM403)


VARIANTS = [
    Variant("legacy-order-per-iteration-is-flagged", """
import torch
train_loader = list(range(3))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(epochs):
    for batch in train_loader:
        scheduler.step()
        optimizer.step()
""", "flagged"),
    Variant("legacy-order-per-epoch-step-before-the-batch-loop", """
import torch
train_loader = list(range(3))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(epochs):
    scheduler.step()
    for batch in train_loader:
        optimizer.step()
""", "exact"),
    Variant("accumulation-enumerate-start-1-per-epoch", """
import torch
accum = 2
train_loader = list(range(7))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader, 1):
        if step % accum == 0:
            optimizer.step()
    scheduler.step()
""", "exact"),
    Variant("accumulation-enumerate-start-1-per-iteration", """
import torch
accum = 2
train_loader = list(range(7))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader, start=1):
        if step % accum == 0:
            optimizer.step()
            scheduler.step()
""", "exact"),  # the list is 7 longer than needed, but per iteration that changes no lr
    Variant("accumulation-with-flush-of-the-last-batch-is-flagged", """
import torch
accum = 2
train_loader = list(range(7))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        if (step + 1) % accum == 0 or step + 1 == len(train_loader):
            optimizer.step()
    scheduler.step()
""", "flagged"),
    Variant("break-out-of-the-batch-loop-per-epoch", """
import torch
train_loader = list(range(5))
epochs = 7
max_steps = 3
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        optimizer.step()
        if step + 1 >= max_steps:
            break
    scheduler.step()
""", "warned", requires=("MSM404",)),  # the list assumes every batch updates
    Variant("scheduler-stepped-under-an-epoch-condition-is-flagged", """
import torch
train_loader = list(range(3))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.8)
for epoch in range(epochs):
    for batch in train_loader:
        optimizer.step()
    if epoch >= 2:
        scheduler.step()
""", "flagged"),
    Variant("two-schedulers-on-one-optimizer", """
import torch
train_loader = list(range(3))
epochs = 7
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
warm = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 5))
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
for epoch in range(epochs):
    for step, batch in enumerate(train_loader):
        optimizer.step()
        warm.step()
    scheduler.step()
""", "flagged"),
    Variant("mnist-helper-with-renamed-loader-accumulation-and-range-start-stop", """
import argparse
import torch
from torch.optim.lr_scheduler import MultiStepLR


def train(args, model, loader, opt, epoch):
    for batch_idx, data in enumerate(loader):
        if (batch_idx + 1) % args.accum == 0:
            opt.step()
            opt.zero_grad()


args = argparse.Namespace(lr=0.1, epochs=9, accum=2, start_epoch=2)
trainloader = list(range(7))
optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
scheduler = MultiStepLR(optimizer, milestones=[2, 4])
for epoch in range(args.start_epoch, args.epochs):
    train(args, net, trainloader, optimizer, epoch)
    scheduler.step()
""", "exact"),
]


def _variant_param(v: Variant):
    marks = [pytest.mark.xfail(strict=True, reason=v.xfail)] if v.xfail else []
    return pytest.param(v, id=v.id, marks=marks)


def check_exact_or_flagged(variant: Variant) -> None:
    """The real torch run vs the tool's code run directly (no harness plan involved)."""
    result = H.migrate(variant.src, options=NN)
    show(variant.id, result)
    assert not result.error, result.error
    codes = {f.code for f in result.findings}
    assert set(variant.requires) <= codes, f"missing findings {set(variant.requires) - codes}"
    flagged = [f for f in scheduler_findings(result) if f.severity == "error"]
    real = real_torch_lrs(variant.src)
    assert len(real) >= 21, len(real)  # 7 epochs x 3 updates (x 4 with the flush)
    if flagged:
        assert variant.expect == "flagged", "unexpectedly refused: " + "; ".join(f.message for f in flagged)
        assert "scheduler.step()" in result.code  # left as it was, for the user
        return
    ms = mindspore_lrs(result.code, len(real))
    print("torch     lrs:", [round(r[0], 9) for r in real])
    print("MindSpore lrs:", [round(r[0], 9) for r in ms])
    diff = differences(real, ms)
    if variant.expect == "warned":
        warnings = [f for f in scheduler_findings(result) if f.severity == "warning"]
        assert warnings and diff, "expected a converted list that differs here, with its warning"
        return
    assert not diff, f"silently different: {len(diff)} of {len(real)} steps: " + "; ".join(diff[:6])
    assert variant.expect == "exact", "expected a refusal, got an exact list"


@pytest.mark.parametrize("variant", [_variant_param(v) for v in VARIANTS])
def test_loop_variant_is_exact_or_flagged(variant: Variant):
    check_exact_or_flagged(variant)


# ---------------------------------------------------------------------------------------------
# Composite and cyclic schedulers: SequentialLR, ChainedScheduler, OneCycleLR, CyclicLR
# ---------------------------------------------------------------------------------------------
# The harness cannot drive these on the torch side: SequentialLR.__init__ and
# ChainedScheduler.__init__ do not call LRScheduler.__init__, so the harness captures only their
# children and steps each of them itself (wrong for SequentialLR, which steps only the active
# child and restarts it at its milestone; and "auto" cannot find the scheduler's name, so it falls
# back to per-epoch stepping). The reference is therefore the real torch run, as above.

def composite_snippet(schedulers: str, style: str) -> str:
    epochs, steps = (E, S) if style == "epoch" else (IE, IS)
    loop = PER_EPOCH_LOOP if style == "epoch" else PER_ITERATION_LOOP
    return ("import torch\nfrom torch.optim.lr_scheduler import (ChainedScheduler, ConstantLR, "
            "CosineAnnealingLR, CyclicLR, ExponentialLR, LinearLR, MultiplicativeLR, OneCycleLR, "
            "SequentialLR, StepLR)\n"
            f"train_loader = list(range({steps}))\nepochs = {epochs}\n"
            f"optimizer = {SGD}\n{schedulers.strip()}\n{loop}")


COMPOSITES = [
    Variant("SequentialLR-LinearLR-CosineAnnealingLR-past-T_max-per-epoch", composite_snippet("""
warmup = LinearLR(optimizer, start_factor=0.1, total_iters=2)
cosine = CosineAnnealingLR(optimizer, T_max=3)
scheduler = SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[2])
""", "epoch"), "exact"),
    Variant("SequentialLR-LinearLR-CosineAnnealingLR-eta_min-per-iteration", composite_snippet("""
warmup = LinearLR(optimizer, 0.1, total_iters=4)
cosine = CosineAnnealingLR(optimizer, 10, eta_min=0.001)
scheduler = SequentialLR(optimizer, [warmup, cosine], [4])
""", "iteration"), "exact"),
    Variant("SequentialLR-ConstantLR-ExponentialLR-StepLR-per-epoch", composite_snippet("""
a = ConstantLR(optimizer, 0.5, total_iters=5)
b = ExponentialLR(optimizer, 0.9)
c = StepLR(optimizer, 3, 0.5)
scheduler = SequentialLR(optimizer, [a, b, c], milestones=[2, 5])
""", "epoch"), "exact"),
    Variant("SequentialLR-children-built-inline-per-epoch", composite_snippet("""
scheduler = SequentialLR(optimizer, schedulers=[LinearLR(optimizer, start_factor=0.1, total_iters=2), CosineAnnealingLR(optimizer, T_max=3)], milestones=[2])
""", "epoch"), "exact"),
    Variant("SequentialLR-with-a-MultiplicativeLR-child-per-epoch", composite_snippet("""
a = ConstantLR(optimizer, 0.5, total_iters=5)
b = MultiplicativeLR(optimizer, lambda epoch: 0.9)
scheduler = SequentialLR(optimizer, [a, b], milestones=[3])
""", "epoch"), "flagged"),
    Variant("ChainedScheduler-ConstantLR-ExponentialLR-per-epoch", composite_snippet("""
scheduler = ChainedScheduler([ConstantLR(optimizer, factor=0.5, total_iters=2), ExponentialLR(optimizer, gamma=0.9)])
""", "epoch"), "exact"),
    Variant("ChainedScheduler-LinearLR-StepLR-per-iteration", composite_snippet("""
scheduler = ChainedScheduler([LinearLR(optimizer, 0.2, total_iters=6), StepLR(optimizer, 4, 0.5)])
""", "iteration"), "exact"),
    Variant("OneCycleLR-cos-per-iteration", composite_snippet("""
scheduler = OneCycleLR(optimizer, max_lr=0.3, epochs=epochs, steps_per_epoch=len(train_loader), pct_start=0.4, div_factor=10.0, final_div_factor=100.0, cycle_momentum=False)
""", "iteration"), "exact"),
    Variant("OneCycleLR-linear-per-iteration", composite_snippet("""
scheduler = OneCycleLR(optimizer, 0.1, 21, anneal_strategy="linear", cycle_momentum=False)
""", "iteration"), "exact"),
    # the lr list is exact; the momentum cycling is reported (MSM403 warning)
    Variant("OneCycleLR-cycle_momentum-default-per-iteration", composite_snippet("""
scheduler = OneCycleLR(optimizer, max_lr=0.1, total_steps=21)
""", "iteration"), "exact", requires=("MSM403",)),
    Variant("OneCycleLR-three_phase-is-flagged", composite_snippet("""
scheduler = OneCycleLR(optimizer, max_lr=0.2, total_steps=21, three_phase=True, cycle_momentum=False)
""", "iteration"), "flagged"),
    Variant("CyclicLR-triangular-per-iteration", composite_snippet("""
scheduler = CyclicLR(optimizer, base_lr=0.001, max_lr=0.1, step_size_up=4, cycle_momentum=False)
""", "iteration"), "exact"),
    Variant("CyclicLR-triangular2-asymmetric-per-iteration", composite_snippet("""
scheduler = CyclicLR(optimizer, 0.001, 0.1, step_size_up=3, step_size_down=5, mode="triangular2", cycle_momentum=False)
""", "iteration"), "exact"),
    Variant("CyclicLR-exp_range-per-iteration", composite_snippet("""
scheduler = CyclicLR(optimizer, 0.001, 0.1, 4, mode="exp_range", gamma=0.9, cycle_momentum=False)
""", "iteration"), "exact"),
]


@pytest.mark.parametrize("variant", [_variant_param(v) for v in COMPOSITES])
def test_composite_and_cyclic_schedulers(variant: Variant):
    check_exact_or_flagged(variant)
