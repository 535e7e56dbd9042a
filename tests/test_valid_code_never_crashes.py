"""Valid code that used to crash the tool (MSM002, exit 2, or a whole run aborted), each in
several shapes: the output must parse, a second run must change nothing, and nothing may escape
a file (issue 10, "Crashes on valid code")."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest
from click.testing import CliRunner

from ms_migrate.cli.command import main
from ms_migrate.core import engine
from ms_migrate.core.engine import migrate_source
from ms_migrate.core.options import Options


# These shapes exercise the mindspore.nn path (per-step lists, ops.assign, nn imports): they run
# under --target nn, where auto would pick mindspore.experimental.optim for some of them.
NN = Options(target="nn")


def migrate_ok(source: str, options: Options = NN) -> str:
    """Migrate `source`; assert no error, output parses, a second run changes nothing."""
    result = migrate_source(source, "case.py", options)
    assert result.error is None, result.error
    assert all(f.code not in ("MSM002", "MSM014") for f in result.findings)
    compile(result.output, "case.py", "exec", dont_inherit=True)
    again = migrate_source(result.output, "case.py", options)
    assert again.error is None and again.output == result.output
    return result.code


# ---- removing names from a parenthesised import ----------------------------------------------

# Adam and lr_scheduler stay referenced (not constructions on SGD's optimizer), so their import
# names stay while SGD's goes
USES = """
model = torch.nn.Linear(2, 2)
opt = SGD(model.parameters(), lr=0.1)
print(Adam, lr_scheduler)
"""

IMPORTS = [
    # (import statement, what is left of it)
    ("from torch.optim import (\n    SGD,\n    lr_scheduler,\n)\n",
     "from torch.optim import (\n    lr_scheduler,\n)\n"),
    ("from torch.optim import (\n    SGD,\n    Adam,\n    lr_scheduler,\n)\n",
     "from torch.optim import (\n    Adam,\n    lr_scheduler,\n)\n"),
    ("from torch.optim import (\n    Adam,\n    lr_scheduler,\n    SGD,\n)\n",
     "from torch.optim import (\n    Adam,\n    lr_scheduler,\n)\n"),
    ("from torch.optim import (\n    Adam,  # keep\n    SGD,  # goes\n)\n",
     "from torch.optim import (\n    Adam,  # keep\n)\n"),
    ("from torch.optim import (\n    Adam,  # keep\n    lr_scheduler,  # keep too\n    SGD  # goes\n)\n",
     "from torch.optim import (\n    Adam,  # keep\n    lr_scheduler,  # keep too\n)\n"),
    ("from torch.optim import (  # optimizers\n    SGD,\n    Adam,\n)\n",
     "from torch.optim import (  # optimizers\n    Adam,\n)\n"),
    ("from torch.optim import (Adam, SGD,\n                         lr_scheduler)\n",
     "from torch.optim import (Adam, lr_scheduler)\n"),
    ("from torch.optim import (Adam, lr_scheduler,\n                         SGD)\n",
     "from torch.optim import (Adam, lr_scheduler)\n"),
    ("from torch.optim import (Adam, lr_scheduler, SGD,\n)\n",
     "from torch.optim import (Adam, lr_scheduler,\n)\n"),
    ("from torch.optim import (SGD)\n", ""),
    ("from torch.optim import SGD, \\\n    Adam, lr_scheduler\n",
     "from torch.optim import Adam, lr_scheduler\n"),
    ("from torch.optim import Adam, lr_scheduler, \\\n    SGD\n",
     "from torch.optim import Adam, lr_scheduler\n"),
    ("import os; from torch.optim import (\n    SGD,\n    Adam,\n    lr_scheduler)\n",
     "import os; from torch.optim import (\n    Adam,\n    lr_scheduler)\n"),
]


@pytest.mark.parametrize("statement, left", IMPORTS)
def test_removing_a_name_from_a_parenthesised_import(statement, left):
    source = "import torch\n" + statement + "import os\n" + USES
    out = migrate_ok(source)
    # what is left of the import, in place (a removed name's comment may be kept above it)
    assert ("\n" + left + "import os\n") in out, out
    assert statement not in out and "nn.SGD(" in out


# ---- a name the tool would introduce is taken --------------------------------------------------

LOOP = """
model = torch.nn.Linear(2, 2)
opt = optim.SGD(model.parameters(), lr=0.1)
sched = SCHEDULER
for epoch in range(10):
    for x in loader:
        opt.step()
    sched.step()
