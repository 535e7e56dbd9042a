"""core/inert.py: a file the pre-scan answers without LibCST gets exactly what LibCST gives it.

The oracle is the engine with LibCST (`prescanned=prescan.Scan(imports)`: the rules run, the
answer of core/inert.py is not used). Wherever core/inert.py answers, the file must come out
unchanged with the same findings (code, position, message). Checked on every fixture, on files
composed from fragments that name torch.optim in every way the rules care about, on mutations
of the fixtures, and on torch's own sources when torch is installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms_migrate.core import prescan
from ms_migrate.core.engine import migrate_file, migrate_source
from ms_migrate.core.options import Options

from tests.fixture_cases import FIXTURES
from tests.test_prescan import mutated


def answered(source: bytes):
    scan = prescan.scan(source)
    return scan if scan is not None and scan.references is not None else None


def _shown(findings):
    return [(f.code, f.line, f.column, f.end_line, f.message, f.url, f.severity) for f in findings]


def assert_agrees(source: bytes, options: Options = Options()) -> bool:
    """When the pre-scan answers `source`, LibCST's run agrees; True when it answered."""
    scan = answered(source)
    if scan is None:
        return False
    fast = migrate_source(source, "case.py", options)
    assert not fast.parsed, "an answered file was parsed"
    full = migrate_source(source, "case.py", options, prescanned=prescan.Scan(scan.imports))
    assert full.parsed
    assert full.output == source, "LibCST changed a file the pre-scan answered"
    assert _shown(fast.findings) == _shown(full.findings)
    assert fast.output == source and not fast.conversions and not full.conversions
    return True


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.py")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture(path):
    assert_agrees(path.read_bytes())


# ---- what is answered, and what is not ------------------------------------------------------
ANSWERED = {
    "annotation": "from torch.optim import Optimizer\n\ndef f(o: Optimizer) -> Optimizer:\n    return o\n",
    "isinstance": "import torch\n\ndef f(o):\n    return isinstance(o, torch.optim.Optimizer)\n",
    "base class": "import torch.optim as O\n\nclass Mine(O.Optimizer):\n    pass\n",
    "a helper called": (
        "from torch.optim.optimizer import register_optimizer_step_pre_hook\n"
        "register_optimizer_step_pre_hook(print)\n"
    ),
    "a method of Optimizer called": (
        "import torch\n\nclass M(torch.optim.Optimizer):\n    def __init__(self, p):\n"
        "        torch.optim.Optimizer.__init__(self, p, {})\n"
    ),
    "scheduler class in an annotation": (
        "from torch.optim import lr_scheduler\n\ndef f(s: lr_scheduler.LRScheduler):\n    pass\n"
    ),
    "non-ASCII before the reference": (
        "import torch\n\nx = 'é€'; y = torch.optim.Optimizer\n"
    ),
    "parameters without requires_grad": (
        "import torch\n\ndef f(m) -> torch.optim.Optimizer:\n    return [p for p in m.parameters()]\n"
    ),
    "param_groups with no optimizer built": (
        "import torch\n\ndef f(o: torch.optim.Optimizer):\n    for g in o.param_groups:\n        g['lr'] = 0.1\n"
    ),
    "a chain through a helper's call (two findings at one place, outer first)": (
        "import torch\nu = torch.optim.optimizer.register_optimizer_step_post_hook(x).step\n"
    ),
    "no reference reaches torch.optim": "import torch.optim\n\nx = torch.nn.Linear(2, 2)\n",
}

NOT_ANSWERED = {
    "an optimizer built": "import torch\n\nopt = torch.optim.SGD(params, lr=0.1)\n",
    "a scheduler built": "from torch.optim.lr_scheduler import StepLR\n\ns = StepLR(opt, 3)\n",
    "a class called through a chain": "import torch\n\nx = torch.optim.SGD(p).zero_grad\n",
    "named_parameters": (
        "import torch\n\ndef f(m, o: torch.optim.Optimizer):\n"
        "    for n, p in m.named_parameters():\n        print(n)\n"
    ),
    "a freeze loop": (
        "import torch\n\ndef f(m, o: torch.optim.Optimizer):\n"
        "    for p in m.parameters():\n        p.requires_grad = False\n"
    ),
    "read before the import": "def f(o: torch.optim.Optimizer):\n    pass\n\nimport torch\n",
    "imported twice": "import torch\nimport torch as torch\n\ndef f(o: torch.optim.Optimizer):\n    pass\n",
    "imported in a function": "def f(o):\n    from torch import optim\n    return isinstance(o, optim.Optimizer)\n",
    "rebound": "import torch\ntorch = None\nx: torch.optim.Optimizer\n",
    "star import": "from torch.optim import *\nx: Optimizer\n",
    "a factory": "from transformers import get_scheduler\n\nf = get_scheduler\n",
    "assigned": "import torch\n\ntorch.optim.Optimizer.x = 1\n",
    "a coding cookie": "# -*- coding: latin-1 -*-\nimport torch\nx = '\xe9'; y = torch.optim.Optimizer\n",
    "a marker": "import torch\n# ms-migrate: MSM902 old\nx = torch.optim.Optimizer\n",
}


@pytest.mark.parametrize("source", ANSWERED.values(), ids=ANSWERED.keys())
def test_answered_without_libcst(source):
    encoding = "latin-1" if "latin-1" in source else "utf-8"
    assert assert_agrees(source.encode(encoding))


