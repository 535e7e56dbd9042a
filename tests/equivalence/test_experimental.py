"""mindspore.experimental.optim, measured (issue 12).

1. The table's verdicts (rules/optimizers.json: nn `exact`, each experimental form's `exact`)
   re-proved across gradient scales 1e-4..10: an exact pair stays within float32 rounding of
   torch's update at every scale, an inexact one really differs at some scale.
2. The tool's experimental conversions (--target experimental, and auto) run against torch on
   the twin network: the 11 optimizers with defaults and non-defaults, groups with torch keys,
   every scheduler class stepped per epoch and per iteration, ReduceLROnPlateau driven by a
   metric sequence: parameters, per-group lr and updates compared step by step.
"""

import json
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="the equivalence tier needs the 'equivalence' extra")
import numpy as np  # noqa: E402

from ms_migrate.core import tables

from . import harness as H

pytestmark = pytest.mark.equivalence

ROOT = Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "rules" / "optimizers.json").read_text(encoding="utf-8"))["optimizers"]
SCALES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
STEPS = 8


def _options(target):
    from ms_migrate.core.options import Options

    return Options(target=target)


# ---- 1. verdicts across gradient scales ------------------------------------------------------

# torch kwargs per class: defaults, and non-defaults (lr always set)
NON_DEFAULT = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": True},
    "AdamW": {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1},
    "Adadelta": {"lr": 0.5, "rho": 0.8, "weight_decay": 0.01},
    "Adamax": {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01},
    "ASGD": {"lr": 0.05, "t0": 2.0, "weight_decay": 0.01},
    "NAdam": {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.01},
    "RAdam": {"lr": 0.01, "weight_decay": 0.01},
    "RMSprop": {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01},
    "Rprop": {"lr": 0.05, "etas": (0.4, 1.3)},
}
NN_KWARGS = {  # the nn pair as the tool writes it for the defaults (rules/optimizers.json)
    "SGD": lambda nn, p: nn.SGD(p, learning_rate=0.001),
    "Adam": lambda nn, p: nn.Adam(p),
    "Adagrad": lambda nn, p: nn.Adagrad(p, learning_rate=0.01, accum=0.0),
    "Adadelta": lambda nn, p: nn.Adadelta(p),
    "Adamax": lambda nn, p: nn.AdaMax(p, learning_rate=0.002),
    "ASGD": lambda nn, p: nn.ASGD(p, learning_rate=0.01),
    "Rprop": lambda nn, p: nn.Rprop(p, learning_rate=0.01),
}


