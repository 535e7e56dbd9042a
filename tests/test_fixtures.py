"""One driver for every golden fixture: output, findings, and idempotence."""

import pytest

from ms_migrate.core.engine import migrate_source
from ms_migrate.core.options import Options
from tests.fixture_cases import case_id, cases, findings_path, findings_text, out_path

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_fixture(case):
    source = case.read_bytes()
    result = migrate_source(source, str(case))
    assert result.error is None
    expected = out_path(case).read_bytes() if out_path(case).exists() else source
    assert result.output.decode() == expected.decode()
    assert findings_text(result.findings) == findings_path(case).read_text()


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_fixture_is_idempotent(case):
    once = migrate_source(case.read_bytes(), str(case))
    twice = migrate_source(once.output, str(case))
    assert twice.output == once.output


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_fixture_annotated_is_idempotent(case):
    once = migrate_source(case.read_bytes(), str(case), Options(annotate=True))
    twice = migrate_source(once.output, str(case), Options(annotate=True))
    assert twice.output == once.output
    # every warning and error got its marker, info findings none
    for finding in once.findings:
        marked = f"# ms-migrate: {finding.code} " in once.output.decode()
        blocking_code = any(f.code == finding.code and f.severity != "info" for f in once.findings)
        assert marked == blocking_code, finding
    # and each marker keeps its finding open on the next run (the rule's own, or the marker's)
    blocking = {f.code for f in once.findings if f.severity != "info"}
    assert {f.code for f in twice.findings if f.severity != "info"} == blocking


def test_there_are_fixtures_for_every_area():
    areas = {c.parent.name for c in CASES}
    assert {"seed", "optimizers"} <= areas
    assert len([c for c in CASES if c.parent.name == "seed"]) == 4
