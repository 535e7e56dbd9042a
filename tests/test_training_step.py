"""The training-step rule (MSM500) on its fixtures: every flagged shape gets exactly one finding,
at the step, and leaves the step as it was; every converted step leaves no torch gradient call."""

import ast
from pathlib import Path

from ms_migrate.core.engine import migrate_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "training_step"


def _functions(source: str):
    return [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def test_each_flagged_shape_gets_one_finding_at_its_step():
    source = (FIXTURES / "flagged.in.py").read_text()
    result = migrate_source(source)
    findings = [f for f in result.findings if f.code.startswith("MSM5")]
    for function in _functions(source):
        mine = [f for f in findings if function.lineno <= f.line <= function.end_lineno]
        assert len(mine) == 1, (function.name, [(f.line, f.code, f.message) for f in mine])
        line = source.splitlines()[mine[0].line - 1]
        assert ".step(" in line or "loss_scaler(" in line, (function.name, line)
    # flagged steps stay torch code, untouched
    kept = [n for n in ast.walk(ast.parse(result.code)) if isinstance(n, ast.Attribute) and n.attr == "backward"]
    assert len(kept) == len([n for n in ast.walk(ast.parse(source))
                             if isinstance(n, ast.Attribute) and n.attr == "backward"])


def test_converted_steps_leave_no_torch_gradient_calls():
    source = (FIXTURES / "converted.in.py").read_text()
    result = migrate_source(source)
    # every function holds one step, but main() (it calls train_epoch); + Trainer.train_step
    assert result.conversions["MSM500"] == len(_functions(source)) - 1 + 1
    assert not [f for f in result.findings if f.code in ("MSM501", "MSM502")]
    called = {n.func.attr for n in ast.walk(ast.parse(result.code))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not called & {"backward", "zero_grad", "step", "clip_grad_norm_", "clip_grad_value_", "unscale_",
                         "update", "train", "eval"}, called


def test_lightning_and_hand_offs_are_reported():
    result = migrate_source((FIXTURES / "lightning.in.py").read_text())
    assert [f.code for f in result.findings if f.code.startswith("MSM5")] == ["MSM502"] * 3
