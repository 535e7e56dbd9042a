"""The equivalence tier: every test in this folder gets the `equivalence` marker and is skipped,
with the reason, when torch or MindSpore cannot be imported (install the 'equivalence' extra).

The frameworks are imported lazily, once, and only when a marked test is about to run, so
`pytest -m "not equivalence"` never pays for the MindSpore import."""

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.equivalence)


def pytest_runtest_setup(item):
    if item.get_closest_marker("equivalence") is not None:
        from .harness import frameworks_unavailable

        reason = frameworks_unavailable()
        if reason:
            pytest.skip(reason)
