"""scripts/count_findings.py: nn against auto, per finding code (issue 12)."""

import importlib.util
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("count_findings", ROOT / "scripts" / "count_findings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_add_up_on_the_fixtures():
    """Per code, nn - exact - moved + new == auto, and auto makes some nn findings exact."""
    script = _script()
    totals = {code: Counter() for code in script.CODES}
    for path in sorted((ROOT / "fixtures").rglob("*.in.py")):
        counts = script.count_file(path)
        counts.pop("_listing")
        for code, c in counts.items():
            totals[code].update(c)
    for code, c in totals.items():
        assert c["nn"] - c["exact"] - c["moved"] + c["new"] == c["auto"], (code, c)
    assert totals["MSM101"]["exact"] > 0 and totals["MSM301"]["exact"] > 0


def test_one_file(tmp_path):
    """AdamW: MSM101 under nn; under auto mindspore.experimental.optim.AdamW, exact."""
    path = tmp_path / "train.py"
    path.write_text("import torch\noptimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)\n")
    counts = _script().count_file(path)
    assert counts["MSM101"] == Counter(nn=1, exact=1)
    assert any("exact under auto" in line for line in counts["_listing"])
