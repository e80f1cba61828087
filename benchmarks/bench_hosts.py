"""P11-P12: the multi-host data plane.

* P11 -- 400 MiB of intermediates (4 chains: a 50 MiB block, then a 50 MiB
  transform of it, then a small sum) on 3 engines that run under
  ``unshare --uts --mount`` with another hostname each and see the cache
  directory at *another path* (a bind mount; the client's path is hidden from
  them), reached through ``path_map``. The nodes do trivial arithmetic, so
  moving and storing the data is what is measured. Ours: the store plane (engines read and
  write blob files, the client indexes receipts). Anchor: the same graph on
  the same engines with ``data_plane="ship"`` (every value travels through the
  notebook's process, which stores it). Measured: wall time (target >= 4x
  faster than shipping) and the client's peak resident memory above its
  baseline during the run (target <= 50 MiB), sampled every 5 ms.
* P12 -- stored throughput: 10,000 independent tiny nodes on 3 local engines,
  every result stored in the cache (keys, plan, claims, batched index writes
  included), vs raw ipyparallel ``load_balanced_view().map_sync`` of the same
  function on the same engines (nothing stored). Target >= 10,000 nodes/s.

P11 needs root (``unshare``); it prints a SKIP row otherwise.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Config, Row, median_time

__all__ = ["BENCHMARKS", "bench_p11", "bench_p12", "teardown"]

HERE = Path(__file__).resolve().parent


def make_block(seed: int, n: int) -> np.ndarray:
    """P11: a big intermediate (cheap to compute: the data plane is what is measured)."""
    return np.full(n, float(seed))


def transform(x: np.ndarray) -> np.ndarray:
    """P11: another big intermediate from the first."""
    return x + 1.0


def reduce_sum(x: np.ndarray) -> float:
    """P11: a small result."""
    return float(x.sum())


def tiny(i: int, salt: int = 0) -> int:
    """P12: a node that costs nothing."""
    return i + salt


def tiny_raw(i: int) -> int:
    """P12's anchor: the same work as :func:`tiny`."""
    return i + 1


_STARTED: list[Any] = []  # backends and engine processes to stop
_TMP: list[str] = []


def teardown() -> None:
    """Stop every cluster and engine process this module started."""
    while _STARTED:
        thing = _STARTED.pop()
        if isinstance(thing, subprocess.Popen):
            if thing.poll() is None:
                thing.terminate()
                try:
                    thing.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    thing.kill()
        else:
            thing.stop()
    while _TMP:
        shutil.rmtree(_TMP.pop(), ignore_errors=True)


def _unshare_ok() -> bool:
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--uts", "--mount", "--fork", "sh", "-c",
                        "hostname probe && mount --make-rprivate /"], capture_output=True)
    return r.returncode == 0


