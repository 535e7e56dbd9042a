"""Everything the rules share about one file: the tree, its metadata (resolved once), the
edits and findings recorded so far, and name helpers built on LibCST's scope analysis."""

from __future__ import annotations

from collections import Counter
from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst
from libcst.metadata import (
    Assignment,
    MetadataWrapper,
    QualifiedNameSource,
    ScopeProvider,
)
from libcst.metadata.scope_provider import Scope

from ms_migrate.core.edits import Edits
from ms_migrate.core.options import DEFAULT, Options
from ms_migrate.core.findings import Check, Finding, make_finding
from ms_migrate.core import bindings
from ms_migrate.core import imports
from ms_migrate.core import positions
from ms_migrate.core import prescan
from ms_migrate.core import syntax
from ms_migrate.core import tables


TRACKED_PACKAGES = prescan.PACKAGES  # a reference rooted elsewhere is never looked up


_SCOPE_NODES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def _visits(cls):
    """type -> visit_<Type> method of `cls`, for its on_visit."""
    cls._VISITS = {getattr(cst, name[len("visit_"):]): method for name, method in vars(cls).items()
                   if name.startswith("visit_") and hasattr(cst, name[len("visit_"):])}
    assert not [n for n in vars(cls) if n.startswith("leave_")], "on_leave does not dispatch"
    return cls


@_visits
class _Index(cst.CSTVisitor):
    """One walk that lists what the rules look for, so that no rule walks the tree again."""

    def __init__(self) -> None:
        self.calls: List[cst.Call] = []
        self.references: List[cst.BaseExpression] = []  # outermost Name/Attribute chains
        self.names: Set[str] = set()
        self.tracked_roots: Set[str] = set()  # names bound by imports from TRACKED_PACKAGES
        self.optim_roots: Set[str] = set()  # those of them a torch.optim / factory name is under
        self.imported_at: Dict[str, int] = {}  # name -> nodes before its last module-scope import
        self.by_value: Dict[str, List[cst.Name]] = {}  # every Name node walked, by its text
        self.strings: List[cst.SimpleString] = []  # in source order
        self.declared: Set[str] = set()  # names in `global` / `nonlocal` statements
        self.imported: Set[str] = set()  # names any import binds
        self.import_count: Counter = Counter()  # name -> how many import aliases bind it
        self.imported_roots: Set[str] = set()  # first part of every module an import names
        self.imports: List[cst.CSTNode] = []  # every Import / ImportFrom, in source order
        self.functions: Set[str] = set()  # names of the functions the file defines
        self._inner: Set[cst.CSTNode] = set()
        self.parents: Dict[cst.CSTNode, cst.CSTNode] = {}
        self.children: Dict[cst.CSTNode, List[cst.CSTNode]] = {}  # in LibCST's order
        self._stack: List[cst.CSTNode] = []
        self._seen = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            parent = self._stack[-1]
            self.parents[node] = parent
            self.children[parent].append(node)
        self._stack.append(node)
        self._seen += 1
        visit = self._VISITS.get(type(node))  # (LibCST's dispatch formats a name per node)
        descend = visit is None or visit(self, node) is not False
        if descend:  # (an import's children are not walked: LibCST lists them on demand)
            self.children[node] = []
        return descend

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()  # (no leave_ methods here)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        pass  # (no visit_<Node>_<field> methods here: skip LibCST's lookup per field)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass

    def visit_Import(self, node: cst.Import) -> bool:
        self.imports.append(node)
        for alias in node.names:
            self._bind(alias, alias.evaluated_name)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self.imports.append(node)
        module = cst.helpers.get_full_name_for_node(node.module) if node.module else ""
        if not node.relative:
            self.imported_roots.add((module or "").split(".")[0])
        if isinstance(node.names, cst.ImportStar):
            if _tracked(module or ""):
                self.tracked_roots.add("*")
                self.optim_roots.add("*")
            return False
        for alias in node.names:
            self._bind(alias, f"{module}.{alias.evaluated_name}" if not node.relative else "")
        return False

    def _bind(self, alias: cst.ImportAlias, imported: str) -> None:
        bound = (alias.evaluated_alias or alias.evaluated_name).split(".")[0]
        self.names.add(bound)
        self.imported.add(bound)
        self.import_count[bound] += 1
        self.imported_roots.add(imported.split(".")[0])
        if not any(isinstance(n, _SCOPE_NODES) for n in self._stack):
            self.imported_at[bound] = self._seen  # the last module-scope import of the name
        if _tracked(imported):
            self.tracked_roots.add(bound)
            # `import torch[.x]` lets `torch.<anything>` be read; `import a.b as c`, `from m
            # import n`: what is under the target
            target = imported.split(".")[0] if alias.asname is None and isinstance(
                self._stack[-1], cst.Import) else imported
            if prescan.tracked(target) or prescan.leads_to_tracked(target):
                self.optim_roots.add(bound)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node not in self._inner:
            self.references.append(node)
        self._inner.add(node.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.strings.append(node)

    def visit_Global(self, node: cst.Global) -> None:
        self.declared.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared.update(item.name.value for item in node.names)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.add(node.name.value)

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)
        self.by_value.setdefault(node.value, []).append(node)
        if node not in self._inner:
            self.references.append(node)