def run_pair(torch_ctor, ms_ctor, scale, steps=STEPS):
    """max |dw| between torch and MindSpore after `steps` steps, and torch's max update."""
    import torch

    ms = H.mindspore_module()
    rng = np.random.default_rng(0)
    shapes = {"w": (4, 3), "b": (3,)}
    init = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = [{k: (scale * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
             for _ in range(steps)]
    tp = [torch.nn.Parameter(torch.tensor(init[k].copy())) for k in shapes]
    mp = [ms.Parameter(ms.Tensor(init[k].copy()), name=k) for k in shapes]
    topt, mopt = torch_ctor(tp), ms_ctor(mp)
    for g in grads:
        for p, k in zip(tp, shapes):
            p.grad = torch.tensor(g[k])
        topt.step()
        mopt(tuple(ms.Tensor(g[k]) for k in shapes))
    diff = max(float(np.max(np.abs(p.detach().numpy() - q.asnumpy()))) for p, q in zip(tp, mp))
    update = max(float(np.max(np.abs(p.detach().numpy() - init[k]))) for p, k in zip(tp, shapes))
    return diff, update


def exact(diff, update):
    return diff <= 1e-6 + 1e-5 * update  # float32 rounding over a few steps


CLASSES = json.loads((ROOT / "rules" / "optimizers.json").read_text(encoding="utf-8"))["experimental_classes"]


def experimental_kwargs(form, kwargs, cls=None):
    out = {k: v for k, v in kwargs.items() if k not in form.get("consumes", ())}
    out.update(form.get("set", {}))
    for name, default in CLASSES[form["target"]]["defaults"].items():
        if default is None and name not in out:  # required in MindSpore: torch's default
            out[name] = TABLE[cls]["torch_defaults"][name] if cls else default
    return out


def form_cases():
    for cls, entry in TABLE.items():
        for form in entry.get("experimental", ()):
            for label, kwargs in (("defaults", {}), ("non-defaults", NON_DEFAULT[cls])):
                when = form.get("when", {})
                merged = {**entry["torch_defaults"], **kwargs}
                if all(merged.get(k) == v for k, v in when.items()):
                    yield pytest.param(cls, form, kwargs, id=f"{cls}->{form['target']}-{label}")


@pytest.mark.parametrize("cls,form,kwargs", list(form_cases()))
def test_experimental_form_verdict_holds_at_every_scale(cls, form, kwargs):
    import torch
    import mindspore.experimental.optim as E

    results = {s: run_pair(lambda p: getattr(torch.optim, cls)(p, **kwargs),
                           lambda p: getattr(E, form["target"])(p, **experimental_kwargs(form, kwargs, cls)), s)
               for s in SCALES}
    measured = all(exact(*r) for r in results.values())
    if form["exact"]:
        assert measured, {s: f"{d:.2g} (update {u:.2g})" for s, (d, u) in results.items()}


@pytest.mark.parametrize("cls,form,kwargs", [c for c in form_cases() if c.values[1]["exact"]])
def test_exact_experimental_form_holds_with_five_times_the_lr_over_30_steps(cls, form, kwargs):
    """The 8-step verdicts at torch's lr sit near the 1e-6 floor of exact(): a larger lr and more
    steps make a systematic difference visible (RAdam's float32 rectification, measured)."""
    import torch
    import mindspore.experimental.optim as E

    kwargs = {**kwargs, "lr": 5 * kwargs.get("lr", TABLE[cls]["torch_defaults"]["lr"])}
    for s in (1e-3, 1.0):
        d, u = run_pair(lambda p: getattr(torch.optim, cls)(p, **kwargs),
                        lambda p: getattr(E, form["target"])(p, **experimental_kwargs(form, kwargs, cls)), s, steps=30)
        assert exact(d, u), (s, d, u)


def test_experimental_radam_is_inexact_from_its_first_rectified_step():
    """experimental RAdam's rho_t is float32: at lr 0.05 the first rectified step (step 6) is off
    by ~2e-6 on a step of ~1e-3 at every gradient scale, so the table marks it inexact."""
    import torch
    import mindspore.experimental.optim as E

    def pair(s, steps):
        return run_pair(lambda p: torch.optim.RAdam(p, lr=0.05), lambda p: E.RAdam(p, lr=0.05), s, steps=steps)

    for s in (1e-3, 1.0):
        (d5, _), (d6, u6) = pair(s, 5), pair(s, 6)
        assert d5 <= 1e-7 and d6 > 1e-6, (s, d5, d6, u6)  # exact until the rectification starts
    assert not exact(*pair(1e-3, 30))  # and, over 30 steps, beyond float32 rounding of the update
    assert not TABLE["RAdam"]["experimental"][0]["exact"]


def test_adam_decoupled_goes_to_adamw_exactly():
    import torch
    import mindspore.experimental.optim as E

    for s in SCALES:
        d, u = run_pair(lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
                        lambda p: E.AdamW(p, lr=0.01, weight_decay=0.1), s)
        assert exact(d, u), (s, d, u)


def test_experimental_adam_is_inexact_at_small_gradients_as_the_issue_says():
    """The reason torch Adam goes to experimental AdamW(weight_decay=0.0): experimental Adam
    differs from torch at gradient scale 1e-4 (table: Adam's third form is marked inexact)."""
    import torch
    import mindspore.experimental.optim as E

    assert not exact(*run_pair(lambda p: torch.optim.Adam(p, lr=0.01), lambda p: E.Adam(p, lr=0.01), 1e-4))
    assert exact(*run_pair(lambda p: torch.optim.Adam(p, lr=0.01), lambda p: E.AdamW(p, lr=0.01, weight_decay=0.0), 1e-4))
    assert not TABLE["Adam"]["experimental"][-1]["exact"]


@pytest.mark.parametrize("cls", sorted(NN_KWARGS))
def test_nn_verdict_holds_across_scales(cls):
    """nn `exact` true: exact at every scale; false (Adam, Adagrad): inexact at some scale."""
    import torch

    ms = H.mindspore_module()
    results = {s: run_pair(lambda p: getattr(torch.optim, cls)(p), lambda p: NN_KWARGS[cls](ms.nn, p), s)
               for s in SCALES}
    measured = all(exact(*r) for r in results.values())
    assert measured == TABLE[cls]["exact"], {s: f"{d:.2g} (update {u:.2g})" for s, (d, u) in results.items()}


# ---- 2. the tool's experimental conversions on the twin network -------------------------------

def tool(torch_src, target="experimental", **kwargs):
    return H.check_equivalence(torch_src, None, options=_options(target), **kwargs)


def call(cls, kwargs, params="model.parameters()"):
    args = ", ".join([params] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return f"torch.optim.{cls}({args})"


@pytest.mark.parametrize("label,scale", (("defaults", 1.0), ("non-defaults", 1e-3)))
@pytest.mark.parametrize("cls", sorted(NON_DEFAULT))
def test_tool_experimental_optimizer(cls, label, scale):
    kwargs = NON_DEFAULT[cls] if label == "non-defaults" else ({"lr": 0.01} if cls == "SGD" else {})
    report = tool(call(cls, kwargs), grad_scale=scale, atol=2e-6)
    assert "mindspore.experimental" in report.ms_source or "optim." in report.ms_source
    report.assert_ok()
    assert report.mindspore.optimizer_class != "" and "nn" not in type(report.mindspore).__name__


GROUPS = {  # groups with torch keys nn rejects
    "SGD": "[{'params': model.conv.parameters(), 'momentum': 0.9, 'nesterov': True}, "
           "{'params': model.fc.parameters(), 'lr': 0.05}]",
    "Adam": "[{'params': model.conv.parameters(), 'betas': (0.5, 0.9)}, {'params': model.fc.parameters(), 'eps': 1e-6}]",
    "RMSprop": "[{'params': model.conv.parameters(), 'alpha': 0.9, 'centered': True}, {'params': model.fc.parameters()}]",
    "Adagrad": "[{'params': model.conv.parameters(), 'lr_decay': 0.1}, {'params': model.fc.parameters()}]",
    # the other seven: per-group keys nn rejects, and a group with its own lr
    "AdamW": "[{'params': model.conv.parameters(), 'betas': (0.8, 0.99), 'weight_decay': 0.1, 'amsgrad': True}, "
             "{'params': model.fc.parameters(), 'lr': 0.05, 'eps': 1e-6}]",
    "Adadelta": "[{'params': model.conv.parameters(), 'rho': 0.8, 'eps': 1e-5}, "
                "{'params': model.fc.parameters(), 'lr': 0.5, 'weight_decay': 0.01}]",
    "Adamax": "[{'params': model.conv.parameters(), 'betas': (0.8, 0.99), 'eps': 1e-6}, "
              "{'params': model.fc.parameters(), 'lr': 0.05, 'weight_decay': 0.01}]",
    "ASGD": "[{'params': model.conv.parameters(), 'lambd': 1e-3, 'alpha': 0.5, 't0': 2}, "
            "{'params': model.fc.parameters(), 'lr': 0.05, 'weight_decay': 0.01}]",
    "NAdam": "[{'params': model.conv.parameters(), 'momentum_decay': 0.01, 'betas': (0.8, 0.99)}, "
             "{'params': model.fc.parameters(), 'lr': 0.05, 'weight_decay': 0.01, 'eps': 1e-6}]",
    "RAdam": "[{'params': model.conv.parameters(), 'betas': (0.8, 0.99), 'eps': 1e-6}, "
             "{'params': model.fc.parameters(), 'lr': 0.05, 'weight_decay': 0.01}]",
    "Rprop": "[{'params': model.conv.parameters(), 'etas': (0.4, 1.3), 'step_sizes': (1e-5, 10)}, "
             "{'params': model.fc.parameters(), 'lr': 0.05}]",
}
MORE_GROUPS = {  # more keys per class than GROUPS, every group with something of its own
    "SGD": "[{'params': model.conv.parameters(), 'momentum': 0.9, 'nesterov': True, 'maximize': True}, "
           "{'params': model.fc.parameters(), 'lr': 0.05, 'momentum': 0.5, 'dampening': 0.1}]",
    "Adam": "[{'params': model.conv.parameters(), 'betas': (0.5, 0.9), 'amsgrad': True}, "
            "{'params': model.fc.parameters(), 'eps': 1e-6, 'lr': 0.05, 'weight_decay': 0}]",
    "RMSprop": "[{'params': model.conv.parameters(), 'alpha': 0.9, 'centered': True, 'momentum': 0.5}, "
               "{'params': model.fc.parameters(), 'lr': 0.05, 'eps': 1e-6, 'weight_decay': 0.01}]",
    "Adagrad": "[{'params': model.conv.parameters(), 'lr_decay': 0.1, 'eps': 1e-6}, "
               "{'params': model.fc.parameters(), 'lr': 0.05, 'initial_accumulator_value': 0.1}]",
}


@pytest.mark.parametrize("cls", sorted(GROUPS))
def test_tool_groups_with_torch_keys_go_experimental_under_auto(cls):
    report = tool(call(cls, {"lr": 0.01}, params=GROUPS[cls]), target="auto", grad_scale=1e-2, atol=2e-6)
    report.assert_ok()
    assert any(f.code == "MSM108" for f in report.findings)
    assert not any(f.code == "MSM301" for f in report.findings)


def _assert_updates_exact(report):
    """Per step, the verdict tests' criterion (exact()): within float32 rounding of torch's
    update so far. RAdam's rectified branch (from step 6) carries ~5e-6 relative (its rho_t is
    computed in float32), which a fixed atol of 2e-6 would call a difference at lr 0.05."""
    first = report.torch.states[0]
    moved = 0.0
    for step, (t, m) in enumerate(zip(report.torch.states, report.mindspore.states)):
        moved = max(moved, max(float(np.max(np.abs(t[n] - first[n]))) for n in t))
        diff = max(float(np.max(np.abs(t[n] - m[n]))) for n in t)
        assert exact(diff, moved), f"step {step}: max |dw| {diff:.3g} against a torch update of {moved:.3g}"
    assert len(report.mindspore.states) == len(report.torch.states) == 13


def _group_sources():
    for cls in sorted(GROUPS):
        yield pytest.param(cls, GROUPS[cls], id=cls)
    for cls in sorted(MORE_GROUPS):
        yield pytest.param(cls, MORE_GROUPS[cls], id=f"{cls}-more")


@pytest.mark.parametrize("scale", (1.0, 1e-3, 1e-4))
@pytest.mark.parametrize("target", ("auto", "experimental"))
@pytest.mark.parametrize("cls,groups", list(_group_sources()))
def test_tool_groups_with_torch_keys_every_class(cls, groups, target, scale):
    """All 11 classes with per-group keys nn rejects (and a group with its own lr), under auto
    and experimental, at three gradient scales, 12 steps: groups, weight decay and lr per group
    compared exactly with torch, parameters per step within float32 rounding of torch's update."""
    report = tool(call(cls, {"lr": 0.01}, params=groups), target=target, grad_scale=scale,
                  epochs=2, steps_per_epoch=6, aspects=("params", "weight_decay", "lr"))
    report.assert_ok()
    assert "torch.optim" not in report.ms_source and "mindspore.experimental" in report.ms_source
    form = next(f for f in TABLE[cls]["experimental"] if f["target"] == report.mindspore.optimizer_class)
    if form["exact"]:
        _assert_updates_exact(report)
        assert [f.code for f in report.findings if f.severity != "info"] == [], report.format()
    else:  # RAdam: measured inexact (float32 rectification), so said so
        assert [f.code for f in report.findings if f.severity != "info"] == ["MSM101"], report.format()
    if "'lr'" in groups:  # a group with its own lr: the lrs per group really differ
        assert len({v for v in report.torch.lrs[0].values()}) == 2


# groups the experimental form does not reproduce: a group overrides a key the form depends on
# (Adam -> AdamW(weight_decay=0.0) decouples a group's weight_decay where torch Adam adds it to
# the gradient), or sets a torch argument the experimental class silently ignores (NAdam/RAdam
# have no decoupled_weight_decay and no maximize). Measured: converted as they were, each
# differs from torch by 1e-2..1e-1 after 12 steps.
GROUP_TRAPS = {
    "Adam-group-weight_decay": "torch.optim.Adam([{'params': model.conv.parameters(), 'weight_decay': 0.1}, "
                               "{'params': model.fc.parameters(), 'lr': 0.05}], lr=0.01)",
    "Adam-group-not-decoupled": "torch.optim.Adam([{'params': model.conv.parameters(), 'weight_decay': 0.1, "
                                "'decoupled_weight_decay': False}, {'params': model.fc.parameters()}], lr=0.01, "
                                "weight_decay=0.1, decoupled_weight_decay=True)",
    "NAdam-group-decoupled": "torch.optim.NAdam([{'params': model.conv.parameters(), 'decoupled_weight_decay': True, "
                             "'weight_decay': 0.1}, {'params': model.fc.parameters(), 'lr': 0.05}], lr=0.01)",
    "NAdam-group-maximize": "torch.optim.NAdam([{'params': model.conv.parameters(), 'maximize': True}, "
                            "{'params': model.fc.parameters()}], lr=0.01)",
    "RAdam-group-decoupled": "torch.optim.RAdam([{'params': model.conv.parameters(), 'decoupled_weight_decay': True, "
                             "'weight_decay': 0.1}, {'params': model.fc.parameters()}], lr=0.01)",
    "RAdam-group-maximize": "torch.optim.RAdam([{'params': model.conv.parameters(), 'maximize': True}, "
                            "{'params': model.fc.parameters()}], lr=0.01)",
    "Adam-add_param_group-later": "import torch\noptimizer = torch.optim.Adam(model.conv.parameters(), lr=0.01)\n"
                                  "n = 1\n"
                                  "optimizer.add_param_group({'params': model.fc.parameters(), 'weight_decay': 0.1})",
    "Adam-groups-appended": "import torch\ngroups = [{'params': model.conv.parameters()}]\n"
                            "groups.append({'params': model.fc.parameters(), 'weight_decay': 0.1})\n"
                            "optimizer = torch.optim.Adam(groups, lr=0.01)",
    "RAdam-add_param_group-folded": "import torch\noptimizer = torch.optim.RAdam(model.conv.parameters(), lr=0.01)\n"
                                    "optimizer.add_param_group({'params': model.fc.parameters(), 'maximize': True})",
}


@pytest.mark.parametrize("target", ("auto", "experimental"))
@pytest.mark.parametrize("name", sorted(GROUP_TRAPS))
def test_tool_groups_the_experimental_form_cannot_carry_are_exact_or_flagged(name, target):
    src = GROUP_TRAPS[name]
    report = tool(src, target=target, grad_scale=1e-3, epochs=2, steps_per_epoch=6)
    line = next(i for i, text in enumerate(report.torch_source.splitlines(), 1) if "torch.optim." in text)
    flagged = [f for f in report.findings if f.severity in ("warning", "error") and f.line == line
               and f.code in ("MSM101", "MSM102", "MSM301")]
    assert flagged or report.ok, report.format()
    assert "AdamW" not in report.ms_source or report.ok, report.format()
    if name.startswith(("NAdam", "RAdam")):  # no nn form, no exact experimental one: kept in torch
        assert "torch.optim." in report.ms_source and [f.code for f in flagged] == ["MSM102"]


SCHEDULERS = {
    "StepLR": "StepLR(optimizer, step_size=2, gamma=0.5)",
    "MultiStepLR": "MultiStepLR(optimizer, milestones=[1, 3], gamma=0.3)",
    "ExponentialLR": "ExponentialLR(optimizer, gamma=0.8)",
    "CosineAnnealingLR": "CosineAnnealingLR(optimizer, T_max=3, eta_min=0.001)",
    "CosineAnnealingWarmRestarts": "CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2, eta_min=0.001)",
    "PolynomialLR": "PolynomialLR(optimizer, total_iters=4, power=2.0)",
    "LinearLR": "LinearLR(optimizer, start_factor=0.25, total_iters=3)",
    "ConstantLR": "ConstantLR(optimizer, factor=0.5, total_iters=2)",
    "LambdaLR": "LambdaLR(optimizer, lambda e: 0.9 ** e)",
    "MultiplicativeLR": "MultiplicativeLR(optimizer, lambda e: 0.9)",
    "CyclicLR": "CyclicLR(optimizer, 0.01, 0.1, 2, cycle_momentum=False)",
    "SequentialLR": "SequentialLR(optimizer, [torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, 1.0, 2), "
                    "torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)], [2])",
    "ReduceLROnPlateau": "ReduceLROnPlateau(optimizer, 'min', factor=0.5, patience=0)",
}


def scheduled(expr, per):
    step = "scheduler.step(loss)" if "Plateau" in expr else "scheduler.step()"
    inner = f"        {step}\n" if per == "iteration" else ""
    outer = f"    {step}\n" if per == "epoch" else ""
    return ("import torch\n"
            "optimizer = torch.optim.RMSprop(model.parameters(), lr=0.05, momentum=0.9)\n"
            f"scheduler = torch.optim.lr_scheduler.{expr}\n"
            "for epoch in range(4):\n"
            "    for x in loader:\n"
            "        optimizer.step()\n" + inner + outer)


@pytest.mark.parametrize("per", ("epoch", "iteration"))
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_tool_experimental_scheduler(name, per):
    """RMSprop (no exact nn form) under auto: optimizer and scheduler both experimental."""
    report = tool(scheduled(SCHEDULERS[name], per), target="auto", epochs=4, steps_per_epoch=3,
                  scheduler_step=per)
    assert "lr_scheduler." + name in report.ms_source and "torch.optim" not in report.ms_source
    report.assert_ok()
    assert len({round(v, 9) for lrs in report.torch.lrs for v in lrs.values()}) > 1  # the lr moved


def test_plateau_metric_sequence_reduces_the_lr():
    report = tool(scheduled(SCHEDULERS["ReduceLROnPlateau"], "epoch"), target="auto", epochs=8,
                  steps_per_epoch=2, scheduler_step="epoch")
    report.assert_ok()
    lrs = [next(iter(step.values())) for step in report.mindspore.lrs]
    assert lrs[0] == pytest.approx(0.05) and min(lrs) < 0.05


# transformers factories on an AdamW (no exact nn form): an experimental LambdaLR with the
# factory's formula, under auto; the torch side runs transformers (or the stand-in)
from .test_schedulers import (  # noqa: E402
    HF_BY_NAME, HF_BY_NAME_CONSTANT_WARMUP, HF_COSINE, HF_COSINE_CYCLES, HF_LINEAR, transformers_for_torch,  # noqa: F401
)


@pytest.mark.parametrize("src", (HF_LINEAR, HF_COSINE, HF_COSINE_CYCLES, HF_BY_NAME, HF_BY_NAME_CONSTANT_WARMUP),
                         ids=("linear", "cosine", "cosine-cycles", "by-name-linear", "by-name-constant-warmup"))
def test_tool_transformers_factory_on_experimental_adamw(src, transformers_for_torch):
    src = src.replace("torch.optim.SGD(net.parameters(), lr=0.1)", "torch.optim.AdamW(net.parameters(), lr=0.1)")
    report = tool(src, target="auto", epochs=3, steps_per_epoch=7, scheduler_step="iteration")
    assert "lr_scheduler.LambdaLR(optimizer" in report.ms_source and "transformers" not in report.ms_source
    report.assert_ok()
    assert not any(f.code == "MSM101" for f in report.findings)


PARAM_GROUPS_SRC = """
import torch
optimizer = torch.optim.RMSprop([w], lr=0.1)
for step in range(4):
    for g in optimizer.param_groups:
        g['lr'] = g['lr'] * 0.5
    seen.append(float(f"{optimizer.param_groups[0]['lr']:.6f}"))
    STEP
"""


def test_tool_param_groups_lr_writes_on_experimental_optimizer():
    """Reads become float(...), written values float(...): without them the experimental optimizer
    ignores a Tensor written back (measured) and formatting the Parameter raises."""
    import torch

    ms = H.mindspore_module()
    result = H.migrate(PARAM_GROUPS_SRC.replace("STEP", "optimizer.step()"), options=_options("auto"))
    assert "float(" in result.code and "optim.RMSprop(" in result.code, result.code
    w_t = torch.nn.Parameter(torch.ones(3))
    seen_t: list = []

    def torch_step(opt):
        w_t.grad = torch.ones(3)
        opt.step()

    exec(PARAM_GROUPS_SRC.replace("STEP", "torch_step(optimizer)"),
         {"w": w_t, "seen": seen_t, "torch_step": torch_step})
    w_m = ms.Parameter(ms.Tensor(np.ones(3, np.float32)), name="w")
    seen_m: list = []
    code = result.code.replace("optimizer.step()", "optimizer((ms.Tensor(np.ones(3, np.float32)),))")
    exec(code, {"w": w_m, "seen": seen_m, "ms": ms, "np": np})
    assert seen_m == pytest.approx(seen_t, rel=1e-6)
    assert np.allclose(w_m.asnumpy(), w_t.detach().numpy(), atol=1e-6)


# ---- scheduler.step(epoch) on the experimental classes ----------------------------------------

STEP_ARGUMENT_CASES = {
    "StepLR": ["StepLR(o, 2, 0.5)"],
    "MultiStepLR": ["MultiStepLR(o, [2, 5], 0.1)"],
    "ExponentialLR": ["ExponentialLR(o, 0.8)"],
    "CosineAnnealingLR": ["CosineAnnealingLR(o, T_max=4, eta_min=0.01)"],
    "LambdaLR": ["LambdaLR(o, lambda e: 1 / (e + 1))"],
    "MultiplicativeLR": ["MultiplicativeLR(o, lambda e: 0.9)"],
    "LinearLR": ["LinearLR(o, start_factor=0.2, total_iters=4)"],
    "ConstantLR": ["ConstantLR(o, factor=0.5, total_iters=3)"],
    "PolynomialLR": ["PolynomialLR(o, total_iters=5, power=2.0)"],
    "CosineAnnealingWarmRestarts": ["CosineAnnealingWarmRestarts(o, T_0=2, eta_min=0.001)",
                                    "CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2)"],
}


def _step_argument_matches(expr: str) -> bool:
    """torch's and mindspore.experimental's scheduler, both stepped with the same arguments
    (epochs out of order, fractional epochs): the same lr after every step?"""
    import warnings

    import mindspore.experimental.optim as eo
    import torch
    from mindspore import nn as ms_nn

    epochs = [e + i / 4 for e in range(6) for i in range(4)] if "WarmRestarts" in expr else [0, 1, 2, 3, 4, 5, 6, 7, 3, 10]
    o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    theirs = eval("torch.optim.lr_scheduler." + expr, {"torch": torch, "o": o})
    o = eo.SGD(ms_nn.Dense(2, 1).trainable_params(), lr=0.1)
    ours = eval("eo.lr_scheduler." + expr, {"eo": eo, "o": o})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for epoch in epochs:
                theirs.step(epoch)
                ours.step(epoch)
                if abs(theirs.get_last_lr()[0] - float(ours.get_last_lr()[0])) > 1e-6 * theirs.get_last_lr()[0] + 1e-9:
                    return False
        except Exception:  # the experimental class raises (MultiStepLR, T_mult != 1)
            return False
    return True


def test_experimental_step_argument_table():
    """rules/schedulers.json experimental_step_argument lists exactly the classes (and arguments)
    whose experimental step(epoch) matches torch's: measured both ways."""
    rule = tables.load("schedulers")["experimental_step_argument"]
    for name, exprs in STEP_ARGUMENT_CASES.items():
        for expr in exprs:
            listed = name in rule["classes"] and all(
                f"{k}=" not in expr or f"{k}={v})" in expr or f"{k}={v}," in expr
                for k, v in rule["only_with"].get(name, {}).items())
            assert _step_argument_matches(expr) == listed, (expr, listed)


@pytest.mark.parametrize("scheduler, kept", [
    ("MultiplicativeLR(optimizer, lambda e: 0.9)", False),
    ("MultiStepLR(optimizer, [2, 5], 0.1)", False),
    ("CosineAnnealingWarmRestarts(optimizer, 2, 2)", False),
    ("StepLR(optimizer, 2, 0.5)", True),
])
def test_step_argument_under_auto_is_exact_or_flagged(scheduler, kept):
    """RMSprop (experimental under auto) with scheduler.step(epoch): the experimental scheduler is
    kept only where its class measured like torch with an argument; otherwise the optimizer takes
    another API (nn and a per-step list, with RMSprop's warning) or stays in torch, flagged."""
    src = ("import torch\noptimizer = torch.optim.RMSprop(model.parameters(), lr=0.05)\n"
           f"scheduler = torch.optim.lr_scheduler.{scheduler}\n"
           "for epoch in range(4):\n    for x in loader:\n        optimizer.step()\n    scheduler.step(epoch)\n")
    result = H.migrate(src, options=_options("auto"))
    experimental_scheduler = "lr_scheduler." + scheduler.split("(")[0] in result.code and "torch.optim" not in result.code
    assert experimental_scheduler == kept, result.code
    if not kept:  # never silent: the optimizer or the scheduler carries a warning or an error
        assert [f for f in result.findings if f.severity in ("error", "warning") and f.line in (2, 3)], \
            [(f.code, f.line) for f in result.findings]


# add_param_group on mindspore.experimental.optim: measured on all 11 classes (MindSpore 2.10),
# called right after the construction, before any step: the first step raises "The tuples in
# HyperMap should have the same length" (the optimizer's state, e.g. exp_avg, is cloned from the
# parameters in __init__, so a group added later has none). The tool folds the call into the
# constructor where it provably can, and otherwise does not choose the experimental API.
def test_experimental_add_param_group_raises_at_the_first_step():
    ms = H.mindspore_module()
    import mindspore.experimental.optim as E

    for name in CLASSES:
        net = ms.nn.SequentialCell(ms.nn.Dense(3, 3), ms.nn.Dense(3, 2))
        first, second = net[0].trainable_params(), net[1].trainable_params()
        optimizer = getattr(E, name)(first, **({"lr": 0.01} if name == "SGD" else {}))
        optimizer.add_param_group({"params": second})
        grad_fn = ms.value_and_grad(lambda x: net(x).sum(), None, optimizer.parameters)
        _, grads = grad_fn(ms.Tensor(np.ones((2, 3), np.float32)))
        with pytest.raises(RuntimeError, match="HyperMap"):
            optimizer(grads)


ADD_GROUP = "optimizer.add_param_group({'params': model.fc.parameters(), 'lr': 0.05, 'betas': (0.8, 0.99)})"
ADD_GROUP_FOLDED = {  # the call moves into the constructor: exact, nothing flagged
    "right-after": f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n{ADD_GROUP}\n",
    "later": f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\nn = 1\n"
             f"print('built')\n# the head\n{ADD_GROUP}  # its own lr\n",
    "in-a-function": ("import torch\ndef build(model):\n"
                      "    optimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01, weight_decay=0.1)\n"
                      f"    {ADD_GROUP}\n    return optimizer\noptimizer = build(model)\n"),
    "in-an-if": ("import torch\nif True:\n    optimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                 f"    {ADD_GROUP}\n"),
    "before-a-scheduler": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n{ADD_GROUP}\n"
                           "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)\n"),
    "two-calls": ("import torch\noptimizer = torch.optim.AdamW([{'params': model.conv.weight}], lr=0.01, amsgrad=True)\n"
                  "optimizer.add_param_group({'params': model.conv.bias, 'weight_decay': 0.0})\n"
                  f"{ADD_GROUP}\n"),
}


@pytest.mark.parametrize("target", ("auto", "experimental"))
@pytest.mark.parametrize("name", sorted(ADD_GROUP_FOLDED))
def test_tool_add_param_group_on_an_experimental_optimizer(name, target):
    """The group joins the constructor's list (the constructor's params become the first group,
    its keyword arguments the defaults) and the call goes: exact, the comments kept."""
    src = ADD_GROUP_FOLDED[name]
    stepped = "scheduler" in src
    report = tool(src, target=target, grad_scale=1e-3, epochs=3, steps_per_epoch=4,
                  **({"scheduler_step": "epoch"} if stepped else {}))
    assert "add_param_group" not in report.ms_source and ".parameters()" not in report.ms_source, report.ms_source
    assert "optim.AdamW([" in report.ms_source and "torch.optim" not in report.ms_source, report.ms_source
    for comment in ("# the head", "# its own lr"):
        assert (comment in src) == (comment in report.ms_source), report.ms_source
    report.assert_ok()
    _assert_updates_exact(report)
    assert [f.code for f in report.findings if f.severity != "info"] == [], report.format()
    assert len(report.torch.groups) == (3 if name == "two-calls" else 2)


ADD_GROUP_NOT_FOLDED = {  # something between uses the optimizer, or the call is conditional
    "after-a-step": f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                    f"optimizer.zero_grad()\n{ADD_GROUP}\n",
    "after-a-scheduler": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                          "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)\n"
                          f"{ADD_GROUP}\n"),
    "after-a-param_groups-read": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                                  "base = optimizer.param_groups[0]['lr']\n"
                                  + ADD_GROUP.replace("0.05", "base * 5") + "\n"),
    "conditional": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                    f"if model is not None:\n    {ADD_GROUP}\n"),
    "after-a-call": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                     f"setup()\n{ADD_GROUP}\n"),
    "group-reads-a-later-name": (f"import torch\noptimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\n"
                                 "head_lr = 0.05\n" + ADD_GROUP.replace("0.05", "head_lr") + "\n"),
    "through-a-helper": ("import torch\ndef add_head(opt):\n    " + ADD_GROUP.replace("optimizer.", "opt.") + "\n"
                         "optimizer = torch.optim.AdamW(model.conv.parameters(), lr=0.01)\nadd_head(optimizer)\n"),
    "NAdam-later": ("import torch\noptimizer = torch.optim.NAdam(model.conv.parameters(), lr=0.01)\n"
                    f"optimizer.zero_grad()\n{ADD_GROUP}\n"),
}


