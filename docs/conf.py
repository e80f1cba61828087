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
copyright = "the pylearn_lab authors"  # noqa: A001 - Sphinx's name for it


def _version() -> str:
    # Read pyproject.toml rather than import the package: a broken import should
    # show up as an autodoc warning on the API page, not as a crash here.
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


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
    "lineage",
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


def _page(module: str) -> str:
    title = f"``{module}``"
    return f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module}\n"


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
    pages = {module: _page(module) for module in sources}
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
