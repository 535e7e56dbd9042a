"""Every entry of the mapping tables against the real signatures of torch 2.13 and MindSpore 2.10."""

import inspect

import pytest

from ms_migrate.core import tables

torch_optim = pytest.importorskip("torch.optim", reason="needs the 'equivalence' extra (torch)")
ms_nn = pytest.importorskip("mindspore.nn", reason="needs the 'equivalence' extra (mindspore)")

pytestmark = pytest.mark.equivalence

OPTIMIZERS = tables.optimizers()
CONVERTED = {name: e for name, e in OPTIMIZERS.items() if e["target"]}


def same(recorded, real) -> bool:
    """A JSON-recorded default equals the real one: lists stand for tuples, and numbers compare
    by value with their type class (an int 0 and 0.0 are the same default; True is not 1).
    Written here, not borrowed from the tool, so that the table is checked independently."""
    if isinstance(real, tuple):
        return isinstance(recorded, list) and len(recorded) == len(real) and all(map(same, recorded, real))
    if real is None or isinstance(real, (bool, str)):
        return type(recorded) is type(real) and recorded == real
    return isinstance(recorded, (int, float)) and not isinstance(recorded, bool) and recorded == real


def torch_signature(name):
    return inspect.signature(getattr(torch_optim, name).__init__)


def ms_signature(target):
    """MindSpore decorates nn optimizers' __init__ (opt_init_args_register) without
    functools.wraps: the real function sits in the decorator's closure."""
    init = getattr(ms_nn, target).__init__
    seen = set()
    while init.__closure__ and id(init) not in seen:
        seen.add(id(init))
        inner = [c.cell_contents for c in init.__closure__ if inspect.isfunction(c.cell_contents)]
        if not inner:
            break
        init = inner[0]
    return inspect.signature(init)