class Analysis:
    """What one parsed file is, independent of what the rules do with it: parents and the index
    of calls, references and names (one walk); scopes, positions and source order on first need.

    Scopes (LibCST's scope analysis, the dearest metadata) are resolved when a rule first asks
    for a binding or for the qualified name of a reference the pre-scan's `imports` cannot
    answer: a file that only references torch.optim names imported once never pays for them."""

    def __init__(self, module: cst.Module, single_imports: Optional[Dict[str, str]] = None) -> None:
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.single_imports = single_imports or {}  # prescan.Scan.imports: name -> dotted target
        self._scopes = None
        index = _Index()
        self.module.visit(index)
        self.parents = index.parents
        self.children = index.children
        syntax.index_children(self.children)
        self.calls = index.calls
        self.references = index.references
        self.names_in_use = index.names
        self.tracked_roots = index.tracked_roots
        self.optim_roots = index.optim_roots
        self.imported_at = index.imported_at
        self.by_value = index.by_value
        self.strings = index.strings
        self.declared = index.declared
        self.imported = index.imported
        self.import_count = index.import_count
        self.imported_roots = index.imported_roots
        self.imports = index.imports
        self.functions = index.functions
        self._positions = None
        self._order: Optional[Dict[cst.CSTNode, int]] = None
        self._string_orders: Optional[List[int]] = None
        self.read_bindings: Dict[str, Dict[cst.Name, bindings.Binding]] = {}  # bindings.binding_of's
        self.target_bindings: Dict[cst.Name, Optional[bindings.Binding]] = {}  # bindings.binding_at's
        self.shared_bindings: Dict[cst.Name, Optional[bindings.Binding]] = {}  # bindings.shared_reads'

    @property
    def scopes(self):
        if self._scopes is None:
            self._scopes = self.wrapper.resolve(ScopeProvider)
        return self._scopes

    def imported_names(self, node: cst.CSTNode) -> Optional[Set[str]]:
        """The qualified names of a Name/Attribute chain whose root one import binds and nothing
        else does (prescan.single_imports), as the scope analysis gives them; None when this
        cannot answer (the scope analysis must)."""
        if not self.single_imports:
            return None
        parent = self.parents.get(node)
        if (isinstance(parent, cst.Attribute) and parent.attr is node) or (
                isinstance(parent, cst.Arg) and parent.keyword is node):
            return set()  # an attribute's or a keyword's name (`x.optim`, `f(torch=1)`): no scope
        root = node
        while isinstance(root, (cst.Attribute, cst.Call)):  # the scope analysis reads through calls
            root = root.value if isinstance(root, cst.Attribute) else root.func
        if not isinstance(root, cst.Name) or root.value not in self.single_imports:
            return None
        if self.order.get(node, -1) < self.imported_at.get(root.value, 1 << 62):
            return None  # read before the import (the scope analysis knows if it runs later)
        dotted = cst.helpers.get_full_name_for_node(node)
        if dotted is None:
            return None
        return {self.single_imports[root.value] + dotted[len(root.value):]}

    @property
    def positions(self):
        if self._positions is None:
            self._positions = positions.Positions(self.module)  # PositionProvider's answers
        return self._positions

    def roundtrip(self) -> bytes:
        """`module.bytes` (LibCST's rendering of the unedited file), from the positions'
        rendering when a rule already asked for positions."""
        if self._positions is not None:
            return self._positions.code.encode(self.module.encoding)
        return self.module.bytes

    @property
    def string_orders(self) -> List[int]:
        """The source order of each of `strings` (ascending)."""
        if self._string_orders is None:
            order = self.order
            self._string_orders = [order[s] for s in self.strings]
        return self._string_orders

    @property
    def order(self) -> Dict[cst.CSTNode, int]:
        if self._order is None:
            self._order = {n: i for i, n in enumerate(self.parents)}
        return self._order


