"""Where new MindSpore imports go: after the last import of the module's first import block
(after the shebang, docstring and __future__ imports), keeping the blank lines around it."""

import pytest

from ms_migrate.core.engine import migrate_source

CASES = {
    "after_the_whole_first_block": (
        '#!/usr/bin/env python\n"""Doc."""\nfrom __future__ import annotations\n\nimport argparse\n'
        'import warnings\n\nimport torch\nimport torch.nn as nn\nimport torch.optim as optim\n\n'
        'from src.model import Net\n\nmodel = Net()\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n',
        '#!/usr/bin/env python\n"""Doc."""\nfrom __future__ import annotations\n\nimport argparse\n'
        'import warnings\n\nimport torch\nimport torch.nn as nn\n\n'
        'from src.model import Net\nfrom mindspore import nn as ms_nn\n\nmodel = Net()\n'
        'optimizer = ms_nn.SGD(model.trainable_params(), learning_rate=0.1)\n',
    ),
    "removed_last_import_keeps_the_group_gap": (
        'import os\n\nimport torch.optim as optim\n\nx = 1\noptimizer = optim.SGD(model.parameters(), lr=0.1)\n',
        'import os\n\nfrom mindspore import nn\n\nx = 1\noptimizer = nn.SGD(model.trainable_params(), learning_rate=0.1)\n',
    ),
    "no_import_keeps_blank_lines_on_both_sides": (
        '"""d"""\n\n\n# comment\ndef f():\n    import torch\n    return torch.optim.SGD(m.parameters(), lr=0.1)\n',
        '"""d"""\n\n\nfrom mindspore import nn\n\n\n# comment\ndef f():\n    import torch\n'
        '    return nn.SGD(m.trainable_params(), learning_rate=0.1)\n',
    ),
    "first_statement_gets_a_blank_line_after_the_import": (
        'def f():\n    import torch\n    return torch.optim.SGD(m.parameters(), lr=0.1)\n',
        'from mindspore import nn\n\ndef f():\n    import torch\n    return nn.SGD(m.trainable_params(), learning_rate=0.1)\n',
    ),
    "a_later_block_after_code_is_the_first_block": (
        '"""Doc."""\n\nx = 1\nimport torch.optim as optim\n\noptimizer = optim.SGD(m.parameters(), lr=0.1)\n',
        '"""Doc."""\n\nx = 1\nfrom mindspore import nn\n\noptimizer = nn.SGD(m.trainable_params(), learning_rate=0.1)\n',
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_placement(name):
    source, expected = CASES[name]
    result = migrate_source(source)
    assert result.error is None
    assert result.code == expected
    assert migrate_source(result.output).output == result.output


def test_one_alias_scheme_per_file():
    """`Tensor` is taken by torch here, so every MindSpore name gets the `ms_` prefix, not only
    Tensor; a file where every name is free gets the plain names, as every other such file."""
    source = (
        "import torch.optim as optim\nfrom torch import Tensor\n\nmodel = build()\n"
        "optimizer = optim.SGD(model.parameters(), lr=0.1)\nfor step in range(10):\n"
        "    optimizer.param_groups[0]['lr'] = 0.1 * step\nx: Tensor = None\n"
    )
    result = migrate_source(source)
    assert result.code == (
        "from torch import Tensor\nfrom mindspore import dtype as ms_dtype, nn as ms_nn, ops as ms_ops, "
        "Tensor as ms_Tensor\n\nmodel = build()\noptimizer = ms_nn.SGD(model.trainable_params(), "
        "learning_rate=0.1)\nfor step in range(10):\n    ms_ops.assign(optimizer.learning_rate, "
        "ms_Tensor(0.1 * step, ms_dtype.float32))\nx: Tensor = None\n"
    )
    assert migrate_source(result.output).output == result.output
    free = migrate_source(source.replace("from torch import Tensor\n", "").replace("x: Tensor = None\n", ""))
    assert "from mindspore import dtype as mstype, nn, ops, Tensor\n" in free.code
