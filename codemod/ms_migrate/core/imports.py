"""Import bookkeeping: reuse or add MindSpore imports without clobbering a bound name, and drop
torch.optim imports whose every use was migrated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import GlobalScope, ImportAssignment

from ms_migrate.core import bindings
from ms_migrate.core import tables

if TYPE_CHECKING:
    from ms_migrate.core.context import FileContext


class ImportPlanner:
    def __init__(self, ctx: "FileContext") -> None:
        self.ctx = ctx
        self._added: Dict[Tuple[str, str], str] = {}  # (module, name) -> local name
        self._existing_cache: Dict[str, Optional[str]] = {}
        self._modules: Dict[str, str] = {}  # plain `import X [as local]` to add: X -> local
        self._fresh: List[str] = []  # names handed out for new variables
        self._all_scopes: Optional[list] = None

    # ---- MindSpore names ------------------------------------------------------------------
    def ref(self, module: str, name: str, preferred: Optional[str] = None) -> cst.BaseExpression:
        """An expression for `module.name` (e.g. mindspore.nn) that is valid everywhere in the
        file: an existing MindSpore import when the file has one, else a new `from` import."""
        dotted = f"{module}.{name}"
        if dotted not in self._existing_cache:
            self._existing_cache[dotted] = self._existing(dotted)
        existing = self._existing_cache[dotted]
        if existing is not None:
            return cst.parse_expression(existing)
        key = (module, name)
        if key not in self._added:
            local = preferred or name
            counter = 0
            while local in self.ctx.names_in_use or local in self._taken():
                counter += 1
                local = f"ms_{name}" if counter == 1 else f"ms_{name}{counter}"
            self._added[key] = local
        return cst.Name(self._added[key])

    def module(self, name: str) -> cst.BaseExpression:
        """An expression for a top-level module (e.g. math), adding `import name` if needed."""
        if name not in self._existing_cache:
            self._existing_cache[name] = self._existing(name)
        existing = self._existing_cache[name]
        if existing is not None:
            return cst.parse_expression(existing)
        if name not in self._modules:
            # `import math as py_math` when the file uses the name `math` for anything else
            local, counter = name, 0
            while local in self.ctx.names_in_use or local in self._taken():
                counter += 1
                local = f"py_{name}" if counter == 1 else f"py_{name}{counter}"
            self._modules[name] = local
        return cst.Name(self._modules[name])

    def _taken(self) -> set:
        """Names this planner has handed out so far."""
        return {*self._added.values(), *self._modules.values(), *self._fresh}

    def fresh_name(self, base: str) -> str:
        """A new variable name that is used nowhere in the file."""
        taken = set(self.ctx.names_in_use) | self._taken()
        name, counter = base, 1
        while name in taken:
            counter += 1
            name = f"{base}_{counter}"
        self._fresh.append(name)
        return name

    def _existing(self, dotted: str) -> Optional[str]:
        """Find a global import binding `dotted` or one of its parents, never rebound anywhere."""
        if dotted.split(".")[0] not in self.ctx.analysis.imported_roots:
            return None  # no import names that package (no scope analysis needed to know)
        scope = self._global_scope()
        if scope is None:
            return None
        best: Optional[str] = None
        for assignment in scope.assignments:
            if not isinstance(assignment, ImportAssignment):
                continue
            for qname in assignment.get_qualified_names_for(assignment.name):
                target = qname.name
                if dotted == target or dotted.startswith(target + "."):
                    if not self._only_binding(assignment.name):
                        continue
                    expr = assignment.name + dotted[len(target):]
                    if best is None or len(expr) < len(best):
                        best = expr
        return best

    def _only_binding(self, name: str) -> bool:
        """True when `name` is bound exactly once in the whole file (by the import)."""
        if self._all_scopes is None:
            self._all_scopes = [s for s in set(self.ctx.scopes.values()) if s is not None]
        count = 0
        for scope in self._all_scopes:
            count += len([a for a in scope.assignments[name] if a.scope is scope])
        return count == 1

    def _global_scope(self) -> Optional[GlobalScope]:
        scope = self.ctx.scopes.get(self.ctx.module)
        return scope if isinstance(scope, GlobalScope) else None

    # ---- final edits ----------------------------------------------------------------------
    def finalize(self) -> None:
        self._remove_unused_torch_imports()
        self._one_alias_scheme()
        if self._added or self._modules:
            self._add_imports()

    def _one_alias_scheme(self) -> None:
        """One scheme per file: the plain MindSpore names (`nn`, `ops`, `Tensor`) when every one
        the file needs is free, as in every other such file; `ms_` + the name for all of them as
        soon as one is taken (`ms_nn`, `ms_ops`, ...), never a mix. A plain name handed out
        earlier is free in the whole file, so every Name of it in the output is ours: the renaming
        runs over the output only in that mixed case."""
        plain = {key: local for key, local in self._added.items() if not local.startswith("ms_")}
        if not plain or len(plain) == len(self._added):
            return
        taken = set(self.ctx.names_in_use) | set(self._added.values()) | set(self._fresh)
        renames: Dict[str, str] = {}
        for (mod, name), local in plain.items():
            new, counter = f"ms_{name}", 1
            while new in taken:
                counter += 1
                new = f"ms_{name}{counter}"
            taken.add(new)
            renames[local] = new
            self._added[(mod, name)] = new
        original = self.ctx.parents  # (the file's own nodes: an untouched subtree is skipped)
        self.ctx.edits.replace(self.ctx.module, lambda m: m.visit(_Rename(renames, original)))

    def _add_imports(self) -> None:
        module = self.ctx.module
        by_module: Dict[str, List[cst.ImportAlias]] = {}
        for (mod, name), local in sorted(self._added.items(), key=lambda kv: (kv[0][0], kv[0][1].lower())):
            by_module.setdefault(mod, []).append(cst.ImportAlias(
                name=cst.Name(name),
                asname=None if local == name else cst.AsName(name=cst.Name(local)),
            ))
        statements: List[cst.BaseStatement] = [
            cst.SimpleStatementLine(body=[cst.Import(names=[cst.ImportAlias(
                name=cst.Name(m), asname=None if local == m else cst.AsName(name=cst.Name(local)))])])
            for m, local in sorted(self._modules.items())
        ]
        for mod, aliases in by_module.items():
            aliases = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                       for a in aliases[:-1]] + aliases[-1:]
            statements.append(
                cst.SimpleStatementLine(body=[cst.ImportFrom(module=cst.parse_expression(mod), names=aliases)])
            )
        anchor, after = _import_anchor(module)
        if anchor is None:
            self.ctx.edits.replace(module, lambda m: m.with_changes(body=[*statements, *m.body]))
            return
        leading = list(getattr(anchor, "leading_lines", ()))
        if after:
            if anchor in self.ctx.edits.removed:  # the block's last import goes: keep its lines
                statements[0] = statements[0].with_changes(leading_lines=leading)
            self.ctx.edits.insert_after(anchor, *statements)
            return
        # before the first statement: as many blank lines above the new block as above that
        # statement, which keeps its own (or gets one)
        blank = 0
        while blank < len(leading) and leading[blank].comment is None:
            blank += 1
        statements[0] = statements[0].with_changes(leading_lines=leading[:blank])
        self.ctx.edits.insert_before(anchor, *statements)
        if not blank:
            self.ctx.edits.replace(anchor, lambda n: n.with_changes(
                leading_lines=[cst.EmptyLine(), *n.leading_lines]) if hasattr(n, "leading_lines") else n)

    def _remove_unused_torch_imports(self) -> None:
        if not self.ctx.consumed:
            return  # nothing was migrated: every import is still used as it was
        candidates = [(node, alias) for node in self.ctx.analysis.imports
                      if not isinstance(node.names, cst.ImportStar) for alias in node.names
                      if _is_torch_optim_alias(node, alias) or _is_factory_alias(node, alias)]
        if not candidates:
            return
        dead: Dict[cst.CSTNode, List[cst.ImportAlias]] = {}
        fast = [(node, alias, bindings.import_reads(self.ctx.analysis, _bound(alias)))
                for node, alias in candidates]
        if all(refs is not None for _, _, refs in fast):  # answered without the scope analysis
            for node, alias, refs in fast:
                if refs and all(ref in self.ctx.consumed for ref in refs):
                    dead.setdefault(node, []).append(alias)
        else:
            self._dead_imports(dead)
        self._remove_dead(dead)

    def _dead_imports(self, dead: Dict[cst.CSTNode, List[cst.ImportAlias]]) -> None:
        """The torch.optim / factory aliases of module-scope imports every use of which went."""
        scope = self._global_scope()
        if scope is None:
            return
        for assignment in scope.assignments:
            if not isinstance(assignment, ImportAssignment):
                continue
            node = assignment.node
            alias = _alias_for(node, assignment.name)
            if alias is None or not (_is_torch_optim_alias(node, alias) or _is_factory_alias(node, alias)):
                continue
            refs = [access.node for access in assignment.references]
            if refs and all(ref in self.ctx.consumed for ref in refs):
                dead.setdefault(node, []).append(alias)

    def _remove_dead(self, dead: Dict[cst.CSTNode, List[cst.ImportAlias]]) -> None:
        for node, aliases in dead.items():
            statement = self.ctx.statement_of(node)
            remaining = [a for a in node.names if a not in aliases]
            if not remaining:
                if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
                    self.ctx.edits.remove(statement)
                    continue
                self.ctx.edits.replace(node, cst.RemovalSentinel.REMOVE)  # type: ignore[arg-type]
                continue
            self.ctx.edits.replace(node, lambda _n, new=_keep_layout(node, remaining): new)


def _keep_layout(node: cst.CSTNode, remaining: List[cst.ImportAlias]) -> cst.CSTNode:
    """`node` with only the `remaining` aliases, punctuated so the statement stays valid and keeps
    its layout: without parentheses the last one loses its comma; inside `from m import (...)`
    (which may span lines) the parentheses stay and the last one ends as the original last did."""
    last = node.names[-1]  # type: ignore[union-attr]
    keep = list(remaining)
    if keep[-1] is last:
        return node.with_changes(names=keep)
    if not (isinstance(node, cst.ImportFrom) and node.lpar is not None):
        keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return node.with_changes(names=keep)
    own = keep[-1].comma
    assert isinstance(own, cst.Comma)  # it was not the last alias
    own_ws = own.whitespace_after
    if isinstance(last.comma, cst.Comma):  # a trailing comma: keep it, with its line break
        end = last.comma.whitespace_after
        if isinstance(own_ws, cst.ParenthesizedWhitespace) and isinstance(end, cst.ParenthesizedWhitespace):
            # this line's comment stays, the closing parenthesis keeps its indentation
            keep[-1] = keep[-1].with_changes(comma=own.with_changes(
                whitespace_after=own_ws.with_changes(indent=end.indent, last_line=end.last_line)))
        else:
            keep[-1] = keep[-1].with_changes(comma=last.comma)
        return node.with_changes(names=keep)
    if isinstance(own_ws, cst.ParenthesizedWhitespace) and own_ws.first_line.comment is not None:
        # a comment ends this line: a trailing comma, and `)` on the next line
        keep[-1] = keep[-1].with_changes(comma=own.with_changes(
            whitespace_after=own_ws.with_changes(indent=True, last_line=cst.SimpleWhitespace(""))))
        return node.with_changes(names=keep, rpar=cst.RightParen())
    keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return node.with_changes(names=keep)


class _Rename(cst.CSTTransformer):
    """Rename our own Name references (never attribute or keyword names, never imports). A
    subtree of the original file that no edit touched holds none (the plain names were free in
    the file): it is not walked."""

    def __init__(self, renames: Dict[str, str], original=()) -> None:
        super().__init__()
        self.renames = renames
        self.original = original

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node not in self.original and super().on_visit(node)

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        return updated.with_changes(keyword=original.keyword)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.renames.get(updated.value)
        return updated.with_changes(value=new) if new else updated


def _bound(alias: cst.ImportAlias) -> str:
    """The name an alias binds (`import a.b` binds `a`)."""
    return (alias.evaluated_alias or alias.evaluated_name).split(".")[0]


def _alias_for(node: cst.CSTNode, bound: str) -> Optional[cst.ImportAlias]:
    if not isinstance(node, (cst.Import, cst.ImportFrom)) or isinstance(node.names, cst.ImportStar):
        return None
    for alias in node.names:
        if alias.evaluated_alias is not None:
            if alias.evaluated_alias == bound:
                return alias
        elif alias.evaluated_name == bound:
            return alias
    return None


def _is_torch_optim_alias(node: cst.CSTNode, alias: cst.ImportAlias) -> bool:
    if isinstance(node, cst.Import):
        # `import torch.optim` binds `torch`: never ours to remove.
        return alias.asname is not None and _under_optim(alias.evaluated_name)
    assert isinstance(node, cst.ImportFrom)
    if node.relative or node.module is None:
        return False
    module = cst.helpers.get_full_name_for_node(node.module) or ""
    return _under_optim(f"{module}.{alias.evaluated_name}")


def _is_factory_alias(node: cst.CSTNode, alias: cst.ImportAlias) -> bool:
    """`from transformers import get_linear_schedule_with_warmup`: a scheduler factory the
    scheduler rule replaces (removed only once every use of it was)."""
    if not isinstance(node, cst.ImportFrom) or node.relative or node.module is None:
        return False
    module = cst.helpers.get_full_name_for_node(node.module) or ""
    return f"{module}.{alias.evaluated_name}" in tables.load("schedulers")["factories"]


def _under_optim(dotted: str) -> bool:
    return dotted == "torch.optim" or dotted.startswith("torch.optim.")


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _import_anchor(module: cst.Module) -> Tuple[Optional[cst.CSTNode], bool]:
    """Where new imports go: after the last import of the module's first block of top-level
    imports (`__future__` imports included; blank lines and comments between imports do not end
    a block, other statements do), or, without imports, before the first statement that is not
    the docstring. The shebang and coding comments stay in the module header, above."""
    body = list(module.body)
    i = 1 if body and _is_docstring(body[0]) else 0
    start = next((j for j in range(i, len(body)) if _is_import_line(body[j])), None)
    if start is not None:
        end = start
        while end + 1 < len(body) and _is_import_line(body[end + 1]):
            end += 1
        return body[end], True
    if i < len(body):
        return body[i], False
    return (body[-1], True) if body else (None, False)
