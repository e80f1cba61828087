"""Keys are the same in fresh interpreters with different hash seeds (sets, bytecode constants)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _keys(seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE / 'xproc'}"}
    out = subprocess.run([sys.executable, str(HERE / "xproc" / "keys_probe.py")], env=env,
                         capture_output=True, text=True, timeout=180, check=True)
    return json.loads(out.stdout)


def test_keys_are_stable_across_processes_and_hash_seeds():
    runs = [_keys(seed) for seed in ("0", "1", "4242")]
    assert runs[0] == runs[1] == runs[2]
    assert len(set(runs[0].values())) == len(runs[0])  # and they are all different
    assert all(len(v) == 32 for v in runs[0].values())
