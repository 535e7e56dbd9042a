"""Exact per-step learning-rate lists for torch schedulers (mindspore-facts.md section 5).

Every builder takes the scheduler's arguments (torch names -> expressions), the base lr and the
timing, and returns the MindSpore expression of the whole list: a `mindspore.nn.dynamic_lr`
call where that function is exact, else a list comprehension over the optimizer step `i`.

`Timing.t` is the scheduler's own step count at optimizer step `i`: `i // steps_per_epoch`
for a scheduler stepped once per epoch, `i` for one stepped after every optimizer update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import libcst as cst

from codemod import syntax


class Unsupported(Exception):
    """The schedule cannot be expressed exactly; the message says why and what to do."""


@dataclass
class Timing:
    per_epoch: bool
    total: cst.BaseExpression  # N: optimizer steps in the whole run (the list's length)
    steps_per_epoch: cst.BaseExpression  # optimizer updates per epoch
    nn: cst.BaseExpression  # mindspore.nn
    math: Callable[[], cst.BaseExpression]  # the math module (imported on first use)

    @property
    def spe(self) -> cst.BaseExpression:
        """step_per_epoch for dynamic_lr: one scheduler step spans this many optimizer steps."""
        return self.steps_per_epoch if self.per_epoch else cst.Integer("1")

    def t(self) -> cst.BaseExpression:
        if self.per_epoch:
            return syntax.fill("i // SPE", SPE=self.steps_per_epoch)
        return cst.Name("i")


Args = Dict[str, cst.BaseExpression]


def _arg(args: Args, name: str, default=None) -> cst.BaseExpression:
    if name in args:
        return args[name]
    if default is None:
        raise Unsupported(f"its {name} argument is missing")
    return syntax.value_expr(default)


def _f(node: cst.BaseExpression) -> cst.BaseExpression:
    return syntax.as_float(node)


def _listcomp(body: str, timing: Timing, **values: cst.BaseExpression) -> cst.BaseExpression:
    return syntax.fill(f"[{body} for i in range(TOTAL)]", TOTAL=timing.total, T=timing.t(), **values)


def step_lr(args: Args, base, timing: Timing):
    return syntax.fill(
        "NN.dynamic_lr.exponential_decay_lr(BASE, GAMMA, TOTAL, SPE, STEP, is_stair=True)",
        NN=timing.nn, BASE=_f(base), GAMMA=_f(_arg(args, "gamma", 0.1)), TOTAL=timing.total,
        SPE=timing.spe, STEP=_arg(args, "step_size"),
    )


def multi_step_lr(args: Args, base, timing: Timing):
    # torch counts repeated milestones (a Counter): lr = base * gamma ** #(milestones <= t)
    return _listcomp("BASE * GAMMA ** sum(m <= T for m in MILESTONES)", timing, BASE=base,
                     GAMMA=_arg(args, "gamma", 0.1), MILESTONES=_arg(args, "milestones"))


def exponential_lr(args: Args, base, timing: Timing):
    return syntax.fill(
        "NN.dynamic_lr.exponential_decay_lr(BASE, GAMMA, TOTAL, SPE, 1)",
        NN=timing.nn, BASE=_f(base), GAMMA=_f(_arg(args, "gamma")), TOTAL=timing.total, SPE=timing.spe,
    )


def _cosine(phase: str, args: Args, base, timing: Timing, period: str):
    eta_min = args.get("eta_min")
    if eta_min is None or syntax.literal_value(eta_min) == 0:
        body = f"BASE * (1 + MATH.cos(MATH.pi * {phase} / {period})) / 2"
        return _listcomp(body, timing, BASE=base, MATH=timing.math(), **{period: _arg(args, period)})
    body = f"ETA_MIN + (BASE - ETA_MIN) * (1 + MATH.cos(MATH.pi * {phase} / {period})) / 2"
    return _listcomp(body, timing, BASE=base, ETA_MIN=eta_min, MATH=timing.math(), **{period: _arg(args, period)})


def cosine_annealing_lr(args: Args, base, timing: Timing):
    # not cosine_decay_lr: it clamps at eta_min after T_max, torch keeps following the cosine
    return _cosine("T", args, base, timing, "T_max")


def cosine_annealing_warm_restarts(args: Args, base, timing: Timing):
    t_mult = syntax.literal_value(args["T_mult"]) if "T_mult" in args else 1
    if t_mult != 1:
        raise Unsupported("T_mult other than a literal 1 restarts with growing periods, which this "
                          "rule does not expand; build the list with the cawr_lrs helper of "
                          "mindspore-facts.md 5.2")
    return _cosine("(T % T_0)", args, base, timing, "T_0")


def polynomial_lr(args: Args, base, timing: Timing):
    return syntax.fill(
        "NN.dynamic_lr.polynomial_decay_lr(BASE, 0.0, TOTAL, SPE, ITERS, POWER)",
        NN=timing.nn, BASE=_f(base), TOTAL=timing.total, SPE=timing.spe,
        ITERS=_arg(args, "total_iters", 5), POWER=_f(_arg(args, "power", 1.0)),
    )


def linear_lr(args: Args, base, timing: Timing):
    start = _arg(args, "start_factor", 1.0 / 3)
    end = _arg(args, "end_factor", 1.0)
    return syntax.fill(
        "NN.dynamic_lr.polynomial_decay_lr(BASE * START, BASE * END, TOTAL, SPE, ITERS, 1.0)",
        NN=timing.nn, BASE=_f(base), START=start, END=end, TOTAL=timing.total, SPE=timing.spe,
        ITERS=_arg(args, "total_iters", 5),
    )


def constant_lr(args: Args, base, timing: Timing):
    return syntax.fill(
        "NN.dynamic_lr.piecewise_constant_lr([min(ITERS * SPE, TOTAL), TOTAL], [BASE * FACTOR, BASE])",
        NN=timing.nn, BASE=_f(base), FACTOR=_arg(args, "factor", 1.0 / 3), TOTAL=timing.total,
        SPE=timing.spe, ITERS=_arg(args, "total_iters", 5),
    )


def lambda_lr(args: Args, base, timing: Timing):
    fn = _arg(args, "lr_lambda")
    if isinstance(fn, cst.Lambda):
        return _listcomp("BASE * (BODY)", timing, BASE=base, BODY=_inline(fn, timing.t()))
    if isinstance(fn, cst.Name):
        return _listcomp("BASE * FN(T)", timing, BASE=base, FN=fn)
    raise Unsupported("its lr_lambda is neither an inline lambda nor a function of this file")


def multiplicative_lr(args: Args, base, timing: Timing):
    fn = _arg(args, "lr_lambda")
    if isinstance(fn, cst.Lambda) and syntax.is_literal(fn.body):
        return syntax.fill(
            "NN.dynamic_lr.exponential_decay_lr(BASE, FACTOR, TOTAL, SPE, 1)",
            NN=timing.nn, BASE=_f(base), FACTOR=_f(fn.body), TOTAL=timing.total, SPE=timing.spe,
        )
    raise Unsupported("its lr_lambda is not a constant factor; the exact list is the running "
                      "product base * f(1) * ... * f(t) (itertools.accumulate)")


def _inline(fn: cst.Lambda, t: cst.BaseExpression) -> cst.BaseExpression:
    params = fn.params.params
    extra = (isinstance(fn.params.star_arg, cst.Param) or fn.params.kwonly_params
             or fn.params.star_kwarg is not None or fn.params.posonly_params)
    if len(params) != 1 or extra:
        raise Unsupported("its lr_lambda takes other than one argument")
    name = params[0].name.value
    return syntax.fill_names(fn.body, {name: t})


# ---- transformers / diffusers factories (per optimizer update; formulas from their source) ----

def hf_linear(args: Args, base, timing: Timing):
    return _listcomp(
        "BASE * (T / max(1, W) if T < W else max(0.0, (TT - T) / max(1, TT - W)))", timing,
        BASE=base, W=_arg(args, "num_warmup_steps"), TT=_arg(args, "num_training_steps"),
    )


def hf_cosine(args: Args, base, timing: Timing):
    return _listcomp(
        "BASE * (T / max(1, W) if T < W else max(0.0, 0.5 * (1.0 + MATH.cos(MATH.pi * C * 2.0 "
        "* (T - W) / max(1, TT - W)))))", timing,
        BASE=base, W=_arg(args, "num_warmup_steps"), TT=_arg(args, "num_training_steps"),
        C=_f(_arg(args, "num_cycles", 0.5)), MATH=timing.math(),
    )


def hf_constant_with_warmup(args: Args, base, timing: Timing):
    return _listcomp("BASE * (T / max(1.0, W) if T < W else 1.0)", timing,
                     BASE=base, W=_arg(args, "num_warmup_steps"))


def hf_constant(args: Args, base, timing: Timing):
    return None  # the lr never changes: the optimizer keeps its fixed learning_rate


BUILDERS: Dict[str, Callable[[Args, cst.BaseExpression, Timing], Optional[cst.BaseExpression]]] = {
    "StepLR": step_lr,
    "MultiStepLR": multi_step_lr,
    "ExponentialLR": exponential_lr,
    "CosineAnnealingLR": cosine_annealing_lr,
    "CosineAnnealingWarmRestarts": cosine_annealing_warm_restarts,
    "PolynomialLR": polynomial_lr,
    "LinearLR": linear_lr,
    "ConstantLR": constant_lr,
    "LambdaLR": lambda_lr,
    "MultiplicativeLR": multiplicative_lr,
    "linear": hf_linear,
    "cosine": hf_cosine,
    "constant": hf_constant,
    "constant_with_warmup": hf_constant_with_warmup,
}

NOT_PRECOMPUTABLE = {
    "ReduceLROnPlateau": (
        "ReduceLROnPlateau follows a metric and cannot be precomputed: use the "
        "mindspore.train.ReduceLROnPlateau callback with Model.train, "
        "mindspore.experimental.optim.lr_scheduler.ReduceLROnPlateau with an experimental "
        "optimizer, or ops.assign(optimizer.learning_rate, ...) on a fixed lr"
    ),
    "OneCycleLR": (
        "OneCycleLR is not converted yet; its lr has an exact list form (onecycle_lrs in "
        "mindspore-facts.md 5.2), but with cycle_momentum=True (the default) it also cycles "
        "momentum/beta1, which mindspore.nn optimizers cannot"
    ),
    "CyclicLR": (
        "CyclicLR is not converted yet; its lr has an exact list form (cyclic_lrs in "
        "mindspore-facts.md 5.2), but with cycle_momentum=True (the default) it also cycles "
        "momentum, which mindspore.nn optimizers cannot"
    ),
    "SequentialLR": "SequentialLR is not converted yet: concatenate its children's lists at the milestones",
    "ChainedScheduler": "ChainedScheduler is not converted yet: multiply its children's factors",
}
