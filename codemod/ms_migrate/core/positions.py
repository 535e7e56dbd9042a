"""Positions of a module's nodes, as LibCST's PositionProvider gives them, for a fifth of its cost.

PositionProvider renders the module once and builds two frozen CodePosition objects and a
CodeRange for every node while it goes, splitting every token on newlines; that was a third of
a whole-repository run. Here one rendering only notes, per node, the index of the token where
it starts and ends (the same hooks PositionProvider uses: before/after_codegen, and
record_syntactic_position for the syntactic start and end); a node's line and column are worked
out from those indexes when a rule asks for them, with one bisection over the line starts of the
rendered text. tests/test_positions.py compares every node of every fixture with PositionProvider.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from contextlib import contextmanager
from itertools import accumulate
from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodePosition, CodeRange

NEWLINE_RE = re.compile(r"\r\n?|\n")  # what PositionProvider counts as a line break


class _MarkingState(CodegenState):
    """A rendering that notes the token index where each node starts and ends."""

    __slots__ = ("marks", "_stack")

    def __init__(self, default_indent: str, default_newline: str) -> None:
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        self.marks: Dict[cst.CSTNode, Tuple[int, int]] = {}
        self._stack: List[int] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        if node not in self.marks:  # a syntactic position noted inside wins (as in LibCST)
            self.marks[node] = (start, len(self.tokens))

    @contextmanager
    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> Iterator[None]:
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.marks[start_node][0]
            if end_node is not None:
                end = self.marks[end_node][1]
            self.marks[node] = (start, end)

    def pop_trailing_newline(self) -> None:
        pass  # positions are taken before LibCST drops the file's last newline: keep it


class Positions:
    """node -> CodeRange (`positions[node].start.line`), `node in positions`, for every node of
    the module, computed on first use of each node."""

    def __init__(self, module: cst.Module) -> None:
        state = _MarkingState(module.default_indent, module.default_newline)
        module._codegen(state)
        self._marks = state.marks
        self._offsets = list(accumulate(map(len, state.tokens), initial=0))
        text = "".join(state.tokens)
        self._line_starts = [m.end() for m in NEWLINE_RE.finditer(text)]
        self._ranges: Dict[cst.CSTNode, CodeRange] = {}
        # the module's own rendering (Module.code), a by-product: LibCST drops the last token,
        # a newline, of a module without a trailing newline (pop_trailing_newline, kept above)
        if not module.has_trailing_newline and state.tokens:
            text = text[: len(text) - len(state.tokens[-1])]
        self.code = text

    def _position(self, token: int) -> CodePosition:
        offset = self._offsets[token]
        line = bisect_right(self._line_starts, offset)
        return CodePosition(line + 1, offset - (self._line_starts[line - 1] if line else 0))

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            start, end = self._marks[node]
            found = self._ranges[node] = CodeRange(self._position(start), self._position(end))
        return found

    def __contains__(self, node: object) -> bool:
        return node in self._marks

    def get(self, node: cst.CSTNode, default=None):
        return self[node] if node in self._marks else default
