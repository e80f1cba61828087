"""Where nodes go on the canvas: a layered layout, and free spots for new nodes.

The layout puts every node one column right of its deepest input (longest
path), then orders each column by the mean position of its neighbours, a few
sweeps left-to-right and back, which keeps edges short and mostly uncrossed:
readable for graphs of 30+ nodes. Node sizes mirror the canvas drawing
(``builder.js``): width ``NODE_W``, height growing with the number of ports.

Examples
--------
>>> pos = layered_layout({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
>>> [pos[k][0] for k in "abcd"]
[40.0, 280.0, 280.0, 520.0]
>>> pos["b"][1] < pos["c"][1]
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["NODE_W", "free_spot", "layered_layout", "node_height", "spot_right_of"]

NODE_W = 184.0  # keep in sync with builder.js
HEAD_H = 62.0  # title, parameter values, status line
ROW_H = 20.0
COL_GAP = 56.0
ROW_GAP = 28.0
ORIGIN = (40.0, 40.0)


def node_height(n_ports: int) -> float:
    """Height of a node drawn with ``n_ports`` input rows."""
    return HEAD_H + max(1, n_ports) * ROW_H + 8.0


def _layers(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Longest-path layer of every node (an edge closing a cycle is ignored)."""
    layer: dict[str, int] = {}
    active: set[str] = set()
    for root in deps:
        if root in layer:
            continue
        stack: list[tuple[str, list[str]]] = [(root, list(deps.get(root, ())))]
        active.add(root)
        while stack:
            k, todo = stack[-1]
            while todo and (todo[-1] in layer or todo[-1] in active or todo[-1] not in deps):
                todo.pop()
            if todo:
                d = todo.pop()
                active.add(d)
                stack.append((d, list(deps.get(d, ()))))
                continue
            stack.pop()
            active.discard(k)
            layer[k] = 1 + max((layer[d] for d in deps.get(k, ()) if d in layer), default=-1)
    return layer


def layered_layout(
    deps: Mapping[str, Sequence[str]], ports: Mapping[str, int] | None = None, sweeps: int = 4,
) -> dict[str, tuple[float, float]]:
    """Top-left corners ``(x, y)`` for every node of the DAG ``deps`` (id -> input ids)."""
    ports = ports or {}
    layer = _layers(deps)
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for k in deps:  # insertion order gives a stable first ordering
        columns[layer[k]].append(k)
    users: dict[str, list[str]] = {k: [] for k in deps}
    for k, ds in deps.items():
        for d in ds:
            if d in users:
                users[d].append(k)
    rank = {k: float(i) for col in columns for i, k in enumerate(col)}

    def reorder(col: list[str], neighbours: Mapping[str, Sequence[str]]) -> None:
        def centre(k: str) -> float:
            ns = [rank[n] for n in neighbours.get(k, ()) if n in rank]
            return sum(ns) / len(ns) if ns else rank[k]

        col.sort(key=lambda k: (centre(k), rank[k]))
        for i, k in enumerate(col):
            rank[k] = float(i)

    for _ in range(sweeps):
        for col in columns[1:]:
            reorder(col, deps)
        for col in reversed(columns[:-1]):
            reorder(col, users)
    heights = [[node_height(ports.get(k, 1)) for k in col] for col in columns]
    tallest = max((sum(h) + ROW_GAP * (len(h) - 1) for h in heights), default=0.0)
    pos: dict[str, tuple[float, float]] = {}
    for c, col in enumerate(columns):
        total = sum(heights[c]) + ROW_GAP * (len(col) - 1)
        y = ORIGIN[1] + (tallest - total) / 2  # centre each column on the tallest
        for k, h in zip(col, heights[c]):
            pos[k] = (ORIGIN[0] + c * (NODE_W + COL_GAP), round(y, 1))
            y += h + ROW_GAP
    return pos


def free_spot(taken: Iterable[tuple[float, float]], columns: int = 4) -> tuple[float, float]:
    """The first grid cell (reading order) whose node box overlaps no existing node."""
    boxes = list(taken)
    step_x, step_y = NODE_W + COL_GAP, node_height(2) + ROW_GAP
    for row in range(1000):
        for col in range(columns):
            x, y = ORIGIN[0] + col * step_x, ORIGIN[1] + row * step_y
            if all(abs(x - bx) >= NODE_W or abs(y - by) >= step_y - ROW_GAP for bx, by in boxes):
                return x, y
    return ORIGIN


def spot_right_of(x: float, y: float, taken: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """A free place one column right of ``(x, y)`` (lower if that one is used):
    adding nodes one after the other from the palette grows a readable chain."""
    boxes = list(taken)
    step_y = node_height(2) + ROW_GAP
    nx = x + NODE_W + COL_GAP
    for i in range(1000):
        ny = y + i * step_y
        if all(abs(nx - bx) >= NODE_W or abs(ny - by) >= step_y - ROW_GAP for bx, by in boxes):
            return nx, ny
    return nx, y
