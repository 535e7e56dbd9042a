"""Round-trip properties over every fixture and generated inputs: bytes LibCST's round trip
loses (form feeds, whitespace-only lines, trailing blank lines) survive outside the edited
statements, and inputs with nothing to migrate come out byte for byte.

The expected output is built from the tool's output on the clean input plus the filler put
where it was inserted, so the test holds the tool to the bytes of the input, not to itself."""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms_migrate.core.engine import migrate_source
from tests.fixture_cases import case_id, cases

CASES = cases()
# lines LibCST alone drops or rewrites somewhere (form feeds, whitespace-only lines)
FILLER_LINES = [b"\n", b"   \n", b"\x0c\n", b"\x0c# page\n", b"# kept\n", b"\t\n", b"  \x0c\n"]
TAILS = [b"\n   \n\x0c\n  \n\x0c# end\n", b"\n\n  ", b"# end\n   "]


def _untouched_boundaries(source: bytes, output: bytes):
    """Lines k (0-based) starting a top-level statement that the migration left as it was,
    after a statement it left as it was too, whose first line is unique in the output."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    out_lines = output.splitlines(keepends=True)
    found = []
    body = tree.body
    for previous, statement in zip(body, body[1:]):
        segment = b"".join(lines[statement.lineno - 1:statement.end_lineno])
        before = b"".join(lines[previous.lineno - 1:previous.end_lineno])
        first = lines[statement.lineno - 1]
        if segment in output and before in output and out_lines.count(first) == 1:
            found.append(statement.lineno - 1)
    return found


def _insert_before_line(data: bytes, line: bytes, filler: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    at = lines.index(line)
    return b"".join(lines[:at]) + filler + b"".join(lines[at:])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_fixture_lossy_bytes_outside_edits_survive(case):
    source = case.read_bytes()
    output = migrate_source(source, str(case)).output
    for tail in TAILS:
        assert migrate_source(source + tail, str(case)).output == output + tail, repr(tail)
    filler = b"\x0c\n   \n# kept\n"
    lines = source.splitlines(keepends=True)
    for k in _untouched_boundaries(source, output)[:2]:
        changed = b"".join(lines[:k]) + filler + b"".join(lines[k:])
        expected = _insert_before_line(output, lines[k], filler)
        assert migrate_source(changed, str(case)).output == expected, (k, lines[k])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    case=st.sampled_from(CASES),
    filler=st.lists(st.sampled_from(FILLER_LINES), min_size=1, max_size=4).map(b"".join),
    pick=st.integers(min_value=0, max_value=1000),
    tail=st.lists(st.sampled_from(FILLER_LINES + [b"  "]), max_size=3).map(b"".join),
)
def test_generated_lossy_inputs(case, filler, pick, tail):
    source = case.read_bytes()
    output = migrate_source(source, str(case)).output
    lines = source.splitlines(keepends=True)
    boundaries = _untouched_boundaries(source, output)
    if boundaries:
        k = boundaries[pick % len(boundaries)]
        changed = b"".join(lines[:k]) + filler + b"".join(lines[k:]) + tail
        expected = _insert_before_line(output, lines[k], filler) + tail
    else:
        changed, expected = source + tail, output + tail
    result = migrate_source(changed, str(case))
    assert result.error is None
    assert result.output == expected
    again = migrate_source(result.output, str(case))
    assert again.output == result.output  # and a second run changes nothing


def _hypothesmith():
    hypothesmith = pytest.importorskip("hypothesmith")
    return hypothesmith.from_grammar()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(code=st.deferred(_hypothesmith), tail=st.sampled_from(TAILS))
def test_generated_code_with_nothing_to_migrate_is_byte_identical(code, tail):
    # "optim" in a comment gets past the byte prefilter, so the file is really parsed
    source = ("# optim\n" + code).encode("utf-8", "surrogatepass") + tail
    try:
        compile(source, "<generated>", "exec")
    except (SyntaxError, ValueError):
        return
    result = migrate_source(source)
    if result.error is None:
        assert result.output == source


def test_the_output_check_is_pythons_parser_when_the_source_compiles():
    import libcst as cst

    from ms_migrate.core.roundtrip import splice

    source = b"x = 1\n"
    assert splice(source, source, b"x = 2\n", compiles=True) == b"x = 2\n"
    with pytest.raises(SyntaxError):
        splice(source, source, b"x = (\n", compiles=True)
    with pytest.raises(cst.ParserSyntaxError):
        splice(source, source, b"x = (\n")
