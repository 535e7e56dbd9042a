"""The pre-scan never rules out a file a rule would change or flag.

The oracle is the full engine run with the pre-scan disabled (`prescanned=True`): whenever it
changes a file or reports a rule finding, the pre-scan must have said yes. Checked on every
fixture (inputs and outputs), on a table of spellings, and on hypothesis mutations of the
fixtures. A syntax error (MSM001) or unreadable file (MSM003) is the engine's, not a rule's.
"""

from __future__ import annotations

import io
import keyword
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms_migrate.core import prescan
from ms_migrate.core.engine import migrate_source

from tests.fixture_cases import FIXTURES, case_id, cases

ENGINE_ONLY = {"MSM001", "MSM003"}
ALL_FIXTURES = sorted(FIXTURES.glob("*/*.py"))


def acts_on(source: bytes) -> bool:
    """The engine, without the pre-scan: does some rule change or flag this source?"""
    result = migrate_source(source, "case.py", prescanned=True)
    return result.changed or any(f.code not in ENGINE_ONLY for f in result.findings)


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_the_engine_acts_on_passes_the_prescan(path):
    source = path.read_bytes()
    if acts_on(source):
        assert prescan.needs_parse(source)


def test_the_fixture_inputs_with_findings_or_changes_all_pass():
    acted = [case_id(c) for c in cases() if acts_on(c.read_bytes())]
    assert len(acted) > 20  # the fixtures do exercise the rules
    assert all(prescan.needs_parse(c.read_bytes()) for c in cases() if case_id(c) in acted)


# Each spelling reaches a tracked name; the engine flags or converts every one of them.
SPELLINGS = {
    "import torch": "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    "import torch as alias": "import torch as T\nopt = T.optim.SGD(model.parameters(), lr=0.1)\n",
    "from torch import optim": "from torch import optim\nopt = optim.SGD(params, lr=0.1)\n",
    "from torch import optim as": "from torch import nn, optim as O\nopt = O.Adam(params)\n",
    "from torch import (..., optim)": "from torch import (\n    nn,\n    optim,\n)\nopt = optim.Adam(params)\n",
    "import torch.optim": "import torch.optim\nopt = torch.optim.Adam(params)\n",
    "import torch.optim as": "import torch.optim as O\nopt = O.Adam(params)\n",
    "from torch.optim import": "from torch.optim import AdamW as W\nopt = W(params)\n",
    "lr_scheduler": "from torch.optim import lr_scheduler\ns = lr_scheduler.StepLR(opt, 3)\n",
    "import lr_scheduler as": "import torch.optim.lr_scheduler as L\ns = L.ReduceLROnPlateau(opt)\n",
    "annotation only": "import torch\n\ndef f(o: torch.optim.Optimizer):\n    pass\n",
    "isinstance": "import torch\nok = isinstance(o, torch.optim.Optimizer)\n",
    "bare module": "from torch import optim\nmodules = [optim]\n",
    "star": "from torch.optim import *\n",
    "nested import": "def make(p):\n    import torch.optim as O\n    return O.SGD(p, lr=0.1)\n",
    "chain over lines": "import torch\nopt = (torch  # a comment\n    .optim\n    .SGD)(params, lr=0.1)\n",
    "backslash": "import torch\nopt = torch \\\n    .optim.SGD(params, lr=0.1)\n",
    "parenthesised root": "import torch\nopt = (torch).optim.SGD(params, lr=0.1)\n",
    "transformers": "from transformers import get_linear_schedule_with_warmup as g\ns = g(o, 10, 100)\n",
    "transformers module": "import transformers\ns = transformers.get_scheduler('linear', o, 1, 9)\n",
    "transformers.optimization": "from transformers import optimization as T\ns = T.get_constant_schedule(o)\n",
    "diffusers": "from diffusers.optimization import get_scheduler\ns = get_scheduler('cosine', o)\n",
    "CRLF": "import torch\r\nopt = torch.optim.SGD(params, lr=0.1)\r\n",
    "latin-1 cookie": "# -*- coding: latin-1 -*-\nimport torch\nopt = torch.optim.SGD(p, lr=0.1)\n",
}