@pytest.mark.parametrize("target", ("auto", "experimental"))
@pytest.mark.parametrize("name", sorted(ADD_GROUP_NOT_FOLDED))
def test_tool_add_param_group_that_cannot_be_folded_is_never_experimental(name, target):
    """No experimental optimizer with an add_param_group left (it would raise): nn with its
    findings (the add_param_group flagged MSM304), or torch with MSM102 when nn has no form."""
    src = ADD_GROUP_NOT_FOLDED[name]
    result = H.migrate(src, options=_options(target))
    assert "mindspore.experimental" not in result.code, result.code
    codes = {f.code for f in result.findings if f.severity == "error" or (f.code == "MSM304" and "helper" in name)}
    if name.startswith("NAdam"):  # no nn form, no exact experimental one that takes the group
        assert "torch.optim.NAdam" in result.code and "MSM102" in codes, result.findings
        assert any("add_param_group" in f.message for f in result.findings if f.code == "MSM102")
    elif "torch.optim.AdamW(" in result.code:  # kept whole in torch (with its scheduler or helper), said so
        assert "MSM109" in codes, result.findings
    else:
        assert "nn.AdamWeightDecay" in result.code and "MSM304" in codes, result.findings


# ---- scheduler methods the experimental classes lack ------------------------------------------

def test_experimental_schedulers_have_no_state_dict():
    """Measured (MindSpore 2.10): mindspore.experimental.optim.lr_scheduler classes have step and
    get_last_lr but no state_dict/load_state_dict, which torch's have (the tool flags their uses)."""
    import mindspore.experimental.optim as eo
    import torch
    from mindspore import nn as ms_nn

    from ms_migrate.rules.schedulers.experimental import TORCH_ONLY_METHODS

    o = eo.SGD(ms_nn.Dense(2, 1).trainable_params(), lr=0.1)
    t = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for ours, theirs in ((eo.lr_scheduler.StepLR(o, 2), torch.optim.lr_scheduler.StepLR(t, 2)),
                         (eo.lr_scheduler.LambdaLR(o, lambda e: 1.0), torch.optim.lr_scheduler.LambdaLR(t, lambda e: 1.0)),
                         (eo.lr_scheduler.ReduceLROnPlateau(o), torch.optim.lr_scheduler.ReduceLROnPlateau(t))):
        for method in TORCH_ONLY_METHODS:
            assert hasattr(theirs, method) and not hasattr(ours, method), (type(ours).__name__, method)
        assert hasattr(ours, "step") and hasattr(ours, "get_last_lr")


def test_tool_flags_state_dict_of_an_experimental_scheduler():
    """The imagenet layout under auto: optimizer and StepLR go experimental together (no torch
    scheduler around a MindSpore optimizer), the schedule is exact, and the scheduler's
    state_dict/load_state_dict, which would raise AttributeError, are flagged MSM402."""
    src = ("import torch\nloader = [None] * 3\n"
           "optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)\n"
           "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)\n"
           "if resume:\n    scheduler.load_state_dict(checkpoint['scheduler'])\n"
           "for epoch in range(4):\n    for x in loader:\n        optimizer.step()\n    scheduler.step()\n"
           "    state = {'scheduler': scheduler.state_dict()}\n")
    result = H.migrate(src, options=_options("auto"))
    assert "torch.optim" not in result.code and "lr_scheduler.StepLR(optimizer" in result.code, result.code
    flagged = sorted((f.line, f.code) for f in result.findings if f.code.startswith("MSM4"))
    assert flagged == [(6, "MSM402"), (11, "MSM402")], result.findings  # (the bare step: MSM501)
    runnable = src.replace("if resume:\n    scheduler.load_state_dict(checkpoint['scheduler'])\n", "") \
                  .replace("    state = {'scheduler': scheduler.state_dict()}\n", "")
    # without those two lines auto would choose nn and a list; the experimental pair is exact
    report = tool(runnable, target="experimental", epochs=4, steps_per_epoch=3, scheduler_step="epoch")
    report.assert_ok()
    assert "lr_scheduler.StepLR(optimizer" in report.ms_source, report.ms_source


