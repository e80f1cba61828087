"""The Binder configuration (``binder/``), checked piece by piece without Docker.

repo2docker installs ``binder/requirements.txt`` from the repository root into a
Python given by ``binder/runtime.txt``, then runs ``binder/postBuild`` with
``NB_PYTHON_PREFIX`` set to the notebook environment. Each step is reproduced
here as far as it can be on this machine: the requirements must resolve from
scratch, postBuild must run against a scratch prefix and place its files where
JupyterLab and IPython read them, and those files must be what those programs
accept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _requirement_lines() -> list[str]:
    text = (BINDER / "requirements.txt").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def _project() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


# --- runtime.txt and requirements.txt --------------------------------------------------


def test_runtime_pins_python_311() -> None:
    assert (BINDER / "runtime.txt").read_text(encoding="utf-8").strip() == "python-3.11"


def test_runtime_satisfies_requires_python() -> None:
    from packaging.specifiers import SpecifierSet

    assert "3.11" in SpecifierSet(_project()["requires-python"])


def test_requirements_install_the_project_and_jupyterlab() -> None:
    # With a binder/ folder repo2docker ignores pyproject.toml: "." must be listed.
    lines = _requirement_lines()
    assert "." in lines
    assert any(line.startswith("jupyterlab") for line in lines)


def test_requirements_resolve_from_scratch(tmp_path: Path) -> None:
    # Slow-ish (about 5 s): resolves the whole Binder environment as if nothing were
    # installed, and builds the project's metadata from "." like repo2docker does.
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            "binder/requirements.txt",
        ],
        cwd=ROOT,
        env={**os.environ, "PIP_NO_INPUT": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = {
        item["metadata"]["name"].lower().replace("-", "_"): item["metadata"]["version"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert installed.get("pylearn_lab") == _project()["version"]
    assert "jupyterlab" in installed and "ipykernel" in installed
    for dependency in ("numpy", "ipyparallel", "ipywidgets", "anywidget"):
        assert dependency in installed, f"{dependency} missing from the Binder environment"


# --- postBuild --------------------------------------------------------------------------


def _run_post_build(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HOME": str(tmp_path / "home"),
        "IPYTHONDIR": str(tmp_path / "home" / ".ipython"),
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        ["bash", str(BINDER / "postBuild")],
        cwd=ROOT,
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch notebook environment prefix that postBuild has run against."""
    tmp = tmp_path_factory.mktemp("binder")
    prefix = tmp / "prefix"
    proc = _run_post_build(tmp, NB_PYTHON_PREFIX=str(prefix))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pylearn_lab" in proc.stdout and "imports" in proc.stdout
    return prefix


def test_post_build_is_strict_bash() -> None:
    lines = (BINDER / "postBuild").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert os.access(BINDER / "postBuild", os.X_OK), "postBuild must be executable"


def test_post_build_installs_lab_overrides(prefix: Path) -> None:
    placed = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert placed.read_bytes() == (BINDER / "overrides.json").read_bytes()


def test_post_build_installs_ipython_config(prefix: Path) -> None:
    placed = prefix / "etc" / "ipython" / "ipython_config.json"
    assert placed.read_bytes() == (BINDER / "ipython_config.json").read_bytes()


def test_post_build_without_prefix_fails_clearly(tmp_path: Path) -> None:
    proc = _run_post_build(tmp_path)
    assert proc.returncode != 0
    assert "NB_PYTHON_PREFIX" in proc.stderr


# --- overrides.json: what JupyterLab accepts -------------------------------------------


def test_overrides_match_jupyterlab_schemas() -> None:
    # Each key is "<package>:<plugin>"; JupyterLab ships the plugin's JSON schema under
    # <prefix>/share/jupyter/lab/schemas/<package>/<plugin>.json. A typo in a plugin id
    # or a wrong value type (fetchNews is the *string* "false") fails here.
    jsonschema = pytest.importorskip("jsonschema")
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    if not schemas.is_dir():
        pytest.skip(f"JupyterLab's schemas are not installed under {schemas}")
    overrides = json.loads((BINDER / "overrides.json").read_text(encoding="utf-8"))
    assert overrides, "overrides.json is empty"
    for plugin_id, settings in overrides.items():
        package, _, plugin = plugin_id.partition(":")
        schema_file = schemas / package / f"{plugin}.json"
        assert schema_file.is_file(), f"no JupyterLab plugin {plugin_id!r} ({schema_file})"
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        for name in settings:
            assert name in schema.get("properties", {}), f"{plugin_id} has no setting {name!r}"
        jsonschema.validate(settings, schema)


def test_overrides_silence_news_and_update_checks() -> None:
    overrides = json.loads((BINDER / "overrides.json").read_text(encoding="utf-8"))
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


# --- ipython_config.json: what IPython loads -------------------------------------------

# Starts IPython's own application with its environment config dir pointed at a given
# folder (standing in for <NB_PYTHON_PREFIX>/etc/ipython, which IPython derives from
# sys.prefix) and reports what the MagicsManager ended up with.
_PROBE = r"""
import json, sys
from IPython.core import application
real_env_dirs = list(application.ENV_CONFIG_DIRS)
application.ENV_CONFIG_DIRS[:] = [sys.argv[1]]
from IPython.terminal.ipapp import TerminalIPythonApp
app = TerminalIPythonApp.instance()
app.initialize(["--no-banner", "--colors=nocolor"])
out = {
    "real_env_dirs": real_env_dirs,
    "prefix": sys.prefix,
    "pylearn": app.shell.magics_manager.lazy_magics.get("pylearn"),
}
if sys.argv[2:] == ["--use"]:
    # What typing %pylearn does first: look the magic up, loading it lazily.
    out["magic_found"] = app.shell.find_line_magic("pylearn") is not None
print(json.dumps(out))
"""


def _probe_ipython(config_dir: Path, tmp_path: Path, *args: str) -> dict:
    (tmp_path / "home").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(config_dir), *args],
        env={
            **os.environ,
            "HOME": str(tmp_path / "home"),
            "IPYTHONDIR": str(tmp_path / "home" / ".ipython"),
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ipython_reads_config_from_the_environment_prefix(tmp_path: Path) -> None:
    # Why postBuild writes to <NB_PYTHON_PREFIX>/etc/ipython: it is where IPython looks.
    probe = _probe_ipython(tmp_path / "empty", tmp_path)
    assert probe["real_env_dirs"] == [os.path.join(probe["prefix"], "etc", "ipython")]
    assert probe["pylearn"] is None  # nothing configured: no %pylearn


def test_ipython_config_declares_lazy_pylearn_magic(prefix: Path, tmp_path: Path) -> None:
    probe = _probe_ipython(prefix / "etc" / "ipython", tmp_path)
    assert probe["pylearn"] == "pylearn_lab"


def test_pylearn_magic_loads_on_first_use(prefix: Path, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.find_spec("pylearn_lab.magics")
    if spec is None or spec.origin is None:  # missing, or an empty namespace folder
        pytest.skip("pylearn_lab.magics is not written yet")
    probe = _probe_ipython(prefix / "etc" / "ipython", tmp_path, "--use")
    assert probe["magic_found"] is True
