"""Exact per-step learning-rate lists for torch schedulers (mindspore-facts.md section 5).

Each scheduler is described by the lr it gives at its own step count `T`: most as a factor of
the base lr (`lr = base * factor(T)`, which is what lets SequentialLR and ChainedScheduler be
composed), the others as an absolute lr. Where a `mindspore.nn.dynamic_lr` function is exact
for a scheduler on its own, that call is the emitted form (the MindSpore docs' style); else the
list is `[<lr at T> for i in range(total)]` over the optimizer step `i`.

`Timing.t()` is the scheduler's step count at optimizer step `i`: `i // steps_per_epoch` for a
scheduler stepped once per epoch, `i` for one stepped after every optimizer update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import libcst as cst

from ms_migrate.core import syntax


class Unsupported(Exception):
    """The schedule cannot be expressed exactly; the message says why and what to do."""


@dataclass
class Timing:
    per_epoch: bool
    total: cst.BaseExpression  # the list's length: optimizer steps in the whole run
    offset: int  # 1 when the scheduler steps at the start of each epoch
    steps_per_epoch: cst.BaseExpression  # optimizer updates per epoch
    nn: cst.BaseExpression  # mindspore.nn
    math: Callable[[], cst.BaseExpression]  # the math module (imported on first use)
    let: Callable[[str, cst.BaseExpression], cst.BaseExpression]  # name a value computed once
    index: str = "i"  # the list comprehension's variable: a name the user's values do not read
    count: Optional[cst.BaseExpression] = None  # the scheduler's count at step i, when modelled
    #                                             otherwise (scheduler.step(epoch): step_argument.py)

    @property
    def spe(self) -> cst.BaseExpression:
        """step_per_epoch for dynamic_lr: one scheduler step spans this many optimizer steps."""
        return self.steps_per_epoch if self.per_epoch else cst.Integer("1")

    def t(self) -> cst.BaseExpression:
        if self.count is not None:
            return self.count
        if self.per_epoch:
            return syntax.fill("I // SPE + 1" if self.offset else "I // SPE", I=cst.Name(self.index),
                               SPE=self.steps_per_epoch)
        return cst.Name(self.index)


Args = Dict[str, cst.BaseExpression]
Expr = cst.BaseExpression


def _arg(args: Args, name: str, default=None) -> Expr:
    if name in args:
        return args[name]
    if default is None:
        raise Unsupported(f"its {name} argument is missing")
    return syntax.value_expr(default)


def _f(node: Expr) -> Expr:
    return syntax.as_float(node)


def _is_zero(node: Optional[Expr]) -> bool:
    return node is None or syntax.literal_value(node) == 0


# ---- factors: lr / base at scheduler step T --------------------------------------------------

def _step(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("GAMMA ** (T // STEP)", GAMMA=_arg(a, "gamma", 0.1), T=T, STEP=_arg(a, "step_size"))


def _multi_step(a: Args, T: Expr, tm) -> Expr:
    # torch counts repeated milestones (a Counter): gamma ** #(milestones <= T)
    return syntax.fill("GAMMA ** sum(m <= T for m in MILESTONES)", GAMMA=_arg(a, "gamma", 0.1), T=T,
                       MILESTONES=_arg(a, "milestones"))


def _exponential(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("GAMMA ** T", GAMMA=_arg(a, "gamma"), T=T)


def _polynomial(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("(1 - min(T, ITERS) / ITERS) ** POWER", T=T, ITERS=_arg(a, "total_iters", 5),
                       POWER=_arg(a, "power", 1.0))


def _linear(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("START + (END - START) * min(T, ITERS) / ITERS", T=T,
                       START=_arg(a, "start_factor", 1.0 / 3), END=_arg(a, "end_factor", 1.0),
                       ITERS=_arg(a, "total_iters", 5))


def _constant(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("(FACTOR if T < ITERS else 1.0)", T=T, FACTOR=_arg(a, "factor", 1.0 / 3),
                       ITERS=_arg(a, "total_iters", 5))


def _lambda(a: Args, T: Expr, tm) -> Expr:
    fn = _arg(a, "lr_lambda")
    if isinstance(fn, cst.Lambda):
        return _inline(fn, T)
    if isinstance(fn, cst.Name):
        return syntax.fill("FN(T)", FN=fn, T=T)
    raise Unsupported("its lr_lambda is neither an inline lambda nor a function of this file")


def _multiplicative(a: Args, T: Expr, tm) -> Expr:
    fn = _arg(a, "lr_lambda")
    if isinstance(fn, cst.Lambda) and syntax.is_literal(fn.body):
        return syntax.fill("C ** T", C=fn.body, T=T)
    raise Unsupported("its lr_lambda is not a constant factor; the exact list is the running "
                      "product base * f(1) * ... * f(t) (itertools.accumulate)")


def _cosine_factor(a: Args, T: Expr, tm, period: str, phase: str) -> Expr:
    if not _is_zero(a.get("eta_min")):
        raise Unsupported("eta_min is not 0")  # only reached for composition; alone it is exact
    return syntax.fill(f"(1 + MATH.cos(MATH.pi * {phase} / P)) / 2", MATH=tm.math(), T=T, P=_arg(a, period))


def _cosine(a: Args, T: Expr, tm) -> Expr:
    return _cosine_factor(a, T, tm, "T_max", "T")


def _check_t_mult(a: Args) -> None:
    if "T_mult" in a and syntax.literal_value(a["T_mult"]) != 1:
        raise Unsupported("T_mult other than a literal 1 restarts with growing periods, which this "
                          "rule does not expand; build the list with the cawr_lrs helper of "
                          "mindspore-facts.md 5.2")


def _warm_restarts(a: Args, T: Expr, tm) -> Expr:
    _check_t_mult(a)
    return _cosine_factor(a, T, tm, "T_0", "(T % P)")


def _warm_restarts_element(a: Args, base: Expr, T: Expr, tm) -> Expr:
    # the element form is used for the scheduler on its own: it must refuse T_mult too
    _check_t_mult(a)
    return _cosine_element("T_0", "(T % P)")(a, base, T, tm)


def _hf_linear(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("(T / max(1, W) if T < W else max(0.0, (TT - T) / max(1, TT - W)))", T=T,
                       W=_arg(a, "num_warmup_steps"), TT=_arg(a, "num_training_steps"))


def _hf_cosine(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill(
        "(T / max(1, W) if T < W else max(0.0, 0.5 * (1.0 + MATH.cos(MATH.pi * C * 2.0 * (T - W) / max(1, TT - W)))))",
        T=T, W=_arg(a, "num_warmup_steps"), TT=_arg(a, "num_training_steps"),
        C=_f(_arg(a, "num_cycles", 0.5)), MATH=tm.math(),
    )


def _hf_constant_with_warmup(a: Args, T: Expr, tm) -> Expr:
    return syntax.fill("(T / max(1.0, W) if T < W else 1.0)", T=T, W=_arg(a, "num_warmup_steps"))


def _hf_constant(a: Args, T: Expr, tm) -> Expr:
    return cst.Float("1.0")


# ---- absolute lrs (the base lr is not a plain factor) ----------------------------------------

def _cosine_element(period: str, phase: str):
    def element(a: Args, base: Expr, T: Expr, tm) -> Expr:
        if _is_zero(a.get("eta_min")):
            return syntax.fill("BASE * F", BASE=base, F=_cosine_factor(a, T, tm, period, phase))
        return syntax.fill(f"ETA_MIN + (BASE - ETA_MIN) * (1 + MATH.cos(MATH.pi * {phase} / P)) / 2",
                           ETA_MIN=a["eta_min"], BASE=base, MATH=tm.math(), T=T, P=_arg(a, period))
    return element


def _no_group_lists(a: Args, *names: str) -> None:
    """A list/tuple gives each parameter group its own value: not expanded per group here."""
    for name in names:
        if isinstance(a.get(name), (cst.List, cst.Tuple, cst.ListComp)):
            raise Unsupported(f"{name} is a list (one value per parameter group), which is not expanded "
                              "per group; build each group's list by hand")


def _one_cycle(a: Args, base: Expr, T: Expr, tm) -> Expr:
    """torch OneCycleLR, two phases (three_phase=False), 'cos' or 'linear' annealing."""
    _no_group_lists(a, "max_lr")
    if "three_phase" in a and syntax.literal_value(a["three_phase"]) is not False:
        raise Unsupported("three_phase=True is not converted; onecycle_lrs in mindspore-facts.md 5.2 covers it")
    strategy = syntax.literal_value(a["anneal_strategy"]) if "anneal_strategy" in a else "cos"
    if strategy not in ("cos", "linear"):
        raise Unsupported("anneal_strategy is not a literal 'cos' or 'linear'")
    if "total_steps" in a:
        total = a["total_steps"]
    elif "epochs" in a and "steps_per_epoch" in a:
        total = syntax.fill("EPOCHS * SPE", EPOCHS=a["epochs"], SPE=a["steps_per_epoch"])
    else:
        raise Unsupported("neither total_steps nor epochs and steps_per_epoch are given")
    anneal = ("END + (START - END) / 2 * (MATH.cos(MATH.pi * PCT) + 1)" if strategy == "cos"
              else "(END - START) * PCT + START")
    module = {"MATH": tm.math()} if strategy == "cos" else {}
    total = tm.let("cycle_steps", total)
    peak = tm.let("max_lr", _arg(a, "max_lr"))
    up = tm.let("peak_step", syntax.fill("float(PCT_START * TOTAL) - 1", PCT_START=_arg(a, "pct_start", 0.3), TOTAL=total))
    initial = tm.let("initial_lr", syntax.fill("MAX / DIV", MAX=peak, DIV=_arg(a, "div_factor", 25.0)))
    lowest = tm.let("min_lr", syntax.fill("INIT / FDIV", INIT=initial, FDIV=_arg(a, "final_div_factor", 10000.0)))
    rise = syntax.fill(anneal, START=initial, END=peak, PCT=syntax.fill("T / UP", T=T, UP=up), **module)
    fall = syntax.fill(anneal, START=peak, END=lowest,
                       PCT=syntax.fill("(T - UP) / (TOTAL - 1 - UP)", T=T, UP=up, TOTAL=total), **module)
    return syntax.fill("(RISE if T <= UP else FALL)", RISE=rise, FALL=fall, T=T, UP=up)


def _cyclic(a: Args, base: Expr, T: Expr, tm) -> Expr:
    """torch CyclicLR for the built-in modes (no scale_fn)."""
    _no_group_lists(a, "base_lr", "max_lr")
    if "scale_fn" in a and syntax.literal_value(a["scale_fn"]) is not None:
        raise Unsupported("a custom scale_fn is not converted")
    mode = syntax.literal_value(a["mode"]) if "mode" in a else "triangular"
    if mode not in ("triangular", "triangular2", "exp_range"):
        raise Unsupported("mode is not a literal 'triangular', 'triangular2' or 'exp_range'")
    up = _f(_arg(a, "step_size_up", 2000))
    down = _f(a["step_size_down"]) if "step_size_down" in a and syntax.literal_value(a["step_size_down"]) is not None else up
    cycle_len = tm.let("cycle_steps", syntax.fill("UP + DOWN", UP=up, DOWN=down))
    ratio = tm.let("rise_fraction", syntax.fill("UP / LEN", UP=up, LEN=cycle_len))
    x = syntax.fill("T / LEN % 1", T=T, LEN=cycle_len)
    slope = syntax.fill("(X / R if X <= R else (X - 1) / (R - 1))", X=x, R=ratio)
    scale = {
        "triangular": None,
        "triangular2": syntax.fill("0.5 ** (T // LEN)", T=T, LEN=cycle_len),
        "exp_range": syntax.fill("GAMMA ** T", GAMMA=_arg(a, "gamma", 1.0), T=T),
    }[mode]
    value = syntax.fill("BASE_LR + (MAX_LR - BASE_LR) * SLOPE", BASE_LR=_arg(a, "base_lr"),
                        MAX_LR=_arg(a, "max_lr"), SLOPE=slope)
    if scale is not None:
        value = syntax.fill("BASE_LR + (MAX_LR - BASE_LR) * SLOPE * SCALE", BASE_LR=_arg(a, "base_lr"),
                            MAX_LR=_arg(a, "max_lr"), SLOPE=slope, SCALE=scale)
    return value


def _inline(fn: cst.Lambda, t: Expr) -> Expr:
    params = fn.params.params
    extra = (isinstance(fn.params.star_arg, cst.Param) or fn.params.kwonly_params
             or fn.params.star_kwarg is not None or fn.params.posonly_params)
    if len(params) != 1 or extra:
        raise Unsupported("its lr_lambda takes other than one argument")
    return syntax.fill_names(fn.body, {params[0].name.value: t})


# ---- dynamic_lr forms, exact for the scheduler on its own --------------------------------------

def _dyn_step(a: Args, base: Expr, tm: Timing) -> Expr:
    return syntax.fill("NN.dynamic_lr.exponential_decay_lr(BASE, GAMMA, TOTAL, SPE, STEP, is_stair=True)",
                       NN=tm.nn, BASE=_f(base), GAMMA=_f(_arg(a, "gamma", 0.1)), TOTAL=tm.total,
                       SPE=tm.spe, STEP=_arg(a, "step_size"))


def _dyn_exponential(a: Args, base: Expr, tm: Timing) -> Expr:
    return syntax.fill("NN.dynamic_lr.exponential_decay_lr(BASE, GAMMA, TOTAL, SPE, 1)",
                       NN=tm.nn, BASE=_f(base), GAMMA=_f(_arg(a, "gamma")), TOTAL=tm.total, SPE=tm.spe)


def _dyn_multiplicative(a: Args, base: Expr, tm: Timing) -> Expr:
    fn = _arg(a, "lr_lambda")
    if not (isinstance(fn, cst.Lambda) and syntax.is_literal(fn.body)):
        _multiplicative(a, cst.Name("i"), None)  # raises with the reason
    return syntax.fill("NN.dynamic_lr.exponential_decay_lr(BASE, C, TOTAL, SPE, 1)",
                       NN=tm.nn, BASE=_f(base), C=_f(fn.body), TOTAL=tm.total, SPE=tm.spe)


def _dyn_polynomial(a: Args, base: Expr, tm: Timing) -> Expr:
    return syntax.fill("NN.dynamic_lr.polynomial_decay_lr(BASE, 0.0, TOTAL, SPE, ITERS, POWER)",
                       NN=tm.nn, BASE=_f(base), TOTAL=tm.total, SPE=tm.spe,
                       ITERS=_arg(a, "total_iters", 5), POWER=_f(_arg(a, "power", 1.0)))


def _dyn_linear(a: Args, base: Expr, tm: Timing) -> Expr:
    return syntax.fill("NN.dynamic_lr.polynomial_decay_lr(BASE * START, BASE * END, TOTAL, SPE, ITERS, 1.0)",
                       NN=tm.nn, BASE=_f(base), START=_arg(a, "start_factor", 1.0 / 3),
                       END=_arg(a, "end_factor", 1.0), TOTAL=tm.total, SPE=tm.spe,
                       ITERS=_arg(a, "total_iters", 5))


def _dyn_constant(a: Args, base: Expr, tm: Timing) -> Expr:
    return syntax.fill(
        "NN.dynamic_lr.piecewise_constant_lr([min(ITERS * SPE, TOTAL), TOTAL], [BASE * FACTOR, BASE])",
        NN=tm.nn, BASE=_f(base), FACTOR=_arg(a, "factor", 1.0 / 3), TOTAL=tm.total, SPE=tm.spe,
        ITERS=_arg(a, "total_iters", 5))


@dataclass
class Spec:
    factor: Optional[Callable] = None  # (args, T, timing) -> lr / base
    element: Optional[Callable] = None  # (args, base, T, timing) -> lr, when not a factor
    dynamic: Optional[Callable] = None  # (args, base, timing) -> the whole list, exact alone
    constant: bool = False  # the lr never changes


SPECS: Dict[str, Spec] = {
    "StepLR": Spec(factor=_step, dynamic=_dyn_step),
    "MultiStepLR": Spec(factor=_multi_step),
    "ExponentialLR": Spec(factor=_exponential, dynamic=_dyn_exponential),
    "CosineAnnealingLR": Spec(factor=_cosine, element=_cosine_element("T_max", "T")),
    "CosineAnnealingWarmRestarts": Spec(factor=_warm_restarts, element=_warm_restarts_element),
    "PolynomialLR": Spec(factor=_polynomial, dynamic=_dyn_polynomial),
    "LinearLR": Spec(factor=_linear, dynamic=_dyn_linear),
    "ConstantLR": Spec(factor=_constant, dynamic=_dyn_constant),
    "LambdaLR": Spec(factor=_lambda),
    "MultiplicativeLR": Spec(factor=_multiplicative, dynamic=_dyn_multiplicative),
    "OneCycleLR": Spec(element=_one_cycle),
    "CyclicLR": Spec(element=_cyclic),
    "linear": Spec(factor=_hf_linear),
    "cosine": Spec(factor=_hf_cosine),
    "constant": Spec(factor=_hf_constant, constant=True),
    "constant_with_warmup": Spec(factor=_hf_constant_with_warmup),
}

NOT_PRECOMPUTABLE = {
    "ReduceLROnPlateau": (
        "ReduceLROnPlateau follows a metric and cannot be precomputed: use the "
        "mindspore.train.ReduceLROnPlateau callback with Model.train, "
        "mindspore.experimental.optim.lr_scheduler.ReduceLROnPlateau with an experimental "
        "optimizer, or ops.assign(optimizer.learning_rate, ...) on a fixed lr"
    ),
}

# Schedulers whose next lr is computed from the current one (not from the base lr): inside a
# SequentialLR they continue from what the previous child left.
RELATIVE = {"MultiplicativeLR"}

# Schedulers whose step multiplies the current lr by a factor that depends on their own count
# only (torch's chainable get_lr), so a ChainedScheduler of them is base * the product of their
# factors. LambdaLR and CosineAnnealingWarmRestarts set the lr from the base lr instead, and
# CosineAnnealingLR adds a base-lr term at T_max + 1: chained with others, they are no product.
CHAINABLE = {"StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR", "LinearLR", "PolynomialLR",
             "MultiplicativeLR"}

# Schedulers that also change momentum/beta1 unless cycle_momentum=False.
MOMENTUM_CYCLING = {"OneCycleLR", "CyclicLR"}


def element(name: str, args: Args, base: Expr, T: Expr, tm: Timing) -> Expr:
    """The lr at scheduler step T: a spec's own element form when it has one (it knows when
    it is a plain factor of the base lr), else base * factor."""
    spec = SPECS[name]
    if spec.element is not None:
        return spec.element(args, base, T, tm)
    return syntax.fill("BASE * F", BASE=base, F=spec.factor(args, T, tm))


def factor(name: str, args: Args, T: Expr, tm: Timing) -> Expr:
    spec = SPECS[name]
    if spec.factor is None:
        raise Unsupported(f"{name} is not a multiplicative schedule and cannot be chained")
    return spec.factor(args, T, tm)


def whole_list(name: str, args: Args, base: Expr, timing: Timing) -> Optional[Expr]:
    """The whole list for one scheduler, or None when the lr never changes."""
    spec = SPECS[name]
    if spec.constant:
        return None
    if spec.dynamic is not None and not timing.offset and timing.count is None:
        return spec.dynamic(args, base, timing)
    return comprehension(element(name, args, base, timing.t(), timing), timing)


def comprehension(value: Expr, timing: Timing) -> Expr:
    return syntax.fill("[VALUE for I in range(TOTAL)]", VALUE=value, I=cst.Name(timing.index), TOTAL=timing.total)


def sequential(children: List[Tuple[str, Args]], milestones: Expr, base: Expr, timing: Timing) -> Expr:
    """SequentialLR: child k runs from milestone k (restarted at 0) to milestone k+1."""
    marks = syntax.literal_value(milestones)
    if not isinstance(marks, list) or len(marks) != len(children) - 1:
        raise Unsupported("its milestones are not a literal list with one entry fewer than schedulers")
    T = timing.t()
    starts = [0, *marks]
    value = None
    for k in range(len(children) - 1, -1, -1):
        name, args = children[k]
        shifted = T if starts[k] == 0 else syntax.fill("T - M", T=T, M=syntax.value_expr(starts[k]))
        lr = element(name, args, base, shifted, timing)
        if value is None:
            value = lr
        else:
            value = syntax.fill("(LR if T < M else REST)", LR=lr, T=T, M=syntax.value_expr(starts[k + 1]), REST=value)
    return comprehension(value, timing)


def chained(children: List[Tuple[str, Args]], base: Expr, timing: Timing) -> Expr:
    """ChainedScheduler of multiplicative schedules: base times the product of the factors."""
    for name, _ in children:
        if name not in CHAINABLE:
            raise Unsupported(f"its child {name} does not just multiply the current lr by a factor of its own "
                              "count (it sets or offsets it from the base lr), so the chain is not a product of "
                              "factors; build the list by hand")
    T = timing.t()
    product = syntax.fill("BASE", BASE=base)
    for name, args in children:
        product = syntax.fill("P * F", P=product, F=factor(name, args, T, timing))
    return comprehension(product, timing)