# ---- OneCycleLR / ChainedScheduler on experimental: an exact LambdaLR ---------------------------

AS_LAMBDA = {
    # values read once at construction: max_lr changes after it, torch keeps the first value
    "OneCycleLR-names": ("import torch\nloader = [None] * 3\nargs_lr = 0.05\nepochs = 4\n"
                         "optimizer = torch.optim.AdamW(model.parameters(), lr=args_lr)\n"
                         "scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args_lr * 4, epochs=epochs, "
                         "steps_per_epoch=len(loader), cycle_momentum=False, div_factor=10.0)\n"
                         "args_lr = 1.0\n"),
    "OneCycleLR-groups": ("import torch\nloader = [None] * 3\n"
                          "optimizer = torch.optim.AdamW([{'params': model.conv.parameters(), 'weight_decay': 0.0}, "
                          "{'params': model.fc.parameters()}], lr=0.01)\n"
                          "scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=12, "
                          "anneal_strategy='linear', cycle_momentum=False, three_phase=False)\n"),
    "Chained-groups-own-lr": ("import torch\nloader = [None] * 3\n"
                              "optimizer = torch.optim.RMSprop([{'params': model.conv.parameters(), 'lr': 0.05}, "
                              "{'params': model.fc.parameters()}], lr=0.01)\n"
                              "scheduler = torch.optim.lr_scheduler.ChainedScheduler([\n"
                              "    torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=4),\n"
                              "    torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)])\n"),
}


