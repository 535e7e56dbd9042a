"""Every torch scheduler class the tool knows, under every target (issue 12): exact or flagged.

For each class of rules/schedulers.json (OneCycleLR and ChainedScheduler included, which
mindspore.experimental.optim.lr_scheduler lacks: an experimental LambdaLR; CyclicLR, whose
experimental class has no momentum arguments), on an optimizer nn
converts exactly (SGD with momentum) and one it does not (Adam: experimental under auto),
stepped per epoch and per iteration, under --target nn, auto and experimental, the tool's output
runs against torch on the twin network:

* the per-step lr differs from torch's -> a warning or an error is on the scheduler's line;
* the lr matches but the updates differ (an inexact optimizer, momentum a scheduler cycles) ->
  a warning or an error is on the scheduler's or the optimizer's line;
* otherwise the output is equivalent.

Which API each case ends on is printed in the test id's report on failure; the test never
accepts a difference without a finding.
"""

import pytest

pytest.importorskip("numpy", reason="the equivalence tier needs the 'equivalence' extra (numpy, torch, mindspore)")
from ms_migrate.core import tables  # noqa: E402

from . import harness as H  # noqa: E402

pytestmark = pytest.mark.equivalence

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
    "CyclicLR-momentum": "CyclicLR(optimizer, 0.01, 0.1, 2)",
    "OneCycleLR": "OneCycleLR(optimizer, max_lr=0.1, total_steps=12, cycle_momentum=False)",
    "OneCycleLR-linear": "OneCycleLR(optimizer, 0.2, epochs=4, steps_per_epoch=3, pct_start=0.4, "
                         "anneal_strategy='linear', cycle_momentum=False)",
    "OneCycleLR-momentum": "OneCycleLR(optimizer, max_lr=0.1, total_steps=12)",
    "SequentialLR": "SequentialLR(optimizer, [torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, 1.0, 2), "
                    "torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)], [2])",
    "ChainedScheduler": "ChainedScheduler([torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5), "
                        "torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)])",
    "ChainedScheduler-warmup": "ChainedScheduler([torch.optim.lr_scheduler.LinearLR(optimizer, 0.2, total_iters=3), "
                               "torch.optim.lr_scheduler.MultiStepLR(optimizer, [2, 4], 0.5), "
                               "torch.optim.lr_scheduler.ConstantLR(optimizer, 0.5, 1)])",
    "ChainedScheduler-cosine": "ChainedScheduler([torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9), "
                               "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 4)])",
    "ReduceLROnPlateau": "ReduceLROnPlateau(optimizer, 'min', factor=0.5, patience=0)",
}
OPTIMIZERS = {
    "SGD": "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",  # nn: exact
    "Adam": "torch.optim.Adam(model.parameters(), lr=0.05)",  # nn: inexact; auto: experimental
}
SCHEDULER_LINE, OPTIMIZER_LINE = 4, 3


def source(expr: str, per: str, optimizer: str) -> str:
    step = "scheduler.step(loss)" if "Plateau" in expr else "scheduler.step()"
    inner = f"        {step}\n" if per == "iteration" else ""
    outer = f"    {step}\n" if per == "epoch" else ""
    return ("import torch\nloader = [None] * 3\n"
            f"optimizer = {OPTIMIZERS[optimizer]}\n"
            f"scheduler = torch.optim.lr_scheduler.{expr}\n"
            "for epoch in range(4):\n    for x in loader:\n        optimizer.step()\n" + inner + outer)


def test_every_scheduler_class_is_covered():
    known = set(tables.load("schedulers")["schedulers"])
    assert known == {name.split("-")[0] for name in SCHEDULERS}


@pytest.mark.parametrize("per", ("epoch", "iteration"))
@pytest.mark.parametrize("target", ("nn", "auto", "experimental"))
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_is_exact_or_flagged_under_every_target(name, optimizer, target, per):
    from ms_migrate.core.options import Options

    report = H.check_equivalence(source(SCHEDULERS[name], per, optimizer), None, options=Options(target=target),
                                 epochs=4, steps_per_epoch=3, scheduler_step=per, grad_scale=1e-2)
    flagged = {f.line for f in report.findings if f.severity in ("warning", "error")}
    if report.failed("lr") or report.failed("construction") or report.failed("simulation"):
        assert SCHEDULER_LINE in flagged, report.format()
    elif not report.ok:
        assert flagged & {SCHEDULER_LINE, OPTIMIZER_LINE}, report.format()
    if "torch.optim" in report.ms_source:  # left in torch: said so on both lines
        assert {SCHEDULER_LINE, OPTIMIZER_LINE} <= flagged, report.format()
