"""core/positions.py gives every node the range LibCST's PositionProvider gives it: on every
fixture, on odd files (CRLF, lone CR, tabs, form feeds, no final newline, non-ASCII text,
continuation lines) and on generated line mixes."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from libcst.metadata import MetadataWrapper, PositionProvider

from ms_migrate.core.positions import Positions

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*/*.py"))

ODD = {
    "empty": b"",
    "only a comment, no newline": b"# note",
    "crlf": b"import torch\r\nopt = torch.optim.SGD(\r\n    p, lr=0.1)\r\nif x:\r\n    y = 1\r\n",
    "lone cr": b"import torch\ropt = torch.optim.SGD(p, lr=0.1)\rz = [1,\r 2]\r",
    "tabs and form feeds": b"if a:\n\tb = 1\n\x0c\nclass C:\n\tdef f(self):\n\t\treturn 1\n",
    "no final newline": b"import torch\nopt = torch.optim.Adam(m.parameters())",
    "non-ascii": "# ŝ\nnom = 'é' + \"日本\"; opt = torch.optim.SGD(p, lr=1e-3)  # à\n".encode(),
    "continuations": b"x = 1 + \\\n    2\nwith a as b, \\\n     c as d:\n    pass\n",
    "decorators and blank lines": b"\n\n@dec\n\n@other(1)\ndef f(\n    a,\n):\n    '''doc\n    more'''\n",
    "semicolons and trailing whitespace": b"a = 1;  b = 2 ;\t\nc = 3   \n  \n",
}


def assert_same_positions(source: bytes) -> int:
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    mine = Positions(module)
    for node, where in expected.items():
        assert node in mine
        assert mine[node] == where, (type(node).__name__, where, mine[node])
    assert mine.get(cst.Name("not_in_the_module")) is None
    assert mine.code == module.code  # its rendering stands in for module.bytes (the splice's roundtrip)
    return len(expected)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_node_has_libcsts_position(path):
    assert assert_same_positions(path.read_bytes()) > 0


@pytest.mark.parametrize("name", ODD)
def test_odd_files_have_libcsts_positions(name):
    assert_same_positions(ODD[name])


LINES = ["x = 1", "if a:", "    y = (1,", "         2)", "def f(a,", "      b): return a", "",
         "# c", "\tz = 3", "s = '''a", "b'''", "w = 1; v = 2", "\x0c", "  ", "u = [", "]"]


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(LINES), max_size=12), st.sampled_from(["\n", "\r\n", "\r"]),
       st.booleans())
def test_generated_line_mixes_have_libcsts_positions(lines, newline, final):
    source = (newline.join(lines) + (newline if final else "")).encode()
    try:
        cst.parse_module(source)
    except Exception:
        return  # not Python: nothing to compare
    assert_same_positions(source)
