"""What a ``%%pylearn`` cell reads and assigns, found by reading its code.

A cached cell is a function of the names it reads from the notebook namespace
*before* assigning them, and its outputs are the names it assigns. Both come
from the syntax tree, never from running the cell:

* top-level statements are walked in evaluation order (``x = x + 1`` reads
  ``x`` first, then assigns it), so a name assigned before it is read is
  internal to the cell;
* names used inside functions, classes, lambdas and comprehensions defined in
  the cell are resolved with :mod:`symtable` (Python's own scoping rules): the
  ones that refer to the module scope are inputs too, unless the cell assigns
  them itself.

The normalised source is the AST dump without positions, so comments, blank
lines and formatting never change a cell's key.

Examples
--------
>>> names = analyse("y = f(x) + 1  # a comment\\nz = y * 2")
>>> names.reads, names.assigns
(('f', 'x'), ('y', 'z'))
>>> normalise("a=1") == normalise("a = 1   # same code")
True
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass

__all__ = ["DYNAMIC", "CellNames", "analyse", "dynamic_uses", "normalise"]

# Builtins that read or write names the syntax tree cannot see, and IPython's hook for
# magics and shell commands (``%time y = x`` reads ``x`` inside a string; ``!cmd`` is a
# side effect a hit cannot replay): a cell that calls them cannot be cached safely.
DYNAMIC = ("eval", "exec", "get_ipython", "globals", "locals", "vars")

# IPython's output-history names: never outputs of a cell.
_HISTORY = re.compile(r"^_+\d*$|^_i+\d*$")


@dataclass(frozen=True)
class CellNames:
    """Names a cell exchanges with the namespace.

    Attributes
    ----------
    reads : tuple of str
        Read at top level before being assigned (in order): must exist.
    free : tuple of str
        Read inside functions/classes/lambdas/comprehensions of the cell from the
        module scope, and not assigned by the cell (inputs when they exist).
    assigns : tuple of str
        Assigned at top level (in order), minus those deleted again: the outputs.
    """

    reads: tuple[str, ...]
    free: tuple[str, ...]
    assigns: tuple[str, ...]


def normalise(source: str) -> str:
    """The cell's code without comments or formatting (an AST dump).

    Examples
    --------
    >>> normalise("x = 1") == normalise("x=1\\n\\n# note")
    True
    >>> normalise("x = 1") == normalise("x = 2")
    False
    """
    return ast.dump(ast.parse(source), annotate_fields=False)


def analyse(source: str) -> CellNames:
    """Inputs and outputs of a cell of plain Python (IPython syntax already transformed).

    Raises
    ------
    SyntaxError
        When ``source`` is not valid Python.

    Examples
    --------
    >>> analyse("import math\\nr = math.sqrt(n)").reads
    ('n',)
    >>> analyse("def g():\\n    return k * 2\\nv = g()").free
    ('k',)
    >>> analyse("total = total + 1").reads, analyse("for i in xs: pass").assigns
    (('total',), ('i',))
    """
    tree = ast.parse(source)
    top = _TopLevel()
    for stmt in tree.body:
        top.visit(stmt)
    table = symtable.symtable(source, "<cell>", "exec")
    nested_reads: dict[str, None] = {}
    for child in table.get_children():
        _module_names(child, nested_reads, top)
    assigns = [n for n in top.assigned if n not in top.deleted and not _HISTORY.match(n)]
    # a name a nested ``global`` statement assigns may be read at top level before the
    # walk saw it assigned (``g()`` then ``y = made``): an input when it exists, never
    # required (more inputs only mean more misses, never a stale hit)
    reads = [n for n in top.reads if n not in top.global_stores]
    late = [n for n in top.reads if n in top.global_stores]
    free = [*late, *top.optional,
            *(n for n in nested_reads if n not in top.assigned and n not in top.reads)]
    return CellNames(tuple(reads), tuple(dict.fromkeys(free)), tuple(assigns))


def dynamic_uses(source: str) -> list[str]:
    """What in the cell reads names the analysis cannot see: ``import *``, ``__main__``
    (the notebook namespace as a module) and :data:`DYNAMIC`.

    Returns each once, as it would be written (``'from math import *'``,
    ``'exec()'``), never a name the cell binds itself; the caller decides whether a name is really the
    builtin (a user's own ``eval`` function is fine).

    Examples
    --------
    >>> dynamic_uses("from math import *\\ny = eval('1')\\nz = len([])")
    ['from math import *', 'eval()']
    >>> dynamic_uses("y = evaluate(x)")
    []
    """
    nodes = list(ast.walk(ast.parse(source)))
    own = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    own |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                    ast.ClassDef))}
    own |= {(a.asname or a.name).split(".")[0] for n in nodes
            if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    found: dict[str, None] = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            found.setdefault(f"from {'.' * node.level}{node.module or ''} import *")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and "__main__" in (
                [getattr(node, "module", None)] + [a.name for a in node.names]):
            found.setdefault("import __main__")  # the namespace itself, read by attribute
        elif isinstance(node, ast.Name) and node.id in DYNAMIC and node.id not in own:
            found.setdefault(f"{node.id}()")
    return list(found)


def _module_names(table: symtable.SymbolTable, reads: dict[str, None], top: _TopLevel) -> None:
    """Collect names that nested scopes read from (or, via ``global``, write to) the module."""
    for sym in table.get_symbols():
        name = sym.get_name()
        if sym.is_global() and sym.is_referenced():
            reads.setdefault(name)
        if sym.is_declared_global() and sym.is_assigned():
            top.store(name)
            top.global_stores.add(name)
    for child in table.get_children():
        _module_names(child, reads, top)


class _TopLevel(ast.NodeVisitor):
    """Walks top-level code in evaluation order; nested scopes are left to symtable."""

    def __init__(self) -> None:
        self.assigned: dict[str, None] = {}
        self.reads: dict[str, None] = {}
        self.deleted: set[str] = set()
        self.global_stores: set[str] = set()  # assigned by a nested ``global`` statement
        self.definite: set[str] = set()  # assigned on every path so far
        self.optional: dict[str, None] = {}  # read after a maybe-assignment: inputs if they exist
        self.cond = 0  # inside a branch (if/while/for body, try, match, a and/or operand)

    def load(self, name: str) -> None:
        if name not in self.assigned:
            self.reads.setdefault(name)
        elif name not in self.definite:  # ``if c: z = 1`` then ``y = z``: may be the old z
            self.optional.setdefault(name)

    def store(self, name: str) -> None:
        self.assigned.setdefault(name)
        self.deleted.discard(name)
        if not self.cond:
            self.definite.add(name)

    # -- branches: what they assign may not be assigned at all -----------------------------
    def _branch(self, node: ast.AST, first: str | None = None) -> None:
        if first is not None:
            self.visit(getattr(node, first))
        self.cond += 1
        for field, value in ast.iter_fields(node):
            if field == first:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self.visit(child)
        self.cond -= 1

    def visit_If(self, node: ast.If | ast.While) -> None:
        self._branch(node, "test")

    visit_While = visit_If

    def visit_Match(self, node: ast.Match) -> None:
        self._branch(node, "subject")

    def visit_Try(self, node: ast.AST) -> None:
        self._branch(node)  # the body may raise before it assigns

    visit_TryStar = visit_Try

    def visit_IfExp(self, node: ast.IfExp | ast.BoolOp) -> None:
        self._branch(node, "test" if isinstance(node, ast.IfExp) else None)

    visit_BoolOp = visit_IfExp

    # -- names ------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.store(node.id)
        else:  # Load, and Del (deleting needs the name to exist)
            self.load(node.id)
            if isinstance(node.ctx, ast.Del):
                self.deleted.add(node.id)

    # -- statements whose fields are not in evaluation order -----------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.visit(node.value)
            self.store(node.target.id)
        else:
            self.visit(node.value)
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.visit(node.target)  # a bare ``x: int`` binds nothing

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.store(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.cond += 1  # the iterable may be empty
        self.visit(node.target)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.cond -= 1

    visit_AsyncFor = visit_For

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.store(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.store(node.name)
        for stmt in node.body:
            self.visit(stmt)

    # -- match patterns bind names ---------------------------------------------------------
    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.store(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.store(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        for k in node.keys:
            self.visit(k)
        for p in node.patterns:
            self.visit(p)
        if node.rest:
            self.store(node.rest)

    # -- nested scopes: only what is evaluated at definition time ----------------------------
    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for d in [*args.defaults, *(k for k in args.kw_defaults if k is not None)]:
            self.visit(d)
        if not isinstance(node, ast.Lambda):
            for dec in node.decorator_list:
                self.visit(dec)
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    self.visit(a.annotation)
            if node.returns is not None:
                self.visit(node.returns)
            self.store(node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._definition(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._definition(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for n in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(n)
        self.store(node.name)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        # The first iterable is evaluated in the enclosing scope; the rest is a nested scope.
        self.visit(node.generators[0].iter)
        self.cond += 1  # zero iterations bind nothing
        for walrus in (n for n in ast.walk(node) if isinstance(n, ast.NamedExpr)):
            self.store(walrus.target.id)  # := in a comprehension binds in the enclosing scope
        self.cond -= 1

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension
