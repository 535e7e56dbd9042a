"""Equivalence harness: run a torch snippet and its MindSpore migration side by side and compare
what the two optimizers do (issue #3).

The MindSpore side is normally produced by the tool itself (``ms_migrate.core.engine.migrate_source``),
never copied from an expected-output file; an explicit MindSpore source can be given instead
(used for hand-written references and for deliberately wrong migrations).

Twin networks
-------------
``make_default_twin(seed)`` builds one tiny model twice, in torch and in ``mindspore.nn``, with
identical (seeded, non-default) initial weights and BatchNorm running statistics::

    conv: Conv2d(3, 4, 3) -> bn: BatchNorm2d(4) -> relu -> flatten -> fc: Linear/Dense(16, 5)
    emb: Embedding(10, 5) (mean over the ids) is added, then ln: LayerNorm(5)

Names are compared through the documented correspondence (``NAME_CORRESPONDENCE``,
mindspore-facts.md section 4): BatchNorm/LayerNorm/GroupNorm ``weight``/``bias`` = ``gamma``/
``beta``, Embedding ``weight`` = ``embedding_table``, BatchNorm ``running_mean``/``running_var`` =
``moving_mean``/``moving_variance``. Every report uses the *torch* name as the canonical name
(MindSpore parameters that have no torch counterpart show as ``mindspore:<name>``).

Snippet conventions
-------------------
* A snippet is Python source. A bare expression (``torch.optim.SGD(net.parameters(), lr=0.1)``)
  is wrapped as ``optimizer = <expr>`` after a small import preamble (``import torch`` /
  ``from torch import optim``, or ``import mindspore`` / ``from mindspore import nn``).
* The names ``net`` and ``model`` are pre-bound to the framework's twin network, and ``Net`` and
  ``Model`` to a factory returning it. Every top-level ``class X(...Module)`` /
  ``class X(...Cell)`` in the snippet is removed and ``X`` is bound to that factory, so
  ``net = Net()`` yields the twin. ``__name__`` is not ``"__main__"``: main-guarded code never runs.
* Top-level statements run one at a time. Optimizers (``torch.optim.Optimizer``,
  ``mindspore.nn.Optimizer``, ``mindspore.experimental.optim.Optimizer``) and lr schedulers are
  captured by wrapping their base ``__init__``. Once an optimizer exists, execution stops before
  the first top-level ``for``/``while``/``with`` (the training loop) or at the first statement that
  raises (noted in the report). Loops *before* that (e.g. building param groups) run normally.
* Alternatively the snippet may define ``make_optimizer(net)``; if no optimizer was built at top
  level it is called with the twin network.
* The first optimizer captured is the one compared. If the snippet itself changed the weights
  (i.e. trained), the comparison fails rather than comparing trained weights.
* An exception in or before the statement that builds the optimizer is a construction error
  (reported with its line, e.g. MindSpore's KeyError for a torch-only group key).
* ReduceLROnPlateau is stepped with the metric sequence PLATEAU_METRICS on both sides. Not supported: code under
  ``if __name__ == "__main__"``, optimizers built only inside the training loop.

What is compared (aspects)
--------------------------
``params``        the parameters the optimizer holds and their split into groups
                  (torch ``param_groups``; MindSpore nn: the group dicts it was given, ``is_group``).
``weight_decay``  the effective weight decay of every parameter (torch: the group's value;
                  MindSpore nn: ``group_weight_decay``/``weight_decay`` masked by ``decay_flags``,
                  which carries the ungrouped 'beta'/'gamma' name filter; divided by loss_scale).
``lr``            the lr of every parameter just before each optimizer step, over
                  ``epochs x steps_per_epoch`` steps (torch: ``param_groups[i]['lr']`` with the captured
                  schedulers stepped per epoch or per iteration; MindSpore nn: ``get_lr()``, which
                  follows lr lists / schedules by ``global_step``).
``update``        all twin parameters and BN statistics after each step, both optimizers being fed
                  the SAME deterministic synthetic gradients (``grad_scale`` x standard normal
                  per parameter and step; zeros for BN statistics); ``atol`` (default 1e-5)
                  absolute. Use a small ``grad_scale`` to probe eps handling: nn.Adam and
                  nn.Adagrad only match torch for gradients of order 1 (see test_harness.py).

Construction or simulation errors are always reported (aspect ``construction``/``simulation``).

API
---
``check_equivalence(torch_src, ms_src=None, *, epochs=1, steps_per_epoch=5,
scheduler_step="auto", atol=1e-5, aspects=ASPECTS, seed=0, grad_scale=1.0,
twin_factory=make_default_twin)``
    -> ``EquivalenceReport``: ``.ok``, ``.failed(aspect)``, ``.mismatches`` (aspect + detail),
    ``.format()`` (readable), ``.assert_ok()``, ``.torch``/``.mindspore`` (``Trace``: groups,
    weight_decay, lrs, states), ``.max_update_diff``, ``.migration`` (the tool's result),
    ``.findings``, ``.errors`` (side -> the exception that stopped construction, e.g. KeyError).
``assert_equivalent(torch_src, ms_src=None, **kw)`` -> report; raises ``AssertionError`` with
    ``report.format()`` when anything differs.
``compare_optimizer_update(torch_src, ms_src=None, steps=5, atol=1e-5, **kw)`` -> report
    restricted to the update aspect (for the optimizer mapping table).
``migrate(torch_src)`` -> the tool's result (raises ``ToolUnavailable`` if the tool cannot be
    imported). ``run_snippet(src, framework, twin)`` -> ``Captured``.
``make_default_twin(seed)`` -> ``Twin``; ``torch_to_ms_names(torch_net)``; ``copy_weights(twin)``.
``frameworks_unavailable()`` -> None or the reason torch/MindSpore cannot be used.
``scheduler_step``: ``"epoch"`` (``scheduler.step()`` after each epoch), ``"iteration"`` (after
each optimizer step) or ``"auto"`` (from the loop depth of ``<scheduler>.step()`` in the snippet).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import linecache
import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

TORCH = "torch"
MINDSPORE = "mindspore"
ASPECTS = ("params", "weight_decay", "lr", "update")
DEFAULT_ATOL = 1e-5
LR_RTOL = 1e-6  # MindSpore keeps lrs as float32

# torch layer kind -> {torch local name: MindSpore local name}; other names are identical.
NAME_CORRESPONDENCE: Dict[str, Dict[str, str]] = {
    "BatchNorm": {"weight": "gamma", "bias": "beta",
                  "running_mean": "moving_mean", "running_var": "moving_variance"},
    "LayerNorm": {"weight": "gamma", "bias": "beta"},
    "GroupNorm": {"weight": "gamma", "bias": "beta"},
    "Embedding": {"weight": "embedding_table"},
}


# --------------------------------------------------------------------------------------------
# Frameworks (imported lazily, once)
# --------------------------------------------------------------------------------------------

def torch_module():
    import torch
    return torch


@functools.lru_cache(maxsize=None)
def mindspore_module():
    """Import MindSpore once: CPU, PyNative mode, quiet logs."""
    os.environ.setdefault("GLOG_v", "3")
    import mindspore as ms
    if hasattr(ms, "set_device"):
        ms.set_device("CPU")
        ms.set_context(mode=ms.PYNATIVE_MODE)
    else:  # older MindSpore
        ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    return ms


@functools.lru_cache(maxsize=None)
def frameworks_unavailable() -> Optional[str]:
    """None if torch and MindSpore both import; otherwise a readable reason."""
    for name, load in ((TORCH, torch_module), (MINDSPORE, mindspore_module)):
        try:
            load()
        except Exception as exc:  # ImportError, or a broken install (e.g. numpy 2)
            return f"{name} cannot be imported ({type(exc).__name__}: {exc}); " \
                   f"install the 'equivalence' extra"
    return None


# --------------------------------------------------------------------------------------------
# Twin networks and the name correspondence
# --------------------------------------------------------------------------------------------

@dataclass
class Twin:
    """The same network in torch and MindSpore, plus torch name -> MindSpore name."""

    torch_net: Any
    ms_net: Any
    torch_to_ms: Dict[str, str]

    @functools.cached_property
    def ms_to_torch(self) -> Dict[str, str]:
        return {m: t for t, m in self.torch_to_ms.items()}

    def canonical(self, ms_name: str) -> str:
        return self.ms_to_torch.get(ms_name, f"mindspore:{ms_name}")


def _layer_kind(module) -> Optional[str]:
    cls = type(module).__name__
    for kind in NAME_CORRESPONDENCE:
        if cls.startswith(kind) and cls != "EmbeddingBag":
            return kind
    return None


def torch_to_ms_names(torch_net) -> Dict[str, str]:
    """torch parameter/BN-statistic names -> MindSpore Parameter names."""
    out = {}
    for prefix, module in torch_net.named_modules():
        renames = NAME_CORRESPONDENCE.get(_layer_kind(module), {})
        local = [n for n, _ in module.named_parameters(recurse=False)]
        local += [n for n, _ in module.named_buffers(recurse=False) if n in renames]
        for name in local:
            ms_name = renames.get(name, name)
            out[f"{prefix}.{name}" if prefix else name] = f"{prefix}.{ms_name}" if prefix else ms_name
    return out


def torch_state(torch_net, names: Sequence[str]) -> Dict[str, np.ndarray]:
    tensors = dict(torch_net.named_parameters())
    tensors.update(torch_net.named_buffers())
    return {n: tensors[n].detach().cpu().numpy().copy() for n in names}


def ms_params_by_name(ms_net) -> Dict[str, Any]:
    return {p.name: p for p in ms_net.get_parameters()}


def copy_weights(twin: Twin) -> None:
    """Copy every torch parameter/BN statistic into the MindSpore twin (checks shapes)."""
    ms = mindspore_module()
    ms_params = ms_params_by_name(twin.ms_net)
    values = torch_state(twin.torch_net, list(twin.torch_to_ms))
    for t_name, m_name in twin.torch_to_ms.items():
        if m_name not in ms_params:
            raise ValueError(f"twin mismatch: torch {t_name} has no MindSpore {m_name}")
        target = ms_params[m_name]
        if tuple(target.shape) != values[t_name].shape:
            raise ValueError(f"twin mismatch: {t_name} {values[t_name].shape} vs {m_name} {target.shape}")
        target.set_data(ms.Tensor(values[t_name]))


def _torch_default_net():
    torch = torch_module()
    nn = torch.nn

    class TwinNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Linear(16, 5)
            self.emb = nn.Embedding(10, 5)
            self.ln = nn.LayerNorm(5)

        def forward(self, x, ids):
            h = torch.relu(self.bn(self.conv(x))).flatten(1)
            return self.ln(self.fc(h) + self.emb(ids).mean(1))

    return TwinNet()


def _ms_default_net():
    ms = mindspore_module()
    nn = ms.nn

    class TwinNet(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, pad_mode="valid", has_bias=True)
            self.bn = nn.BatchNorm2d(4, eps=1e-5)
            self.fc = nn.Dense(16, 5)
            self.emb = nn.Embedding(10, 5)
            self.ln = nn.LayerNorm((5,), epsilon=1e-5)

        def construct(self, x, ids):
            h = ms.ops.relu(self.bn(self.conv(x))).reshape(x.shape[0], -1)
            return self.ln(self.fc(h) + self.emb(ids).mean(1))

    return TwinNet()


def _randomize_torch(torch_net, seed: int) -> None:
    """Non-default values everywhere (gamma != 1, beta != 0, BN statistics != 0/1) so that a
    wrong name correspondence cannot go unnoticed."""
    torch = torch_module()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(torch_net.named_parameters()) + list(torch_net.named_buffers()):
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            else:
                tensor.copy_(0.5 * torch.randn(tensor.shape, generator=gen))


def make_default_twin(seed: int = 0) -> Twin:
    torch_net = _torch_default_net()
    _randomize_torch(torch_net, seed)
    twin = Twin(torch_net, _ms_default_net(), torch_to_ms_names(torch_net))
    copy_weights(twin)
    return twin


def twin_inputs(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A batch for the default twin: images (2, 3, 4, 4) float32 and ids (2, 3) int32."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, 3, 4, 4)).astype(np.float32),
            rng.integers(0, 10, size=(2, 3)).astype(np.int32))


# --------------------------------------------------------------------------------------------
# Snippet execution and optimizer capture
# --------------------------------------------------------------------------------------------

class SnippetError(RuntimeError):
    """A snippet failed before it built an optimizer."""

    def __init__(self, framework: str, line: int, exc: BaseException):
        self.framework, self.line, self.exc = framework, line, exc
        super().__init__(f"{framework} snippet line {line}: {type(exc).__name__}: {exc}")


class ToolUnavailable(RuntimeError):
    """ms_migrate.core.engine cannot be imported (the tool is missing or broken)."""


@dataclass
class Captured:
    framework: str
    optimizer: Any = None
    schedulers: List[Any] = field(default_factory=list)
    group_args: Dict[int, List[List[Any]]] = field(default_factory=dict)
    namespace: Dict[str, Any] = field(default_factory=dict)
    stop: str = ""
    error: Optional[BaseException] = None
    notes: List[str] = field(default_factory=list)


class _Recorder:
    def __init__(self):
        self.optimizers: List[Any] = []
        self.schedulers: List[Any] = []
        self.group_args: Dict[int, List[List[Any]]] = {}

    def optimizer(self, obj, args, kwargs):
        if not any(o is obj for o in self.optimizers):
            self.optimizers.append(obj)

    def scheduler(self, obj, args, kwargs):
        if not any(s is obj for s in self.schedulers):
            self.schedulers.append(obj)

    def ms_groups(self, obj, args, kwargs):
        """nn.Optimizer(learning_rate, parameters, ...): keep the group split it was given."""
        params = kwargs.get("parameters", args[1] if len(args) > 1 else None)
        if isinstance(params, (list, tuple)) and params and all(isinstance(g, dict) for g in params):
            groups = [g.get("params") for g in params if "params" in g]
            if all(isinstance(g, (list, tuple)) for g in groups):
                self.group_args[id(obj)] = [list(g) for g in groups]


@contextlib.contextmanager
def _wrapped_init(cls, before=None, after=None):
    """Temporarily wrap cls.__init__ (only the base class's own, so decorated subclass inits that
    call super().__init__ still pass through it)."""
    original = cls.__dict__["__init__"]

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        if before:
            before(self, args, kwargs)
        original(self, *args, **kwargs)
        if after:
            after(self, args, kwargs)

    cls.__init__ = wrapper
    try:
        yield
    finally:
        cls.__init__ = original


@contextlib.contextmanager
def _capturing(framework: str, rec: _Recorder):
    with contextlib.ExitStack() as stack:
        if framework == TORCH:
            torch = torch_module()
            lrs = torch.optim.lr_scheduler
            stack.enter_context(_wrapped_init(torch.optim.Optimizer, after=rec.optimizer))
            # SequentialLR/ChainedScheduler do not all pass through LRScheduler.__init__
            for cls in (lrs.LRScheduler, lrs.ReduceLROnPlateau, lrs.SequentialLR, lrs.ChainedScheduler):
                stack.enter_context(_wrapped_init(cls, after=rec.scheduler))
        else:
            ms = mindspore_module()
            import mindspore.experimental.optim as eoptim
            stack.enter_context(_wrapped_init(ms.nn.Optimizer, before=rec.ms_groups, after=rec.optimizer))
            stack.enter_context(_wrapped_init(eoptim.Optimizer, after=rec.optimizer))
            for cls in (eoptim.lr_scheduler.LRScheduler, eoptim.lr_scheduler.ReduceLROnPlateau,
                        eoptim.lr_scheduler.SequentialLR):
                if "__init__" in cls.__dict__:
                    stack.enter_context(_wrapped_init(cls, after=rec.scheduler))
        yield


_PREAMBLE = {
    TORCH: "import torch\nfrom torch import optim\n",
    MINDSPORE: "import mindspore\nfrom mindspore import nn\n",
}
_MODEL_BASES = {"Module", "Cell"}
_STOP_STATEMENTS = (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)
_FACTORY = "__equivalence_model_factory__"


def expand_snippet(source: str, framework: str) -> str:
    """A bare expression becomes `optimizer = <expr>` after an import preamble."""
    try:
        ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return source
    return f"{_PREAMBLE[framework]}optimizer = {source.strip()}\n"


def _is_model_class(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.ClassDef):
        return False
    for base in stmt.bases:
        last = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        if last in _MODEL_BASES:
            return True
    return False


def _factory_statement(stmt: ast.ClassDef) -> ast.Module:
    assign = ast.Assign(targets=[ast.Name(stmt.name, ast.Store())], value=ast.Name(_FACTORY, ast.Load()))
    ast.copy_location(assign, stmt)
    return ast.fix_missing_locations(ast.Module(body=[assign], type_ignores=[]))


def _namespace(net) -> Dict[str, Any]:
    factory = lambda *args, **kwargs: net  # noqa: E731
    return {"__name__": "__equivalence__", "__builtins__": builtins, _FACTORY: factory,
            "net": net, "model": net, "Net": factory, "Model": factory}


def _register_source(filename: str, source: str) -> None:
    """So tracebacks from snippets show their lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _execute(source: str, framework: str, namespace: Dict[str, Any], rec: _Recorder) -> str:
    filename = f"<{framework} snippet {zlib.crc32(source.encode()):08x}>"
    _register_source(filename, source)
    for stmt in ast.parse(source, filename).body:
        if rec.optimizers and isinstance(stmt, _STOP_STATEMENTS):
            return f"stopped before the {type(stmt).__name__.lower()} at line {stmt.lineno}"
        if _is_model_class(stmt):
            module = _factory_statement(stmt)
        else:
            module = ast.Module(body=[stmt], type_ignores=[])
        built_before = len(rec.optimizers)
        try:
            exec(compile(module, filename, "exec"), namespace)
        except Exception as exc:
            if built_before:  # after the optimizer: the training part, outside the comparison
                return f"stopped at line {stmt.lineno} ({type(exc).__name__}: {exc})"
            raise SnippetError(framework, stmt.lineno, exc) from exc
    return "ran to the end"


