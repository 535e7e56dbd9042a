"""Findings name what blocks a conversion, its line, and what the schedule needs."""

from pathlib import Path

from ms_migrate.core.engine import migrate_source

DATA = Path(__file__).parent / "data"


def test_msm401_names_the_blocking_use_and_the_missing_data():
    """pytorch/examples imagenet layout: load_state_dict on the optimizer before the loader."""
    source = (DATA / "imagenet_layout.py").read_text()
    result = migrate_source(source)
    msm401 = [f for f in result.findings if f.code == "MSM401"]
    assert len(msm401) == 1
    message = msm401[0].message
    line = source.splitlines().index("        optimizer.load_state_dict(checkpoint['optimizer'])") + 1
    loader = next(i for i, l in enumerate(source.splitlines(), 1) if l.strip().startswith("train_loader ="))
    assert f"`optimizer.load_state_dict` (line {line})" in message
    assert f"`len(train_loader)` (train_loader is set at line {loader})" in message
    assert "move that use below" in message


def test_msm401_names_the_lines_of_scheduler_uses_it_cannot_follow():
    head = ("import torch.optim as optim\nfrom torch.optim.lr_scheduler import StepLR\n"
            "optimizer = optim.SGD(m.parameters(), lr=0.1)\nsch = StepLR(optimizer, 3)\n")
    passed = migrate_source(head + "save(sch)\nfor e in range(3):\n    for b in loader:\n"
                            "        optimizer.step()\n    sch.step()\n")
    assert "sch is passed on or used as a value at line 5 (`save(sch)`)" in passed.findings[0].message
    twice = migrate_source(head + "for e in range(3):\n    for b in loader:\n        optimizer.step()\n"
                           "        sch.step()\n    sch.step()\n")
    assert "lines 8, 9" in [f for f in twice.findings if f.code == "MSM401"][0].message
