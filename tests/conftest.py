import os


def pytest_configure(config):
    """In CI (MS_MIGRATE_REQUIRE_EQUIVALENCE=1) the equivalence tier must run: a missing torch or
    MindSpore is an error there, not a skip."""
    if os.environ.get("MS_MIGRATE_REQUIRE_EQUIVALENCE"):
        import mindspore  # noqa: F401
        import torch  # noqa: F401
