"""Edits planned against the original tree, applied in one pass.

Rules never transform the tree themselves. They look at the original tree (with its metadata,
resolved once) and record edits keyed by original nodes; `apply_edits` then rebuilds the module
once. A replacement may be a node or a function of the *updated* node, so that two rules can
edit nested nodes (the parameter rule rewrites `model.parameters()` inside a call that the
optimizer rule rewrites) without either losing the other's change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from ms_migrate.core import syntax

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


def apply_edits(
    module: cst.Module, edits: Edits, parents: Optional[Dict[cst.CSTNode, cst.CSTNode]] = None
) -> cst.Module:
    """The module with every edit applied. With the original tree's `parents`, only the
    subtrees holding an edit are rebuilt (a big file with a few edits costs a few statements)."""
    if not edits:
        return module
    needed: Optional[Set[cst.CSTNode]] = None
    if parents is not None:
        needed = set()
        for keys in (edits.replacements, edits.removed, edits.before, edits.after,
                     edits.comments, edits.moved):
            for node in keys:
                while node not in needed:
                    needed.add(node)
                    parent = parents.get(node)
                    if parent is None:
                        if node is not module:  # an edit the parents map cannot place
                            return module.visit(_Applier(edits))
                        break
                    node = parent
    return module.visit(_Applier(edits, needed))


_PASS = cst.SimpleStatementLine(body=[cst.Pass()])


class _Applier(cst.CSTTransformer):
    """Applies the edits bottom-up. Comments are never lost: a comment inside a removed or
    rebuilt statement that the result no longer holds moves above the statement replacing it,
    or, for a removed statement, above the next surviving statement of its block (at the end
    of the block: into the block's footer, or above the `pass` that keeps an emptied block)."""

    def __init__(self, edits: Edits, needed: Optional[Set[cst.CSTNode]] = None) -> None:
        super().__init__()
        self.edits = edits
        self.needed = needed  # nodes holding an edit (None: unknown, visit everything)
        self.captured: Dict[cst.CSTNode, cst.CSTNode] = {}
        self.pending: List[List[str]] = [[]]  # per enclosing block: comments of removed statements
        self.touched: List[bool] = []  # per node on the path: an edit applied in its subtree
        self.memo: Dict[cst.CSTNode, Tuple[str, ...]] = {}  # comments below a node (_comments)

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.touched.append(False)
        if isinstance(node, (cst.Module, cst.IndentedBlock)):
            self.pending.append([])
        if self.needed is not None and node not in self.needed:
            return False  # no edit below: keep the subtree as it is
        return super().on_visit(node)

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        touched = self.touched.pop()
        edits = self.edits
        edited = (original_node in edits.replacements or original_node in edits.removed
                  or original_node in edits.moved)
        if (touched or edited) and self.touched:
            self.touched[-1] = True
        for new in edits.replacements.get(original_node, ()):
            updated_node = new(updated_node) if callable(new) else new
        if original_node in edits.comments:
            updated_node = _with_comments(updated_node, edits.comments[original_node])
        if isinstance(original_node, (cst.Module, cst.IndentedBlock)):
            updated_node = _settle(updated_node, self.pending.pop())
        if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
            updated_node = updated_node.with_changes(body=[_PASS])
        if not isinstance(original_node, cst.BaseStatement):
            return updated_node
        if isinstance(updated_node, cst.FlattenSentinel):
            produced = list(updated_node.nodes)
        elif isinstance(updated_node, cst.RemovalSentinel):
            produced = []
        else:
            produced = [updated_node]
        removed = original_node in edits.removed or not produced
        lost: List[str] = []
        if (touched or edited) and original_node not in edits.moved:
            lost = _missing(original_node, () if removed else produced, self.memo)
        # an insertion may be a function, called now: it can use statements captured below it
        before = [b() if callable(b) else b for b in edits.before.get(original_node, [])]
        after = [self.captured.pop(a.node) if isinstance(a, Moved) else a() if callable(a) else a
                 for a in edits.after.get(original_node, [])]
        if original_node in edits.moved:
            kept = [line for line in updated_node.leading_lines if line.comment is not None]
            self.captured[original_node] = updated_node.with_changes(leading_lines=kept)
            return self._emit([*before, *after], [])
        if removed:  # what was inserted around it replaces it, comments included
            kept = [*before, *after]
            if kept:
                # (an insertion may carry the comments already, e.g. a new import taking the
                # removed one's place and leading lines)
                kept[0] = _with_lost(kept[0], _missing(original_node, kept, self.memo) if lost else [])
            return self._emit(kept, lost)
        produced[0] = _with_lost(produced[0], lost)
        return self._emit([*before, *produced, *after], [])

    def _emit(self, statements: List[cst.CSTNode], lost: List[str]):
        """The statements that take an original statement's place; comments waiting from
        removed statements above (and `lost`, when nothing survives) go above the first."""
        pending = self.pending[-1]
        if not statements:
            pending.extend(lost)
            return cst.RemovalSentinel.REMOVE
        if pending:
            statements[0] = _with_lost(statements[0], pending, above_blanks=False)
            pending.clear()
        return cst.FlattenSentinel(statements) if len(statements) > 1 else statements[0]


_NONE: Tuple[str, ...] = ()


def _comments(node: cst.CSTNode, memo: Dict[cst.CSTNode, Tuple[str, ...]]) -> Tuple[str, ...]:
    """The comments below `node`, in source order. `memo` holds every subtree already counted:
    a rebuilt statement shares its untouched subtrees with the original, so each node of the
    file is read once however many enclosing statements are compared."""
    found = memo.get(node)
    if found is None:
        if isinstance(node, cst.Comment):
            found = (node.value,)
        else:
            found = _NONE
            for child in syntax.children(node):
                inner = _comments(child, memo)
                if inner:
                    found = found + inner
        memo[node] = found
    return found


def _missing(original: cst.CSTNode, results: Sequence[cst.CSTNode],
             memo: Dict[cst.CSTNode, Tuple[str, ...]]) -> List[str]:
    """Comments of `original` that `results` no longer hold, in their original order."""
    left = Counter(c for node in results for c in _comments(node, memo))
    missing = []
    for comment in _comments(original, memo):
        if left[comment]:
            left[comment] -= 1
        else:
            missing.append(comment)
    return missing


def _with_lost(node: cst.CSTNode, comments: List[str], above_blanks: bool = True) -> cst.CSTNode:
    """`node` with `comments` as own-line comments above it: right above the statement, or
    (`above_blanks=False`, comments from removed statements above) after its blank lines."""
    if not comments or not hasattr(node, "leading_lines"):
        return node
    lines = [cst.EmptyLine(indent=True, comment=cst.Comment(c)) for c in comments]
    leading = list(node.leading_lines)
    if above_blanks:
        return node.with_changes(leading_lines=[*leading, *lines])
    blanks = 0
    while blanks < len(leading) and leading[blanks].comment is None:
        blanks += 1
    return node.with_changes(leading_lines=[*leading[:blanks], *lines, *leading[blanks:]])


def _settle(block: cst.CSTNode, pending: List[str]) -> cst.CSTNode:
    """Comments of removed statements at the end of a block: above the `pass` an emptied block
    gets, else in the block's footer (where they were)."""
    if not pending:
        return block
    lines = [cst.EmptyLine(indent=True, comment=cst.Comment(c)) for c in pending]
    if isinstance(block, cst.IndentedBlock) and not block.body:
        return block.with_changes(body=[_PASS.with_changes(leading_lines=lines)])
    return block.with_changes(footer=[*lines, *block.footer])


def _with_comments(node: cst.CSTNode, entries: List[Tuple[str, str]]) -> cst.CSTNode:
    leading = list(getattr(node, "leading_lines", ()))
    present = [line.comment.value for line in leading if line.comment is not None]
    for text, key in entries:
        if not any(comment.startswith("# " + key) for comment in present):
            comment = "# " + text
            leading.append(cst.EmptyLine(indent=True, comment=cst.Comment(comment)))
            present.append(comment)
    return node.with_changes(leading_lines=leading)
