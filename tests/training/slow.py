"""An importable slow training for control and cluster tests (engines import it by name)."""

from __future__ import annotations

import time

import numpy as np

from pylearn_lab import component
from pylearn_lab.training import Trainer, each


@component
def slow_fit(epochs: int = 50, pause: float = 0.02, seed: int = 0) -> dict:
    """A 4-weight random walk toward zero, ``pause`` seconds per step."""
    def step(s: dict, t: int, rng: np.random.Generator) -> dict:
        time.sleep(pause)
        s["w"] = 0.9 * s["w"] + 0.1 * rng.normal(size=4)
        return {"norm": float(np.abs(s["w"]).sum()), "t": float(t)}

    r = Trainer(lambda rng: {"w": rng.normal(size=4)}, step, epochs, seed=seed, length="epochs",
                checkpoint=each(10)).run()
    return {"w": r.state["w"], "norm": r.history["norm"], "from": r.resumed_from}