def _engine_elsewhere(backend: Any, hostname: str, src: str, dst: str) -> subprocess.Popen:
    """One engine with its own hostname that sees ``src`` only at ``dst``."""
    cl = backend.cluster
    url = Path(cl.profile_dir, "security", f"ipcontroller-{cl.cluster_id}-engine.json")
    steps = [f"hostname {hostname}", "mount --make-rprivate /",
             f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}",
             f"mount -t tmpfs -o size=1m pylearn-hide {shlex.quote(src)}",
             f"exec {shlex.quote(sys.executable)} -m ipyparallel.engine --file={shlex.quote(str(url))}"
             " --log-level=ERROR"]
    # --kill-child: ending unshare (teardown) ends the engine it forked, too
    proc = subprocess.Popen(["unshare", "--uts", "--mount", "--fork", "--kill-child=SIGTERM", "sh",
                             "-c", " && ".join(steps)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _STARTED.append(proc)
    return proc


class _Peak:
    def __enter__(self) -> _Peak:
        import psutil

        self._p = psutil.Process()
        self.base = self.peak = self._p.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._p.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


_SALT = [7000]


def _graph(pl: Any, n_chains: int, n: int) -> list[Any]:
    _SALT[0] += 1000
    mk, tf, rs = (pl.component(f) for f in (make_block, transform, reduce_sum))
    return [rs(tf(mk(_SALT[0] + i, n))) for i in range(n_chains)]


def bench_p11(cfg: Config) -> list[Row]:
    """P11 rows: wall time vs shipping, and the client's peak memory."""
    import gc

    import pylearn_lab as pl

    measure = "400 MiB of intermediates, 3 engines elsewhere (other host, other path)"
    if not _unshare_ok():
        return [Row("P11", measure, "ship", None, None, "s", skipped=True,
                    error="needs unshare (root on Linux) to give engines another host and path")]
    tmp = tempfile.mkdtemp(prefix="pylearn-p11-")
    _TMP.append(tmp)
    home, mnt = Path(tmp, "home"), Path(tmp, "mnt")
    home.mkdir()
    mnt.mkdir()
    b = pl.IPyParallelBackend.start(n=0, engine_timeout=60.0, path_map={str(home): str(mnt)})
    _STARTED.append(b)
    for i in range(3):
        _engine_elsewhere(b, f"node-{i}", str(home), str(mnt))
    deadline = time.monotonic() + 90
    while len(b.client.ids) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("the 3 namespaced engines did not register within 90 s")
        time.sleep(0.1)
    ship = pl.IPyParallelBackend.connect(client=b.client, data_plane="ship")
    cache = pl.Cache(home / ".pylearn")
    mib_each = cfg.pick(50, 8)
    n = mib_each * 2**20 // 8
    chains = 4  # 4 x (block + transform) = 8 intermediates
    total_mib = 2 * chains * mib_each
    pl.run(_graph(pl, 3, 1000), backend=b, cache=cache, progress=False)  # warm up: probes, imports
    seen = b.seeing_engines(cache)
    pl.run(_graph(pl, 3, 1000), backend=ship, cache=cache, progress=False)
    reps = cfg.pick(3, 1)
    times: dict[str, list[float]] = {"store": [], "ship": []}
    peaks: dict[str, list[float]] = {"store": [], "ship": []}
    hosts: set[str] = set()
    for _ in range(reps):
        for name, backend in (("store", b), ("ship", ship)):
            g = _graph(pl, chains, n)
            gc.collect()
            with _Peak() as mem:
                t0 = time.perf_counter()
                pl.run(g, backend=backend, cache=cache, progress=False, timeout=900)
                times[name].append(time.perf_counter() - t0)
            peaks[name].append(mem.mib)
            hosts.update(r.host for r in cache.records() if r.host)
            cache.clear()  # the next repeat computes (and the disk does not fill up)
    t_store, t_ship = statistics.median(times["store"]), statistics.median(times["ship"])
    peak, ship_peak = max(peaks["store"]), max(peaks["ship"])
    note = (f"{total_mib} MiB of intermediates; engines seeing the mapped path: {sorted(seen)}; "
            f"ship peak +{ship_peak:.0f} MiB; hosts in the records {sorted(hosts)}")
    return [
        Row("P11", measure, "data_plane='ship'", t_ship, t_store, "s", target=4.0, note=note),
        Row("P11", "client peak memory above baseline (store plane)", "limit", 50.0, peak, "MiB",
            target_text="<= 50 MiB", verdict=peak <= 50.0,
            note=f"shipping the same graph: +{ship_peak:.0f} MiB"),
    ]


def bench_p12(cfg: Config) -> list[Row]:
    """P12 rows: stored nodes/s vs raw ipyparallel map, and the absolute target."""
    import pylearn_lab as pl

    b = pl.IPyParallelBackend.start(n=3)
    _STARTED.append(b)
    b.client[:].execute(f"import sys; sys.path.insert(0, {str(HERE)!r})", block=True)
    tmp = tempfile.mkdtemp(prefix="pylearn-p12-")
    _TMP.append(tmp)
    cache = pl.Cache(os.path.join(tmp, "cache"))
    n = cfg.pick(10_000, 2_000)
    reps = cfg.pick(3, 1)
    view = b.client.load_balanced_view()
    view.map_sync(tiny_raw, range(30))
    t_raw = median_time(lambda: view.map_sync(tiny_raw, range(n)), reps)
    comp = pl.component(tiny)
    pl.run([comp(i, salt=1) for i in range(300)], backend=b, cache=cache, progress=False)

    def ours() -> None:
        _SALT[0] += 1_000_000
        exprs = [comp(i, salt=_SALT[0]) for i in range(n)]
        pl.run(exprs, backend=b, cache=cache, progress=False, timeout=600)

    batches0 = b.index_batches
    t_ours = median_time(ours, reps)

    def serial() -> None:  # the same run in-process: the ceiling the VM loop sets here
        _SALT[0] += 1_000_000
        pl.run([comp(i, salt=_SALT[0]) for i in range(n)], backend="serial", cache=cache,
               progress=False)

    t_serial = median_time(serial, reps)
    rate, raw_rate = n / t_ours, n / t_raw
    per_batch = n * reps / max(1, b.index_batches - batches0)
    return [
        Row("P12", f"stored throughput, {n:,} tiny nodes on 3 engines", "raw view.map_sync",
            raw_rate, rate, "nodes/s", higher_is_better=True, target=None,
            note=f"raw map stores nothing; ours stores every result (~{per_batch:,.0f} index "
                 "rows per transaction), keys and plan included"),
        Row("P12", "stored throughput vs the same run in-process", "serial backend",
            n / t_serial, rate, "nodes/s", higher_is_better=True, target=None,
            note="in-process serial run of the same graph and cache: what the VM loop and "
                 "the index cost on this machine with no cluster at all"),
        Row("P12", "stored throughput (absolute)", "target", 10_000.0, rate, "nodes/s",
            higher_is_better=True, target_text=">= 10,000 nodes/s", verdict=rate >= 10_000),
    ]


BENCHMARKS = {"P11": bench_p11, "P12": bench_p12}
