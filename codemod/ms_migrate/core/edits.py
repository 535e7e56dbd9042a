"""Edits planned against the original tree, applied in one pass.

Rules never transform the tree themselves. They look at the original tree (with its metadata,
resolved once) and record edits keyed by original nodes; `apply_edits` then rebuilds the module
once. A replacement may be a node or a function of the *updated* node, so that two rules can
edit nested nodes (the parameter rule rewrites `model.parameters()` inside a call that the
optimizer rule rewrites) without either losing the other's change.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict, List, Optional, Set, Tuple, Union

import libcst as cst

Replacement = Union[cst.CSTNode, Callable[[cst.CSTNode], cst.CSTNode]]


class Moved:
    """A placeholder, in an insertion list, for a statement moved there from above."""

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node


class Edits:
    def __init__(self) -> None:
        self.replacements: Dict[cst.CSTNode, List[Replacement]] = defaultdict(list)
        self.removed: Set[cst.CSTNode] = set()
        self.before: Dict[cst.CSTNode, List[cst.BaseStatement]] = defaultdict(list)
        self.after: Dict[cst.CSTNode, List[cst.BaseStatement]] = defaultdict(list)
        self.comments: Dict[cst.CSTNode, List[Tuple[str, str]]] = defaultdict(list)  # (text, key)
        self.moved: Set[cst.CSTNode] = set()

    def replace(self, original: cst.CSTNode, new: Replacement) -> None:
        self.replacements[original].append(new)

    def remove(self, statement: cst.CSTNode) -> None:
        self.removed.add(statement)

    def insert_before(self, statement: cst.CSTNode, *new: cst.BaseStatement) -> None:
        self.before[statement].extend(new)

    def insert_after(self, statement: cst.CSTNode, *new: cst.BaseStatement) -> None:
        self.after[statement].extend(new)

    def move_after(self, statement: cst.CSTNode, anchor: cst.CSTNode, *before: cst.BaseStatement) -> None:
        """Move `statement` (with its own edits) down to just after `anchor`, behind `before`.
        Both must sit in the same block, `statement` first."""
        self.moved.add(statement)
        self.after[anchor].extend([*before, Moved(statement)])  # type: ignore[list-item]

    def comment(self, statement: cst.CSTNode, text: str, key: Optional[str] = None) -> None:
        """Add `# text` on its own line above `statement`, unless a comment starting with
        `# key` (default: the text itself) is already there: once, even across runs."""
        entry = (text, key or text)
        if entry not in self.comments[statement]:
            self.comments[statement].append(entry)

    def apply_to(self, node: cst.CSTNode) -> cst.CSTNode:
        """`node` (an original node) with the replacements recorded inside it applied."""
        return node.visit(_Applier(self))

    def __bool__(self) -> bool:
        return bool(self.replacements or self.removed or self.before or self.after or self.comments or self.moved)


def apply_edits(module: cst.Module, edits: Edits) -> cst.Module:
    if not edits:
        return module
    return module.visit(_Applier(edits))


_PASS = cst.SimpleStatementLine(body=[cst.Pass()])


class _Applier(cst.CSTTransformer):
    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits
        self.captured: Dict[cst.CSTNode, cst.CSTNode] = {}

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        edits = self.edits
        for new in edits.replacements.get(original_node, ()):
            updated_node = new(updated_node) if callable(new) else new
        if original_node in edits.comments:
            updated_node = _with_comments(updated_node, edits.comments[original_node])
        if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
            updated_node = updated_node.with_changes(body=[_PASS])
        # an insertion may be a function, called now: it can use statements captured below it
        before = [b() if callable(b) else b for b in edits.before.get(original_node, [])]
        after = [self.captured.pop(a.node) if isinstance(a, Moved) else a() if callable(a) else a
                 for a in edits.after.get(original_node, [])]
        if original_node in edits.moved:
            kept = [line for line in updated_node.leading_lines if line.comment is not None]
            self.captured[original_node] = updated_node.with_changes(leading_lines=kept)
            return cst.FlattenSentinel([*before, *after]) if (before or after) else cst.RemovalSentinel.REMOVE
        if original_node in edits.removed:
            kept = [*before, *after]
            return cst.FlattenSentinel(kept) if kept else cst.RemovalSentinel.REMOVE
        if before or after:
            return cst.FlattenSentinel([*before, updated_node, *after])
        return updated_node


def _with_comments(node: cst.CSTNode, entries: List[Tuple[str, str]]) -> cst.CSTNode:
    leading = list(getattr(node, "leading_lines", ()))
    present = [line.comment.value for line in leading if line.comment is not None]
    for text, key in entries:
        if not any(comment.startswith("# " + key) for comment in present):
            comment = "# " + text
            leading.append(cst.EmptyLine(indent=True, comment=cst.Comment(comment)))
            present.append(comment)
    return node.with_changes(leading_lines=leading)
