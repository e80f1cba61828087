"""The layering of ARCHITECTURE.md, the curated public API, and a light core.

Layers (module-level imports only; a function may import upward lazily, as
``Expr.compute`` does to reach the VM)::

    errors <- hashing <- graph <- cache <- backends <- vm <- experiments <- jobs

``components`` sits on ``graph``; ``magics`` and ``widgets`` are adapters on top
of everything. The ARCHITECTURE draft put ``backends`` above ``vm``; the code
taught otherwise: backends only run callables, and the VM drives them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pylearn_lab

PKG = Path(pylearn_lab.__file__).parent
ORDER = ["errors", "hashing", "graph", "cache", "backends", "vm", "experiments", "jobs"]
ALLOWED = {layer: set(ORDER[: i + 1]) for i, layer in enumerate(ORDER)}
ALLOWED["components"] = {"errors", "hashing", "graph", "components"}
ALLOWED["demo"] = set(ORDER) | {"components", "demo"}
# training loops sit on graph (cache and VM reached lazily), so the shipped models can use them
ALLOWED["training"] = {"errors", "hashing", "graph", "training"}
ALLOWED["components"] = ALLOWED["components"] | {"training"}
ALLOWED["sklearn"] = set(ORDER) | {"sklearn"}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "pylearn_lab" else None


def _top_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PKG.parent).with_suffix("")
    package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts[:-1])
    if rel.name == "__init__":
        package = ".".join(rel.parts[:-1])
    out = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
    return out


def test_layers_import_only_downward():
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        layer = rel.parts[0].removesuffix(".py")
        if layer not in ALLOWED:
            continue  # magics, widgets, the package __init__: adapters on top
        for mod in _top_level_imports(path):
            target = _layer_of(mod)
            if target is not None and target not in ALLOWED[layer]:
                problems.append(f"{rel} imports {mod} ({layer} -> {target})")
    assert not problems, "\n".join(problems)


def _all_imports(path: Path) -> list[str]:
    """Every pylearn_lab import of a module, at any depth (lazy ones in functions too)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    package = ".".join(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            out.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m.startswith("pylearn_lab.")]


# The backend modules that handle the VM's tasks (backends/capabilities.py: the task plane):
# the planes themselves, and the engine-side executor and receipts they use. Only these may
# take anything from the VM, and only vm.task, lazily.
TASK_PLANE_MODULES = {
    "backends/task_plane.py",  # dask and the queue: execute/execute_batch with node keys named
    "backends/ipp/plane.py",  # ipyparallel: the store data plane
    "backends/ipp/blobs.py",  # runs execute on an engine over blob files
    "backends/ipp/jobs.py",  # a timed-out task's receipts
    "backends/ipp/packing.py",  # finds user code inside tasks
    "backends/ipp/remote.py",  # receipts of a task an engine cannot unpickle
}


def test_backends_reach_the_vm_only_for_the_task_executor():
    # Backends run callables; the one thing they take from the VM, lazily, is the task
    # executor their workers run (vm.task). Anything else upward is a backend knowing the VM.
    problems = []
    for path in sorted((PKG / "backends").rglob("*.py")):
        for mod in _all_imports(path):
            if _layer_of(mod) not in ALLOWED["backends"] and mod != "pylearn_lab.vm.task":
                problems.append(f"{path.relative_to(PKG)} imports {mod}")
            elif _layer_of(mod) == "vm" and path.relative_to(PKG).as_posix() not in \
                    TASK_PLANE_MODULES:
                problems.append(f"{path.relative_to(PKG)} imports {mod} but is no task-plane "
                                "module (a backend's submit runs callables; VM tasks take "
                                "its capabilities().task_plane)")
    assert not problems, "\n".join(problems)


def test_the_ipyparallel_package_is_a_subpackage_with_lazy_entry():
    assert (PKG / "backends" / "ipp" / "__init__.py").is_file()
    assert not list((PKG / "backends").glob("ipp_*.py")), "ipyparallel modules belong in backends/ipp/"
    code = ("import sys, pylearn_lab.backends.ipp.packing, pylearn_lab.backends.dask_backend, "
            "pylearn_lab.backends.queue_backend\n"
            "print('ipyparallel' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the shared wire modules never pull ipyparallel in


def test_core_imports_no_jupyter_or_cluster_library():
    code = (
        "import sys, pylearn_lab, pylearn_lab.components, pylearn_lab.jobs, pylearn_lab.vm\n"
        "from pylearn_lab import run, component, Cache\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'traitlets', 'ipyparallel', 'anywidget')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_pinned():
    assert sorted(pylearn_lab.__all__) == sorted(set(pylearn_lab.__all__))
    for name in pylearn_lab.__all__:
        assert getattr(pylearn_lab, name) is not None, name
    core = {"component", "Expr", "Graph", "run", "pipeline", "call", "hash_value", "Cache",
            "IPyParallelBackend", "NodeError", "UnhashableError", "load_ipython_extension"}
    assert core <= set(pylearn_lab.__all__)


def test_no_utils_modules():
    assert not [p for p in PKG.rglob("*.py") if p.stem in ("utils", "util", "helpers", "misc")]


def test_every_error_derives_from_the_one_tree():
    from pylearn_lab import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PylearnError), name
        assert name in errors.__doc__, f"{name} missing from the tree drawn in errors.__doc__"


_VM_NAMES = {"execute", "execute_batch", "execute_pickled", "Task", "Receipt"}


def test_backend_submit_methods_know_nothing_of_the_vm():
    # submit(fn, *args) runs a callable: no VM names, no isinstance checks on what it is given
    problems = []
    for path in sorted((PKG / "backends").rglob("*.py")):
        for cls in [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)]:
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "submit"):
                    continue
                where = f"{path.relative_to(PKG)}: {cls.name}.submit"
                names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
                problems += [f"{where} names {v}" for v in sorted(names & _VM_NAMES)]
                params = {a.arg for a in (*fn.args.args[1:], *fn.args.kwonlyargs)} | \
                    {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
                for n in ast.walk(fn):
                    if isinstance(n, ast.Import | ast.ImportFrom):
                        problems.append(f"{where} imports {ast.unparse(n)}")
                    inspects = (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and
                                n.func.id in ("isinstance", "hasattr", "getattr")) or \
                        isinstance(n, ast.Compare)
                    if inspects and {m.id for m in ast.walk(n) if isinstance(m, ast.Name)} & params:
                        problems.append(f"{where} inspects what it is given: {ast.unparse(n)}")
    assert not problems, "\n".join(problems)


def test_the_vm_reads_the_backend_through_its_capabilities_only():
    # one report per run (backends/capabilities.py), not getattr/isinstance probes
    problems = []
    for path in sorted((PKG / "vm").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id in ("getattr", "hasattr", "isinstance") and node.args and \
                    "backend" in ast.unparse(node.args[0]):
                problems.append(f"vm/{path.name}:{node.lineno} {ast.unparse(node)}")
            if node.func.id == "isinstance" and "Executor" in ast.unparse(node):
                problems.append(f"vm/{path.name}:{node.lineno} {ast.unparse(node)}")
    assert not problems, "\n".join(problems)