def run_snippet(source: str, framework: str, twin: Twin) -> Captured:
    """Execute a snippet with the twin network injected; capture its optimizer and schedulers."""
    net = twin.torch_net if framework == TORCH else twin.ms_net
    captured = Captured(framework, namespace=_namespace(net))
    rec = _Recorder()
    try:
        with _capturing(framework, rec):
            captured.stop = _execute(source, framework, captured.namespace, rec)
            make = captured.namespace.get("make_optimizer")
            if not rec.optimizers and callable(make):
                make(net)
                captured.stop = "called make_optimizer(net)"
    except Exception as exc:
        captured.error = exc
    captured.schedulers = _root_schedulers(rec.schedulers)
    captured.group_args = rec.group_args
    if rec.optimizers:
        captured.optimizer = rec.optimizers[0]
        if len(rec.optimizers) > 1:
            captured.notes.append(f"{len(rec.optimizers)} optimizers were built; the first is compared")
    elif captured.error is None:
        captured.error = RuntimeError(f"the {framework} snippet built no optimizer ({captured.stop})")
    return captured


def _root_schedulers(schedulers: List[Any]) -> List[Any]:
    """Leave out schedulers owned by a SequentialLR/ChainedScheduler (the owner steps them)."""
    owned = [id(c) for s in schedulers for c in getattr(s, "_schedulers", ())]
    return [s for s in schedulers if id(s) not in owned]


