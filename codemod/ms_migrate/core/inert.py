"""Files that only *mention* torch.optim: their findings from the pre-scan's `ast`, no LibCST.

Most files of a repository that pass the pre-scan never build an optimizer or a scheduler:
torch's own sources, and a project's utilities, name torch.optim in annotations, `isinstance`
checks, base classes and helper calls::

    from torch.optim import Optimizer

    def clip(optimizer: Optimizer) -> None:          # MSM902 at 3:21
        if isinstance(optimizer, Optimizer): ...     # MSM902 at 4:34

No rule converts such a reference: the rules act on a torch.optim name only where it is called
as an optimizer class, a scheduler class or a scheduler factory (and, in a file that names
torch.optim at all, on `named_parameters()` and freeze loops). The safety net,
rules/leftovers.py, reports each reference, and nothing else happens to the file. `references`
says so from the `ast` tree the pre-scan already has, and the engine then never LibCST-parses
the file (outside `--annotate`, where findings become marker comments: edits). It answers only
when it is certain, and None (LibCST decides) on anything else:

- every name an import binds to something a torch.optim name is under (`torch`, `optim`,
  `Optimizer`) is bound once in the file, by a module-scope import (prescan.single_imports), and
  read only after it: the qualified name of a reference is then its import's target plus its
  attribute chain, which is what LibCST's scope analysis answers;
- no reference to a torch.optim name is called as a class a rule converts (an optimizer or
  scheduler of rules/*.json), none is a scheduler factory, none is assigned or deleted;
- no attribute in the file is one of RULE_ATTRIBUTES (FREEZE_ATTRIBUTES where the file holds
  FREEZE_WORD).

tests/test_inert.py runs the engine on every fixture, on torch's own sources and on generated
mutations, and checks that wherever this module answers, LibCST gives the same findings and no
edit.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Tuple

from ms_migrate.core import prescan

# (line, column, end line, qualified name) of one reference; columns 1-based, in characters
Reference = Tuple[int, int, int, str]

# Methods a rule converts in any file that names torch.optim, optimizer or not (rules/parameters:
# `for n, p in model.named_parameters()` becomes `model.parameters_and_names()`). `parameters`
# is converted only in a loop that writes requires_grad (a freeze loop): it matters only in a
# file holding that word. (`param_groups`, `step`, `zero_grad`... matter only on an optimizer a
# file builds, and a file that builds one is never answered here.)
RULE_ATTRIBUTES = frozenset({"named_parameters"})
FREEZE_ATTRIBUTES = frozenset({"parameters"})
FREEZE_WORD = b"requires_grad"

_NEWLINE = re.compile(r"\r\n|\r|\n")


class _GiveUp(Exception):
    """The file needs LibCST."""


def references(tree: ast.Module, source: bytes, imports: Optional[Dict[str, str]]) -> Optional[List[Reference]]:
    """The torch.optim references of a file no rule but the safety net acts on (see the module
    docstring), in source order; None when a rule may act on it (or this cannot be sure)."""
    if imports is None:
        return None
    attributes = RULE_ATTRIBUTES | (FREEZE_ATTRIBUTES if FREEZE_WORD in source else frozenset())
    roots = _optim_roots(tree)
    if roots is None or any(name not in imports for name in roots):
        return None  # a star import; a name bound more than once or not in module scope
    imported_at = _last_module_imports(tree, roots)
    found: List[Reference] = []
    lines: Optional[List[str]] = None
    try:
        stack: List[Tuple[ast.AST, bool]] = [(tree, False)]  # (node, is it a call's function)
        while stack:
            node, called = stack.pop()
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                return None
            if isinstance(node, (ast.Attribute, ast.Name)):
                reference = _reference(node, called, roots, imports, imported_at)
                if reference is not None:
                    if lines is None:
                        lines = _lines(source)
                        if lines is None:
                            return None
                    found.append(_located(node, reference, lines))
                stack.extend(_inside_chain(node))
            elif isinstance(node, ast.Call):
                stack.append((node.func, True))
                stack.extend((child, False) for child in (*node.args, *node.keywords))
            else:
                stack.extend((child, False) for child in ast.iter_child_nodes(node))
    except (_GiveUp, RecursionError):
        return None
    # in source order; references that start at one place (`f(x).y` and its `f`) keep the order
    # they were met in, outer first, as in LibCST's walk (the findings' order then matches)
    found.sort(key=lambda reference: reference[:2])
    return found


def _optim_roots(tree: ast.Module) -> Optional[set]:
    """Names any import binds to something under which a torch.optim name or a scheduler factory
    lies (core/context.py's `optim_roots`); None on a star import of a tracked package."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in prescan.PACKAGES:
                    continue
                target = alias.name if alias.asname else alias.name.split(".")[0]
                if prescan.tracked(target) or prescan.leads_to_tracked(target):
                    roots.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module or node.module.split(".")[0] not in prescan.PACKAGES:
                continue
            for alias in node.names:
                if alias.name == "*":
                    return None
                target = f"{node.module}.{alias.name}"
                if prescan.tracked(target) or prescan.leads_to_tracked(target):
                    roots.add(alias.asname or alias.name)
    return roots


def _last_module_imports(tree: ast.Module, names: set) -> Dict[str, Tuple[int, int]]:
    """Where the last module-scope import statement binding each of `names` ends."""
    where: Dict[str, Tuple[int, int]] = {}
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound in names:
                    end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
                    where[bound] = max(where.get(bound, end), end)
        elif isinstance(node, ast.stmt) and not isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "handlers", "finalbody", "cases"):
                stack.extend(getattr(node, field, ()))
        elif isinstance(node, ast.ExceptHandler) or type(node).__name__ == "match_case":
            stack.extend(node.body)
    return where


