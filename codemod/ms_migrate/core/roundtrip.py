"""LibCST's round trip is not lossless: whitespace-only lines at the end of a module, a form
feed at a line start, the final `\\r` of a CR-only file are dropped by `parse_module(src).bytes`.
The engine therefore never writes LibCST's rendering of a whole file: it takes the lines LibCST
changed and splices them into the *original* bytes.

    roundtrip = parse_module(src).bytes          # src minus the bytes LibCST loses
    output    = the edited module's bytes         # roundtrip plus our edits
    splice(src, roundtrip, output)                # src plus our edits, nothing lost

Lines are compared as bytes (`bytes.splitlines` splits on \\n, \\r\\n and \\r only, never on a
form feed). A hunk of the edit (roundtrip -> output) is placed at the matching lines of src;
where a lost byte sits inside an edited hunk, the hunk takes the edited lines. The splice is
checked: LibCST must render it exactly as `output` (it loses the same bytes again), otherwise
`splice` returns None and the caller refuses the file.
"""

from __future__ import annotations

import ast
import bisect
import difflib
from typing import List, Optional, Sequence, Tuple

import libcst as cst

Opcodes = List[Tuple[str, int, int, int, int]]


def splice(source: bytes, roundtrip: bytes, output: bytes, compiles: bool = False) -> Optional[bytes]:
    """`source` with the edits that turn `roundtrip` into `output`; None if that cannot be done
    faithfully (the caller then leaves the file alone). What it returns has been parsed: an
    output that does not parse raises a SyntaxError or LibCST's error here (the engine's one
    check of it). `compiles`: the source is known to compile on this Python (the pre-scan
    compiled it), so Python's own parser checks the output (a tenth of LibCST's cost); else
    LibCST's, which also reads syntax newer than this Python."""
    if output == roundtrip:
        return source
    if source == roundtrip:
        if compiles:
            compile(output, "<ms-migrate output>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        else:
            cst.parse_module(output)
        return output
    src = source.splitlines(keepends=True)
    rt = roundtrip.splitlines(keepends=True)
    out = output.splitlines(keepends=True)
    # where each boundary between roundtrip lines sits in source (lost bytes make a few
    # roundtrip lines correspond to other source lines; those are "unsure" blocks)
    to_src = _Map(_matcher(rt, src).get_opcodes())
    pieces: List[bytes] = []
    src_at = 0  # source lines [0, src_at) are emitted
    rt_at = 0  # the roundtrip lines they cover
    for tag, i1, i2, j1, j2 in _matcher(rt, out).get_opcodes():
        if tag == "equal":
            continue
        # copy source up to the hunk, widening the hunk over any unsure block it cuts
        start, src_start = to_src.start(i1)
        end, src_end = to_src.end(i2)
        if start < rt_at:  # the previous hunk already took these lines
            return None
        src_end = max(src_end, src_start)
        pieces.extend(src[src_at:src_start])
        pieces.extend(rt[start:i1])
        pieces.extend(out[j1:j2])
        pieces.extend(rt[i2:end])
        src_at, rt_at = src_end, end
    pieces.extend(src[src_at:])
    result = b"".join(pieces)
    if source.endswith((b"\n", b"\r")) and not result.endswith((b"\n", b"\r")) and result:
        result += _ending(source)  # LibCST dropped the last line ending inside an edited line
    if cst.parse_module(result).bytes != output:  # a parse error propagates: the output is bad
        return None
    return result


def _matcher(a: Sequence[bytes], b: Sequence[bytes]) -> difflib.SequenceMatcher:
    # exact matching on small files; on big ones difflib's popular-line heuristic keeps the
    # diff near linear (the opcodes are a correct diff either way, only less minimal)
    return difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 4000)


class _Map:
    """Roundtrip line boundaries -> source line boundaries, from the roundtrip -> source diff.
    Equal blocks map line for line; the other blocks (lines LibCST rendered differently or
    dropped) map only at their edges, so a hunk boundary inside one widens to its edge."""

    def __init__(self, opcodes: Opcodes) -> None:
        self.opcodes = opcodes
        self.starts = [op[1] for op in opcodes]

    def _around(self, k: int) -> List[Tuple[str, int, int, int, int]]:
        at = bisect.bisect_right(self.starts, k)
        return [op for op in self.opcodes[max(0, at - 3):at + 1] if op[1] <= k <= op[2]]

    def start(self, k: int) -> Tuple[int, int]:
        """Where a hunk starting at roundtrip line k starts in source (after any source lines
        that end exactly at k, such as dropped whitespace lines)."""
        around = self._around(k)
        ends = [op[4] for op in around if op[2] == k]
        if ends:
            return k, max(ends)
        for tag, i1, i2, j1, j2 in around:
            if tag == "equal":
                return k, j1 + (k - i1)
        if around:
            return around[0][1], around[0][3]
        return k, 0

    def end(self, k: int) -> Tuple[int, int]:
        """Where a hunk ending at roundtrip line k ends in source."""
        around = self._around(k)
        begins = [op[3] for op in around if op[1] == k]
        if begins:
            return k, min(begins)
        for tag, i1, i2, j1, j2 in around:
            if tag == "equal":
                return k, j1 + (k - i1)
        if around:
            return around[-1][2], around[-1][4]
        return k, 0


def _ending(source: bytes) -> bytes:
    if source.endswith(b"\r\n"):
        return b"\r\n"
    return source[-1:]