def infer_scheduler_step(source: str, scheduler_names: Sequence[str]) -> str:
    """'iteration' if some `<scheduler>.step()` sits inside two nested loops, else 'epoch'."""
    depths: List[int] = []

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr == "step" and isinstance(child.func.value, ast.Name)
                    and child.func.value.id in scheduler_names):
                depths.append(depth)
            visit(child, depth + isinstance(child, (ast.For, ast.AsyncFor, ast.While)))

    try:
        visit(ast.parse(source), 0)
    except SyntaxError:
        return "epoch"
    return "iteration" if depths and max(depths) >= 2 else "epoch"


# --------------------------------------------------------------------------------------------
# Optimizer views: one small adapter per optimizer family, all speaking canonical (torch) names
# --------------------------------------------------------------------------------------------

def _as_float(value) -> float:
    if hasattr(value, "asnumpy"):
        return float(np.asarray(value.asnumpy()).reshape(-1)[0])
    if hasattr(value, "detach"):
        return float(value.detach().cpu().reshape(-1)[0])
    return float(value)


class TorchView:
    def __init__(self, opt, twin: Twin):
        self.opt, self.twin = opt, twin
        self._names = {id(p): n for n, p in twin.torch_net.named_parameters()}

    def _name(self, p) -> str:
        return self._names.get(id(p), f"torch:<unnamed {tuple(p.shape)}>")

    def groups(self) -> List[List[str]]:
        return [[self._name(p) for p in g["params"]] for g in self.opt.param_groups]

    def weight_decay(self) -> Dict[str, float]:
        return {self._name(p): float(g.get("weight_decay", 0.0))
                for g in self.opt.param_groups for p in g["params"]}

    def current_lr(self) -> Dict[str, float]:
        return {self._name(p): _as_float(g["lr"]) for g in self.opt.param_groups for p in g["params"]}

    def step(self, grads: Dict[str, np.ndarray]) -> None:
        torch = torch_module()
        for g in self.opt.param_groups:
            for p in g["params"]:
                name = self._name(p)
                p.grad = torch.tensor(grads[name]) if name in grads and p.requires_grad else None
        self.opt.step()

    def snapshot(self) -> Dict[str, np.ndarray]:
        return torch_state(self.twin.torch_net, list(self.twin.torch_to_ms))


