"""The pre-scan: decide from a file's bytes, before any LibCST work, whether a rule could change
or flag it. Most files of a repository cannot (they never reach torch.optim): they are read,
ruled out here, and never LibCST-parsed.

The contract (a rule that breaks it must extend this module, and tests/test_prescan.py proves it
on every fixture and on generated inputs):

  A rule changes or flags a file only through
  (1) a reference whose qualified name -- resolved by LibCST's scope analysis from the file's own
      imports -- is `torch.optim` or lies under it (optimizers, lr_scheduler, Optimizer, ...), or
      is one of the scheduler factories of rules/schedulers.json "factories" (transformers,
      diffusers); a rule that acts on anything else (an optimizer's `zero_grad`/`step`/`backward`,
      its `param_groups`, a `parameters()` call) acts only where such a reference exists in the
      file (ctx.optimizer_sites, ctx.torch_optim_references());
  (2) a star import from a tracked package (`from torch.optim import *`);
  (3) the tool's own markers: the text `ms-migrate:` (`# ms-migrate: CODE message` comments that
      a later run reads back).

Why words suffice: a qualified name is the dotted target of an import followed by the attribute
chain of the reference, so each of its components is written in the file as a whole word
(`import torch` + `torch.optim.SGD`, `from torch import optim`, `import torch.optim as O`,
`from transformers import get_scheduler`). Stage 1 therefore asks for the words of at least one
tracked name (bytes only: a regular expression, no decoding); stage 2 `ast`-parses the few files
that pass and follows each import-bound name's attribute chains to see whether one reaches a
tracked name (scope-blind, so it can only over-approximate the scope analysis). A file stage 2
cannot judge (it does not parse, an odd encoding) goes to LibCST, which reports it.

A new rule that reads another package (e.g. a mindspore.experimental target or a training-step
rule keyed on something other than a torch.optim optimizer) adds its names to TRACKED below.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from collections import Counter
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple

MARKER = b"ms-migrate:"

# Packages whose names the rules resolve: torch itself, and the scheduler factories of
# transformers and diffusers (core/context.py looks up no reference rooted elsewhere).
PACKAGES = ("torch", "transformers", "diffusers")

# Dotted names a rule acts on: the name itself and everything under it. The scheduler factories
# are added from rules/schedulers.json (exact names).
TRACKED_PREFIXES = ("torch.optim",)

# Encodings whose bytes are not ASCII for ASCII text: the words below would not be found in them.
_ASCII_UNSAFE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)
_ASCII_SAFE = re.compile(r"^(utf[-_]?8|ascii|us[-_]ascii|latin[-_]?1|iso[-_]?8859[-_]\d+|cp125\d|"
                         r"l1|utf[-_]8[-_]sig|iso[-_]latin[-_]1|euc[-_]\w+|gbk|gb2312|gb18030|big5|"
                         r"shift[-_]?jis|sjis|cp932|cp936|cp949|koi8[-_]\w)$", re.IGNORECASE)


@lru_cache(maxsize=None)
def tracked_names() -> Tuple[Tuple[str, bool], ...]:
    """(dotted name, also everything under it) for every name a rule acts on."""
    from ms_migrate.core import tables

    names = [(prefix, True) for prefix in TRACKED_PREFIXES]
    names += [(factory, False) for factory in tables.load("schedulers")["factories"]]
    return tuple(names)


_IDENT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _word(word: str) -> "re.Pattern[bytes]":
    # the literal first, so that `re` scans for it fast; the byte before is checked by hand
    return re.compile(re.escape(word.encode()) + rb"(?![A-Za-z0-9_])")


def _has_word(pattern: "re.Pattern[bytes]", source: bytes) -> bool:
    for match in pattern.finditer(source):
        start = match.start()
        if start == 0 or source[start - 1] not in _IDENT:
            return True
    return False


# Substrings that gate the word checks: one `in` pass over the bytes each (a regular expression
# alternation is five times slower). A tracked name whose last part holds none of them gates on
# its last part.
_GATES = (b"optim", b"_schedul")


@lru_cache(maxsize=None)
def _stage1() -> Tuple[Tuple[bytes, Tuple[Tuple["re.Pattern[bytes]", ...], ...]], ...]:
    """(gate, the word patterns of each tracked name it gates)."""
    grouped: Dict[bytes, List[Tuple["re.Pattern[bytes]", ...]]] = {}
    for name, _ in tracked_names():
        parts = name.split(".")
        last = parts[-1].encode()
        gate = next((g for g in _GATES if g in last), last)
        grouped.setdefault(gate, []).append(tuple(_word(p) for p in dict.fromkeys(parts)))
    return tuple((gate, tuple(names)) for gate, names in grouped.items())


def _may_name_tracked(source: bytes) -> bool:
    for gate, names in _stage1():
        if gate in source:
            for words in names:
                if all(_has_word(w, source) for w in words):
                    return True
    return False


def _ascii_unsafe(source: bytes) -> bool:
    if source.startswith(_ASCII_UNSAFE_BOMS):
        return True
    first = source.find(b"\n")
    second = source.find(b"\n", first + 1) if first >= 0 else -1
    head = source[: second if second >= 0 else len(source)]  # the two lines a cookie may be on
    cookie = COOKIE.search(head)
    return cookie is not None and not _ASCII_SAFE.match(cookie.group(1).decode("ascii", "replace"))


class Scan(NamedTuple):
    """What the pre-scan learned of a file that goes on to LibCST. `imports`: the names of
    tracked packages that one import in module scope binds and nothing else in the file binds
    (see `single_imports`), or None when not known (a marker file, an odd encoding, a file
    `ast` cannot parse, a caller that skipped the pre-scan)."""

    imports: Optional[Dict[str, str]] = None
    # core/inert.py: (line, column, end line, qualified name) of each torch.optim reference of a
    # file only the safety net acts on; None when LibCST must decide
    references: Optional[Tuple[Tuple[int, int, int, str], ...]] = None


UNKNOWN = Scan()


def scan(source: bytes) -> Optional[Scan]:
    """None only when no rule can change or flag this file (see the module docstring)."""
    if MARKER in source:
        return UNKNOWN
    if _ascii_unsafe(source):
        return UNKNOWN
    if not _may_name_tracked(source):
        return None
    try:
        tree = compile(source, "<prescan>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except BaseException as exc:  # SyntaxError, ValueError, RecursionError, MemoryError...
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return UNKNOWN  # LibCST decides (and reports a file that does not parse)
    if not reaches_tracked(tree):
        return None
    imports = single_imports(tree)
    from ms_migrate.core import inert

    references = inert.references(tree, source, imports)
    return Scan(imports, None if references is None else tuple(references))


def needs_parse(source: bytes) -> bool:
    """False only when no rule can change or flag this file (see the module docstring)."""
    return scan(source) is not None


# ---- names bound once, by an import ------------------------------------------------------------
# A reference `name.rest` whose root is bound exactly once in the whole file, by an import in
# module scope, has one qualified name whatever the scopes: the import's target + `.rest` (what
# LibCST's scope analysis answers; tests/test_prescan.py compares the two on every reference of
# every fixture and of generated inputs). core/context.py answers such names without running the
# scope analysis, which a file needs only when a rule asks for bindings.

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_TYPE_PARAMS = tuple(getattr(ast, n) for n in ("TypeVar", "ParamSpec", "TypeVarTuple") if hasattr(ast, n))


def _bound_names(tree: ast.AST) -> Optional[Counter]:
    """How often each name is bound anywhere in the file (`global`/`nonlocal` count twice: the
    name is then bound from another scope); None when a star import may bind any name."""
    counts: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                counts[node.id] += 1
        elif isinstance(node, ast.arg):
            counts[node.arg] += 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            counts[node.name] += 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                counts[alias.asname or alias.name.split(".")[0]] += 1
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                counts[node.name] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                counts[name] += 2
        elif isinstance(node, _TYPE_PARAMS):
            counts[node.name] += 1
        else:
            for attribute in ("name", "rest"):  # match patterns: MatchAs, MatchStar, MatchMapping
                if type(node).__name__.startswith("Match"):
                    value = getattr(node, attribute, None)
                    if isinstance(value, str):
                        counts[value] += 1
    return counts


def _module_scope_imports(tree: ast.Module) -> Iterable[Tuple[str, str]]:
    """(bound name, what `name.rest` then stands for the prefix of) for the imports in module
    scope (also under if/try/with/for/while/match there), in the plain spellings: `import x`,
    `import a.b as x`, `from m import n [as x]`, and `import a.b` (which binds `a` to the
    package `a`: `a.rest` is then `a.rest`, as the scope analysis also answers)."""
    stack: List[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    yield alias.asname, alias.name
                else:
                    root = alias.name.split(".")[0]
                    yield root, root
        elif isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                for alias in node.names:
                    yield alias.asname or alias.name, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.stmt) and not isinstance(node, _SCOPES):
            for field in ("body", "orelse", "handlers", "finalbody", "cases"):
                stack.extend(getattr(node, field, ()))
        elif isinstance(node, (ast.ExceptHandler,)) or type(node).__name__ == "match_case":
            stack.extend(node.body)


def single_imports(tree: ast.Module) -> Dict[str, str]:
    """Names of torch/transformers/diffusers imports bound once in the file (module scope, plain
    spellings), with the dotted target a reference `name.rest` stands for (+ `.rest`). A package
    name that several `import torch[.sub]` bind (one at least in module scope, others maybe in
    functions), and nothing else, counts as bound once: each binds it to the same package."""
    counts = _bound_names(tree)
    if counts is None:
        return {}
    found: Dict[str, Set[str]] = {}
    seen: Counter = Counter()
    for name, target in _module_scope_imports(tree):
        found.setdefault(name, set()).add(target)
        seen[name] += 1
    # `import torch` again inside a function binds the same package: what every read answers
    package_imports: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is None:
                    package_imports[alias.name.split(".")[0]] += 1
    return {name: next(iter(targets)) for name, targets in found.items()
            if next(iter(targets)).split(".")[0] in PACKAGES
            and ((counts[name] == seen[name] == 1)
                 or (targets == {name} and counts[name] == package_imports[name]))}


def tracked(dotted: str) -> bool:
    """Is `dotted` a name a rule acts on (torch.optim and below, a scheduler factory)?"""
    return _tracked(dotted)


def leads_to_tracked(dotted: str) -> bool:
    """Could an attribute chain on a name bound to `dotted` reach a tracked name?"""
    return _leads_to_tracked(dotted)


def _tracked(dotted: str) -> bool:
    for name, subtree in tracked_names():
        if dotted == name or (subtree and dotted.startswith(name + ".")):
            return True
    return False


def _leads_to_tracked(dotted: str) -> bool:
    """Could an attribute chain on a name bound to `dotted` reach a tracked name?"""
    prefix = dotted + "."
    return any(name.startswith(prefix) for name, _ in tracked_names())


def reaches_tracked(tree: ast.AST) -> bool:
    """Scope-blind: does any import bind a name from which a tracked name is reachable, and is
    such a name used with the chain that reaches it?"""
    bound: Dict[str, Set[str]] = {}  # name -> dotted targets some import binds it to
    nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    targets = [(alias.asname, alias.name)]
                else:  # `import a.b.c` binds a; `a.b.c.x` then resolves to the text itself
                    targets = [(alias.name.split(".")[0], alias.name.split(".")[0])]
                for name, target in targets:
                    if _tracked(target) or _tracked(alias.name):
                        return True
                    bound.setdefault(name, set()).add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                continue
            for alias in node.names:
                if alias.name == "*":
                    if _tracked(node.module) or _leads_to_tracked(node.module):
                        return True
                    continue
                target = f"{node.module}.{alias.name}"
                if _tracked(target):
                    return True
                bound.setdefault(alias.asname or alias.name, set()).add(target)
    roots = {name: targets for name, targets in bound.items()
             if any(_leads_to_tracked(t) for t in targets)}
    if not roots:
        return False
    for node in nodes:
        if isinstance(node, ast.Attribute):
            parts = [node.attr]
            value = node.value
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in roots:
                rest = ".".join(reversed(parts))
                if any(_tracked(f"{t}.{rest}") for t in roots[value.id]):
                    return True
    return False
