"""What a code object *does*, as a digest: the live bytecode, canonicalised.

A function is identified by the code that runs, never by the text of a file:
a module edited on disk after import, a cell re-run with other text, code
``exec``'d from a string and code rebuilt by cloudpickle on an engine
(``<dynamic-code>``) are all described by the code object they actually hold.
So the same code gets the same identity wherever it comes from, and the
identity cannot describe a newer (or older) text than the one that computes.

The fingerprint walks the instructions and feeds each opcode with its
*resolved* argument: the constant itself (canonically: a ``frozenset``
constant by its sorted members, so ``PYTHONHASHSEED`` never leaks in), the
name, the jump target or, for a nested code object (an inner function, a
lambda, a comprehension), that code's own fingerprint. Line numbers, column
tables and the docstring do not count, so comments, blank lines, formatting
and docstrings leave the identity alone; everything the interpreter executes
does count.

Known limit: bytecode is specific to the Python minor version, so the same
function has another identity under Python 3.12 than under 3.11 (a cache
shared between interpreters of different minor versions does not share hits
for user functions; it never serves a wrong one).

Examples
--------
>>> f = lambda x: x + 1
>>> g = lambda x: x + 1  # same code at another place
>>> code_fingerprint(f.__code__) == code_fingerprint(g.__code__)
True
>>> code_fingerprint((lambda x: x + 2).__code__) == code_fingerprint(f.__code__)
False
"""

from __future__ import annotations

import dis
import sys
import types
import weakref
from typing import Any

from .digest import new_digest

__all__ = ["code_fingerprint", "const_text"]

_MEMO: weakref.WeakKeyDictionary[types.CodeType, str] = weakref.WeakKeyDictionary()
_PY = f"py{sys.version_info.major}.{sys.version_info.minor}"
# Code objects whose first constant is the docstring slot (a def, not a lambda,
# comprehension, module or class body): that slot holds the docstring or None.
_FUNCTION_FLAGS = 0x0002  # CO_NEWLOCALS
# __future__ compiler flags only matter through the bytecode they produce (fed anyway);
# an exec'd string inherits its caller's, a file does not.
_RUNTIME_FLAGS = 0xFFFF


def code_fingerprint(code: types.CodeType) -> str:
    """Hex digest of what ``code`` executes (see the module docstring).

    Parameters
    ----------
    code : types.CodeType
        A function's ``__code__`` (or any code object).

    Returns
    -------
    str
        32 hex characters, equal for equal bytecode in any process and seed.

    Examples
    --------
    >>> def f(x):
    ...     '''One docstring.'''
    ...     return x in {"a", "b"}
    >>> first = f.__code__
    >>> def f(x):
    ...     '''Another docstring.'''
    ...     return (x in
    ...             {"b", "a"})  # formatted otherwise
    >>> code_fingerprint(first) == code_fingerprint(f.__code__)
    True
    """
    hit = _MEMO.get(code)
    if hit is not None:
        return hit
    d = new_digest()
    d.update(_PY.encode())
    d.update(repr((code.co_name, code.co_argcount, code.co_posonlyargcount,
                   code.co_kwonlyargcount, code.co_flags & _RUNTIME_FLAGS, code.co_varnames,
                   code.co_freevars, code.co_cellvars, code.co_names)).encode())
    d.update(code.co_exceptiontable if hasattr(code, "co_exceptiontable") else b"")
    doc_slot = (code.co_flags & _FUNCTION_FLAGS and not code.co_name.startswith("<")
                and sys.version_info < (3, 14))
    for ins in dis.get_instructions(code):
        d.update(b"\0" + ins.opname.encode() + b"\1")
        if ins.arg is None:
            continue
        if ins.opcode in dis.hasconst:
            # by value always, the docstring slot too: no instruction loads a docstring, so a
            # load from slot 0 is a string the code uses that happens to equal its docstring
            # (``'a'; return 'a'``) -- it used to be skipped, and two such functions returning
            # other strings shared one identity
            d.update(const_text(ins.argval).encode("utf-8", "surrogatepass"))
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            d.update(repr(ins.argval).encode())  # the target offset: no line numbers in it
        elif isinstance(ins.argval, str):
            d.update(ins.argval.encode("utf-8", "surrogatepass"))
        else:
            d.update(repr(ins.arg).encode())
    # Constants no instruction loads (3.11 keeps KW_NAMES tuples and nested code there too).
    consts = code.co_consts[1:] if doc_slot else code.co_consts
    d.update(b"\2" + "\0".join(const_text(c) for c in consts).encode("utf-8", "surrogatepass"))
    out = d.hexdigest()
    try:
        _MEMO[code] = out
    except TypeError:
        pass
    return out


def const_text(c: Any) -> str:
    """Canonical text of one code constant (type-tagged, seed-independent order).

    Examples
    --------
    >>> const_text(frozenset({"b", "a"})) == const_text(frozenset({"a", "b"}))
    True
    >>> const_text(1) == const_text(1.0), const_text(0.0) == const_text(-0.0)
    (False, False)
    """
    if isinstance(c, types.CodeType):
        return "code:" + code_fingerprint(c)
    if isinstance(c, frozenset):
        return "frozenset{" + ",".join(sorted(const_text(x) for x in c)) + "}"
    if isinstance(c, tuple):
        return "tuple(" + ",".join(const_text(x) for x in c) + ")"
    if isinstance(c, float):
        return "float:" + c.hex()
    if isinstance(c, complex):
        return f"complex:{c.real.hex()},{c.imag.hex()}"
    return f"{type(c).__name__}:{c!r}"