@pytest.mark.parametrize("per", ("epoch", "iteration"))
@pytest.mark.parametrize("name", sorted(AS_LAMBDA))
def test_tool_schedulers_experimental_lacks_become_an_exact_lambdalr(name, per):
    step = "        scheduler.step()\n" if per == "iteration" else "    scheduler.step()\n"
    src = AS_LAMBDA[name] + "for epoch in range(4):\n    for x in loader:\n        optimizer.step()\n" + step
    report = tool(src, target="auto", epochs=4, steps_per_epoch=3, scheduler_step=per, grad_scale=1e-2)
    assert "lr_scheduler.LambdaLR(optimizer, lambda" in report.ms_source and "torch.optim" not in report.ms_source, \
        report.ms_source
    report.assert_ok()
    _assert_updates_exact(report)
    assert [f.code for f in report.findings if f.severity != "info" and f.code != "MSM501"] == [], report.format()
    lrs = [v for step_lrs in report.torch.lrs for v in step_lrs.values()]
    assert len({round(v, 12) for v in lrs}) > 3  # the lr really moved


def test_experimental_lambdalr_passes_a_parameter():
    """Why the LambdaLR formula reads int(step): mindspore.experimental's LambdaLR calls the lambda
    with its count as an int32 Parameter (measured), so arithmetic on it runs in float32."""
    import mindspore.experimental.optim as eo
    from mindspore import nn as ms_nn

    seen = []
    o = eo.SGD(ms_nn.Dense(2, 1).trainable_params(), lr=0.1)
    scheduler = eo.lr_scheduler.LambdaLR(o, lambda e: (seen.append(e), 1.0)[1])
    scheduler.step()
    assert seen and all(not isinstance(e, int) for e in seen)
    assert [int(e) for e in seen][-1] == 1


