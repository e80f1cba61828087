"""Sphinx configuration for the pylearn_lab docs (built by ``./lab docs``).

The API reference is generated from the code itself: at every build this file
writes one page per subpackage that exists under ``pylearn_lab/`` (plus the
top-level package and ``pylearn_lab.errors``) into ``docs/api/_generated/``,
each an ``automodule`` of that module's ``__all__``. A subpackage that is added
later appears without touching the docs; one that does not exist yet in a
checkout is simply not listed (git does not keep empty folders).

Hand-written pages are Markdown (MyST) or reStructuredText files directly in
``docs/``; the index picks them all up with a glob.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PACKAGE = "pylearn_lab"
GENERATED = DOCS / "api" / "_generated"

# Import the checkout being documented, even without an installed package.
sys.path.insert(0, str(ROOT))

project = "pylearn_lab"
author = "the pylearn_lab authors"
copyright = "the pylearn_lab authors"


def _version() -> str:
    # Read pyproject.toml rather than import the package: a broken import should
    # show up as an autodoc warning on the API page, not as a crash here. (A regex,
    # not tomllib, which Python 3.10 lacks.)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
    return match.group(1) if match else "unknown"


release = version = _version()

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "README.md"]

# --- autodoc + numpydoc -----------------------------------------------------------------

autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
# Docstrings state types in numpydoc form ("x : int"); keep signatures short and do not
# add a second, autodoc-made parameter list next to numpydoc's.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# The same object is documented where it is defined and where it is re-exported
# (``pylearn_lab.Expr`` and ``pylearn_lab.graph.Expr``); an ambiguous short reference
# between the two is harmless, so do not fail the build on it.
suppress_warnings = ["ref.python"]

# --- MyST (Markdown pages) -------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# --- HTML -------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"pylearn_lab {release}"
html_static_path: list[str] = []
html_show_sourcelink = False

# --- the generated API pages ------------------------------------------------------------

# Reading order for the reference: foundations first, Jupyter adapters last. Subpackages
# that are not in this list follow in alphabetical order.
_ORDER = [
    "errors",
    "hashing",
    "graph",
    "cache",
    "vm",
    "backends",
    "jobs",
    "experiments",
    "components",
    "magics",
    "widgets",
]


def _modules() -> list[str]:
    """Documentable modules of the checkout: subpackages with an ``__init__.py``."""
    pkg = ROOT / PACKAGE
    found = {p.parent.name for p in pkg.glob("*/__init__.py")}
    if (pkg / "errors.py").exists():
        found.add("errors")
    rank = {name: i for i, name in enumerate(_ORDER)}
    return sorted(found, key=lambda n: (rank.get(n, len(_ORDER)), n))


def _summary(path: Path) -> str:
    """First line of a module's docstring, read without importing it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0].rstrip(".") if doc else ""


def _exports(module: str) -> list[tuple[str, object]]:
    """``(name, object)`` for the module's ``__all__``; empty when it does not import.

    A module that fails to import is left to autodoc, which reports it as a warning
    on its page (and so fails the build) with the real error.
    """
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - reported by autodoc, see above
        return []
    found = []
    for name in getattr(mod, "__all__", None) or []:
        # A lazy module __getattr__ may import (and fail) here; autodoc reports it.
        with contextlib.suppress(Exception):
            found.append((name, getattr(mod, name)))
    return found


def _documented_once(modules: list[str]) -> dict[str, dict[str, str]]:
    """For each module, its exported classes and functions documented on an earlier page.

    ``pylearn_lab.Expr`` and ``pylearn_lab.graph.Expr`` are one class: documenting it
    twice would register its canonical name twice (a duplicate-object warning), and
    show the reader the same text twice. Each class or function is documented on the
    first page that exports it (the top-level public API first, then the subpackages
    in reading order); later pages link to it instead. Returns
    ``{module: {name: documented_as}}``.
    """
    home: dict[int, str] = {}
    elsewhere: dict[str, dict[str, str]] = {}
    for module in modules:
        elsewhere[module] = {}
        for name, obj in _exports(module):
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue  # constants: no canonical name, and ids of small values collide
            if id(obj) in home:
                elsewhere[module][name] = home[id(obj)]
            else:
                home[id(obj)] = f"{module}.{name}"
    return elsewhere


def _page(module: str, elsewhere: dict[str, str]) -> str:
    title = f"``{module}``"
    text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module}\n"
    if elsewhere:
        text += f"   :exclude-members: {', '.join(elsewhere)}\n"
        links = ", ".join(f":py:obj:`{name} <{target}>`" for name, target in elsewhere.items())
        text += f"\n.. rubric:: Also exported here, documented where first listed\n\n{links}\n"
    return text


def _write_if_changed(path: Path, text: str) -> None:
    # Rewriting an unchanged file would make Sphinx think every page changed.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _generate_api_pages() -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    pkg = ROOT / PACKAGE
    sources = {}
    if (pkg / "__init__.py").exists():
        sources[PACKAGE] = pkg / "__init__.py"
    for name in _modules():
        is_pkg = (pkg / name).is_dir()
        sources[f"{PACKAGE}.{name}"] = pkg / name / "__init__.py" if is_pkg else pkg / f"{name}.py"
    elsewhere = _documented_once(list(sources))
    pages = {module: _page(module, elsewhere[module]) for module in sources}
    for stale in GENERATED.glob("*.rst"):
        if stale.stem not in pages:
            stale.unlink()
    for docname, text in pages.items():
        _write_if_changed(GENERATED / f"{docname}.rst", text)
    # The API index includes this: a hidden toctree for the sidebar and a list with
    # each module's one-line summary for the reader.
    toc = "".join(f"   _generated/{module}\n" for module in pages)
    listing = "".join(
        f"- :doc:`_generated/{module}` — {_summary(source) or 'no module docstring yet'}\n"
        for module, source in sources.items()
    )
    _write_if_changed(
        GENERATED / "toctree.inc",
        f".. toctree::\n   :hidden:\n\n{toc}\n{listing}" if pages else "(No modules yet.)\n",
    )


_generate_api_pages()
