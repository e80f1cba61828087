"""The JSON form of a graph: save, share, load (the builder's file format).

A spec names each node's component by qualified name and stores its bound
arguments as JSON; an edge is ``{"$ref": "<node id>"}``, a tuple is
``{"$tuple": [...]}``. Loading looks components up in the registry and calls
them again, so keys are recomputed from the code as it is now.

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def seven() -> int:
...     return 7
>>> g = seven().graph
>>> graph_from_json(graph_to_json(g)).outputs == g.outputs
True
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any

from ..errors import CycleError, PylearnError, SpecError, UnknownComponentError
from .nodes import Ref, iter_refs, map_refs
from .registry import lookup

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["graph_to_json", "graph_from_json", "parse_spec", "encode_literal", "decode_literal",
           "SPEC_VERSION"]

SPEC_VERSION = 1


def encode_literal(value: Any, where: str) -> Any:
    """A literal argument as JSON (``where`` names it in errors); Refs become ``{"$ref": id}``."""
    if isinstance(value, Ref):
        return {"$ref": value.key}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            # the exact bits: a NaN's sign and payload are part of its hash
            return {"$float": struct.pack(">d", value).hex()}
        return value
    if type(value) is tuple:
        return {"$tuple": [encode_literal(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_literal(v, where) for v in value]
    if type(value) is dict and all(isinstance(k, str) for k in value):
        if any(k.startswith("$") for k in value):
            raise SpecError(f"{where}: dict keys starting with '$' are reserved in graph specs")
        return {k: encode_literal(v, where) for k, v in value.items()}
    raise SpecError(
        f"{where}: a graph spec stores JSON-like literals (numbers, strings, lists, dicts, "
        f"tuples), received {type(value).__name__}. Make the value a component's output "
        "(e.g. a dataset loader) instead of a literal."
    )


_MAX_DEPTH = 200  # literal nesting a spec may use (JSON itself stops near 1,000)
_MAX_NAME = 400


def decode_literal(value: Any, where: str = "the spec", _depth: int = 0) -> Any:
    """Inverse of :func:`encode_literal`.

    Raises
    ------
    SpecError
        A ``$ref``/``$tuple``/``$float`` marker of the wrong shape, or nesting
        deeper than 200 levels.
    """
    if _depth > _MAX_DEPTH:
        raise SpecError(f"{where}: literals nested more than {_MAX_DEPTH} levels deep; expected "
                        "a flatter value (build it in a component instead).")
    if isinstance(value, list):
        return [decode_literal(v, where, _depth + 1) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            if not isinstance(value["$ref"], str):
                raise SpecError(f"{where}: a {{'$ref': ...}} must name a node id (a string), "
                                f"received {value['$ref']!r:.60}.")
            return Ref(value["$ref"])
        if set(value) == {"$tuple"}:
            if not isinstance(value["$tuple"], list):
                raise SpecError(f"{where}: a {{'$tuple': ...}} must hold a list, received "
                                f"{type(value['$tuple']).__name__}.")
            return tuple(decode_literal(v, where, _depth + 1) for v in value["$tuple"])
        if set(value) == {"$float"}:
            text = value["$float"]
            if isinstance(text, str) and len(text) == 16 and all(c in "0123456789abcdef" for c in text):
                return struct.unpack(">d", bytes.fromhex(text))[0]
            try:
                return float(text)
            except (TypeError, ValueError):
                raise SpecError(f"{where}: a {{'$float': ...}} must hold 16 hex digits or a "
                                f"number, received {text!r:.60}.") from None
        return {k: decode_literal(v, where, _depth + 1) for k, v in value.items()}
    return value


def graph_to_json(graph: "Graph", meta: dict[str, Any] | None = None, indent: int | None = 1) -> str:
    """Serialise ``graph`` (and optional ``meta``, e.g. node positions) to JSON text."""
    nodes = []
    for key in graph.toposort():
        call = graph[key]
        qual = graph.expr(key).component.qualname if key in graph._exprs else call.label
        where = f"node {call.label} [{key[:12]}]"
        nodes.append({
            "id": key,
            "component": qual,
            "args": [encode_literal(a, where) for a in call.args],
            "kwargs": {k: encode_literal(v, where) for k, v in call.kwargs.items()},
        })
    doc = {"pylearn_graph": SPEC_VERSION, "nodes": nodes, "outputs": list(graph.outputs)}
    if meta:
        doc["meta"] = meta
    return json.dumps(doc, indent=indent)


def parse_spec(text: str | bytes) -> dict[str, Any]:
    """Parse and check the shape of a graph spec (JSON, version, nodes with id and component).

    Raises
    ------
    SpecError
        The text is not JSON, or not a graph spec.
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise SpecError(f"expected the text of a JSON graph spec (str or bytes), received "
                        f"{type(text).__name__}. Read the file first, e.g. Path(p).read_text().")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise SpecError(
            f"expected a JSON graph spec, received text that is not JSON ({exc}). "
            "Load a file written by Graph.to_json() or GraphBuilder.save()."
        ) from None
    except RecursionError:
        raise SpecError(
            "expected a JSON graph spec, received JSON nested too deeply to read. "
            "Load a file written by Graph.to_json() or GraphBuilder.save()."
        ) from None
    if not isinstance(doc, dict) or doc.get("pylearn_graph") != SPEC_VERSION or not isinstance(
        doc.get("nodes"), list
    ):
        got = sorted(doc)[:5] if isinstance(doc, dict) else type(doc).__name__
        raise SpecError(
            f"expected a graph spec with 'pylearn_graph': {SPEC_VERSION} and a 'nodes' list, "
            f"received {got!r}. Load a file written by Graph.to_json() or GraphBuilder.save()."
        )
    seen: set[str] = set()
    for i, n in enumerate(doc["nodes"]):
        if not isinstance(n, dict) or not {"id", "component"} <= set(n):
            raise SpecError(f"node #{i} of the spec needs 'id' and 'component', received {n!r:.80}")
        if not isinstance(n["id"], (str, int)) or isinstance(n["id"], bool):
            raise SpecError(f"node #{i} of the spec: 'id' must be a string, received {n['id']!r:.60}")
        if not isinstance(n["component"], str) or not 0 < len(n["component"]) <= _MAX_NAME:
            raise SpecError(f"node #{i} of the spec: 'component' must be a component name (a "
                            f"string of 1-{_MAX_NAME} characters), received {n['component']!r:.60}")
        if not isinstance(n.get("args", []), list):
            raise SpecError(f"node #{i} of the spec: 'args' must be a list, received "
                            f"{type(n['args']).__name__}")
        kwargs = n.get("kwargs", {})
        if not isinstance(kwargs, dict) or not all(k.isidentifier() for k in kwargs):
            raise SpecError(f"node #{i} of the spec: 'kwargs' must map argument names to values, "
                            f"received {kwargs!r:.60}")
        if str(n["id"]) in seen:
            raise SpecError(f"node #{i} of the spec repeats the id {n['id']!r:.40}; ids must be unique")
        seen.add(str(n["id"]))
    outputs = doc.get("outputs")
    if outputs is not None and (not isinstance(outputs, list) or not all(
            isinstance(o, (str, int)) and not isinstance(o, bool) and str(o) in seen for o in outputs)):
        raise SpecError(f"the spec's 'outputs' must list ids of its nodes, received {outputs!r:.80}")
    return doc