def _reference(node: ast.expr, called: bool, roots: set, imports: Dict[str, str],
               imported_at: Dict[str, Tuple[int, int]]) -> Optional[str]:
    """The torch.optim name an outermost Name/Attribute chain stands for, when no rule acts on
    it; None when it reaches no tracked name; _GiveUp when a rule may act on it (or this cannot
    tell)."""
    parts: List[str] = []  # (LibCST names a chain through its calls: `a.f(x).b` is a.f.b)
    root = node
    while isinstance(root, (ast.Attribute, ast.Call)):
        if isinstance(root, ast.Call):
            root = root.func
        else:
            parts.append(root.attr)
            root = root.value
    if not isinstance(root, ast.Name) or root.id not in roots:
        return None
    if (root.lineno, root.col_offset) < imported_at.get(root.id, (1 << 62, 0)):
        raise _GiveUp  # read before its import (or no module-scope import): scopes decide
    dotted = ".".join([imports[root.id], *reversed(parts)])
    if not _reaches(dotted):
        return None
    if not isinstance(getattr(node, "ctx", None), ast.Load):
        raise _GiveUp
    if not (dotted == "torch.optim" or dotted.startswith("torch.optim.")):
        raise _GiveUp  # a scheduler factory: its rule decides
    if called and _converted_class(dotted):
        raise _GiveUp
    return dotted


def _converted_class(dotted: str) -> bool:
    """Could a call of `dotted` (under torch.optim) be one a rule converts or reports?"""
    from ms_migrate.core import tables

    last = dotted.rsplit(".", 1)[-1]
    return last in tables.optimizers() or last in tables.load("schedulers")["schedulers"]


def _reaches(dotted: str) -> bool:
    """Is `dotted`, or a name it is an attribute chain on, a name a rule acts on?"""
    parts = dotted.split(".")
    return any(prescan.tracked(".".join(parts[:i])) for i in range(1, len(parts) + 1))


def _inside_chain(node: ast.expr) -> List[Tuple[ast.AST, bool]]:
    """What else a Name/Attribute chain holds that is walked for references: a call's function
    (itself a reference, as in LibCST's index) and arguments, a subscript."""
    while isinstance(node, ast.Attribute):
        node = node.value
    if isinstance(node, ast.Call):
        return [(node.func, True), *((child, False) for child in (*node.args, *node.keywords))]
    if isinstance(node, ast.Name):
        return []
    return [(node, False)]


def _lines(source: bytes) -> Optional[List[str]]:
    """The file's lines as `ast` numbers them; None when its columns cannot be told (not UTF-8,
    or a coding cookie that makes its bytes mean other characters)."""
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not source.isascii():
        head = b"\n".join(source.split(b"\n", 2)[:2])
        cookie = prescan.COOKIE.search(head)
        if cookie and cookie.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8", b"utf-8-sig"):
            return None
    return _NEWLINE.split(text)


def _located(node: ast.expr, dotted: str, lines: List[str]) -> Reference:
    line = node.lineno
    text = lines[line - 1] if line - 1 < len(lines) else ""
    prefix = text.encode("utf-8")[: node.col_offset]  # ast counts UTF-8 bytes, findings characters
    return (line, len(prefix.decode("utf-8", "replace")) + 1, node.end_lineno or line, dotted)
