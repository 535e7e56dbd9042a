"""Generator of small torch training scripts for the learning-rate differential fuzzer
(test_lr_fuzz.py, issue 10).

``generate(seed)`` is a deterministic function seed -> ``Program`` (source text, the shape it was
built from, and the features it uses). Every program runs under real torch in milliseconds: the
model is the equivalence twin (``net``, injected by the runner), loaders are lists, ranges or a
``DataLoader`` over a list, and there is no forward/backward pass (only ``optimizer.step()``).

Dimensions drawn per seed (``random.Random(seed)``):

* optimizer: SGD (lr keyword/positional/variable/``args.lr``, momentum or not), Adam, AdamW;
  sometimes parameter groups with their own lr;
* scheduler: every converted ``torch.optim.lr_scheduler`` class with random valid arguments
  (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
  PolynomialLR, LinearLR, ConstantLR, LambdaLR, MultiplicativeLR, OneCycleLR, CyclicLR,
  SequentialLR, ChainedScheduler) and ReduceLROnPlateau, in four import spellings, keyword or
  positional arguments;
* stepping: once per epoch (after the batch loop, or before it), after every optimizer update,
  the legacy order (scheduler before optimizer), or a single loop with no epoch loop, or a while
  loop;
* loops: ``range(E)``/``range(epochs)``/``range(args.epochs)``/``range(1, epochs + 1)``/
  ``range(start, epochs)``; the batch loop over the loader, ``enumerate(loader[, 1])`` or
  ``range(len(loader))``; the batch loop in a helper function called k times per epoch, or a
  helper that also steps the scheduler;
* guards: gradient accumulation (``(i + 1) % k == 0`` / ``i % k == 0``, with the scheduler inside
  or outside the guard), ``break``/``continue`` in the batch loop, ``if epoch < k: continue``,
  an ``if`` between the epoch loop and the batch loop, the scheduler stepped under an epoch
  condition;
* step arguments: ``scheduler.step(epoch)``, ``scheduler.step(epoch + i / iters)``;
* statement order: the loader before the optimizer, between optimizer and scheduler, or after
  the scheduler; a name the optimizer reads rebound after it; ``get_last_lr()`` reads.

``Program.features`` names the shapes of the open bug classes of issue 10 (see ``KNOWN_OPEN``);
``generate(seed, enable=...)`` draws them only when enabled, so the CI seed range can keep a
shape off until its fix is merged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

# Not generated: runs that never update (zero epochs, or fewer batches than the accumulation
# count). torch then does nothing, while the migrated program builds an empty lr list, which
# mindspore.nn.dynamic_lr / nn.Optimizer reject at construction (ValueError) -- e.g. an
# evaluation-only run with --epochs 0. Reported to the lead, not fixed here.
ZERO_STEPS = "runs with no optimizer update"

# Shapes of the issue-10 bug classes that another branch (issue-10a) is fixing. Off by default.
KNOWN_OPEN: Dict[str, str] = {
    "step-arg": "issue 10 class 1: scheduler.step(arg) treated as step()",
    "epoch-continue": "issue 10 class 5: `if epoch < k: continue` between the training and scheduler.step()",
    "if-between-loops": "issue 10 class 5: an `if` (not always true) between the epoch loop and the batch loop",
    "helper-twice": "issue 10 class 5: a train(...) helper called twice per epoch",
    "rebinding": "issue 10 class 6: the optimizer moved past a rebinding of a name it reads",
}
ALL_SHAPES: FrozenSet[str] = frozenset(KNOWN_OPEN)

LRS = "torch.optim.lr_scheduler"
EPOCH_CLASSES = ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
                 "PolynomialLR", "LinearLR", "ConstantLR", "LambdaLR", "MultiplicativeLR")
ITERATION_ONLY = ("OneCycleLR", "CyclicLR")
COMPOSITE = ("SequentialLR", "ChainedScheduler")
OPTIMIZERS = ("SGD", "Adam", "AdamW")
ALL_CLASSES = EPOCH_CLASSES + ITERATION_ONLY + COMPOSITE + ("ReduceLROnPlateau",)


@dataclass
class Program:
    seed: int
    source: str
    shape: Dict[str, object]
    features: FrozenSet[str] = frozenset()

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.shape.items())

    def known_classes(self) -> List[str]:
        return [KNOWN_OPEN[f] for f in sorted(self.features)]


def _num(value: float) -> str:
    return repr(value)


class _Gen:
    def __init__(self, seed: int, enable: FrozenSet[str]):
        self.r = random.Random(seed)
        # draws added later use their own stream, so they do not reshuffle the programs (and the
        # recorded seeds) of the first one
        self.r2 = random.Random(f"{seed}/2")
        self.enable = enable
        self.shape: Dict[str, object] = {}
        self.features = set()
        self.head: List[str] = ["import torch"]
        self.from_names: List[str] = []  # `from torch.optim.lr_scheduler import ...`

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def feature(self, name: str, p: float) -> bool:
        """Draw a known-open shape only when it is enabled (the draw is made either way, so
        enabling a shape does not reshuffle the rest of the program)."""
        hit = self.chance(p)
        if hit and name in self.enable:
            self.features.add(name)
            return True
        return False

    def pick(self, key: str, options):
        value = self.r.choice(list(options))
        self.shape[key] = value
        return value


# --------------------------------------------------------------------------------------------
# Scheduler constructions
# --------------------------------------------------------------------------------------------

def _call(g: _Gen, ref: str, positional: List[Tuple[str, str]], keyword: List[Tuple[str, str]] = ()) -> str:
    """`ref(optimizer, ...)`: the leading `positional` arguments may be written by position
    (a random prefix of them), the rest by keyword."""
    cut = g.r.randint(0, len(positional))
    parts = ["optimizer"]
    parts += [v for _, v in positional[:cut]]
    parts += [f"{k}={v}" for k, v in list(positional[cut:]) + list(keyword)]
    return f"{ref}({', '.join(parts)})"


def _gamma(g: _Gen) -> str:
    return g.r.choice(["0.5", "0.1", "0.9", "0.7", "0.25"])


def _length(g: _Gen, number: str) -> str:
    """A schedule length: the number, or (sometimes) the run's own length read from names."""
    if g.r2.random() < 0.25:
        if g.shape.get("sched_style") == "epoch" and g.shape["epoch_loop"]:
            return "epochs"
        if g.shape["epoch_loop"] and g.shape["order"] != "loader-after":
            return "epochs * len(train_loader)"
    return number