def graph_from_json(text: str | bytes) -> "Graph":
    """Rebuild a graph from :func:`graph_to_json` text.

    Raises
    ------
    SpecError
        The text is not a graph spec (not JSON, wrong shape, unknown version).
    UnknownComponentError
        A node names a component that is not registered.
    CycleError
        The nodes refer to each other in a loop.
    """
    from .expr import Expr
    from .graph import Graph

    doc = parse_spec(text)
    raw: dict[str, dict[str, Any]] = {}
    for n in doc["nodes"]:
        raw[str(n["id"])] = n
    built: dict[str, Expr] = {}
    state: dict[str, int] = {}

    def build(node_id: str, path: list[str]) -> Expr:
        if node_id in built:
            return built[node_id]
        if node_id not in raw:
            raise SpecError(f"the spec refers to node {node_id!r}, which it does not define")
        if state.get(node_id) == 1:
            loop = " -> ".join(raw[p]["component"] for p in path[path.index(node_id):] + [node_id])
            raise CycleError(f"the graph spec has a cycle: {loop}. Remove one of these edges.")
        state[node_id] = 1
        n = raw[node_id]
        where = f"node {node_id[:12]!r} of the spec"
        args = decode_literal(n.get("args", []), where)
        kwargs = decode_literal(n.get("kwargs", {}), where)
        for ref in iter_refs((args, kwargs)):
            build(ref.key, path + [node_id])
        try:
            comp = lookup(n["component"])
        except UnknownComponentError as exc:
            raise UnknownComponentError(f"node {node_id[:12]} of the spec: {exc}") from None
        swap = lambda r: built[r.key]  # noqa: E731
        try:
            expr = comp(*map_refs(args, swap), **map_refs(kwargs, swap))
        except PylearnError:
            raise
        except Exception as exc:  # a component's own checks, in its words
            raise SpecError(f"{where}: calling {n['component']} with its arguments failed "
                            f"({type(exc).__name__}: {exc}). Fix the arguments in the spec.") from None
        state[node_id] = 2
        built[node_id] = expr
        return expr

    try:
        for node_id in raw:
            build(node_id, [])
    except RecursionError:
        raise SpecError(
            "the graph spec chains its nodes too deeply to load (thousands of nodes in one line "
            "of dependencies); expected a graph of moderate depth."
        ) from None
    outputs = doc.get("outputs") or list(raw)
    return Graph.from_exprs([built[str(o)] for o in outputs])
