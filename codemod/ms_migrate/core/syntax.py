"""Small helpers to read and build LibCST expressions."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import libcst as cst

Number = Union[int, float]
MISSING = object()


def literal_value(node: cst.BaseExpression):
    """The Python value of a literal number/bool/None/tuple/list, or MISSING."""
    if isinstance(node, cst.Integer) or isinstance(node, cst.Float):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_value(node.expression)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else MISSING
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value
    if isinstance(node, (cst.Tuple, cst.List)):
        values = [literal_value(e.value) for e in node.elements if isinstance(e, cst.Element)]
        if len(values) != len(node.elements) or any(v is MISSING for v in values):
            return MISSING
        return values
    return MISSING


# The children of every node of the file being analysed, in LibCST's order, recorded by the
# one index walk (core/context.Analysis). LibCST's own `node.children` rebuilds the node to
# find them, which made every walk of a subtree cost a visitor pass (quadratic on big files).
_INDEXED: Dict[cst.CSTNode, List[cst.CSTNode]] = {}


def index_children(children: Dict[cst.CSTNode, List[cst.CSTNode]]) -> None:
    """Use `children` (node -> its children, for every node of one tree) for `children()`: set
    by the per-file analysis, reset by the engine when the file is done."""
    global _INDEXED
    _INDEXED = children


def children(node: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """`node.children`, from the index for a node of the analysed file (no rebuild); from
    LibCST for a node a rule built."""
    known = _INDEXED.get(node)
    return node.children if known is None else known


def walk(node: cst.CSTNode):
    """Every node below `node` (itself included), depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(children(current))


def is_name(node: Optional[cst.CSTNode], value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


def read_names(node: Optional[cst.CSTNode], bound: frozenset = frozenset()):
    """The Name nodes an expression reads: not attribute names, not keyword names, not a
    lambda's own parameters."""
    if node is None:
        return
    if isinstance(node, cst.Lambda):
        params = {p.name.value for p in node.params.params}
        yield from read_names(node.body, bound | params)
    elif isinstance(node, cst.Name):
        if node.value not in bound:
            yield node
    elif isinstance(node, cst.Attribute):
        yield from read_names(node.value, bound)
    elif isinstance(node, cst.Arg):
        yield from read_names(node.value, bound)
    else:
        for child in children(node):
            yield from read_names(child, bound)


def is_literal(node: cst.BaseExpression) -> bool:
    return literal_value(node) is not MISSING


def same_value(a, b) -> bool:
    """Literal equality as torch would see it (0 == 0.0, (0.9, 0.999) == [0.9, 0.999])."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or (a == b and type(a) is type(b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def format_number(value: Number) -> str:
    """Python source for a number, in the short form people write (1e-8, not 1e-08)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else ""
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
        if text.startswith("1.0e"):
            text = "1" + text[3:]
    return text


def value_expr(value) -> cst.BaseExpression:
    if isinstance(value, (list, tuple)):
        return cst.parse_expression("(" + ", ".join(format_number(v) for v in value) + ")")
    return cst.parse_expression(format_number(value))


def as_float(node: cst.BaseExpression) -> cst.BaseExpression:
    """An expression that is a Python float: `0` -> `0.0`, `x` -> `float(x)`, floats stay."""
    if isinstance(node, cst.Float):
        return node
    if isinstance(node, cst.Integer):
        return cst.Float(f"{node.evaluated_value}.0")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = as_float(node.expression)
        if isinstance(inner, (cst.Float,)):
            return node.with_changes(expression=inner)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "float":
        return node
    return cst.Call(func=cst.Name("float"), args=[cst.Arg(value=_strip_parens(node))])


def as_float_tuple(node: cst.BaseExpression) -> cst.BaseExpression:
    """A tuple of floats: literal elements are converted in place, else `tuple(map(float, x))`."""
    if isinstance(node, (cst.Tuple, cst.List)) and all(isinstance(e, cst.Element) for e in node.elements):
        elements = [e.with_changes(value=as_float(e.value)) for e in node.elements]
        return cst.Tuple(elements=elements) if isinstance(node, cst.List) else node.with_changes(elements=elements)
    return cst.parse_expression(f"tuple(map(float, {cst.Module([]).code_for_node(node)}))")


def _strip_parens(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=[], rpar=[]) if getattr(node, "lpar", None) else node


def subscript(node: cst.BaseExpression, index: int) -> cst.BaseExpression:
    return cst.Subscript(
        value=node, slice=[cst.SubscriptElement(slice=cst.Index(value=cst.Integer(str(index))))]
    )


def dotted(node: cst.BaseExpression) -> Optional[str]:
    return cst.helpers.get_full_name_for_node(node)


_ATOMIC = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString,
           cst.List, cst.Tuple, cst.Dict, cst.ListComp)


def parenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    """`node` safe to put inside any larger expression."""
    if isinstance(node, _ATOMIC) or getattr(node, "lpar", None):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class _Fill(cst.CSTTransformer):
    """Replace Names in load position (not attribute names, not keywords) by expressions."""

    def __init__(self, values) -> None:
        super().__init__()
        self.values = values
        self.wrapped = set()  # parentheses this fill added, dropped where a value stands alone

    def leave_Name(self, original, updated):
        value = self.values.get(updated.value)
        if value is None:
            return updated
        safe = parenthesized(value)
        if safe is not value:
            self.wrapped.add(safe)
        return safe

    def _bare(self, node):
        return node.with_changes(lpar=[], rpar=[]) if node in self.wrapped else node

    def leave_Attribute(self, original, updated):
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original, updated):
        return updated.with_changes(keyword=original.keyword, value=self._bare(updated.value))

    def leave_Element(self, original, updated):
        return updated.with_changes(value=self._bare(updated.value))

    def _loose(self, node):
        """Operands of comparisons and conditionals need no parentheses unless they are
        themselves comparisons, boolean operations, conditionals or lambdas."""
        return node.with_changes(lpar=[], rpar=[]) if node in self.wrapped and _binds(node) > 0 else node

    def leave_ListComp(self, original, updated):
        return updated.with_changes(elt=self._bare(updated.elt))

    def leave_IfExp(self, original, updated):
        return updated.with_changes(body=self._loose(updated.body), test=self._loose(updated.test),
                                    orelse=self._loose(updated.orelse))

    def leave_Comparison(self, original, updated):
        return updated.with_changes(left=self._loose(updated.left))

    def leave_ComparisonTarget(self, original, updated):
        return updated.with_changes(comparator=self._loose(updated.comparator))

    def leave_BinaryOperation(self, original, updated):
        """Drop the parentheses around a filled-in operand that binds tighter than the operator
        (`5 * n + 1`, not `(5 * n) + 1`)."""
        mine = _PRECEDENCE.get(type(updated.operator), 0)
        left, right = updated.left, updated.right
        if left in self.wrapped and (_binds(left) > mine or (_binds(left) == mine and mine != 7)):
            left = left.with_changes(lpar=[], rpar=[])
        if right in self.wrapped and (_binds(right) > mine or _binds(right) == mine == 7):
            right = right.with_changes(lpar=[], rpar=[])
        return updated.with_changes(left=left, right=right)

    def leave_Param(self, original, updated):
        return updated.with_changes(name=original.name)


_PRECEDENCE = {
    cst.Power: 7, cst.Multiply: 6, cst.Divide: 6, cst.FloorDivide: 6, cst.Modulo: 6, cst.MatrixMultiply: 6,
    cst.Add: 5, cst.Subtract: 5, cst.LeftShift: 4, cst.RightShift: 4, cst.BitAnd: 3, cst.BitXor: 2, cst.BitOr: 1,
}


def _binds(node: cst.BaseExpression) -> int:
    """How tightly an expression binds: operands of higher numbers need no parentheses."""
    if isinstance(node, cst.BinaryOperation):
        return _PRECEDENCE.get(type(node.operator), 0)
    if isinstance(node, _ATOMIC):
        return 9
    return 0  # unary, comparison, boolean, conditional, lambda: keep the parentheses


def fill(template: str, **values: cst.BaseExpression) -> cst.BaseExpression:
    """Parse `template` and put the given expressions in place of its UPPER-CASE names."""
    return cst.parse_expression(template).visit(_Fill(values))


def fill_names(node: cst.BaseExpression, values) -> cst.BaseExpression:
    """`node` with the named variables replaced by expressions (parenthesized as needed)."""
    return node.visit(_Fill(values))
