"""The experiment record: what the cache knows about the call behind a result.

Every entry of the cache is a row of the experiment database: which function
(and which version of its code) ran with which parameters and inputs, when,
where and for how long, and a small JSON summary of the value (scalars and
dicts of scalars) so tables can be built without loading results.

Examples
--------
>>> summarise_value({"acc": 0.9, "loss": 0.1})
{'acc': 0.9, 'loss': 0.1}
>>> summarise_value(3)
{'value': 3}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from collections.abc import Mapping
from typing import Any

import numpy as np

from .jsonenc import encoder

__all__ = ["Record", "summarise_value", "summarise_param", "RECORD_FIELDS", "ESTIMATOR_TAG",
           "TEXT_COLS", "JSON_COLS", "REAL_COLS", "RECORD_COLS", "SIGNED_COLS", "SignedRecord", "record_values", "insert_checked",
           "ENTRY_COLUMNS", "INSERT_COLS", "entries_ddl"]

# The key under which an estimator-like argument's summary names its class; the
# results table shows it as column ``p`` and its parameters as ``p__name``.
ESTIMATOR_TAG = "__estimator__"


@dataclass
class Record:
    """One cache entry as an experiment row.

    Attributes
    ----------
    key : str
        The node key.
    func : str
        ``module.qualname`` of the function.
    func_digest : str
        The function identity digest (changes when its code does).
    version : str
        A user label (``@component(version=...)``) or a short code digest.
    params : dict
        JSON-able summary of literal arguments (arrays as ``"array<f8[3, 4]>"``).
    inputs : dict
        ``parameter -> upstream key`` for arguments fed by other nodes.
    func_parts : dict
        What went into the function identity (see ``why``).
    summary : dict
        JSON-able summary of the value (scalars, dicts of scalars, shapes).
    created, duration : float
        Wall-clock time of storing (epoch seconds) and seconds spent computing.
    host, pid, engine : str, int, str
        Where it ran.
    size : int
        Stored bytes.
    kind : str
        ``"ndarray"`` or ``"pickle"``.
    label : str
        Short name of the component.
    last_access : float
        Epoch seconds of the last hit (approximate: updated in batches).
    """

    key: str
    func: str = ""
    func_digest: str = ""
    version: str = ""
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    func_parts: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    duration: float = 0.0
    host: str = ""
    pid: int = 0
    engine: str = ""
    size: int = 0
    kind: str = ""
    last_access: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-able)."""
        return asdict(self)


    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Record":
        """The record of an index row given as a dict (JSON columns decoded); keys
        that are not record fields (``checksum``, ``mac``...) are left out."""
        return cls(**{k: v for k, v in row.items() if k in _FIELDS})


RECORD_FIELDS = tuple(Record.__dataclass_fields__)
_FIELDS = frozenset(RECORD_FIELDS)

# -- the one schema of an index row -----------------------------------------------------
# Every index (SQLite, PostgreSQL) builds its table, its signed row and its record
# queries from these tuples; their ORDER is part of the row MAC (SIGNED_COLS), so it
# never changes -- new fields are appended.
#: record columns stored as text
TEXT_COLS = ("func", "func_digest", "version", "label", "host", "engine")
#: record columns stored as compact JSON (decoded to dicts when read)
JSON_COLS = ("params", "inputs", "func_parts", "summary")
#: record columns stored as floating point
REAL_COLS = ("created", "duration")
#: the columns a record query reads: exactly the fields of :class:`Record`
RECORD_COLS = ("key", "kind", "size", "last_access", "pid", *TEXT_COLS, *REAL_COLS, *JSON_COLS)
#: the columns the row MAC covers, in order (everything but ``last_access`` and the bytes)
SIGNED_COLS = ("key", "kind", "size", "checksum", "blob", "gen", "func", "func_digest",
               "version", "label", "params", "inputs", "func_parts", "summary", "created",
               "duration", "host", "pid", "engine")
#: every column of an index's entries table, in table (and insert) order, with its
#: abstract type; each index maps the types to its SQL (:func:`entries_ddl`)
ENTRY_COLUMNS: dict[str, str] = {
    "key": "key", "kind": "text!", "size": "int!", "checksum": "text!", "blob": "text",
    "inline": "bytes", "mac": "text!", "gen": "gen",
    **{c: "text" for c in TEXT_COLS[:4]}, **{c: "json" for c in JSON_COLS},
    **{c: "real" for c in REAL_COLS}, "host": "text", "pid": "int", "engine": "text",
    "last_access": "real",
}
INSERT_COLS = tuple(ENTRY_COLUMNS)
if set(RECORD_COLS) != _FIELDS or len(RECORD_COLS) != len(_FIELDS):  # pragma: no cover
    raise ImportError("the index schema (RECORD_COLS) and the Record dataclass disagree")
if not set(SIGNED_COLS) | set(RECORD_COLS) <= set(ENTRY_COLUMNS):  # pragma: no cover
    raise ImportError("a signed or record column is not a column of the entries table")


def entries_ddl(sql_types: Mapping[str, str]) -> str:
    """The column list of an entries table, with ``sql_types`` mapping the abstract
    types of :data:`ENTRY_COLUMNS` to one database's SQL.

    Examples
    --------
    >>> entries_ddl({t: t.upper() for t in set(ENTRY_COLUMNS.values())})[:30]
    'key KEY, kind TEXT!, size INT!'
    """
    return ", ".join(f"{c} {sql_types[t]}" for c, t in ENTRY_COLUMNS.items())