@pytest.mark.parametrize("source", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_passes_and_is_acted_on(source):
    data = source.encode("utf-8")
    assert acts_on(data), "the case must be one the engine acts on"
    assert prescan.needs_parse(data)


def test_markers_pass_whatever_else_the_file_holds():
    assert prescan.needs_parse(b"x = 1  # ms-migrate: MSM101 check the learning rate\n")


def test_an_odd_encoding_goes_to_libcst():
    assert prescan.needs_parse("import os\n".encode("utf-16"))
    assert prescan.needs_parse(b"# coding: utf-16\nimport os\n")


# What the pre-scan rules out: nothing reaches a tracked name.
RULED_OUT = {
    "no torch": b"import os\noptimizer = make_optimizer()\n",
    "torch, no optim word": b"import torch\noptimizer = build(torch.nn.Linear(2, 2).parameters())\n",
    "torch.optim in a docstring": b'import torch\n"""Pass any torch.optim optimizer."""\nx = torch.zeros(1)\n',
    "torch.optim in a comment": b"import torch  # see torch.optim\nx = torch.zeros(1)\n",
    "another package's optim": b"import jax\nimport optax as optim\nopt = optim.adam(1e-3)\nimport torch\n",
    "relative import": b"from .optim import SGD\nimport torch\nopt = SGD(p)\n",
    "torch_xla": b"import torch_xla.optim as optim\nopt = optim.SGD(p)\n",
    "a factory of another package": b"from mylib import get_scheduler\ns = get_scheduler('linear', o)\n",
}


@pytest.mark.parametrize("source", RULED_OUT.values(), ids=RULED_OUT.keys())
def test_files_that_never_reach_torch_optim_are_ruled_out(source):
    assert not acts_on(source)
    assert not prescan.needs_parse(source)
    assert not migrate_source(source).parsed


# ---- generated inputs: mutations of the fixtures -------------------------------------------
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*/*.in.py"))]
WORDS = ["torch", "optim", "lr_scheduler", "SGD", "Adam", "O", "T", "nn", "transformers",
         "get_scheduler", "optimizer", "import", "as", "from", "mindspore", "x", "StepLR"]
IMPORT_LINES = [
    "import torch", "import torch as T", "from torch import optim", "from torch import optim as O",
    "import torch.optim as O", "import torch.optim", "from torch.optim import SGD",
    "from torch.optim import lr_scheduler", "from transformers import get_scheduler",
    "import transformers", "from torch.optim import *", "optim = None", "torch = None",
]


def _names(text: str):
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return [t for t in tokens if t.type == tokenize.NAME and not keyword.iskeyword(t.string)]


def _replace_name(text: str, index: int, word: str) -> str:
    names = _names(text)
    if not names:
        return text
    token = names[index % len(names)]
    lines = text.splitlines(keepends=True)
    row, col = token.start
    line = lines[row - 1]
    lines[row - 1] = line[:col] + word + line[col + len(token.string):]
    return "".join(lines)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True) or ["\n"]
        kind = draw(st.sampled_from(["name", "delete", "insert", "duplicate", "import"]))
        at = draw(st.integers(0, len(lines)))
        if kind == "name":
            text = _replace_name(text, draw(st.integers(0, 10_000)), draw(st.sampled_from(WORDS)))
        elif kind == "delete" and lines:
            del lines[min(at, len(lines) - 1)]
            text = "".join(lines)
        elif kind == "duplicate" and lines:
            lines.insert(at, lines[min(at, len(lines) - 1)])
            text = "".join(lines)
        elif kind == "insert":
            other = draw(st.sampled_from(SOURCES)).splitlines(keepends=True) or ["\n"]
            lines.insert(at, other[draw(st.integers(0, len(other) - 1))])
            text = "".join(lines)
        else:
            lines.insert(at, draw(st.sampled_from(IMPORT_LINES)) + "\n")
            text = "".join(lines)
    return text


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_fixtures_the_engine_acts_on_pass_the_prescan(text):
    data = text.encode("utf-8")
    if acts_on(data):
        assert prescan.needs_parse(data)


# ---- names imported once: answered without the scope analysis, exactly as it answers --------

# Shapes where a name an import binds is bound again, or looked up where the import is not seen.
REBINDINGS = [
    "import torch\n\ndef f(torch):\n    return torch.optim.SGD(p)\n",
    "import torch\ntorch = None\nopt = torch.optim.SGD(p)\n",
    "from torch import optim\n\ndef f():\n    global optim\n    optim = 1\nopt = optim.SGD(p)\n",
    "from torch import optim\nfor optim in xs:\n    pass\nopt = optim.SGD(p)\n",
    "from torch import optim\nwith a as optim:\n    pass\noptim.SGD(p)\n",
    "from torch import optim\ntry:\n    pass\nexcept E as optim:\n    pass\noptim.SGD(p)\n",
    "from torch import optim\n[optim for optim in xs]\noptim.SGD(p)\n",
    "from torch import optim\n(optim := 3)\noptim.SGD(p)\n",
    "from torch import optim\nlambda optim: optim.SGD(p)\noptim.SGD(p)\n",
    "from torch import optim\nclass optim:\n    pass\noptim.SGD(p)\n",
    "from torch import optim\ndel optim\noptim.SGD(p)\n",
    "from torch import optim\nmatch x:\n    case [optim]:\n        pass\noptim.SGD(p)\n",
    "from torch import optim\nfrom os import *\noptim.SGD(p)\n",
    "def f():\n    import torch\n    return torch.optim.SGD(p)\ntorch.optim.Adam(p)\n",
    "class C:\n    from torch import optim\n    def m(self):\n        return optim.SGD(p)\n",
    "import torch.optim\ntorch.optim.SGD(p)\ntorch.nn.Linear(1, 2)\n",
    "import torch.optim as O, torch\nO.SGD(p)\ntorch.optim.Adam(p)\n",
    "if TYPE_CHECKING:\n    from torch.optim import Optimizer\ndef f(o: Optimizer) -> 'Optimizer':\n    return o\n",
    "x = optim.SGD(p)\nfrom torch import optim\ny = optim.SGD(p)\n",
    "import torch\nf(torch=1)\nx.torch.optim.SGD(p)\n@torch.no_grad()\ndef g(): pass\n",
    # one package name bound by several `import torch[.sub]` (distributed_test.py's header)
    "import torch\nimport torch.cuda\ntorch.optim.SGD(p)\ntorch.cuda.amp.GradScaler()\ntorch.cudax.y\ntorch\n",
    "import torch.cuda\ntorch.optim.SGD(p)\nimport torch\ntorch.optim.Adam(p)\n",
    "import torch.optim\nimport torch.optim.lr_scheduler\ntorch.optim.lr_scheduler.StepLR(o, 1)\ntorch.nn.X\n",
    "import torch, torch.nn as nn, torch.optim\nnn.Linear(1, 2)\ntorch.optim.SGD(p)\n",
    "import torch\ndef f():\n    import torch.cuda\n    return torch.optim.SGD(p)\ntorch.optim.Adam(p)\n",
    "import torch\nimport torch.cuda as torch\ntorch.optim.SGD(p)\n",
    "import torch\nif x:\n    import torch.optim\nelse:\n    torch = None\ntorch.optim.SGD(p)\n",
    "import torch\ndef f():\n    torch.optim.SGD(p)\n    import torch\n    return torch.optim.Adam(p)\n"
    "class C:\n    import torch.nn\n    x = torch.optim.SGD\n",
    "torch.optim.SGD(p)\ndef f():\n    import torch\n    return torch.optim.Adam(p)\nimport torch\n",
    "def f():\n    import torch\n    return torch.optim.Adam(p)\n",
    "import torch\ndef f():\n    import torch as t\n    return torch.optim.Adam(p)\n",
    # chains through calls: the scope analysis names them by their text without the calls
    "import torch\nx = torch.randn(3).cuda(0)\ntorch.optim.SGD(m.parameters(), lr=1).step()\n"
    "torch.optim.lr_scheduler.StepLR(torch.optim.SGD(p), 1).get_last_lr()[0].item()\n",
]


def assert_imported_names_agree(source: bytes) -> int:
    """Every reference the shortcut answers gets the scope analysis's answer; how many it did."""
    import libcst as cst

    from ms_migrate.core.context import FileContext

    found = prescan.scan(source)
    if found is None or not found.imports:
        return 0
    try:
        module = cst.parse_module(source)
    except Exception:
        return 0
    fast = FileContext("case.py", module, single_imports=found.imports)
    slow = FileContext("case.py", module)  # the scope analysis
    answered = 0
    for node in fast.references:
        shortcut = fast.analysis.imported_names(node)
        if shortcut is not None:
            answered += 1
            assert shortcut == slow.qualified_names(node), (fast.code(node), found.imports)
            assert node not in slow.rebound
    return answered


@pytest.mark.parametrize("source", REBINDINGS + list(SPELLINGS.values()))
def test_names_imported_once_resolve_as_the_scope_analysis_does(source):
    assert_imported_names_agree(source.encode())


def test_names_imported_once_on_every_fixture():
    answered = sum(assert_imported_names_agree(path.read_bytes()) for path in ALL_FIXTURES)
    assert answered > 200  # the shortcut does answer most of the fixtures' references


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_names_imported_once_on_mutated_fixtures(text):
    assert_imported_names_agree(text.encode("utf-8"))