"""
COSINE = "optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)"
ONECYCLE = "optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100, cycle_momentum=False)"

MATH_BINDINGS = [
    "def helper():\n    import math\n    return math.pi\n",
    "math = 3\n",
    "def helper(math):\n    return math.pi\n",
    "from mylib import math\n",
    "import numpy as math\n",
    "class Config:\n    math = 'fast'\n",
    "for math in range(3):\n    pass\n",
    "import math\nmath = 2\n",
    "def helper():\n    print(np.math)\n",  # an attribute named math: still avoided
]


@pytest.mark.parametrize("scheduler", [COSINE, ONECYCLE])
@pytest.mark.parametrize("binding", MATH_BINDINGS)
def test_math_taken_elsewhere_gets_a_free_name(binding, scheduler):
    source = "import torch\nfrom torch import optim\n" + binding + LOOP.replace("SCHEDULER", scheduler)
    out = migrate_ok(source)
    assert "import math as py_math\n" in out
    assert "py_math.cos(py_math.pi" in out
    # the file's own `math` is left as it was
    assert out.splitlines().count(binding.splitlines()[0]) == 1
    # and py_math is Python's math module where the list is built
    namespace: dict = {}
    exec("import math as py_math", namespace)
    assert namespace["py_math"].cos(0) == 1


def test_math_already_imported_once_is_reused():
    source = "import math\nimport torch\nfrom torch import optim\n" + LOOP.replace("SCHEDULER", COSINE)
    out = migrate_ok(source)
    assert "py_math" not in out and "math.cos(math.pi" in out


def test_py_math_taken_too():
    source = ("import torch\nfrom torch import optim\nmath = py_math = 1\n"
              + LOOP.replace("SCHEDULER", COSINE))
    out = migrate_ok(source)
    assert "import math as py_math2\n" in out and "py_math2.cos(" in out


@pytest.mark.parametrize("taken", ["nn", "ops", "Tensor", "mstype", "mindspore", "nn, ops, Tensor, mstype"])
def test_mindspore_names_taken_in_a_function(taken):
    source = textwrap.dedent(f"""\
        import torch.optim as optim

        def helper({taken}):
            return 1

        optimizer = optim.AdamW(model.parameters(), lr=0.1)
        for step in range(10):
            optimizer.param_groups[0]["lr"] = 0.1 * (1 - step / 10)
        """)
    out = migrate_ok(source)
    for name in taken.split(", "):
        assert f"def helper({taken}):" in out
        if name in ("nn", "ops", "Tensor"):
            assert f"ms_{name}" in out, out
    assert re.search(r"\bops\.assign\(|ms_ops\.assign\(", out)


@pytest.mark.parametrize("value", ["i", "i * 2", "[i, 2 * i][0]"])
def test_the_list_index_never_captures_a_user_name(value):
    source = ("import torch\nfrom torch import optim\ni = 3\n"
              + LOOP.replace("SCHEDULER", f"optim.lr_scheduler.CosineAnnealingLR(opt, T_max={value})"))
    out = migrate_ok(source)
    assert "for i in" not in out
    assert "for step_index in range(" in out


def test_the_list_index_avoids_a_name_read_by_a_lambda():
    source = ("import torch\nfrom torch import optim\ni = 3\n"
              + LOOP.replace("SCHEDULER", "optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** (e * i))"))
    out = migrate_ok(source)
    lists = [line for line in out.splitlines() if line.startswith("lr_schedule = ")]
    assert lists == ["lr_schedule = [0.1 * 0.9 ** (step_index // steps_per_epoch * i) "
                     "for step_index in range(10 * steps_per_epoch)]"]
    # the list is what torch's LambdaLR gives at each epoch (i = 3, 4 steps per epoch)
    namespace = {"i": 3, "steps_per_epoch": 4}
    exec(lists[0], namespace)
    assert namespace["lr_schedule"][4 * 2] == pytest.approx(0.1 * 0.9 ** (2 * 3))


@pytest.mark.parametrize("binding", ["len = 5\n", "def len(x):\n    return 3\n", "from mylib import len\n",
                                     "float = range = None\n"])
def test_a_rebound_builtin_the_list_calls_is_flagged(binding):
    scheduler = ONECYCLE
    source = "import torch\nfrom torch import optim\n" + binding + LOOP.replace("SCHEDULER", scheduler)
    result = migrate_source(source, "case.py", NN)
    assert result.error is None
    codes = [(f.code, f.message) for f in result.findings]
    # MSM401 on the list path; under --target nn the optimizer then stays in torch whole (MSM109)
    assert any(code in ("MSM401", "MSM109") and "binds the name" in message for code, message in codes), codes
    assert "sched = optim.lr_scheduler.OneCycleLR" in result.code


def test_a_builtin_rebound_only_inside_another_function_is_fine():
    scheduler = "optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)"
    source = ("import torch\nfrom torch import optim\ndef f(len, min):\n    return len\n"
              + LOOP.replace("SCHEDULER", scheduler))
    assert "lr_schedule = " in migrate_ok(source)


# ---- --annotate on flagged code that spans lines -----------------------------------------------

ANNOTATED = [
    "for x in loader:\n    (loss_a +\n     loss_b).backward()\n    opt.step()\n",
    "for x in loader:\n    loss = (a +\n            b)\n    (loss\n     ).backward()\n    opt.step()\n",
    "for x in loader:\n    opt.zero_grad(\n        set_to_none=True,\n    )\n",
    "for x in loader:\n    opt.step(\n        closure\n    )\n",
    "for x in loader:\n    opt.step(lambda: (\n        f(x)\n    ))\n",
    "state = opt.state_dict(\n)['state']\n",
    "opt.load_state_dict(\n    torch.load('ckpt.pt')['optimizer']\n)\n",
    "if opt.state_dict(\n)['state']:\n    pass\n",
    "save(\n    opt.state_dict()\n)\n",
    "x = opt.param_groups[\n    0\n]\n",
    "for x in loader:\n    opt.step(); (a\n    ).backward()\n",
]


MARKED = [
    # (code after the scheduler loop, the one-line text its marker must hold)
    ("print((sched\n       ).last_epoch)\n", "MSM402 (sched ).last_epoch: "),
    ("opt.param_groups[\n    0\n][\"lr\"] += 0.1\n", 'MSM303 opt.param_groups[ 0 ]["lr"] cannot'),
    ("for g in (opt\n        ).param_groups:\n    g[\"momentum\"] = 0.5\n", "MSM303 (opt ).param_groups loop"),
]
SCHEDULED = ("sched = optim.lr_scheduler.StepLR(opt, 2)\nfor epoch in range(3):\n    for x in loader:\n"
             "        opt.step()\n    sched.step()\n")


@pytest.mark.parametrize("body, marker", MARKED)
def test_annotate_markers_quoting_code_over_lines_are_one_line(body, marker):
    source = "import torch\nfrom torch import optim\nopt = optim.SGD(model.parameters(), lr=0.1)\n" + SCHEDULED + body
    out = migrate_ok(source, Options(annotate=True, target="nn"))
    added = [line.strip() for line in out.splitlines() if "# ms-migrate: MSM" in line]
    assert any(line.startswith("# ms-migrate: " + marker) for line in added), added


@pytest.mark.parametrize("body", ANNOTATED)
def test_messages_quoting_code_over_lines_are_one_line(body):
    source = "import torch\nfrom torch import optim\nopt = optim.SGD(model.parameters(), lr=0.1)\n" + body
    out = migrate_ok(source, Options(annotate=True, target="nn"))
    for line in out.splitlines():
        if "# ms-migrate: MSM" in line:
            assert line.lstrip().startswith("# ms-migrate: MSM")
    # every finding message is one line, in the report too
    for finding in migrate_source(source, "case.py", Options(annotate=True, target="nn")).findings:
        assert "\n" not in finding.message and "\r" not in finding.message


def test_annotate_on_a_crlf_file_with_a_multiline_flag():
    source = ("import torch\r\nfrom torch import optim\r\nopt = optim.SGD(model.parameters(), lr=0.1)\r\n"
              + SCHEDULED.replace("\n", "\r\n") + "print((sched\r\n       ).last_epoch)\r\n")
    out = migrate_ok(source, Options(annotate=True, target="nn"))
    assert "\r\n# ms-migrate: MSM402 (sched ).last_epoch: " in out
    assert "\n" not in out.replace("\r\n", "")


# ---- deep nesting ----------------------------------------------------------------------------

HEAD = "import torch\nfrom torch import optim\nmodel = torch.nn.Linear(2, 2)\nopt = optim.SGD(model.parameters(), lr=0.1)\n"
DEEP = {
    "plus_320": HEAD + "x = " + " + ".join(["a"] * 320) + "\n",
    "list_140": HEAD + "x = " + "[" * 140 + "]" * 140 + "\n",
    "call_190": HEAD + "x = " + "f(" * 190 + ")" * 190 + "\n",
    "elif_600": HEAD + "if a == 0:\n    pass\n" + "".join(f"elif a == {i}:\n    pass\n" for i in range(1, 600)),
    "indent_95": HEAD + "".join("    " * i + "if a:\n" for i in range(95)) + "    " * 95 + "opt.zero_grad()\n",
    "not_400": HEAD + "x = " + "not " * 400 + "a\n",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_is_migrated(name):
    out = migrate_ok(DEEP[name])
    assert "nn.SGD(model.trainable_params(), learning_rate=0.1)" in out
    assert sys.getrecursionlimit() < engine.DEEP_RECURSION_LIMIT  # restored after the deep run


def test_deep_nesting_beyond_any_stack_is_a_clean_finding(monkeypatch):
    # when even the big stack is not enough (here: no big stack at all), one short finding
    monkeypatch.setattr(engine, "_on_deep_stack", lambda work: work())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default (importing MindSpore raises it to 10000)
    try:
        result = migrate_source(DEEP["elif_600"], "deep.py")
    finally:
        sys.setrecursionlimit(old)
    assert result.output == result.source and result.error
    [finding] = result.findings
    assert finding.code == "MSM014" and len(finding.message) < 200
    assert "RecursionError" in finding.message


def test_a_deep_file_does_not_stop_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.py").write_text(DEEP["elif_600"])
    (tmp_path / "list.py").write_text(DEEP["list_140"])
    (tmp_path / "train.py").write_text(HEAD)
    result = CliRunner().invoke(main, ["--check", "--format", "json", "."])
    assert result.exit_code == 1, result.output[:2000]
    assert len(result.output) < 20_000  # findings, not a traceback
    document = json.loads(result.stdout)
    assert {f["path"]: (f["changed"], f["error"]) for f in document["files"]} == {
        "deep.py": (True, None), "list.py": (True, None), "train.py": (True, None)}


def test_an_exception_escaping_the_engine_stays_on_its_file(tmp_path, monkeypatch):
    from ms_migrate.cli import command

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text(HEAD)
    (tmp_path / "b.py").write_text(HEAD)
    real = command.migrate_file

    def flaky(path, **kwargs):
        if str(path).endswith("a.py"):
            raise RecursionError("maximum recursion depth exceeded " + "x" * 10_000)
        return real(path, **kwargs)

    monkeypatch.setattr(command, "migrate_file", flaky)
    result = CliRunner().invoke(main, [".", "-q"])
    assert result.exit_code == 2
    assert "a.py:1:1: error: MSM002 internal error (RecursionError" in result.output
    assert len(result.output) < 2000
    assert "nn.SGD" in (tmp_path / "b.py").read_text()


def test_an_exception_with_a_huge_message_is_summarised():
    message = engine.internal_error_message(ValueError("line\n" * 10_000))
    assert "\n" not in message and len(message) < 500


# ---- every torch scheduler construction left in place has a finding at its line ----------------

def _scheduler_constructions(source: bytes):
    """(line, code) of each call to a torch.optim.lr_scheduler class, found with LibCST's own
    qualified names (not the tool's resolution)."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

    class Calls(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider)

        def __init__(self):
            super().__init__()
            self.found = []

        def visit_Call(self, node):
            qualified = self.get_metadata(QualifiedNameProvider, node.func, set())
            if any(q.name.startswith("torch.optim.lr_scheduler.") for q in qualified):
                line = self.get_metadata(PositionProvider, node).start.line
                self.found.append((line, cst.Module([]).code_for_node(node)))

    visitor = Calls()
    MetadataWrapper(cst.parse_module(source)).visit(visitor)
    return visitor.found


def test_each_scheduler_left_in_place_has_a_finding_at_its_line():
    from tests.fixture_cases import cases

    checked = 0
    for case, options in ((case, options) for case in cases() for options in (engine.DEFAULT, NN)):
        source = case.read_bytes()
        result = migrate_source(source, str(case), options)
        lines = {f.line for f in result.findings}
        constructions = _scheduler_constructions(source)
        kept = [c for _, c in _scheduler_constructions(result.output)]  # torch's, still in the output
        for code in {code for _, code in constructions}:
            left = kept.count(code)
            flagged = [line for line, c in constructions if c == code and line in lines]
            checked += left
            assert len(flagged) >= left, (case.name, code, flagged)
    assert checked >= 20