class FileContext:
    def __init__(
        self, path: str, module: cst.Module, options: Options = DEFAULT,
        demoted: Optional[Dict[Tuple[int, int], Dict[str, str]]] = None,
        analysis: Optional["Analysis"] = None, single_imports: Optional[Dict[str, str]] = None,
    ) -> None:
        self.options = options
        # One optimizer is migrated whole: when a later rule finds that the API chosen for an
        # optimizer cannot carry one of its uses (a scheduler, a param_groups write), it demotes
        # that API (`demote`) and the engine migrates the file again without it. Keyed by the
        # optimizer call's position: api -> why it was given up.
        self.demoted: Dict[Tuple[int, int], Dict[str, str]] = demoted or {}
        self.demotions: Dict[Tuple[int, int], Dict[str, str]] = {}
        self.path = path
        # what the file is (metadata, parents, the index walk): computed once per file and shared
        # by every pass of the rules (the engine runs them again after a demotion)
        if analysis is None or analysis.module is not module:
            analysis = Analysis(module, single_imports)
        self.analysis = analysis
        self.wrapper = analysis.wrapper
        self.module = analysis.module
        self.parents = analysis.parents
        self.calls = analysis.calls
        self.references = analysis.references
        self.names_in_use = analysis.names_in_use
        self._tracked_roots = analysis.tracked_roots
        self._optim_refs: Optional[List[Tuple[cst.CSTNode, str]]] = None
        self._rebound_refs: List[Tuple[cst.CSTNode, str]] = []
        # references whose name an import binds to a tracked name and something else rebinds
        self.rebound: Dict[cst.CSTNode, Set[str]] = {}
        self.edits = Edits()
        self.findings: List[Finding] = []
        self.flagged: List[Tuple[Finding, cst.CSTNode]] = []  # finding, statement to annotate
        self.conversions: Counter = Counter()
        self.consumed: Set[cst.CSTNode] = set()  # torch references gone from the output
        self.handled: Set[cst.CSTNode] = set()  # torch references a rule converted or reported
        # what the optimizer rule found, for the rules that run after it (OptimizerSite list)
        self.optimizer_sites: list = []
        self.imports = imports.ImportPlanner(self)

    # ---- metadata -------------------------------------------------------------------------
    @property
    def positions(self):
        return self.analysis.positions

    @property
    def scopes(self):
        return self.analysis.scopes

    def qualified_names(self, node: cst.CSTNode) -> Set[str]:
        # Lazily, per asked node, from the scope analysis (resolving QualifiedNameProvider for
        # every node costs as much as the scope analysis itself), or without it for a name
        # imported once (Analysis.imported_name).
        imported = self.analysis.imported_names(node)
        if imported is not None:
            return imported
        root = node
        while isinstance(root, (cst.Attribute, cst.Call)):
            root = root.value if isinstance(root, cst.Attribute) else root.func
        if isinstance(root, cst.Name) and root.value not in self.analysis.imported:
            return set()  # no import binds the name: no imported name (`model.parameters`)
        scope = self.scopes.get(node)
        if scope is None:
            return set()
        try:
            names = scope.get_qualified_names_for(node)
        except RecursionError:
            raise  # the engine retries the file on a deeper stack; never a silent "unknown"
        except Exception:
            return set()
        imported = {q.name for q in names if q.source is QualifiedNameSource.IMPORT}
        if imported and len({q.name for q in names}) > 1:
            # The name is bound by an import AND otherwise in its scope (`Adam = partial(Adam,
            # ...)`, `def SGD(...)`, a for target, another import): not the import, whatever
            # the flow.
            self.rebound[node] = imported
            return set()
        return imported

    def rebinding_lines(self, node: cst.CSTNode) -> List[int]:
        """Lines of every binding of the name a rebound reference starts with."""
        while isinstance(node, (cst.Attribute, cst.Call)):
            node = node.value if isinstance(node, cst.Attribute) else node.func
        scope = self.scopes.get(node)
        if not isinstance(node, cst.Name) or scope is None:
            return []
        lines = set()
        for assignment in scope[node.value]:
            if isinstance(assignment, Assignment):
                lines.add(self.start(assignment.node).line)
        return sorted(lines)

    def may_be_optim(self, node: cst.CSTNode) -> bool:
        """Cheap pre-check before looking for a torch.optim name or a scheduler factory: does
        this chain start at a name an import binds to something such a name is under (`torch`,
        `optim`, `lr_scheduler`, `SGD`; not `nn` or `has_triton`)?"""
        if "*" in self.analysis.optim_roots:
            return True
        while isinstance(node, (cst.Attribute, cst.Call)):
            node = node.value if isinstance(node, cst.Attribute) else node.func
        return isinstance(node, cst.Name) and node.value in self.analysis.optim_roots

    def may_be_tracked(self, node: cst.CSTNode) -> bool:
        """Cheap pre-check before a scope lookup: does this Name/Attribute chain start at a name
        bound by an import from torch, transformers or diffusers?"""
        if "*" in self._tracked_roots:
            return True
        while isinstance(node, (cst.Attribute, cst.Call)):
            node = node.value if isinstance(node, cst.Attribute) else node.func
        return isinstance(node, cst.Name) and node.value in self._tracked_roots

    def torch_optim_references(self) -> List[Tuple[cst.CSTNode, str]]:
        """Every outermost reference to a torch.optim name, with that name (computed once)."""
        if self._optim_refs is None:
            self._optim_refs = []
            for node in self.references:
                if self.may_be_optim(node):
                    qname = self.qualified_name(node)
                    if qname and _under_optim(qname):
                        self._optim_refs.append((node, qname))
                    for imported in sorted(self.rebound.get(node, ())):
                        if _under_optim(imported) or imported in tables.load("schedulers")["factories"]:
                            self._rebound_refs.append((node, imported))
        return self._optim_refs

    def rebound_torch_optim_references(self) -> List[Tuple[cst.CSTNode, str]]:
        """References to a torch.optim import (or a scheduler factory) whose name is also bound
        otherwise in its scope; they are not converted (which one they are depends on the flow)."""
        self.torch_optim_references()
        return self._rebound_refs

    def qualified_name(self, node: cst.CSTNode) -> Optional[str]:
        """The one imported dotted name `node` stands for, or None when unknown or ambiguous."""
        names = self.qualified_names(node)
        return next(iter(names)) if len(names) == 1 else None

    def scope(self, node: cst.CSTNode) -> Optional[Scope]:
        return self.scopes.get(node)

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self.parents.get(node)
        while parent is not None:
            yield parent
            parent = self.parents.get(parent)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The innermost statement holding `node` (a simple line or a compound header)."""
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return node
        for parent in self.ancestors(node):
            if isinstance(parent, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return parent
        return node

    def child_of(self, block: cst.CSTNode, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The child of `block` that holds `node` (a statement of a block's body), or None when
        `node` is not inside `block`."""
        child = node
        for parent in self.ancestors(node):
            if parent is block:
                return child
            child = parent
        return None

    def index_in(self, block: cst.CSTNode, node: cst.CSTNode) -> int:
        """Index, in `block.body`, of the statement that holds `node`; -1 when outside it."""
        child = self.child_of(block, node)
        return list(block.body).index(child) if child is not None else -1

    # ---- bindings ---------------------------------------------------------------------------
    def assignment_of(self, target: cst.Name) -> Optional[Assignment]:
        """The assignment a binding name (an assignment or loop target) makes."""
        if isinstance(target, cst.Name):
            known = bindings.binding_at(self.analysis, target)
            if known is not None:
                return known  # type: ignore[return-value]  (what rules read of an Assignment)
            known = bindings.shared_binding(self.analysis, target)
            if known is not None:
                return known  # type: ignore[return-value]
        scope = self.scope(target)
        if scope is None:
            return None
        for assignment in scope.assignments[target.value]:
            if isinstance(assignment, Assignment) and assignment.node is target:
                return assignment
        return None

    def binding(self, name: cst.Name) -> Optional[Assignment]:
        """The one assignment a name read can refer to, or None when there are several or none
        (core/bindings.binding_of answers plain variables without the scope analysis)."""
        if isinstance(name, cst.Name):
            known = bindings.binding_of(self.analysis, name)
            if known is not None:
                return known  # type: ignore[return-value]  (what rules read of an Assignment)
            if bindings.bound_several_times(self.analysis, name):
                return None
        scope = self.scope(name)
        if scope is None:
            return None
        assignments = [a for a in scope[name.value] if isinstance(a, Assignment)]
        return assignments[0] if len(assignments) == 1 else None

    def scope_bindings(self, node: cst.CSTNode, name: str) -> List[cst.CSTNode]:
        """The nodes that bind `name` in the scope `node` is in, that scope itself (not the
        scopes around it or nested in it): LibCST's `scope[name]` assignments of that scope,
        answered by core/bindings.local_bindings where it can."""
        home = bindings.innermost_scope(self.analysis, node)
        fast = bindings.local_bindings(self.analysis, name, home) if home is not None else None
        if fast is not None:
            return fast
        scope = self.scope(node)
        if scope is None:
            return []
        return [a.node for a in scope[name] if isinstance(a, Assignment) and a.scope is scope]

    def local_function(self, func: cst.BaseExpression) -> Optional[cst.FunctionDef]:
        """The function of this file a plain-name call calls: the one def its name is bound to
        in the scope the call sees (core/bindings.local_function answers the common files
        without the scope analysis)."""
        if not isinstance(func, cst.Name):
            return None
        known = bindings.local_function(self.analysis, func)
        if known is not bindings.UNKNOWN:
            return known
        assignment = self.binding(func)
        node = assignment.node if assignment is not None else None
        return node if isinstance(node, cst.FunctionDef) else None

    def assigned_value(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        """`value` when the name read comes from one plain `name = value` statement."""
        assignment = self.binding(name)
        target = self.parent(assignment.node) if assignment is not None else None
        assign = self.parent(target) if isinstance(target, cst.AssignTarget) else None
        if isinstance(assign, cst.Assign) and len(assign.targets) == 1:
            return assign.value
        return None

    def uses_of(self, target: cst.BaseExpression) -> Iterator[cst.CSTNode]:
        """The reads of what an assignment target binds: for a name, its scope references; for
        an attribute target (`self.optimizer = ...`, which has no scope entry), the same dotted
        chain wherever it appears."""
        if isinstance(target, cst.Name):
            reads = bindings.reads_of(self.analysis, target)  # without the scope analysis
            if reads is not None:
                yield from reads
                return
            assignment = self.assignment_of(target)
            for access in assignment.references if assignment is not None else ():
                yield access.node
        elif isinstance(target, cst.Attribute):
            dotted = cst.helpers.get_full_name_for_node(target)
            for reference in self.references:
                node = reference
                while isinstance(node, cst.Attribute):
                    if node.value is not target and cst.helpers.get_full_name_for_node(node.value) == dotted:
                        yield node.value
                        break
                    node = node.value

    def start(self, node: cst.CSTNode):
        return self.positions[node].start

    def source_order(self, node: cst.CSTNode) -> int:
        """Where `node` comes in the file (a sort key; no positions needed): the index walk
        meets nodes in source order and `parents` keeps that order."""
        return self.analysis.order.get(node, -1)

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    # ---- recording ------------------------------------------------------------------------
    def report(self, check: Check, node: cst.CSTNode, message: str, **kwargs) -> Finding:
        pos = self.positions[node]
        finding = make_finding(
            check, message, pos.start.line, pos.start.column + 1, pos.end.line, **kwargs
        )
        self.findings.append(finding)
        self.flagged.append((finding, self.statement_of(node)))
        return finding

    def consume(self, reference: cst.CSTNode) -> None:
        """Mark a torch reference as migrated: it is gone from the output."""
        self.consumed.add(reference)
        for child in _names_within(reference):
            self.consumed.add(child)

    def site_key(self, call: cst.CSTNode) -> Tuple[int, int]:
        start = self.start(call)
        return (start.line, start.column)

    def given_up(self, call: cst.CSTNode) -> Dict[str, str]:
        """The APIs given up for the optimizer built by `call` in earlier passes, with why."""
        return self.demoted.get(self.site_key(call), {})

    def demote(self, call: cst.CSTNode, api: str, reason: str) -> None:
        """Give up `api` for the optimizer built by `call`: the file is migrated again."""
        self.demotions.setdefault(self.site_key(call), {}).setdefault(api, reason)

    def convert(self, rule_code: str) -> None:
        self.conversions[rule_code] += 1


def _under_optim(dotted: str) -> bool:
    return dotted == "torch.optim" or dotted.startswith("torch.optim.")


def _tracked(dotted: str) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in TRACKED_PACKAGES)


def _names_within(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    while isinstance(node, cst.Attribute):
        node = node.value
        yield node
