"""Valid variations of a module for the fuzz layer (tests/test_fuzz_modules.py): the same code
wrapped in functions, classes, decorators and blocks, and re-spaced (tabs, CRLF, comments,
blank and trailing-whitespace lines). Every mutation keeps the code valid Python as far as its
own text goes; callers still check `is_valid` (a mutation may, e.g., indent a `__future__`
import into a function)."""

from __future__ import annotations

import io
import re
import tokenize
import warnings
from typing import Callable, Dict, List, Set

TRIGGER_COMMENT = "# optim (this comment makes ms-migrate parse the file)\n"


def is_valid(source) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning: invalid escape sequence
            compile(source, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _tokens(source: str):
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []


def statement_lines(source: str) -> Set[int]:
    """0-based numbers of the lines where a statement starts (a line may be inserted above)."""
    starts: Set[int] = set()
    at_start = True
    for token in _tokens(source):
        if token.type == tokenize.NEWLINE:
            at_start = True
        elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                                tokenize.ENDMARKER) and at_start:
            starts.add(token.start[0] - 1)
            at_start = False
    return starts


def line_ends(source: str) -> Set[int]:
    """0-based numbers of the lines that end with a NEWLINE or NL token and hold no comment
    (a comment may be added at their end: not inside a string, not after a backslash)."""
    ends: Set[int] = set()
    commented: Set[int] = set()
    for token in _tokens(source):
        if token.type in (tokenize.NEWLINE, tokenize.NL):
            ends.add(token.start[0] - 1)
        elif token.type == tokenize.COMMENT:
            commented.add(token.start[0] - 1)
    return ends - commented


def _indent(source: str, prefix: str = "    ") -> str:
    """Every line that holds code indented by `prefix` (lines inside strings too: their text
    changes, the code stays valid); blank lines stay blank."""
    lines = source.splitlines(keepends=True)
    return "".join(prefix + line if line.strip() else line for line in lines)


def _body(source: str) -> str:
    return source if source.strip() else "pass\n"


WRAPPERS: Dict[str, Callable[[str], str]] = {
    "def": lambda s: "def wrapped():\n" + _indent(_body(s)),
    "decorated_def": lambda s: "@functools.lru_cache(maxsize=None)\n@other.decorator\ndef wrapped(model, train_loader):\n" + _indent(_body(s)),
    "async_def": lambda s: "async def wrapped():\n" + _indent(_body(s)),
    "class": lambda s: "class Wrapped:\n" + _indent(_body(s)),
    "method": lambda s: "class Trainer(Base):\n    def fit(self):\n" + _indent(_body(s), "        "),
    "if_true": lambda s: "if True:\n" + _indent(_body(s)),
    "with": lambda s: "with context() as ctx:\n" + _indent(_body(s)),
    "try": lambda s: "try:\n" + _indent(_body(s)) + "except Exception:\n    raise\n",
    "for": lambda s: "for run in range(3):\n" + _indent(_body(s)),
    "nested_def": lambda s: "def outer():\n    def inner():\n" + _indent(_body(s), "        ") + "    return inner\n",
    "main_guard": lambda s: "if __name__ == '__main__':\n" + _indent(_body(s)),
}


def _map_lines(source: str, change: Callable[[int, str], str]) -> str:
    return "".join(change(i, line) for i, line in enumerate(source.splitlines(keepends=True)))


def _indent_unit(source: str) -> int:
    """The smallest indentation of a statement line (4 when nothing is indented)."""
    lines = source.splitlines()
    widths = [len(lines[i]) - len(lines[i].lstrip(" ")) for i in statement_lines(source) if i < len(lines)]
    return min([w for w in widths if w > 0], default=4)


