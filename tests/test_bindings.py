"""core/bindings.py answers the reads of a variable exactly as LibCST's scope analysis does
(Assignment.references), or not at all: compared on every assignment of every fixture, on
shapes written to break it, and on generated mutations of the fixtures."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import Assignment
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


def _assignment(ctx, target: cst.Name):
    """LibCST's Assignment a target makes (a parameter's is keyed by its Param node)."""
    holder = ctx.parent(target)
    if not isinstance(holder, cst.Param):
        return ctx.assignment_of(target)
    scope = ctx.scope(target)
    return next((a for a in scope.assignments[target.value] if isinstance(a, Assignment) and a.node is holder), None)


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
            holder = ctx.parent(node)
            if isinstance(holder, cst.Param) and holder.name is node:
                fast = bindings.param_reads(ctx.analysis, holder)
            else:
                fast = bindings.reads_of(ctx.analysis, node)
            if fast is None:
                continue
            answered += 1
            assignment = _assignment(ctx, node)
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
    assert assert_reads_agree(TRICKY[0].encode()) == 2  # opt, the parameter m
    assert assert_reads_agree(TRICKY[1].encode()) == 2  # opt, self (a class body is left to LibCST)
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
    """bindings.innermost_scope partitions the Names as LibCST's scopes do."""
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
            mine.setdefault(id(bindings.innermost_scope(ctx.analysis, node)), set()).add(node)
            theirs.setdefault(id(scope), set()).add(node)
    for call in ctx.analysis.calls:  # (the parameters rule asks it of calls)
        scope = ctx.scopes.get(call)
        if scope is not None:
            mine.setdefault(id(bindings.innermost_scope(ctx.analysis, call)), set()).add(call)
            theirs.setdefault(id(scope), set()).add(call)
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


# ---- more questions answered without the scope analysis ---------------------------------------
# Each check runs one core/bindings.py answer against LibCST's scope analysis on every node it
# answers, and returns how many it answered (so that a test can see it is not vacuous).
from libcst.metadata import BuiltinAssignment  # noqa: E402

FUNCTION_SHAPES = [
    "def train(opt):\n    opt.step()\ntrain(o)\ndef main():\n    train(o)\n",
    "def main():\n    def inner(o):\n        o.step()\n    inner(1)\n    [inner(x) for x in y]\ninner(2)\n",
    "def main(f=helper):\n    def helper():\n        pass\n    helper()\n",
    "def helper():\n    pass\nhelper = wrap(helper)\nhelper()\n",
    "def helper():\n    pass\ndef helper():\n    pass\nhelper()\n",
    "class C:\n    def helper(self):\n        pass\n    x = helper(1)\n    def m(self):\n        helper(2)\n",
    "def helper():\n    pass\ndef f():\n    global helper\n    helper()\n",
    "from m import *\ndef helper():\n    pass\nhelper()\n",
    "import helper\ndef helper():\n    pass\nhelper()\n",
    "def helper():\n    pass\ndef f(helper):\n    helper()\n",
    "def helper():\n    pass\ndef f():\n    for helper in xs:\n        helper()\n",
    "def helper():\n    pass\nclass K:\n    helper = 1\n    helper()\n",
    "def helper():\n    pass\n@helper\ndef g():\n    pass\nx.helper()\nf(helper=1)\n",
    "def f():\n    def helper():\n        pass\n    class K:\n        y = helper()\n        def m(self):\n            return helper()\n",
    "def f():\n    def g():\n        def helper():\n            pass\n    helper()\n",
    "def helper():\n    pass\nlambda helper: helper()\n",
    "def helper():\n    pass\n(helper := 1)\nhelper()\n",
    "def helper():\n    pass\ntry:\n    helper()\nexcept E as helper:\n    pass\n",
]

