"""core/bindings.py answers the reads of a variable exactly as LibCST's scope analysis does
(Assignment.references), or not at all: compared on every assignment of every fixture, on
shapes written to break it, and on generated mutations of the fixtures."""

from __future__ import annotations

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms_migrate.core import bindings
from ms_migrate.core.context import FileContext
from tests.test_prescan import ALL_FIXTURES, SOURCES, _replace_name, mutated

TRICKY = [
    "def f(m):\n    opt = SGD(m)\n    opt.step()\n    return opt\n",
    "opt = SGD(m)\ndef g():\n    opt.step()\nclass C:\n    x = opt\n    def m(self):\n        return opt\n",
    "def f(opt):\n    opt = SGD(opt)\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    def g(opt):\n        opt.step()\n    opt.zero_grad()\n",
    "def f():\n    opt = SGD()\n    [opt for opt in xs]\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    [o for o in opt]\n    lambda: opt\n    return opt, 1\n",
    "def f():\n    opt = SGD()\n    global opt\n",
    "def f():\n    opt = SGD()\n    def g():\n        nonlocal opt\n        opt = 1\n    g()\n    opt.step()\n",
    "def f():\n    for i in r:\n        opt.step()\n        opt = SGD()\n",
    "def f():\n    opt = SGD()\n    opt = Adam()\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    del opt\n",
    "def f():\n    opt = SGD()\n    opt += 1\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    a, opt = 1, 2\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    with x as opt:\n        pass\n",
    "def f():\n    opt = SGD()\n    try:\n        pass\n    except E as opt:\n        pass\n",
    "def f():\n    opt = SGD()\n    (opt := 3)\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    import opt\n",
    "def f():\n    opt = SGD()\n    x: 'opt' = 1\n    y: List['opt'] = 2\n",
    "def f():\n    opt = SGD()\n    g(opt=1, o=opt)\n    print(f'{opt}')\n",
    "def f():\n    opt = SGD()\n    if opt:\n        while not opt:\n            x = opt if opt else -opt\n    return {opt: opt}[opt]\n",
    "def f():\n    opt = SGD()\n    for x in opt:\n        with opt:\n            await opt\n",
    "def f():\n    opt: Optimizer = SGD()\n    opt.step()\n",
    "class C:\n    opt = SGD()\n    opt.step()\n",
    "def f():\n    opt = opt_factory(opt)\n    opt.step()\n",
    "opt = SGD()\nif x:\n    opt = Adam()\nopt.step()\n",
    "def f():\n    def g():\n        return opt\n    opt = SGD()\n    return g\n",
    "def f():\n    opt = SGD()\n    match x:\n        case opt:\n            pass\n",
    "def f():\n    opt = x = SGD()\n    opt.step()\n",
    "def f():\n    opt = SGD()\n    sched = StepLR(opt, 1)\n    self.opt = opt\n    self.opt.step()\n    [opt, sched]\n    (opt,)\n",
]


def assert_reads_agree(source: bytes) -> int:
    """Every assignment bindings.py answers gets the scope analysis's answer; how many it did."""
    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    ctx = FileContext("case.py", module)
    answered = 0
    for name, nodes in ctx.analysis.by_value.items():
        for node in nodes:
            fast = bindings.reads_of(ctx.analysis, node)
            if fast is None:
                continue
            answered += 1
            assignment = ctx.assignment_of(node)
            slow = {access.node for access in assignment.references} if assignment else set()
            assert set(fast) == slow, (name, ctx.start(node).line,
                                       sorted(ctx.start(n).line for n in fast),
                                       sorted(ctx.start(n).line for n in slow))
            assert len(fast) == len(set(fast))
    return answered


@pytest.mark.parametrize("source", TRICKY)
def test_tricky_shapes_agree_with_the_scope_analysis(source):
    assert_reads_agree(source.encode())


def test_the_plain_shapes_are_answered():
    assert assert_reads_agree(TRICKY[0].encode()) == 1
    assert assert_reads_agree(TRICKY[1].encode()) == 1  # opt (a class body is left to LibCST)
    assert assert_reads_agree(TRICKY[19].encode()) == 2  # opt, x
    assert assert_reads_agree(TRICKY[5].encode()) == 1


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_agrees_with_the_scope_analysis(path):
    assert_reads_agree(path.read_bytes())