def tabs(source: str) -> str:
    """Each leading group of spaces as wide as one indentation level becomes a tab."""
    unit = _indent_unit(source)

    def change(_i: int, line: str) -> str:
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        return "\t" * (spaces // unit) + " " * (spaces % unit) + stripped
    return _map_lines(source, change)


def two_spaces(source: str) -> str:
    def change(_i: int, line: str) -> str:
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        return " " * (spaces // 2 if spaces % 4 == 0 else spaces) + stripped
    return _map_lines(source, change)


def crlf(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\n", "\r\n")


def no_final_newline(source: str) -> str:
    return source.rstrip("\r\n")


def trailing_spaces(source: str) -> str:
    """Spaces and a tab at the end of every line that does not end in a backslash."""
    def change(_i: int, line: str) -> str:
        body = line.rstrip("\r\n")
        if body.endswith("\\"):
            return line
        return body + " \t " + line[len(body):]
    return _map_lines(source, change)


def comments(source: str) -> str:
    """A comment line above every statement, and a comment at the end of each line that can
    take one."""
    starts, ends = statement_lines(source), line_ends(source)

    def change(i: int, line: str) -> str:
        body = line.rstrip("\r\n")
        newline = line[len(body):]
        indent = body[: len(body) - len(body.lstrip())]
        above = f"{indent}# fuzz: a comment line{newline or chr(10)}" if i in starts else ""
        after = "  # fuzz: trailing" if i in ends and body.strip() else ""
        return above + body + after + newline
    return _map_lines(source, change)


def blank_lines(source: str) -> str:
    """Extra empty lines above statements."""
    starts = statement_lines(source)
    return _map_lines(source, lambda i, line: "\n" + line if i in starts else line)


def whitespace_only_lines(source: str) -> str:
    """Lines holding only spaces above statements."""
    starts = statement_lines(source)
    return _map_lines(source, lambda i, line: "   \n" + line if i in starts else line)


def semicolons(source: str) -> str:
    """`pass;` in front of simple statements at statement starts (a line of two statements)."""
    starts = statement_lines(source)
    compound = ("if ", "elif ", "else", "for ", "while ", "def ", "class ", "with ", "try", "except",
                "finally", "@", "async ", "#", "match ", "case ", "from __future__")

    def change(i: int, line: str) -> str:
        body = line.lstrip()
        if i not in starts or body.startswith(compound) or body.startswith(('"', "'")):
            return line
        return line[: len(line) - len(body)] + "pass; " + body
    return _map_lines(source, change)


def header(source: str) -> str:
    """A shebang, a coding cookie and a module docstring above everything."""
    if source.startswith(("from __future__", '"""', "'''")):
        return source
    return "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\"\"\"Fuzzed module.\"\"\"\n" + source


# Every name ms-migrate may introduce (imports, list variables, the comprehension index).
INTRODUCED = ("nn", "ops", "Tensor", "mstype", "dtype", "mindspore", "math", "py_math", "ms_nn", "ms_ops",
              "steps_per_epoch", "lr_schedule", "lr_schedule_group", "i", "m", "step_index", "peak_step",
              "initial_lr", "min_lr", "len", "float", "min", "max", "sum", "range")
BUILTINS = ("len", "float", "min", "max", "sum", "range")


def taken_names_local(source: str) -> str:
    """A function at the end whose parameters and locals use every name the tool introduces."""
    params = ", ".join(INTRODUCED[:12])
    body = "".join(f"    {name} = None\n" for name in INTRODUCED[12:])
    return _ensure_newline(source) + f"\n\ndef uses_the_names({params}):\n{body}    return nn\n"


def taken_names_global(source: str) -> str:
    """Module-level bindings, at the end, of the names the tool would import or create."""
    names = [n for n in INTRODUCED if n not in BUILTINS]
    return _ensure_newline(source) + "\n" + " = ".join(names) + " = None\n"


def _ensure_newline(source: str) -> str:
    return source if not source or source.endswith(("\n", "\r")) else source + "\n"


def _assignments(source: str) -> Dict[int, int]:
    """0-based line -> byte column where the value starts, for each `target = value` statement
    that fills its line alone."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    lines = source.splitlines()
    found: Dict[int, int] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and node.lineno == node.end_lineno
                and node.lineno <= len(lines)):
            text = lines[node.lineno - 1].encode("utf-8")
            if (text[: node.col_offset].strip() == b"" and text[node.end_col_offset:].strip() == b""
                    and node.value.lineno == node.lineno):
                found[node.lineno - 1] = node.value.col_offset
    return found


def _split_values(source: str, render: Callable[[str, str, str, str], str]) -> str:
    where = _assignments(source)

    def change(i: int, line: str) -> str:
        if i not in where:
            return line
        body = line.rstrip("\r\n")
        newline = line[len(body):] or "\n"
        raw = body.encode("utf-8")
        head = raw[: where[i]].decode("utf-8").rstrip()
        if not head.endswith("="):
            return line
        indent = body[: len(body) - len(body.lstrip())]
        return render(indent, head, raw[where[i]:].decode("utf-8").rstrip(), newline)
    return _map_lines(source, change)


def paren_values(source: str) -> str:
    """`x = value` on one line becomes `x = (` / `    value` / `)`."""
    return _split_values(source, lambda ind, head, value, nl: f"{head} ({nl}{ind}    {value}{nl}{ind}){nl}")


def backslash_values(source: str) -> str:
    """`x = value` on one line becomes `x = \\` / `        value`."""
    return _split_values(source, lambda ind, head, value, nl: f"{head} \\{nl}{ind}        {value}{nl}")


def unicode_text(source: str) -> str:
    """Non-ASCII comments and strings (the output must keep the file's encoding)."""
    text = "# données: café, naïve, Å\nlabel = 'naïve'\n"
    if source.startswith(("from __future__", '"""', "'''")):
        return _ensure_newline(source) + text
    return text + source


def split_brackets(source: str) -> str:
    """A line break (and deeper indentation) after every opening bracket and every comma inside
    brackets: calls, lists and arguments spread over lines, as formatters leave them."""
    breaks: Dict[int, List[int]] = {}  # 0-based line -> columns after which to break
    depth = 0
    for token in _tokens(source):
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            depth += 1
            breaks.setdefault(token.end[0] - 1, []).append(token.end[1])
        elif token.string in ")]}":
            depth = max(0, depth - 1)
        elif token.string == "," and depth > 0:
            breaks.setdefault(token.end[0] - 1, []).append(token.end[1])

    def change(i: int, line: str) -> str:
        if i not in breaks:
            return line
        body = line.rstrip("\r\n")
        newline = line[len(body):] or "\n"
        indent = body[: len(body) - len(body.lstrip())] + "        "
        pieces, last = [], 0
        for column in sorted(breaks[i]):
            pieces.append(body[last:column])
            last = column
        pieces.append(body[last:])
        return (newline + indent).join(piece if k == 0 else piece.lstrip() for k, piece in enumerate(pieces)) + line[len(body):]
    return _map_lines(source, change)


_FROM_IMPORT = re.compile(r"^(\s*from\s+[\w.]+\s+import\s+)([\w, ]+?)\s*(\r?\n?)$")


def paren_imports(source: str) -> str:
    """`from m import a, b` becomes `from m import (` / `    a,  # a` / `    b,` / `)`."""
    single = statement_lines(source) & line_ends(source)

    def change(i: int, line: str) -> str:
        match = _FROM_IMPORT.match(line) if i in single else None
        if not match or "__future__" in line:
            return line
        head, names, newline = match.groups()
        newline = newline or "\n"
        indent = head[: len(head) - len(head.lstrip())]
        items = [n.strip() for n in names.split(",") if n.strip()]
        body = "".join(f"{indent}    {name},  # {name.split()[-1]}{newline}" for name in items)
        return f"{head}({newline}{body}{indent}){newline}"
    return _map_lines(source, change)


MUTATIONS: Dict[str, Callable[[str], str]] = {
    "paren_imports": paren_imports,
    "split_brackets": split_brackets,
    "taken_names_local": taken_names_local,
    "taken_names_global": taken_names_global,
    "paren_values": paren_values,
    "backslash_values": backslash_values,
    "unicode_text": unicode_text,

    "tabs": tabs,
    "two_spaces": two_spaces,
    "crlf": crlf,
    "no_final_newline": no_final_newline,
    "trailing_spaces": trailing_spaces,
    "comments": comments,
    "blank_lines": blank_lines,
    "whitespace_only_lines": whitespace_only_lines,
    "semicolons": semicolons,
    "header": header,
}


def apply(source: str, steps: List[str]) -> str:
    """`source` through the named wrappers and mutations, in order."""
    for step in steps:
        source = (WRAPPERS.get(step) or MUTATIONS[step])(source)
    return source
