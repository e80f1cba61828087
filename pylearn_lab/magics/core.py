"""The ``%pylearn`` / ``%%pylearn`` magic: parse the words, call the API.

The first word picks the subcommand; its arguments are then parsed by that
subcommand's own :mod:`IPython.core.magic_arguments` parser, so a bad flag is
a one-line :class:`~IPython.core.error.UsageError` naming the subcommand.
Nothing here computes anything: each subcommand is a call into the package
(see the sibling modules).

Examples
--------
>>> _SUBCOMMANDS
('cluster', 'backend', 'cache', 'run', 'results', 'lineage', 'why', 'builder', 'sweep')

In IPython::

    %load_ext pylearn_lab
    %pylearn backend threads
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..backends.registry import (
    BACKEND_NAMES,
    current_cluster,
    get_default_backend,
    set_default_backend,
)
from ..cache.cache import get_default_cache, parse_size, set_default_cache
from ..errors import PylearnError
from . import cachecmd, cluster, sweepcmd, views
from .cell import run_cell
from .runcmd import run_command
from .session import MagicSession, MagicUsageError, substitute
from .status import status_text

__all__ = ["PylearnMagics"]


# -- one parser per subcommand (the functions only carry the parsers) -------------------------
@magic_arguments(name="%%pylearn")
@argument("-o", "--output", help="names to store and restore, comma-separated (default: all assigned)")
@argument("--backend", choices=BACKEND_NAMES, help="run the cell on this backend (default: here)")
@argument("--name", help="label of the cell in the cache and results")
@argument("--no-cache", action="store_true", help="just run the cell")
def _cell(line: str) -> None: ...


@magic_arguments(name="%pylearn cluster start")
@argument("-n", "--engines", type=int, default=None, help="number of engines")
def _cluster_start(line: str) -> None: ...


@magic_arguments(name="%pylearn cluster connect")
@argument("--profile", help="IPython profile name of the cluster")
@argument("--profile-dir", help="IPython profile directory of the cluster")
@argument("--cluster-id", help="cluster id within the profile")
@argument("--file", help="the client connection file (ipcontroller-client.json)")
def _cluster_connect(line: str) -> None: ...


@magic_arguments(name="%pylearn cluster status|stop")
def _no_args(line: str) -> None: ...


@magic_arguments(name="%pylearn backend")
@argument("name", nargs="?", choices=BACKEND_NAMES, help="default backend of this session")
def _backend(line: str) -> None: ...


@magic_arguments(name="%pylearn cache")
@argument("dir", nargs="?", help="use this cache directory (or postgresql:// URL) for the session")
@argument("--max-size", help="size cap, e.g. 2GB")
@argument("--blobs", help="a team cache's shared blob directory (with a postgresql:// URL)")
@argument("--key", help="the team key file to sign with (see docs/team.md)")
def _cache_dir(line: str) -> None: ...


@magic_arguments(name="%pylearn cache ls|clear")
@argument("func", nargs="?", help="a component/function, its name, or %%%%pylearn")
@argument("-n", "--limit", type=int, default=50, help="rows to show (ls)")
def _cache_func(line: str) -> None: ...


@magic_arguments(name="%pylearn cache trust")
@argument("dir", help="the cache directory to trust")
@argument("--key", help="a team key file shared on purpose (see docs/security.md)")
@argument("--reset", action="store_true", help="drop its entries and make it yours")
def _cache_trust(line: str) -> None: ...


@magic_arguments(name="%pylearn cache prune")
@argument("--max-size", required=True, help="keep at most this much, e.g. 2GB")
def _cache_prune(line: str) -> None: ...


@magic_arguments(name="%pylearn run")
@argument("expr", nargs="+", help="variable(s) holding expressions: a, b.c or a,b")
@argument("-o", "--output", help="store the value in this variable instead of showing it")
@argument("--backend", choices=BACKEND_NAMES, help="backend of this run")
@argument("--no-cache", action="store_true", help="compute everything, store nothing")
def _run(line: str) -> None: ...


@magic_arguments(name="%pylearn results|builder")
@argument("target", nargs="?", help="a component/function (results) or an expression (builder)")
def _optional_target(line: str) -> None: ...


@magic_arguments(name="%pylearn lineage|why")
@argument("target", help="a variable holding an expression, or a cache key")
def _target(line: str) -> None: ...


def _first_word(text: str) -> tuple[str, str]:
    """``"cache ls  f"`` -> ``("cache", "ls  f")`` (any whitespace separates)."""
    parts = text.strip().split(None, 1)
    return (parts[0], parts[1] if len(parts) > 1 else "") if parts else ("", "")


def _parse(parser_fn: Any, rest: str, sub: str) -> Any:
    try:
        return parse_argstring(parser_fn, rest)
    except UsageError as exc:
        raise MagicUsageError(f"{sub}: {exc} (see %pylearn? for usage)") from None
    except ValueError as exc:  # shlex: "No closing quotation", "No escaped character"
        raise MagicUsageError(
            f"{sub}: the arguments cannot be split into words ({exc}); expected balanced "
            "quotes, e.g. %pylearn cache \"my dir\" (see %pylearn? for usage)") from None


_MAX_LINE = 16_384


def _check_line(line: str) -> None:
    """Refuse what no argument may contain, before anything looks at it."""
    if len(line) > _MAX_LINE:
        raise MagicUsageError(f"%pylearn: the line has {len(line)} characters, expected at most "
                              f"{_MAX_LINE}; put long values in a variable and pass its name.")
    if "\0" in line:
        raise MagicUsageError("%pylearn: the line contains a NUL character, which no name or "
                              "path can hold; remove it.")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise MagicUsageError("%pylearn: the line contains a lone surrogate character (text that "
                              "is not valid Unicode); retype the name or path.") from None


_CACHE_SUBS = ("info", "ls", "clear", "prune", "verify", "trust")
_SUBCOMMANDS = ("cluster", "backend", "cache", "run", "results", "lineage", "why", "builder")
_SUBCOMMANDS += ("sweep",)  # %pylearn sweep: magics/sweepcmd.py


@magics_class
class PylearnMagics(Magics):
    """The ``%pylearn`` magics (see :meth:`pylearn` for the help text)."""

    def __init__(self, shell: Any = None, session: MagicSession | None = None) -> None:
        super().__init__(shell)
        self.session = session if session is not None else MagicSession()

    @no_var_expand  # IPython would evaluate {...}: names are looked up, paths substituted
    @line_cell_magic
    def pylearn(self, line: str = "", cell: str | None = None) -> Any:
        """pylearn_lab in a notebook: cached, parallel runs of expression graphs.

        Line magic, one subcommand per call::

          %pylearn                              one-screen status: backend, engines,
                                                cache location, size, entries, hit rate
          %pylearn cluster start [-n N]         start a local ipyparallel cluster
          %pylearn cluster connect [--profile P | --profile-dir D] [--cluster-id ID]
                                   | --file F   attach to a running cluster
          %pylearn cluster status               what the cluster reports
          %pylearn cluster stop                 stop it (or disconnect)
          %pylearn backend [serial|threads|processes|ipyparallel]
                                                the session's default backend
          %pylearn cache [DIR] [--max-size S]   show, or switch to, the session cache
          %pylearn cache info                   location, size, entries, hit rate
          %pylearn cache ls [FUNC] [-n N]       stored entries (of one function)
          %pylearn cache clear [FUNC]           remove entries (of one function)
          %pylearn cache prune --max-size 2GB   drop least recently used entries
          %pylearn cache verify                 checksum every entry, repair
          %pylearn cache trust DIR [--key FILE | --reset]
                                                trust a cache made under another key:
                                                adopt its entries (you vouch for them),
                                                use a team key file, or start it afresh
          %pylearn run EXPR [-o NAME] [--backend B] [--no-cache]
                                                run the expression(s) held in EXPR
                                                (a name, a.b, or a,b) with progress
          %pylearn results [FUNC]               experiment table of a component
          %pylearn lineage EXPR                 where a result came from
          %pylearn why EXPR                     why EXPR misses the cache
          %pylearn builder [EXPR]               the graph builder widget
          %pylearn sweep TARGET a=1,2 b=[3, 4] [--backend B] [--no-cache]
                                                a grid sweep of a component or an
                                                expression (names as in pl.sweep)

        Cell magic: the cell becomes a cached node::

          %%pylearn [-o a,b] [--backend B] [--name N] [--no-cache]

        Its key is the cell's code (comments and formatting ignored) plus the
        values of the names it reads from the namespace (functions by their
        code). On a hit, the names it assigns (or -o names) are restored without
        running it, and what it printed and displayed (figures included) is shown
        again; an input it changes in place is stored and restored too. With
        --backend the cell runs on a worker as a function of its inputs. The
        cell runs through pl.run like any node; the node is kept as _cell
        (%pylearn lineage _cell, %pylearn why _cell). A cell is cached as a
        function of its inputs: random draws without a seed are replayed, and
        side effects outside the namespace (files, module attributes) are not.
        A cell using star imports, exec/eval, globals(), __main__, magics or !cmd
        is refused (its inputs cannot be seen): use --no-cache.

        EXPR and FUNC are variable names or attribute paths, never evaluated.
        FUNC may also be a registered component's name, or %%pylearn for cells.
        Paths (DIR, --file, --profile-dir) may name a variable: {name} or $name.
        """
        _check_line(line)
        if cell is not None:
            args = _parse(_cell, line, "%%pylearn")
            return run_cell(self.shell, self.session, args, cell)
        word, rest = _first_word(line)
        if not word:
            print(self._status())
            return None
        if word not in _SUBCOMMANDS:
            raise MagicUsageError(
                f"unknown %pylearn subcommand {word!r}: expected one of {', '.join(_SUBCOMMANDS)} "
                "(see %pylearn? for usage)."
            )
        try:
            return getattr(self, f"_do_{word}")(rest)
        except MagicUsageError:
            raise
        except UsageError as exc:  # raised by a helper module: same line, one error tree
            raise MagicUsageError(str(exc)) from None
        except PylearnError:
            raise
        except (KeyError, TypeError, ValueError, RecursionError, UnicodeError, OSError) as exc:
            # the line's arguments could not be used; say so in one line, not a traceback
            raise MagicUsageError(
                f"%pylearn {word}: these arguments cannot be used ({type(exc).__name__}: "
                f"{exc}). See %pylearn? for what {word} expects.") from None

    # -- subcommands -----------------------------------------------------------------------
    @property
    def _ns(self) -> dict[str, Any]:
        """The user namespace, where names given to the magic are looked up."""
        assert self.shell is not None, "the magics are used from an IPython shell"
        return self.shell.user_ns

    def _status(self) -> str:
        return status_text(self.session, get_default_cache(), get_default_backend(),
                           current_cluster())

    def _do_cluster(self, rest: str) -> None:
        action, rest = _first_word(rest)
        if action == "start":
            args = _parse(_cluster_start, rest, "%pylearn cluster start")
            print(cluster.start(self.session, args.engines))
        elif action == "connect":
            args = _parse(_cluster_connect, rest, "%pylearn cluster connect")
            ns = self._ns
            print(cluster.connect(self.session, args.profile, args.cluster_id,
                                  args.file and substitute(ns, args.file),
                                  args.profile_dir and substitute(ns, args.profile_dir)))
        elif action in ("status", "stop"):
            _parse(_no_args, rest, f"%pylearn cluster {action}")
            print(cluster.status(self.session) if action == "status" else cluster.stop(self.session))
        else:
            raise MagicUsageError(
                f"%pylearn cluster expected start, connect, status or stop, received "
                f"{action or 'nothing'!r} (see %pylearn? for usage)."
            )

    def _do_backend(self, rest: str) -> None:
        args = _parse(_backend, rest, "%pylearn backend")
        if args.name is None:
            print(f"default backend: {get_default_backend()}")
            return
        if args.name == "ipyparallel" and current_cluster() is None:
            raise MagicUsageError(
                "backend ipyparallel needs a cluster: start one with %pylearn cluster start -n 2, "
                "or connect with %pylearn cluster connect."
            )
        set_default_backend(args.name)
        print(f"default backend: {args.name}")

    def _do_cache(self, rest: str) -> None:
        sub, tail = _first_word(rest)
        if sub not in _CACHE_SUBS:
            args = _parse(_cache_dir, rest, "%pylearn cache")
            if any(v is not None for v in (args.dir, args.max_size, args.blobs, args.key)):
                try:
                    cap = parse_size(args.max_size)
                except ValueError as exc:
                    raise MagicUsageError(f"%pylearn cache --max-size: {exc}") from None
                current = get_default_cache()
                blobs = substitute(self._ns, args.blobs) if args.blobs is not None else None
                key = substitute(self._ns, args.key) if args.key is not None else None
                if args.dir is not None:
                    where = substitute(self._ns, args.dir)
                elif current.index_url is not None:  # the team cache again, e.g. a new cap
                    where = current.index_url
                    blobs = blobs if blobs is not None else current.location
                    key = key if key is not None else getattr(current.store, "key_file", None)
                else:
                    where = current.location
                    key = key if key is not None else getattr(current.store, "key_file", None)
                set_default_cache(cachecmd.open_cache(where, cap, blobs, key))
            print(cachecmd.info_text(get_default_cache()))
            return
        if sub == "trust":
            args = _parse(_cache_trust, tail, "%pylearn cache trust")
            where = substitute(self._ns, args.dir)
            set_default_cache(cachecmd.trust(where, substitute(self._ns, args.key)
                                             if args.key else None, args.reset))
            print(cachecmd.info_text(get_default_cache()))
            return
        cache = get_default_cache()
        if sub in ("info", "verify"):
            _parse(_no_args, tail, f"%pylearn cache {sub}")
            print(cachecmd.info_text(cache) if sub == "info" else cachecmd.verify(cache))
        elif sub in ("ls", "clear"):
            args = _parse(_cache_func, tail, f"%pylearn cache {sub}")
            func = views.resolve_func(self._ns, args.func) if args.func else None
            print(cachecmd.ls_text(cache, func, args.limit) if sub == "ls"
                  else cachecmd.clear(cache, func))
        else:
            args = _parse(_cache_prune, tail, "%pylearn cache prune")
            print(cachecmd.prune(cache, args.max_size))

    def _do_run(self, rest: str) -> Any:
        return run_command(self.shell, _parse(_run, rest, "%pylearn run"))

    def _do_results(self, rest: str) -> Any:
        args = _parse(_optional_target, rest, "%pylearn results")
        return views.results_view(self._ns, args.target)

    def _do_lineage(self, rest: str) -> Any:
        args = _parse(_target, rest, "%pylearn lineage")
        return views.lineage_view(self._ns, args.target)

    def _do_why(self, rest: str) -> Any:
        args = _parse(_target, rest, "%pylearn why")
        return views.why_view(self._ns, args.target)

    def _do_builder(self, rest: str) -> Any:
        args = _parse(_optional_target, rest, "%pylearn builder")
        return views.builder_view(self._ns, args.target)


PylearnMagics._do_sweep = lambda self, rest: sweepcmd.sweep_command(self.shell, rest)  # type: ignore[attr-defined]
