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