def test_most_fixture_assignments_are_answered():
    assert sum(assert_reads_agree(p.read_bytes()) for p in ALL_FIXTURES) > 300


@st.composite
def renamed(draw):
    """A fixture with some names turned into one variable's name, so that the variable is bound,
    read and rebound in every position the fixtures have."""
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 6))):
        text = _replace_name(text, draw(st.integers(0, 10_000)), draw(st.sampled_from(["optimizer", "opt"])))
    return text


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(renamed(), mutated()))
def test_mutated_fixtures_agree_with_the_scope_analysis(text):
    assert_reads_agree(text.encode("utf-8"))


# ---- the reads of a torch import bound once (what decides that a migrated import goes) --------
IMPORT_SHAPES = [
    "from torch import optim\nopt = optim.SGD(p)\ndef f():\n    return optim.Adam(p)\n",
    "from torch.optim import SGD, Adam as A\nSGD(p)\n[A]\nf(SGD=1)\nx.SGD\n",
    "def f():\n    return optim.SGD(p)\nfrom torch import optim\n",
    "optim.SGD(p)\nfrom torch import optim\n",
    "from torch.optim import Optimizer\ndef f(o: 'Optimizer'):\n    pass\n",
    "import torch.optim as O\nO.SGD(p)\nclass C:\n    O = 1\n",
    "from transformers import get_linear_schedule_with_warmup as g\ns = g(o, 1, 2)\n",
    "import torch\nimport torch.cuda\ntorch.optim.SGD(p)\ndef f():\n    import torch\n    torch.cuda.x\n",
]


def assert_import_reads_agree(source: bytes) -> int:
    from libcst.metadata import GlobalScope, ImportAssignment

    from ms_migrate.core import prescan

    found = prescan.scan(source)
    if found is None or not found.imports:
        return 0
    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    ctx = FileContext("case.py", module, single_imports=found.imports)
    scope = ctx.scopes.get(ctx.module)
    assert isinstance(scope, GlobalScope)
    answered = 0
    for name in found.imports:
        fast = bindings.import_reads(ctx.analysis, name)
        if fast is None:
            continue
        answered += 1
        slow = {access.node for assignment in scope.assignments[name]
                if isinstance(assignment, ImportAssignment) for access in assignment.references}
        assert set(fast) == slow, (name, [ctx.code(n) for n in fast], [ctx.code(n) for n in slow])
    return answered


@pytest.mark.parametrize("source", IMPORT_SHAPES)
def test_import_reads_agree_with_the_scope_analysis(source):
    assert_import_reads_agree(source.encode())


def test_import_reads_on_every_fixture():
    assert sum(assert_import_reads_agree(p.read_bytes()) for p in ALL_FIXTURES) > 100


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_import_reads_on_mutated_fixtures(text):
    assert_import_reads_agree(text.encode("utf-8"))


# ---- a name no import binds has no imported qualified name (FileContext.qualified_names) -------
def assert_unimported_roots_have_no_imported_names(source: bytes) -> int:
    from libcst.metadata import QualifiedNameSource

    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    ctx = FileContext("case.py", module)
    checked = 0
    for node in [*ctx.references, *(call.func for call in ctx.calls)]:
        root = node
        while isinstance(root, (cst.Attribute, cst.Call)):
            root = root.value if isinstance(root, cst.Attribute) else root.func
        if not isinstance(root, cst.Name) or root.value in ctx.analysis.imported:
            continue
        checked += 1
        scope = ctx.scopes.get(node)
        names = scope.get_qualified_names_for(node) if scope is not None else set()
        assert not {q for q in names if q.source is QualifiedNameSource.IMPORT}, ctx.code(node)
        assert ctx.qualified_names(node) == set()
    return checked


def test_unimported_roots_on_every_fixture():
    assert sum(assert_unimported_roots_have_no_imported_names(p.read_bytes()) for p in ALL_FIXTURES) > 1000


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_unimported_roots_on_mutated_fixtures(text):
    assert_unimported_roots_have_no_imported_names(text.encode("utf-8"))


# ---- real code: the installed torch's own optimizer sources (bounded: about 40 files) ----------
def _torch_sources():
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return []
    from pathlib import Path

    root = Path(list(spec.submodule_search_locations)[0])
    return sorted((root / "optim").rglob("*.py")) + [
        root / "testing" / "_internal" / "common_optimizers.py", root / "amp" / "grad_scaler.py"]