@pytest.mark.parametrize("per", ("epoch", "iteration"))
@pytest.mark.parametrize("expr", ("LambdaLR(optimizer, lambda e: warm[min(e, 3)] * 0.9 ** e)",
                                  "LambdaLR(optimizer, lr_lambda=schedule)",
                                  "MultiplicativeLR(optimizer, lambda e: factors[e % 3])"))
def test_tool_lr_lambda_gets_an_int_count_on_experimental(expr, per):
    """Without int(step) the experimental class hands the lambda an int32 Parameter: indexing a
    list with it raises ValueError (measured), arithmetic runs in float32."""
    step = "        scheduler.step()\n" if per == "iteration" else "    scheduler.step()\n"
    src = ("import torch\nloader = [None] * 3\nwarm = [0.1, 0.4, 0.7, 1.0]\nfactors = [0.9, 1.0, 0.8]\n"
           "def schedule(e):\n    return warm[e] if e < 4 else 0.5 ** (e - 3)\n"
           "optimizer = torch.optim.RMSprop(model.parameters(), lr=0.05)\n"
           f"scheduler = torch.optim.lr_scheduler.{expr}\n"
           "for epoch in range(4):\n    for x in loader:\n        optimizer.step()\n" + step)
    report = tool(src, target="auto", epochs=4, steps_per_epoch=3, scheduler_step=per, grad_scale=1e-2)
    assert "fn(int(step))" in report.ms_source and "torch.optim" not in report.ms_source, report.ms_source
    report.assert_ok()
    assert len({round(v, 12) for lrs in report.torch.lrs for v in lrs.values()}) > 2