class _MindSporeView:
    def __init__(self, opt, twin: Twin):
        self.opt, self.twin = opt, twin

    def _name(self, p) -> str:
        return self.twin.canonical(p.name)

    def _grads(self, grads: Dict[str, np.ndarray]) -> tuple:
        ms = mindspore_module()
        out = []
        for p in self.opt.parameters:
            g = grads.get(self._name(p))
            out.append(ms.Tensor(g if g is not None else np.zeros(p.shape, np.float32)))
        return tuple(out)

    def step(self, grads: Dict[str, np.ndarray]) -> None:
        self.opt(self._grads(grads))

    def snapshot(self) -> Dict[str, np.ndarray]:
        params = ms_params_by_name(self.twin.ms_net)
        return {t: params[m].asnumpy().copy() for t, m in self.twin.torch_to_ms.items()}


class MindSporeNnView(_MindSporeView):
    """mindspore.nn optimizers (flat per-parameter group attributes, decay_flags)."""

    def __init__(self, opt, twin: Twin, group_args: Optional[List[List[Any]]] = None):
        super().__init__(opt, twin)
        self.group_args = group_args

    def groups(self) -> List[List[str]]:
        if self.opt.is_group and self.group_args is not None:
            return [[self._name(p) for p in g] for g in self.group_args]
        return [[self._name(p) for p in self.opt.parameters]]

    def weight_decay(self) -> Dict[str, float]:
        opt, scale = self.opt, float(self.opt.loss_scale)
        if opt.is_group:
            values = [math.nan if dynamic else (_as_float(w) / scale if flag else 0.0)
                      for w, flag, dynamic in zip(opt.group_weight_decay, opt.decay_flags,
                                                  opt.dynamic_decay_flags)]
        else:
            wd = math.nan if opt.dynamic_decay_flags else _as_float(opt.weight_decay) / scale
            values = [wd if (flag and opt.exec_weight_decay) else 0.0 for flag in opt.decay_flags]
        return {self._name(p): v for p, v in zip(opt.parameters, values)}

    def current_lr(self) -> Dict[str, float]:
        lr = self.opt.get_lr()
        params = self.opt.parameters
        if isinstance(lr, (tuple, list)):
            return {self._name(p): _as_float(v) for p, v in zip(params, lr)}
        return {self._name(p): _as_float(lr) for p in params}