@pytest.mark.parametrize("path", _torch_sources() or [None], ids=lambda p: p.name if p else "no-torch")
def test_every_shortcut_agrees_on_torchs_own_sources(path):
    if path is None or not path.exists():
        pytest.skip("torch is not installed (the equivalence extra)")
    from tests.test_prescan import assert_imported_names_agree

    source = path.read_bytes()
    assert_imported_names_agree(source)
    assert_import_reads_agree(source)
    assert_unimported_roots_have_no_imported_names(source)
    assert_reads_agree(source)


# ---- the scope a read is in (training_step's "optimizer built before the loop" check) ----------
def assert_same_scopes(source: bytes) -> int:
    """bindings._innermost_scope partitions the Names as LibCST's scopes do."""
    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    ctx = FileContext("case.py", module)
    mine, theirs = {}, {}
    for nodes in ctx.analysis.by_value.values():
        for node in nodes:
            scope = ctx.scopes.get(node)
            parent = ctx.parent(node)
            if scope is None or (isinstance(parent, cst.Attribute) and parent.attr is node):
                continue
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Param)):
                continue  # a def's own name / a parameter: bound in the scope around / inside
            mine.setdefault(id(bindings._innermost_scope(ctx.analysis, node)), set()).add(node)
            theirs.setdefault(id(scope), set()).add(node)
    assert set(map(frozenset, mine.values())) == set(map(frozenset, theirs.values()))
    return len(mine)


SCOPE_SHAPES = [
    "@d(a)\ndef f(x=b, *, y: c = e) -> g:\n    h = [i for i in j if i]\n    k = lambda m=n: m + o\n"
    "    class C(p):\n        q = r\n        def s(self):\n            return t\n    return {u: v for u in w}\n",
    "x = [[a for a in b] for c in d]\ny = (e for f in g for h in f)\n",
]


@pytest.mark.parametrize("source", SCOPE_SHAPES + TRICKY[:6])
def test_innermost_scope_is_libcsts_scope(source):
    assert assert_same_scopes(source.encode())


@pytest.mark.parametrize("path", ALL_FIXTURES[::7], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_innermost_scope_on_fixtures(path):
    assert_same_scopes(path.read_bytes())


# ---- FileContext.may_be_optim: roots no torch.optim name or scheduler factory is under ---------
def assert_no_optim_name_outside_optim_roots(source: bytes) -> int:
    from ms_migrate.core import prescan

    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    ctx = FileContext("case.py", module)
    checked = 0
    for node in [*ctx.references, *(call.func for call in ctx.calls)]:
        if ctx.may_be_optim(node) or not ctx.may_be_tracked(node):
            continue
        checked += 1
        names = ctx.qualified_names(node) | ctx.rebound.get(node, set())
        assert not [n for n in names if prescan.tracked(n)], (ctx.code(node), names)
    return checked


OPTIM_ROOT_SHAPES = [
    "import torch.nn as nn\nfrom torch.utils._triton import has_triton\nfrom torch import optim\n"
    "nn.Linear(1, 2)\nhas_triton()\noptim.SGD(p)\ndef f():\n    from torch.optim import Adam\n    return Adam(p)\n",
    "import torch.cuda\ntorch.optim.SGD(p)\nimport torch.optim.lr_scheduler as S\nS.StepLR(o, 1)\n",
    "from transformers import get_scheduler, AutoModel\nget_scheduler('linear', o)\nAutoModel.x()\n",
]


@pytest.mark.parametrize("source", OPTIM_ROOT_SHAPES + TRICKY[:3])
def test_optim_roots_shapes(source):
    assert_no_optim_name_outside_optim_roots(source.encode())


def test_optim_roots_on_every_fixture():
    assert sum(assert_no_optim_name_outside_optim_roots(p.read_bytes()) for p in ALL_FIXTURES) > 50


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_optim_roots_on_mutated_fixtures(text):
    assert_no_optim_name_outside_optim_roots(text.encode("utf-8"))


@pytest.mark.parametrize("path", _torch_sources() or [None], ids=lambda p: p.name if p else "no-torch")
def test_optim_roots_on_torchs_own_sources(path):
    if path is None or not path.exists():
        pytest.skip("torch is not installed (the equivalence extra)")
    assert_no_optim_name_outside_optim_roots(path.read_bytes())