def params_of(signature):
    return {
        n: p for n, p in signature.parameters.items()
        if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def test_every_torch_optimizer_is_in_the_table():
    classes = {
        n for n, o in vars(torch_optim).items()
        if inspect.isclass(o) and issubclass(o, torch_optim.Optimizer) and o is not torch_optim.Optimizer
    }
    assert classes <= set(OPTIMIZERS), classes - set(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_torch_side(name):
    entry = CONVERTED[name]
    real = params_of(torch_signature(name))
    # torch_defaults names every parameter but params, with its real default
    assert set(entry["torch_defaults"]) == set(real) - {"params"}
    for arg, default in entry["torch_defaults"].items():
        assert same(default, real[arg].default), (arg, default, real[arg].default)
    # positional order is torch's
    positional = [n for n, p in real.items() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    assert entry["positional"] == positional
    # every mapped or unsupported argument exists in torch
    assert set(entry["arguments"]) <= set(real)
    assert set(entry["unsupported"]) <= set(real)
    # every torch argument is either mapped or declared unsupported: nothing is dropped silently
    assert set(entry["arguments"]) | set(entry["unsupported"]) == set(real) - {"params"}


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_mindspore_side(name):
    entry = CONVERTED[name]
    real = params_of(ms_signature(entry["target"]))
    assert "params" in real
    assert set(entry["ms_defaults"]) == set(real) - {"params"}
    for arg, default in entry["ms_defaults"].items():
        assert same(default, real[arg].default), (arg, default, real[arg].default)
    mapped = set()
    for value in entry["arguments"].values():
        mapped.update(value if isinstance(value, list) else [value])
    assert mapped <= set(real)
    assert set(entry["floats"]) <= set(real)
    extra_ok = set(real) | {"use_lazy", "use_offload"}  # nn.Adam's documented **kwargs
    assert set(entry.get("extra", {})) <= extra_ok


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_floats_are_really_required(name):
    """Each `floats` entry: MindSpore rejects an int there (so the rule must convert it)."""
    import mindspore

    entry = CONVERTED[name]
    net = mindspore.nn.Dense(2, 1)
    for arg in entry["floats"]:
        default = entry["ms_defaults"][arg]
        bad = tuple(int(v) for v in default) if isinstance(default, (list, tuple)) else int(default)
        kwargs = dict(entry.get("extra", {}))
        kwargs[arg] = bad
        with pytest.raises((TypeError, ValueError)):
            getattr(mindspore.nn, entry["target"])(net.trainable_params(), **kwargs)


@pytest.mark.parametrize("name", sorted(n for n, e in OPTIMIZERS.items() if not e["target"]))
def test_no_counterpart_is_true(name):
    entry = OPTIMIZERS[name]
    assert not hasattr(ms_nn, name)
    if entry.get("alternative"):
        module, _, cls = entry["alternative"].rpartition(".")
        import importlib

        assert hasattr(importlib.import_module(module), cls)


def test_docs_urls_are_mindspore_pages():
    for entry in OPTIMIZERS.values():
        assert entry["url"].startswith("https://www.mindspore.cn/docs/")


# ---- mindspore.experimental.optim forms (issue 12) -------------------------------------------

EXPERIMENTAL = tables.experimental_classes()
WITH_FORMS = {name: e for name, e in OPTIMIZERS.items() if e.get("experimental")}


@pytest.mark.parametrize("name", sorted(EXPERIMENTAL))
def test_experimental_class_signature(name):
    """positional order and defaults (None: required) are the real ones."""
    import mindspore.experimental.optim as eoptim

    recorded = EXPERIMENTAL[name]
    real = params_of(inspect.signature(getattr(eoptim, name).__init__))
    real.pop("params")
    assert recorded["positional"] == [n for n, p in real.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert set(recorded["defaults"]) == set(real)
    for arg, default in recorded["defaults"].items():
        if default is None:
            assert real[arg].default is inspect.Parameter.empty, arg
        else:
            assert same(default, real[arg].default), (arg, default, real[arg].default)
    assert set(recorded.get("floats", ())) <= set(real)


@pytest.mark.parametrize("name", sorted(EXPERIMENTAL))
def test_experimental_floats_are_really_required(name):
    import numpy as np
    import mindspore
    import mindspore.experimental.optim as eoptim

    params = [mindspore.Parameter(mindspore.Tensor(np.ones(2, np.float32)), name="w")]
    for arg in EXPERIMENTAL[name].get("floats", ()):
        bad = {"betas": (0, 0), "etas": (0, 2)}.get(arg, 0 if arg in ("lambd", "rho") else 1)
        with pytest.raises(TypeError):
            getattr(eoptim, name)(params, lr=0.5, **{arg: bad})


@pytest.mark.parametrize("name", sorted(WITH_FORMS))
def test_experimental_forms_name_real_arguments(name):
    """Every form names an experimental class; its `when`, `consumes` are torch arguments and its
    `set` arguments exist on the class; the torch side is recorded for the rule to bind calls."""
    entry = WITH_FORMS[name]
    real = params_of(torch_signature(name))
    assert entry["positional"] == [n for n, p in real.items() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    assert set(entry["torch_defaults"]) == set(real) - {"params"}
    for form in entry["experimental"]:
        assert form["target"] in EXPERIMENTAL
        assert set(form.get("when", {})) <= set(real)
        assert set(form.get("consumes", ())) <= set(real)
        assert set(form.get("set", {})) <= set(EXPERIMENTAL[form["target"]]["defaults"])
        assert isinstance(form["exact"], bool) and (form["exact"] or form.get("inexact"))


def test_experimental_schedulers_exist():
    from mindspore.experimental.optim import lr_scheduler

    table = tables.load("schedulers")
    for name in table["experimental"]:
        real = inspect.signature(getattr(lr_scheduler, name).__init__).parameters
        torch_real = inspect.signature(getattr(torch_optim.lr_scheduler, name).__init__).parameters
        missing = set(torch_real) - set(real)
        assert missing == set(table["experimental_without"].get(name, ())), (name, missing)
    absent = set(table["schedulers"]) - set(table["experimental"])
    assert not any(hasattr(lr_scheduler, name) for name in absent)