@pytest.mark.parametrize("source", NOT_ANSWERED.values(), ids=NOT_ANSWERED.keys())
def test_left_to_libcst(source):
    encoding = "latin-1" if "latin-1" in source else "utf-8"
    data = source.encode(encoding)
    assert answered(data) is None
    assert migrate_source(data, "case.py").parsed


def test_the_findings_are_the_safety_nets():
    source = ANSWERED["annotation"].encode()
    findings = migrate_source(source, "case.py").findings
    assert [(f.code, f.line, f.column) for f in findings] == [("MSM902", 3, 10), ("MSM902", 3, 24)]
    assert findings[0].message.startswith("torch.optim.Optimizer is not migrated")
    scheduler = migrate_source(ANSWERED["scheduler class in an annotation"].encode(), "case.py").findings
    assert [f.code for f in scheduler] == ["MSM901"]


def test_select_and_ignore_apply():
    source = ANSWERED["scheduler class in an annotation"].encode()
    assert migrate_source(source, "case.py", Options(ignore=("MSM901",))).findings == []
    assert [f.code for f in migrate_source(source, "case.py", Options(select=("MSM9",))).findings] == ["MSM901"]


def test_annotate_goes_to_libcst_and_writes_the_markers(tmp_path):
    path = tmp_path / "utils.py"
    path.write_bytes(ANSWERED["isinstance"].encode())
    result = migrate_file(path, write_to=path, options=Options(annotate=True))
    assert result.parsed
    assert b"# ms-migrate: MSM902" in path.read_bytes()


def test_the_size_limit_still_applies():
    source = ANSWERED["annotation"].encode()
    findings = migrate_source(source, "case.py", Options(max_file_size=10)).findings
    assert [f.code for f in findings] == ["MSM010"]


def test_out_dir_gets_the_file(tmp_path):
    from ms_migrate.core.engine import prescan_file

    path, copy = tmp_path / "a.py", tmp_path / "out" / "a.py"
    path.write_bytes(ANSWERED["annotation"].encode())
    result = prescan_file(path, copy, Options())
    assert not isinstance(result, prescan.Scan) and not result.parsed  # finished in the pre-scan
    assert [f.code for f in result.findings] == ["MSM902", "MSM902"]
    assert copy.read_bytes() == path.read_bytes()


# ---- composed files -----------------------------------------------------------------------
IMPORTS = [
    "import torch", "import torch as T", "from torch import optim", "import torch.optim as O",
    "from torch.optim import Optimizer", "from torch.optim import lr_scheduler",
    "from torch.optim.lr_scheduler import LRScheduler, StepLR", "from torch.optim import SGD as S",
    "import torch.optim", "from torch import nn",
]
USES = [
    "def f(o: {r}) -> None:\n    pass", "ok = isinstance(x, {r})", "class C({r}):\n    pass",
    "y = {r}", "print({r})", "z = [{r}]", "w = {r}.__name__", "v = {r}(x)", "u = {r}(x).step",
    "{r}.attr = 1", "del {r}.attr", "h = getattr({r}, 'x')", "def g():\n    return {r}",
    "for n, p in m.named_parameters():\n    pass", "for p in m.parameters():\n    p.requires_grad = False",
    "for g in o.param_groups:\n    g['lr'] = 0.1", "def k(x={r}):\n    import torch\n    return x",
    "torch = 3", "q = lambda: {r}", "if True:\n    import torch",
]
REFERENCES = [
    "torch.optim.Optimizer", "T.optim.Adam", "optim.SGD", "O.lr_scheduler.StepLR", "Optimizer",
    "lr_scheduler.LambdaLR", "LRScheduler", "StepLR", "S", "torch.optim", "optim", "O",
    "torch.optim.optimizer.register_optimizer_step_post_hook", "optim.Optimizer.zero_grad",
    "nn.Linear", "torch.nn.Module",
]


@st.composite
def composed(draw):
    lines = draw(st.lists(st.sampled_from(IMPORTS), min_size=1, max_size=3))
    for _ in range(draw(st.integers(1, 5))):
        use = draw(st.sampled_from(USES)).format(r=draw(st.sampled_from(REFERENCES)))
        lines.insert(draw(st.integers(0, len(lines))), use)
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(composed())
def test_composed_files(text):
    data = text.encode()
    try:
        ast.parse(data)
    except SyntaxError:
        return
    assert_agrees(data)


def test_composed_files_are_often_answered():
    """The composition is not vacuous: a fixed sample of one import, one use and one reference
    (every 7th of all of them) is often answered, and LibCST agrees on each."""
    triples = [(i, u, r) for i in IMPORTS for u in USES for r in REFERENCES][::7]
    answered = 0
    for imported, use, reference in triples:
        data = f"{imported}\n{use.format(r=reference)}\n".encode()
        try:
            ast.parse(data)
        except SyntaxError:
            continue
        answered += assert_agrees(data)
    assert len(triples) > 400 and answered >= 40, (len(triples), answered)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_fixtures(text):
    assert_agrees(text.encode("utf-8"))


def test_torchs_own_sources():
    torch = pytest.importorskip("torch", reason="torch's sources come with the equivalence extra")
    root = Path(torch.__file__).parent
    count = 0
    for path in sorted(root.rglob("*.py")):
        source = path.read_bytes()
        if len(source) <= Options().max_file_size and b"optim" in source:
            count += assert_agrees(source)
    assert count >= 10  # torch/optim itself, fsdp, dynamo... name torch.optim without building one