def _simple(g: _Gen, name: str, ref: str, units: int, base_lr: float) -> str:
    """One of EPOCH_CLASSES with random valid arguments; `units` = how many times it steps."""
    r = g.r
    u = max(units, 1)
    if name == "StepLR":
        args = [("step_size", str(r.randint(1, max(1, u // 2 + 1))))]
        if g.chance(0.8):
            args.append(("gamma", _gamma(g)))
        return _call(g, ref, args)
    if name == "MultiStepLR":
        k = r.randint(1, 3)
        milestones = sorted(r.randint(1, u + 1) for _ in range(k))
        args = [("milestones", repr(milestones))]
        if g.chance(0.8):
            args.append(("gamma", _gamma(g)))
        return _call(g, ref, args)
    if name == "ExponentialLR":
        return _call(g, ref, [("gamma", r.choice(["0.9", "0.8", "0.95", "0.5"]))])
    if name == "CosineAnnealingLR":
        args = [("T_max", _length(g, str(r.randint(1, u + 2))))]
        if g.chance(0.5):
            args.append(("eta_min", r.choice(["0.0", "0.001", "1e-4", "0"])))
        return _call(g, ref, args)
    if name == "CosineAnnealingWarmRestarts":
        args = [("T_0", str(r.randint(1, max(1, u // 2 + 1))))]
        if g.chance(0.6):
            args.append(("T_mult", r.choice(["1", "2", "3"])))
            if g.chance(0.5):
                args.append(("eta_min", r.choice(["0.0", "0.001", "1e-5"])))
        return _call(g, ref, args)
    if name == "PolynomialLR":
        args = []
        if g.chance(0.8):
            args.append(("total_iters", _length(g, str(r.randint(1, u + 2)))))
            if g.chance(0.7):
                args.append(("power", r.choice(["1.0", "2.0", "0.5", "3"])))
        return _call(g, ref, args)
    if name == "LinearLR":
        args = []
        if g.chance(0.85):
            args.append(("start_factor", r.choice(["0.1", "0.25", "1.0 / 3", "0.5"])))
            if g.chance(0.6):
                args.append(("end_factor", r.choice(["1.0", "0.5", "0.2"])))
                if g.chance(0.8):
                    args.append(("total_iters", str(r.randint(1, u + 1))))
        return _call(g, ref, args)
    if name == "ConstantLR":
        args = []
        if g.chance(0.85):
            args.append(("factor", r.choice(["0.5", "0.25", "0.1"])))
            if g.chance(0.8):
                args.append(("total_iters", str(r.randint(1, u + 1))))
        return _call(g, ref, args)
    if name == "LambdaLR":
        w = r.randint(1, u + 1)
        fn = r.choice([
            "lambda e: 0.95 ** e",
            f"lambda e: min(1.0, (e + 1) / {w})",
            "lambda e: 1.0 / (1 + e)",
            f"lambda step: 0.5 ** (step // {w})",
            "lr_factor",
        ])
        if fn == "lr_factor":
            g.head.append(f"\n\ndef lr_factor(epoch):\n    if epoch < {w}:\n        return (epoch + 1) / {w}\n"
                          f"    return 0.9 ** (epoch - {w})\n")
        return _call(g, ref, [("lr_lambda", fn)])
    if name == "MultiplicativeLR":
        return _call(g, ref, [("lr_lambda", r.choice(["lambda e: 0.9", "lambda epoch: 0.95"]))])
    raise AssertionError(name)


def _cyclic(g: _Gen, name: str, ref: str, units: int, base_lr: float, momentum: bool, groups: bool) -> str:
    r = g.r
    per_group = groups and g.chance(0.5)  # one value per parameter group
    if per_group:
        g.shape["per_group_args"] = True
    if name == "OneCycleLR":
        kw = [("max_lr", "[0.3, 0.1]" if per_group else r.choice(["0.3", "0.1", "0.05"]))]
        total = r.choice(["exact", "more", "epochs"])
        # at least 8 steps: with pct_start * total_steps <= 1 torch itself divides by zero
        if total == "epochs" and g.shape["order"] != "loader-after" and g.shape["epoch_loop"] \
                and g.shape.get("helper_calls", 1) == 1 and units >= 8:
            kw += [("epochs", "epochs"), ("steps_per_epoch", "len(train_loader)")]
        else:
            extra = r.randint(1, 5) if total == "more" else 0
            kw.append(("total_steps", str(max(8, units + extra, g.max_steps))))
        if g.chance(0.5):
            kw.append(("pct_start", r.choice(["0.3", "0.4", "0.25"])))
        if g.chance(0.3):
            kw.append(("anneal_strategy", r.choice(["'linear'", "'cos'"])))
        if g.chance(0.3):
            kw.append(("div_factor", r.choice(["10.0", "25.0"])))
        if g.chance(0.3):
            kw.append(("final_div_factor", r.choice(["100.0", "1e4"])))
        if g.chance(0.1):
            kw.append(("three_phase", "True"))
        if not momentum or g.chance(0.6):
            kw.append(("cycle_momentum", "False"))
        return f"{ref}(optimizer, {', '.join(f'{k}={v}' for k, v in kw)})"
    kw = [("base_lr", "[0.001, 0.01]" if per_group and g.chance(0.5) else r.choice(["0.001", "0.01"])),
          ("max_lr", "(0.1, 0.05)" if per_group else r.choice(["0.1", "0.05"])),
          ("step_size_up", str(r.randint(1, 5)))]
    if g.chance(0.4):
        kw.append(("step_size_down", str(r.randint(1, 5))))
    mode = r.choice(["triangular", "triangular2", "exp_range"])
    if mode != "triangular" or g.chance(0.3):
        kw.append(("mode", repr(mode)))
    if mode == "exp_range":
        kw.append(("gamma", r.choice(["0.9", "0.99"])))
    if not momentum or g.chance(0.6):
        kw.append(("cycle_momentum", "False"))
    return f"{ref}(optimizer, {', '.join(f'{k}={v}' for k, v in kw)})"


def _scheduler(g: _Gen, style: str, units: int, base_lr: float, momentum: bool,
               groups: bool) -> Tuple[List[str], str]:
    """(statements building the scheduler, the class name)."""
    r = g.r
    classes = list(EPOCH_CLASSES) + list(COMPOSITE) + ["ReduceLROnPlateau"]
    if style in ("iteration", "single", "legacy", "while"):
        classes += list(ITERATION_ONLY) * 2
    name = g.pick("scheduler", classes)
    spelling = g.pick("spelling", ["dotted", "from-import", "module", "optim-alias"])
    if spelling == "dotted":
        ref = lambda n: f"{LRS}.{n}"  # noqa: E731
    elif spelling == "from-import":
        def ref(n):
            g.from_names.append(n)
            return n
    elif spelling == "module":
        g.head.append("from torch.optim import lr_scheduler")
        ref = lambda n: f"lr_scheduler.{n}"  # noqa: E731
    else:
        g.head.append("import torch.optim as optim")
        ref = lambda n: f"optim.lr_scheduler.{n}"  # noqa: E731
    if name in EPOCH_CLASSES:
        return [f"scheduler = {_simple(g, name, ref(name), units, base_lr)}"], name
    if name in ITERATION_ONLY:
        return [f"scheduler = {_cyclic(g, name, ref(name), units, base_lr, momentum, groups)}"], name
    if name == "ReduceLROnPlateau":
        return [f"scheduler = {ref(name)}(optimizer, mode='min', factor=0.5, patience=1)"], name
    # composites of two or three simple children
    n = r.randint(2, 3)
    kids = [r.choice(EPOCH_CLASSES) for _ in range(n)]
    inline = g.chance(0.3)
    built, names = [], []
    for i, kid in enumerate(kids):
        expr = _simple(g, kid, ref(kid), units, base_lr)
        if inline:
            names.append(expr)
        else:
            built.append(f"sched{i} = {expr}")
            names.append(f"sched{i}")
    g.shape["children"] = kids
    if name == "SequentialLR":
        milestones = sorted(r.sample(range(1, max(units, n) + 1), n - 1))
        call = f"{ref(name)}(optimizer, schedulers=[{', '.join(names)}], milestones={milestones!r})"
    else:
        call = f"{ref(name)}([{', '.join(names)}]" + (", optimizer=optimizer)" if g.chance(0.3) else ")")
    return built + [f"scheduler = {call}"], name


# --------------------------------------------------------------------------------------------
# The program
# --------------------------------------------------------------------------------------------

def _indent(lines: List[str], n: int = 1) -> List[str]:
    return [("    " * n + line) if line else line for line in lines]


def generate(seed: int, enable: FrozenSet[str] = frozenset()) -> Program:
    """The program of `seed`; shapes of the open bug classes only when in `enable`."""
    g = _Gen(seed, frozenset(enable))
    r = g.r

    # ---- sizes and stepping style ----
    style = g.pick("style", ["epoch", "epoch", "epoch-start", "iteration", "iteration", "legacy", "single",
                             "while"])
    epochs = r.randint(1, 6)
    n_batches = r.randint(1, 7)
    loader_kind = g.pick("loader", ["list", "range", "dataloader"])
    if loader_kind == "dataloader":
        batch_size = r.randint(1, 3)
        data_len = r.randint(1, 8)
        loader_expr = f"torch.utils.data.DataLoader(list(range({data_len})), batch_size={batch_size})"
        n_batches = -(-data_len // batch_size)
    elif loader_kind == "range":
        loader_expr = f"range({n_batches})"
    else:
        loader_expr = f"list(range({n_batches}))"
    g.shape["loader_len"] = n_batches
    g.shape["epoch_loop"] = style not in ("single", "while")

    # accumulation: only with an index
    accum = 0
    if style not in ("while",) and g.chance(0.25):
        accum = r.randint(2, 3)
        if n_batches <= accum:  # at least one update per epoch (a loop that never updates is moot)
            accum = 0
    accum_kind = r.choice(["plus_one", "plain"]) if accum else ""
    batch_iter = g.pick("batch_iter", ["plain", "enumerate", "enumerate-1", "enumerate-2", "range-len"]
                        if not accum else ["enumerate", "enumerate-1", "enumerate-2", "range-len"])
    if accum:
        g.shape["accum"] = f"{accum_kind}%{accum}"
    updates = n_batches
    if accum:
        start = {"enumerate-1": 1, "enumerate-2": 2}.get(batch_iter, 0)
        idx = range(start, start + n_batches)
        updates = sum(1 for i in idx if ((i + 1) if accum_kind == "plus_one" else i) % accum == 0)
    sched_style = {"epoch-start": "epoch", "single": "iteration", "while": "iteration",
                   "legacy": "iteration"}.get(style, style)
    helper, calls = "inline", 1
    if g.shape["epoch_loop"]:
        helper = g.pick("helper", ["inline", "inline", "train", "train-steps-scheduler"]
                        if sched_style == "iteration" and style != "legacy" else ["inline", "inline", "train"])
        if helper != "inline" and g.feature("helper-twice", 0.2):
            calls = 2
            g.shape["helper_calls"] = 2
    while_total = r.randint(1, 25)
    if style == "while":
        units = while_total
    elif style == "single":
        units = updates
    elif sched_style == "epoch":
        units = epochs
    else:
        units = epochs * updates * calls
    # an upper bound of the scheduler's steps (it may step on every batch, outside the guard):
    # OneCycleLR raises when stepped more than total_steps times
    g.max_steps = while_total if style == "while" else n_batches * (1 if style == "single" else epochs * calls)

    # ---- optimizer ----
    opt_name = g.pick("optimizer", ["SGD", "SGD", "SGD-momentum", "Adam", "AdamW"])
    base_lr = r.choice([0.1, 0.05, 0.01, 1.0])
    use_args = g.chance(0.3)
    lr_spelling = g.pick("lr", ["keyword", "positional", "variable", "args"] if opt_name != "SGD-default" else ["default"])
    groups = g.chance(0.15)
    if lr_spelling == "args":
        use_args = True
    setup: List[str] = []
    if use_args:
        g.head.append("import argparse")
        setup.append(f"args = argparse.Namespace(lr={_num(base_lr)}, epochs={epochs}, accum={accum or 1})")
    epochs_ref = "args.epochs" if use_args and g.chance(0.5) else "epochs"
    accum_ref = "args.accum" if use_args and accum and g.chance(0.5) else str(accum)
    if lr_spelling == "variable":
        setup.append(f"lr = {_num(base_lr)}")
        lr_ref = "lr"
    elif lr_spelling == "args":
        lr_ref = "args.lr"
    else:
        lr_ref = _num(base_lr)
    cls = {"SGD-momentum": "SGD"}.get(opt_name, opt_name)
    momentum = opt_name == "SGD-momentum"
    extra = ", momentum=0.9" if momentum else ""
    if groups:
        params = ('[{"params": net.fc.parameters(), "lr": %s}, {"params": net.conv.parameters()}]'
                  % _num(base_lr / 10))
        g.shape["groups"] = True
    else:
        params = "net.parameters()"
    if lr_spelling == "positional" and cls == "SGD":
        opt_line = f"optimizer = torch.optim.{cls}({params}, {lr_ref}{extra})"
    else:
        opt_line = f"optimizer = torch.optim.{cls}({params}, lr={lr_ref}{extra})"

    order = g.pick("order", ["loader-first", "loader-between", "loader-after"])

    # ---- the scheduler ----
    g.shape["sched_style"] = sched_style
    sched_lines, sched_name = _scheduler(g, sched_style, units, base_lr, momentum, groups)
    plateau = sched_name == "ReduceLROnPlateau"

    # ---- statement order ----
    loader_line = f"train_loader = {loader_expr}"
    epochs_line = f"epochs = {epochs}"
    rebinding = g.feature("rebinding", 0.15) and order == "loader-after" and lr_spelling == "variable"
    body: List[str] = list(setup)
    if order == "loader-first":
        body += [loader_line, epochs_line, opt_line] + sched_lines
    elif order == "loader-between":
        body += [epochs_line, opt_line, loader_line] + sched_lines
    else:
        body += [epochs_line, opt_line] + sched_lines
        if rebinding:
            body.append(f"lr = {_num(base_lr * 5)}")
            g.shape["rebinding"] = True
        body.append(loader_line)
    # `epochs` (and the accumulation count) set later than the optimizer: the list needs them
    names_read = " ".join(sched_lines)
    where = g.r2.choice(["first", "first", "after-optimizer", "last"])
    if where != "first" and not ("epochs" in names_read and where == "last"):
        body.remove(epochs_line)
        body.insert(body.index(opt_line) + 1 if where == "after-optimizer" else len(body), epochs_line)
        g.shape["epochs_set"] = where
    if accum and accum_ref == str(accum) and g.r2.random() < 0.4:
        accum_ref = "accum"
        body.insert(g.r2.randint(body.index(opt_line), len(body)), f"accum = {accum}")
        g.shape["accum_set"] = "late"

    # ---- the training step ----
    step_arg = ""
    if g.feature("step-arg", 0.12) and not plateau and sched_name not in COMPOSITE:
        if sched_style == "epoch":
            step_arg = r.choice(["epoch", "epoch + 1"])
        elif sched_name == "CosineAnnealingWarmRestarts" and g.shape["epoch_loop"] and batch_iter != "plain":
            step_arg = "epoch + i / len(train_loader)"
        g.shape["step_arg"] = step_arg or None
    metric = "1.0" if plateau else step_arg
    sched_step = f"scheduler.step({metric})"

    index = "i"
    if batch_iter == "plain":
        batch_for = "for batch in train_loader:"
    elif batch_iter == "enumerate":
        batch_for = "for i, batch in enumerate(train_loader):"
    elif batch_iter == "enumerate-1":
        batch_for = "for i, batch in enumerate(train_loader, 1):" if g.chance(0.5) else \
            "for i, batch in enumerate(train_loader, start=1):"
    elif batch_iter == "enumerate-2":
        batch_for = "for i, batch in enumerate(train_loader, 2):"
    else:
        batch_for = "for i in range(len(train_loader)):"
    if "step_arg" in g.shape and "i /" in step_arg and batch_iter.startswith("enumerate-"):
        step_arg = f"epoch + (i - {batch_iter[-1]}) / len(train_loader)"
        sched_step = f"scheduler.step({step_arg})"

    # accumulation guard
    sched_in_guard = True
    if accum:
        counter = f"({index} + 1)" if accum_kind == "plus_one" else index
        guard = f"if {counter} % {accum_ref} == 0:"
        if sched_style == "iteration" and style != "legacy":
            sched_in_guard = g.chance(0.85)
            g.shape["sched_in_guard"] = sched_in_guard
    else:
        guard = ""

    update = ["optimizer.step()"]
    if g.chance(0.1):  # AMP: scaler.step(optimizer) (disabled here, so it always steps)
        body.insert(0, 'scaler = torch.amp.GradScaler("cuda", enabled=False)')
        update = ["scaler.step(optimizer)", "scaler.update()"]
        g.shape["scaler"] = True
    if g.chance(0.5):
        update = ["optimizer.zero_grad()"] + update if g.chance(0.5) else update + ["optimizer.zero_grad()"]
    if sched_style == "iteration" and style != "legacy" and sched_in_guard:
        update = update + [sched_step]
    if style == "legacy":
        update = [sched_step] + update
    batch_body: List[str] = []
    if g.chance(0.3):
        batch_body.append("loss = 0.0")
    batch_exit = ""
    if batch_iter != "plain" and g.chance(0.12):
        batch_exit = r.choice(["break", "continue"])
        g.shape["batch_exit"] = batch_exit
    if batch_exit == "continue":
        batch_body += [f"if {index} % 3 == 2:", "    continue"]
    if g.chance(0.1):
        update = ["with torch.enable_grad():"] + _indent(update)
        g.shape["with"] = True
    if guard:
        batch_body += [guard] + _indent(update)
    else:
        batch_body += update
    if sched_style == "iteration" and not sched_in_guard:
        batch_body.append(sched_step)
    if batch_exit == "break":
        limit = r.randint(1, 4)
        batch_body += [f"if {index} >= {limit}:", "    break"]

    if style == "single":
        loop = [batch_for] + _indent(batch_body)
        tail = body + loop
        return _finish(g, seed, tail)
    if style == "while":
        loop = ["step = 0", f"while step < {while_total}:"] + _indent(update + ["step += 1"])
        return _finish(g, seed, body + loop)

    # ---- helper or inline batch loop ----
    defs: List[str] = []
    if helper == "inline":
        epoch_batch = [batch_for] + _indent(batch_body)
    else:
        h_opt = r.choice(["optimizer", "opt"])
        h_loader = r.choice(["train_loader", "loader"])
        h_body = [line.replace("optimizer.", f"{h_opt}.").replace("(optimizer)", f"({h_opt})")
                  .replace("train_loader", h_loader) for line in batch_body]
        h_for = batch_for.replace("train_loader", h_loader)
        params = ["model", h_loader, h_opt, "epoch"]
        args = ["net", "train_loader", "optimizer", "epoch"]
        if helper == "train-steps-scheduler":
            h_body = [line.replace("scheduler.", "sched.") for line in h_body]
            params.append("sched")
            args.append("scheduler")
        if accum and accum_ref.startswith("args"):
            h_body = [line.replace(accum_ref, "accum") for line in h_body]
            params.append("accum")
            args.append(accum_ref)
        defs = ["", "", f"def train({', '.join(params)}):"] + _indent([h_for] + _indent(h_body)) + ["", ""]
        if g.chance(0.3):
            call = "train(" + ", ".join(f"{p}={a}" for p, a in zip(params, args)) + ")"
        else:
            call = f"train({', '.join(args)})"
        epoch_batch = [call] * calls

    # ---- the epoch loop ----
    epoch_range = g.pick("epochs", ["literal", "name", "1-based", "start", "1-to", "stride", "shifted"])
    if epoch_range == "1-to" and epochs < 2:  # at least one epoch (see ZERO_STEPS)
        epoch_range = g.shape["epochs"] = "name"
    if epoch_range == "literal":
        epoch_for = f"for epoch in range({epochs}):"
    elif epoch_range == "name":
        epoch_for = f"for epoch in range({epochs_ref}):"
    elif epoch_range == "1-based":
        epoch_for = f"for epoch in range(1, {epochs_ref} + 1):"
    elif epoch_range == "1-to":
        epoch_for = f"for epoch in range(1, {epochs_ref}):"
    elif epoch_range == "stride":
        epoch_for = f"for epoch in range(0, {epochs_ref}, 2):"
    elif epoch_range == "shifted":
        epoch_for = f"for epoch in range(2, {epochs_ref} + 2):"
    else:
        body.append(f"start_epoch = {r.randint(0, min(2, epochs - 1))}")
        epoch_for = f"for epoch in range(start_epoch, {epochs_ref}):"
    epoch_body: List[str] = []
    skip = [f"if epoch < {r.randint(1, 2)}:", "    continue"]
    if g.chance(0.1):  # skips the training and the scheduler step alike: the list's first epochs
        epoch_body += skip
        g.shape["epoch_skip"] = "top"
    if g.chance(0.08):  # a condition that always holds
        epoch_batch = [r.choice(["if epoch >= 0:", "if True:"])] + _indent(epoch_batch)
        g.shape["if_between"] = "always"
    elif g.feature("if-between-loops", 0.12):  # the batch loop skipped in some epochs
        epoch_batch = [r.choice(["if epoch % 2 == 0:", "if epoch >= 1:"])] + _indent(epoch_batch)
        g.shape["if_between"] = "sometimes"
    epoch_sched: List[str] = []
    if sched_style == "epoch" or plateau and sched_style != "iteration":
        if g.chance(0.1):
            epoch_sched = [f"if epoch >= {r.randint(1, 2)}:", f"    {sched_step}"]
            g.shape["sched_guard"] = True
        else:
            epoch_sched = [sched_step]
    between: List[str] = []
    if epoch_sched and g.feature("epoch-continue", 0.12):  # between the training and the scheduler
        between = skip
        g.shape["epoch_skip"] = "between"
    if style == "epoch-start":
        epoch_body += epoch_sched + between + epoch_batch
    else:
        epoch_body += epoch_batch + between + epoch_sched
    if g.chance(0.2) and not plateau:
        epoch_body.append("last_lr = scheduler.get_last_lr()")
        g.shape["get_last_lr"] = True
    loop = [epoch_for] + _indent(epoch_body)
    return _finish(g, seed, defs + body + loop)


def _finish(g: _Gen, seed: int, lines: List[str]) -> Program:
    head = []
    for line in g.head:  # imports first, in order, without duplicates
        if line not in head:
            head.append(line)
    imports = [h for h in head if h.startswith(("import", "from"))]
    if g.from_names:
        imports.append("from torch.optim.lr_scheduler import " + ", ".join(sorted(set(g.from_names))))
    others = [h for h in head if not h.startswith(("import", "from"))]
    source = "\n".join(imports) + "\n" + "".join(o + "\n\n" for o in others) + "\n".join(lines) + "\n"
    source = f"# lr-fuzz seed {seed}\n" + source
    return Program(seed, source, dict(g.shape), frozenset(g.features))