LOCAL_SHAPES = [
    "def train(model, loader, lr):\n    for x, y in loader:\n        out = model(x)\n        loss = crit(out, y)\n"
    "        lr += 1\n        (z := 3)\n        with open(f) as fh:\n            pass\n",
    "def f():\n    a = 1\n    def g(a):\n        return a\n    lam = lambda a: a\n    [a for a in b]\n    return a\n",
    "def f():\n    a: int = 1\n    a, *rest = xs\n    [b, (a, c)] = ys\n    try:\n        pass\n    except E as a:\n        pass\n",
    "def f():\n    import a\n    return a\n",
    "def f():\n    def a():\n        pass\n    return a\n",
    "def f():\n    global a\n    a = 1\n",
    "x = 1\nfor x in y:\n    x.attr = 2\n    f(x=3)\nclass C:\n    x = 4\n",
    "def f(*args, k=1, **kw):\n    args = 1\n    return k, kw\n",
    "def f():\n    del a\n    a = 1\n",
    "def f():\n    for a in b:\n        out = g(a)\n        print(out)\n    for c in d:\n        out = h(c)\n"
    "        out.x = out + 1\n    return [out for e in out]\n",
    "out = 1\nout = out + 1\ndef k():\n    return out\nclass C:\n    y = out\n",
    # a parameter and an assignment of one name (found by the mutations on Python 3.9)
    "def resumed(optimizer, args):\n    optimizer = SGD(args)\n    s = StepLR(optimizer, 2)\n    optimizer.step()\n",
    "def f(*opt, **kw):\n    opt = 1\n    kw = 2\n    return opt, kw\n",
]

NEVER_BOUND = ["len(x)\nmax = 3\n", "def f(len):\n    return len(x)\n", "for sum in y:\n    pass\nsum(z)\n",
               "from m import *\nlen(x)\n", "import min\nmin(1)\n", "def g():\n    global max\n    max = 1\n",
               "[range for range in x]\nrange(3)\n", "len(x); f(len=1); a.len\n"]


def _context(source: bytes):
    try:
        return FileContext("case.py", cst.parse_module(source))
    except Exception:
        return None


def _reads(ctx):
    """Every Name node of the file in a plain-read position."""
    for nodes in list(ctx.analysis.by_value.values()):
        for node in nodes:
            if bindings._plain_read(ctx.analysis.parents, node, ctx.parent(node)):
                yield node


def check_local_functions(ctx) -> int:
    """ctx.local_function: the def a plain-name call calls (bindings.local_function)."""
    answered = 0
    for call in ctx.analysis.calls:
        if not isinstance(call.func, cst.Name):
            continue
        fast = bindings.local_function(ctx.analysis, call.func)
        if fast is bindings.UNKNOWN:
            continue
        answered += 1
        assignment = _scope_binding(ctx, call.func)
        slow = assignment.node if assignment is not None and isinstance(assignment.node, cst.FunctionDef) else None
        assert fast is slow, (call.func.value, ctx.start(call).line)
    return answered


def _scope_binding(ctx, read: cst.Name):
    """LibCST's one Assignment for a read (what ctx.binding asks the scope analysis)."""
    scope = ctx.scope(read)
    found = [a for a in scope[read.value] if isinstance(a, Assignment)] if scope is not None else []
    return found[0] if len(found) == 1 else None


def check_read_bindings(ctx) -> int:
    """ctx.binding: the one assignment a read reads (bindings.binding_of), with its references,
    one object per target; and bindings.bound_several_times's "none"."""
    answered = 0
    for node in _reads(ctx):
        fast = bindings.binding_of(ctx.analysis, node)
        if fast is not None:
            answered += 1
            slow = _scope_binding(ctx, node)
            assert slow is not None and slow.node is fast.node, (node.value, ctx.start(node).line)
            assert {a.node for a in slow.references} == {a.node for a in fast.references}
            assert bindings.binding_of(ctx.analysis, node) is fast
        elif bindings.bound_several_times(ctx.analysis, node):
            answered += 1
            scope = ctx.scope(node)
            assert len([a for a in scope[node.value] if isinstance(a, Assignment)]) >= 2, node.value
    return answered