class MindSporeExperimentalView(_MindSporeView):
    """mindspore.experimental.optim optimizers (torch-like param_groups)."""

    def groups(self) -> List[List[str]]:
        return [[self._name(p) for p in g["params"]] for g in self.opt.param_groups]

    def weight_decay(self) -> Dict[str, float]:
        return {self._name(p): _as_float(g.get("weight_decay", 0.0))
                for g in self.opt.param_groups for p in g["params"]}

    def current_lr(self) -> Dict[str, float]:
        return {self._name(p): _as_float(g["lr"]) for g in self.opt.param_groups for p in g["params"]}


def make_view(captured: Captured, twin: Twin):
    opt = captured.optimizer
    if captured.framework == TORCH:
        return TorchView(opt, twin)
    if isinstance(opt, mindspore_module().nn.Optimizer):
        return MindSporeNnView(opt, twin, captured.group_args.get(id(opt)))
    return MindSporeExperimentalView(opt, twin)


# --------------------------------------------------------------------------------------------
# Simulation: the same synthetic gradients, E epochs x S steps, schedulers stepped like the loop
# --------------------------------------------------------------------------------------------

@dataclass
class StepPlan:
    epochs: int = 1
    steps_per_epoch: int = 5
    scheduler_step: str = "auto"  # "epoch" | "iteration" | "auto"

    @property
    def total(self) -> int:
        return self.epochs * self.steps_per_epoch