class SignedRecord(dict):  # type: ignore[type-arg]
    """A record whose column values were already computed (and signed) by the store:
    :func:`record_values` returns them as they are instead of encoding the record's
    JSON columns a second time (a batch of receipts pays the encoding once per row).

    Examples
    --------
    >>> r = SignedRecord(func="m.f")
    >>> r.row_values = ("m.f",)
    >>> record_values(r, now=0.0)
    ('m.f',)
    """

    row_values: tuple[Any, ...] = ()


def record_values(record: Mapping[str, Any], now: float) -> tuple[Any, ...]:
    """The record columns of a row, as stored (and signed), in ``SIGNED_COLS`` order
    after ``gen``.

    Examples
    --------
    >>> record_values({"func": "m.f", "params": {"a": 1}, "created": 5.0}, now=9.0)[:5]
    ('m.f', '', '', '', '{"a":1}')
    """
    if isinstance(record, SignedRecord) and record.row_values:
        return record.row_values
    return (
        *(str(record.get(c, "") or "") for c in TEXT_COLS[:4]),
        *(dumps(record.get(c) or {}) for c in JSON_COLS),
        float(record.get("created") or now), float(record.get("duration") or 0.0),
        str(record.get("host", "")), int(record.get("pid") or 0), str(record.get("engine", "")),
    )


_SCALARS = (bool, int, float, str, type(None))


def _scalar(v: Any) -> Any:
    if isinstance(v, np.generic) and v.ndim == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v if isinstance(v, _SCALARS) else None


def summarise_param(value: Any) -> Any:
    """A JSON-able stand-in for a literal argument (kept exact when it is plain data)."""
    s = _scalar(value)
    if s is not None or value is None:
        return s
    if isinstance(value, np.ndarray):
        return f"array<{value.dtype}{list(value.shape)}>"
    if isinstance(value, (list, tuple)) and len(value) <= 20:
        return [summarise_param(v) for v in value]
    if isinstance(value, dict) and len(value) <= 20:
        return {str(k): summarise_param(v) for k, v in value.items()}
    estimator = _summarise_estimator(value)
    if estimator is not None:
        return estimator
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _summarise_estimator(value: Any) -> dict[str, Any] | None:
    """A scikit-learn-style estimator: its class name and flat ``get_params(deep=True)``.

    Nested estimators appear by class name under their own key (``svc``) and
    through their parameters (``svc__C``); lists of them (a Pipeline's ``steps``)
    are left out, their content being in those keys already.
    """
    get = getattr(value, "get_params", None)
    if isinstance(value, type) or not callable(get):
        return None
    try:
        params = get(deep=True)
    except Exception:  # a half-built or exotic object: fall back to its repr
        return None
    if not isinstance(params, dict) or len(params) > 200:
        return None
    out: dict[str, Any] = {ESTIMATOR_TAG: type(value).__qualname__}
    for k, v in params.items():
        if callable(getattr(v, "get_params", None)) and not isinstance(v, type):
            out[str(k)] = type(v).__qualname__
        elif isinstance(v, (list, tuple)) and any(hasattr(x, "get_params") or (
                isinstance(x, tuple) and any(hasattr(y, "get_params") for y in x)) for x in v):
            continue
        else:
            out[str(k)] = summarise_param(v)
    return out


def summarise_value(value: Any) -> dict[str, Any]:
    """Scalars and flat dicts of scalars, kept as JSON for the results table.

    A value whose type defines ``__pylearn_summary__()`` summarises itself (a
    ``%%pylearn`` cell's value shows its outputs).
    """
    own = getattr(type(value), "__pylearn_summary__", None)
    if own is not None:
        return dict(own(value))
    s = _scalar(value)
    if s is not None:
        return {"value": s}
    if isinstance(value, dict):
        out = {str(k): _scalar(v) for k, v in list(value.items())[:50]}
        out = {k: v for k, v in out.items() if v is not None}
        if out:
            return out
    if isinstance(value, np.ndarray):
        return {"type": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype)}
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


#: one encoder for every record column, built once (:mod:`.jsonenc`): json.dumps(...,
#: separators=) sets one up per call, most of the cost of a small column
_ENCODE = encoder((",", ":"), default=str)


def dumps(obj: Any) -> str:
    """Compact JSON for record columns."""
    return "{}" if obj == {} and type(obj) is dict else _ENCODE(obj)


def insert_checked(execute: Any, row: tuple[Any, ...], now: float, *, present: str, tomb: str,
                   insert: str) -> bool:
    """Insert one ``(key, kind, size, checksum, blob, inline, mac, record, gen, publish)``
    row inside an open write transaction, with the checks every index makes: not when
    the key is present (``present`` SQL), not when deleted after its generation began
    (``tomb`` SQL); ``publish`` (the blob file's rename) runs just before the row.
    The SQL is the index's own (table names, placeholders); ``execute`` its cursor's.
    """
    key, kind, size, checksum, blob, inline, mac, record, gen, publish = row
    if execute(present, (key,)).fetchone():
        return False
    dead = execute(tomb, (key,)).fetchone()
    if dead is not None and dead[0] >= gen:
        return False
    if publish is not None:
        publish()
    execute(insert, (key, kind, size, checksum, blob, inline, mac, gen,
                     *record_values(record, now), now))
    return True