def check_local_bindings(ctx) -> int:
    """ctx.scope_bindings: the bindings of a read's name in the read's own scope (by line)."""
    answered = 0
    for node in _reads(ctx):
        home = bindings.innermost_scope(ctx.analysis, node)
        fast = bindings.local_bindings(ctx.analysis, node.value, home) if home is not None else None
        if fast is None:
            continue
        answered += 1
        scope = ctx.scope(node)
        slow = sorted(ctx.start(a.node).line for a in scope[node.value]
                      if getattr(a, "scope", None) is scope and getattr(a, "node", None) in ctx.positions)
        assert sorted(ctx.start(b).line for b in fast) == slow, (node.value, ctx.start(node).line)
    return answered


def check_never_bound(ctx) -> int:
    """bindings.never_bound: every read of the name sees only the builtin (or nothing)."""
    answered = 0
    for name, nodes in ctx.analysis.by_value.items():
        if not bindings.never_bound(ctx.analysis, name):
            continue
        answered += 1
        for node in nodes:
            scope = ctx.scope(node)
            if scope is not None:
                assert all(isinstance(a, BuiltinAssignment) for a in scope[name]), (name, ctx.start(node).line)
    return answered


def check_shared_reads(ctx) -> int:
    """ctx.assignment_of for a target that shares its scope with other bindings of its name:
    the references of LibCST's Assignment (bindings.shared_reads)."""
    answered = 0
    for nodes in list(ctx.analysis.by_value.values()):
        for node in nodes:
            fast = bindings.shared_reads(ctx.analysis, node)
            if fast is None:
                continue
            answered += 1
            slow = _assignment(ctx, node)
            assert slow is not None, (node.value, ctx.start(node).line)
            assert set(fast) == {a.node for a in slow.references}, (node.value, ctx.start(node).line)
    return answered


CHECKS = {"shared_reads": check_shared_reads, "local_function": check_local_functions, "binding": check_read_bindings,
          "scope_bindings": check_local_bindings, "never_bound": check_never_bound}
SHAPES = TRICKY + FUNCTION_SHAPES + LOCAL_SHAPES + NEVER_BOUND


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
@pytest.mark.parametrize("source", SHAPES)
def test_shapes_agree_with_the_scope_analysis(check, source):
    check(_context(source.encode()))


def test_the_plain_shapes_are_answered_too():
    assert check_local_functions(_context(FUNCTION_SHAPES[0].encode())) == 2
    assert check_local_functions(_context(FUNCTION_SHAPES[1].encode())) == 3  # inner x2; outside: None
    assert check_local_bindings(_context(LOCAL_SHAPES[0].encode())) >= 8
    assert check_never_bound(_context(NEVER_BOUND[-1].encode())) >= 2  # len, x


# fixtures: every check answers many nodes (the shortcut is not vacuous) and agrees on all
AT_LEAST = {"shared_reads": 300, "local_function": 300, "binding": 500, "scope_bindings": 1000, "never_bound": 500}


@pytest.mark.parametrize("name", CHECKS)
def test_every_fixture_agrees(name):
    contexts = [_context(p.read_bytes()) for p in ALL_FIXTURES]
    assert sum(CHECKS[name](ctx) for ctx in contexts if ctx is not None) > AT_LEAST[name]


@st.composite
def functions_renamed(draw):
    """A fixture with some names turned into the name of one of its functions."""
    text = draw(st.sampled_from(SOURCES))
    functions = [line.split("def ", 1)[1].split("(", 1)[0] for line in text.splitlines() if "def " in line]
    if not functions:
        return text
    word = draw(st.sampled_from(functions))
    for _ in range(draw(st.integers(1, 6))):
        text = _replace_name(text, draw(st.integers(0, 10_000)), word)
    return text


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(functions_renamed(), renamed(), mutated()))
def test_mutated_fixtures_agree(text):
    ctx = _context(text.encode("utf-8"))
    if ctx is not None:
        for check in CHECKS.values():
            check(ctx)


def test_torchs_own_sources_agree():
    torch = pytest.importorskip("torch", reason="torch's sources come with the equivalence extra")
    from pathlib import Path

    root = Path(torch.__file__).parent
    answered = 0
    for path in [root / "optim" / "lr_scheduler.py", root / "optim" / "optimizer.py",
                 root / "testing" / "_internal" / "common_optimizers.py"]:
        ctx = _context(path.read_bytes())
        answered += sum(check(ctx) for check in CHECKS.values())
    assert answered > 500