def synthetic_grads(twin: Twin, steps: int, seed: int = 0,
                    scale: float = 1.0) -> List[Dict[str, np.ndarray]]:
    """Deterministic per-parameter gradients (scale x standard normal, float32) keyed by torch
    name; BN running statistics get none (zeros), as their MindSpore gradient is zero."""
    shapes = {name: tuple(p.shape) for name, p in twin.torch_net.named_parameters()}
    out = []
    for step in range(steps):
        grads = {}
        for name, shape in shapes.items():
            rng = np.random.default_rng([seed, step, zlib.crc32(name.encode())])
            grads[name] = (scale * rng.standard_normal(shape)).astype(np.float32)
        out.append(grads)
    return out


@dataclass
class Trace:
    """What one framework's optimizer holds and does."""

    framework: str
    optimizer_class: str = ""
    groups: List[List[str]] = field(default_factory=list)
    weight_decay: Dict[str, float] = field(default_factory=dict)
    lrs: List[Dict[str, float]] = field(default_factory=list)  # before each step
    states: List[Dict[str, np.ndarray]] = field(default_factory=list)  # initial, then after each step
    stop: str = ""
    notes: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def params(self) -> List[str]:
        return [n for g in self.groups for n in g]


# The metric a ReduceLROnPlateau sees at its k-th step (both frameworks get the same): it
# improves, stalls, then worsens, so that patience, cooldown and min_lr all come into play.
PLATEAU_METRICS = (1.0, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.7, 0.7, 0.7)


def _step_schedulers(schedulers: List[Any], count: int = 0) -> None:
    for sched in schedulers:
        if type(sched).__name__ == "ReduceLROnPlateau":
            sched.step(PLATEAU_METRICS[count % len(PLATEAU_METRICS)])
        else:
            sched.step()


def simulate(captured: Captured, twin: Twin, plan: StepPlan, grads: List[Dict[str, np.ndarray]],
             scheduler_step: str) -> Trace:
    view = make_view(captured, twin)
    trace = Trace(captured.framework, type(captured.optimizer).__name__, view.groups(),
                  view.weight_decay(), stop=captured.stop, notes=list(captured.notes))
    trace.states.append(view.snapshot())
    step = 0
    try:
        for _ in range(plan.epochs):
            for _ in range(plan.steps_per_epoch):
                trace.lrs.append(view.current_lr())
                view.step(grads[step])
                trace.states.append(view.snapshot())
                step += 1
                if scheduler_step == "iteration":
                    _step_schedulers(captured.schedulers, step - 1)
            if scheduler_step == "epoch":
                _step_schedulers(captured.schedulers, step // plan.steps_per_epoch - 1)
    except Exception as exc:
        trace.error = f"optimizer step {step + 1}: {type(exc).__name__}: {exc}"
    return trace


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

@dataclass
class Mismatch:
    aspect: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.aspect}] {self.detail}"


def _label(twin: Twin, name: str) -> str:
    ms_name = twin.torch_to_ms.get(name)
    return f"{name} (ms {ms_name})" if ms_name and ms_name != name else name


def _labels(twin: Twin, names, limit: int = 6) -> str:
    names = sorted(names)
    text = ", ".join(_label(twin, n) for n in names[:limit])
    return text + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def compare_params(t: Trace, m: Trace, twin: Twin) -> List[Mismatch]:
    out = []
    only_t, only_m = set(t.params) - set(m.params), set(m.params) - set(t.params)
    if only_t:
        out.append(Mismatch("params", f"only the torch optimizer holds {_labels(twin, only_t)}"))
    if only_m:
        out.append(Mismatch("params", f"only the MindSpore optimizer holds {_labels(twin, only_m)}"))
    for trace in (t, m):
        dup = {n for n in trace.params if trace.params.count(n) > 1}
        if dup:
            out.append(Mismatch("params", f"{trace.framework} holds {_labels(twin, dup)} twice"))
    t_groups, m_groups = [sorted(g) for g in t.groups], [sorted(g) for g in m.groups]
    if not out and t_groups != m_groups:
        out.append(Mismatch("params", f"groups differ: torch {len(t_groups)} group(s) "
                                      f"{t.groups}, MindSpore {len(m_groups)} group(s) {m.groups}"))
    return out


def _close(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


def compare_weight_decay(t: Trace, m: Trace, twin: Twin) -> List[Mismatch]:
    bad = [n for n in t.weight_decay if n in m.weight_decay
           and not _close(t.weight_decay[n], m.weight_decay[n], LR_RTOL)]
    if not bad:
        return []
    detail = "; ".join(f"{_label(twin, n)}: torch {t.weight_decay[n]:g}, MindSpore {m.weight_decay[n]:g}"
                       for n in sorted(bad)[:8])
    return [Mismatch("weight_decay", f"effective weight decay differs for {len(bad)} parameter(s): {detail}")]


def compare_lr(t: Trace, m: Trace, twin: Twin) -> List[Mismatch]:
    """One line per distinct difference, listing the steps where it occurs."""
    by_difference: Dict[tuple, List[int]] = {}
    for step, (tl, ml) in enumerate(zip(t.lrs, m.lrs), start=1):
        bad = tuple(sorted(n for n in tl if n in ml and not _close(tl[n], ml[n], LR_RTOL)))
        if bad:
            values = tuple(sorted({(tl[n], ml[n]) for n in bad}))
            by_difference.setdefault((values, bad), []).append(step)
    out = []
    for (values, bad), steps in list(by_difference.items())[:6]:
        pairs = ", ".join(f"torch {a:.6g} vs MindSpore {b:.6g}" for a, b in values[:3])
        out.append(Mismatch("lr", f"optimizer step(s) {_steps(steps)}: {pairs} for {_labels(twin, bad, 4)}"))
    return out


def _steps(steps: List[int]) -> str:
    if len(steps) > 2 and steps == list(range(steps[0], steps[-1] + 1)):
        return f"{steps[0]}-{steps[-1]}"
    return ", ".join(map(str, steps))


def compare_updates(t: Trace, m: Trace, twin: Twin, atol: float) -> List[Mismatch]:
    for step, (ts, mstate) in enumerate(zip(t.states, m.states)):
        diffs = {n: float(np.max(np.abs(ts[n] - mstate[n]))) for n in ts}
        bad = {n: d for n, d in diffs.items() if d > atol}
        if bad:
            worst = sorted(bad, key=bad.get, reverse=True)
            when = "initially" if step == 0 else f"after step {step}"
            detail = ", ".join(f"{_label(twin, n)} {bad[n]:.3g}" for n in worst[:4])
            final = max_update_diff(t, m)
            return [Mismatch("update", f"parameters differ {when} (atol {atol:g}): max |diff| {detail}"
                                       f"{' ...' if len(worst) > 4 else ''}; after the last step "
                                       f"max |diff| = {final:.3g}")]
    return []


def max_update_diff(t: Trace, m: Trace) -> float:
    """max |diff| over all parameters after the last step both sides completed."""
    last = min(len(t.states), len(m.states)) - 1
    if last < 0:
        return math.nan
    return max(float(np.max(np.abs(t.states[last][n] - m.states[last][n]))) for n in t.states[last])


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

@dataclass
class EquivalenceReport:
    torch_source: str
    ms_source: str
    plan: StepPlan
    aspects: Tuple[str, ...]
    torch: Optional[Trace] = None
    mindspore: Optional[Trace] = None
    mismatches: List[Mismatch] = field(default_factory=list)
    errors: Dict[str, BaseException] = field(default_factory=dict)  # side -> the exception raised
    migration: Any = None  # the tool's FileResult when the MindSpore code came from the tool

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def findings(self) -> list:
        return list(getattr(self.migration, "findings", None) or [])

    def failed(self, aspect: str) -> bool:
        return any(m.aspect == aspect for m in self.mismatches)

    @property
    def max_update_diff(self) -> float:
        if self.torch is None or self.mindspore is None:
            return math.nan
        return max_update_diff(self.torch, self.mindspore)

    def format(self) -> str:
        t = self.torch.optimizer_class if self.torch else "?"
        m = self.mindspore.optimizer_class if self.mindspore else "?"
        plan = f"{self.plan.total} step(s) ({self.plan.epochs} epoch(s) x {self.plan.steps_per_epoch})"
        head = "equivalent" if self.ok else "NOT equivalent"
        lines = [f"torch {t} vs MindSpore {m}: {head} over {plan}; compared: {', '.join(self.aspects)}"]
        lines += [f"  {mm}" for mm in self.mismatches]
        for trace in (self.torch, self.mindspore):
            if trace is not None:
                lines.append(f"  {trace.framework}: {trace.stop}" + "".join(f"; {n}" for n in trace.notes))
        if self.findings:
            lines.append("  tool findings:")
            lines += [f"    {f.code} {f.severity} line {f.line}: {f.message}" for f in self.findings]
        if not self.ok:
            lines += ["  --- MindSpore source ---"] + [f"    {s}" for s in self.ms_source.splitlines()]
        return "\n".join(lines)

    def assert_ok(self) -> "EquivalenceReport":
        if not self.ok:
            raise AssertionError(self.format())
        return self


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

def migrate(torch_src: str, path: str = "snippet.py", options=None):
    """Run the tool on a torch source; returns its FileResult (.code, .findings, .error).
    `options`: an ms_migrate Options (None: the defaults, --target auto)."""
    try:
        from ms_migrate.core.engine import migrate_source
        from ms_migrate.core.options import DEFAULT
    except Exception as exc:
        raise ToolUnavailable(f"ms_migrate.core.engine cannot be imported: {type(exc).__name__}: {exc}") from exc
    return migrate_source(torch_src, path=path, options=options or DEFAULT)


def _resolve_scheduler_step(plan: StepPlan, captured: Captured, source: str) -> str:
    if plan.scheduler_step != "auto":
        return plan.scheduler_step
    names = [k for k, v in captured.namespace.items() if any(v is s for s in captured.schedulers)]
    return infer_scheduler_step(source, names)


def _trained_during_snippet(twin: Twin, before: Dict[str, np.ndarray], trace: Trace) -> List[str]:
    return [n for n, v in before.items() if not np.array_equal(v, trace.states[0][n])]


def _run_side(source: str, framework: str, twin: Twin, plan: StepPlan, grads, report) -> Optional[Trace]:
    captured = run_snippet(source, framework, twin)
    if captured.error is not None:
        report.errors[framework] = getattr(captured.error, "exc", captured.error)
        report.mismatches.append(Mismatch("construction", f"{framework}: {type(captured.error).__name__}: "
                                                          f"{captured.error}"))
        return None
    trace = simulate(captured, twin, plan, grads, _resolve_scheduler_step(plan, captured, source))
    if trace.error:
        report.mismatches.append(Mismatch("simulation", f"{framework}: {trace.error}"))
    return trace


def _mindspore_source(torch_src: str, ms_src: Optional[str], options=None):
    """(MindSpore source, the tool's result or None)."""
    if ms_src is not None:
        return expand_snippet(ms_src, MINDSPORE), None
    migration = migrate(torch_src, options=options)
    return migration.code, migration


def check_equivalence(torch_src: str, ms_src: Optional[str] = None, *, epochs: int = 1,
                      steps_per_epoch: int = 5, scheduler_step: str = "auto",
                      atol: float = DEFAULT_ATOL, aspects: Sequence[str] = ASPECTS, seed: int = 0,
                      grad_scale: float = 1.0,
                      twin_factory: Callable[[int], Twin] = make_default_twin,
                      options=None) -> EquivalenceReport:
    """Compare a torch snippet with its MindSpore migration (the tool's output if ms_src is None)."""
    unknown = set(aspects) - set(ASPECTS)
    if unknown:
        raise ValueError(f"unknown aspects {sorted(unknown)}; choose from {ASPECTS}")
    torch_src = expand_snippet(torch_src, TORCH)
    ms_src, migration = _mindspore_source(torch_src, ms_src, options)
    plan = StepPlan(epochs, steps_per_epoch, scheduler_step)
    report = EquivalenceReport(torch_src, ms_src, plan, tuple(aspects), migration=migration)
    if migration is not None and migration.error:
        report.mismatches.append(Mismatch("construction", f"tool error: {migration.error}"))
        return report
    twin = twin_factory(seed)
    initial = torch_state(twin.torch_net, list(twin.torch_to_ms))
    grads = synthetic_grads(twin, plan.total, seed, grad_scale)
    report.torch = _run_side(torch_src, TORCH, twin, plan, grads, report)
    report.mindspore = _run_side(ms_src, MINDSPORE, twin, plan, grads, report)
    for trace in (report.torch, report.mindspore):
        if trace is not None and _trained_during_snippet(twin, initial, trace):
            message = (f"the {trace.framework} snippet changed the weights before the comparison "
                       f"(did it train?)")
            report.mismatches.append(Mismatch("construction", message))
    if report.torch is not None and report.mindspore is not None and not report.failed("construction"):
        report.mismatches += _compare(report.torch, report.mindspore, twin, aspects, atol)
    return report


def _compare(t: Trace, m: Trace, twin: Twin, aspects: Sequence[str], atol: float) -> List[Mismatch]:
    out: List[Mismatch] = []
    if "params" in aspects:
        out += compare_params(t, m, twin)
    if "weight_decay" in aspects:
        out += compare_weight_decay(t, m, twin)
    if "lr" in aspects:
        out += compare_lr(t, m, twin)
    if "update" in aspects:
        out += compare_updates(t, m, twin, atol)
    return out


def assert_equivalent(torch_src: str, ms_src: Optional[str] = None, **kwargs) -> EquivalenceReport:
    """check_equivalence, raising AssertionError with the readable report on any difference."""
    return check_equivalence(torch_src, ms_src, **kwargs).assert_ok()


def compare_optimizer_update(torch_src: str, ms_src: Optional[str] = None, steps: int = 5,
                             atol: float = DEFAULT_ATOL, **kwargs) -> EquivalenceReport:
    """Parameters after `steps` steps with the same gradients, and nothing else (construction
    errors are still reported). `ms_src` None: the tool migrates `torch_src`."""
    return check_equivalence(torch_src, ms_src, epochs=1, steps_per_epoch=steps, atol=atol,
                             aspects=("update",), **kwargs)
