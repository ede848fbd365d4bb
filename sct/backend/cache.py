"""The persistent cache: generated gradient code on disk, reused by later processes.

Like numba's ``cache=True`` and JAX's persistent compilation cache. An entry
holds the generated source of one compiled variant, its compiled (marshalled)
code and how to rebuild every object the code refers to. It is keyed by a
hash of everything the generated code was made from:

* the function's code object and the text of the file it came from, and the
  same for every function the compile relied on (callees, closure values),
  with their defaults; the identities of the globals it resolved (by module
  and name), the types of the plain data globals it reads, closure values;
* the argument signature, the positions differentiated by and the options (for a variant
  compiled for one call, the pattern of its argument dimensions: the entry holds the facts
  about them its code relies on, :mod:`sct.analysis.shapes`);
* sct's own source (the size and modification time of each of its files, as
  Python's ``.pyc`` files are checked), the rules users registered, and the
  versions of sct, Python, NumPy, gast (and SciPy, when loaded).

Only what can be rebuilt exactly is cached: constants, modules, objects that
are module attributes by name (sct's helpers, user functions and rules), and
code sct generated. Anything else (a closure holding an array, a lambda rule,
an object argument) makes the variant uncacheable, never wrong.

``SCT_CACHE_DIR`` sets the directory (default ``$XDG_CACHE_HOME/sct`` or
``~/.cache/sct``); ``SCT_CACHE=0`` turns the cache off. Entries are written to a
temporary file and renamed into place, so concurrent processes are safe.

The cache is bounded (``SCT_CACHE_MAX_MB``, default 512; ``0`` or ``off``: no bound)
without a scan of the directory per store: each store appends one byte per 256 bytes it
wrote to a small file (``.stored``, O_APPEND: atomic across processes), whose size is
then the estimate of the cache's; where it passes the bound, one process (under a
lock where the platform has one) scans the directory, removes the least recently used
entries down to :data:`TARGET` of the bound and writes the estimate afresh. A load
touches its entry's modification time (at most once a minute), which is the order of
use. A load whose entry goes meanwhile is a miss; an entry already open reads whole.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import sysconfig
import tempfile
import time
import types

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None

import gast
import numpy as np

from .. import version
from ..errors import SctError
from ..rules import table
from . import codegen, dispatch
from .variants import Callee, Compiled, _global_names, _guards

FORMAT = 2  # bump when the layout of an entry changes
SUFFIX = ".sct"
STATS = {"hits": 0, "misses": 0, "stores": 0, "uncacheable": 0}
_DATA = (int, float, complex, str, bytes, bool, type(None))
DEFAULT_MAX_MB = 512.0
TARGET = 0.8  # an automatic prune leaves this much of the bound, so that the next one is far away
TOUCH_EVERY = 60.0  # seconds: a load refreshes its entry's modification time at most this often
ESTIMATE = ".stored"  # one byte per UNIT bytes stored since the last scan (plus the size it found)
UNIT = 256  # rounded up a store: fine enough that entries of 1 KiB are not counted as 2
LOCK = ".prune.lock"
BOOKKEEPING = (ESTIMATE, LOCK)  # the files in the cache directory besides entries (and temporary files)
STALE_TEMPORARY = 3600.0  # seconds: a temporary file this old was left by a process that died
_RUN_TIME = frozenset({"last", "lock"})  # attributes of sct's objects (sct.custom) set while running, not compiling


class Uncacheable(Exception):
    """What a variant relies on cannot be described (for the key) or rebuilt (for an entry)."""


# ---- where ------------------------------------------------------------------------------
def enabled() -> bool:
    return os.environ.get("SCT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off", "")


def directory() -> str:
    """``SCT_CACHE_DIR``, else ``$XDG_CACHE_HOME/sct``, else ``~/.cache/sct``."""
    given = os.environ.get("SCT_CACHE_DIR")
    if given:
        return os.path.abspath(os.path.expanduser(given))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sct")


def entries(path: str | None = None) -> list[str]:
    """The entry files in the cache directory."""
    path = directory() if path is None else path
    try:
        names = os.listdir(path)
    except OSError:
        return []
    return sorted(os.path.join(path, n) for n in names if n.endswith(SUFFIX))


def clear(path: str | None = None) -> int:
    """Remove every entry (and leftover temporary file); returns how many entries went."""
    path = directory() if path is None else path
    removed = 0
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    for n in names:
        if n.endswith(SUFFIX) or n.startswith(".tmp-") and n.endswith(SUFFIX + ".part") or n == ESTIMATE:
            try:
                os.remove(os.path.join(path, n))
                removed += n.endswith(SUFFIX)
            except OSError:
                pass
    return removed


# ---- the bound -----------------------------------------------------------------------------
def limit() -> int | None:
    """The bound in bytes (``SCT_CACHE_MAX_MB``, default 512 MB), or None where there is none."""
    given = os.environ.get("SCT_CACHE_MAX_MB")
    if given is None or not given.strip():
        return int(DEFAULT_MAX_MB * 2**20)
    text = given.strip().lower()
    if text in ("0", "off", "none", "no"):
        return None
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0 or megabytes == float("inf"):
        raise SctError(f"SCT_CACHE_MAX_MB={given!r}: give the bound in MB (a number >= 0), or 0 or 'off' for none")
    return int(megabytes * 2**20) if megabytes > 0 else None


def usage(path: str | None = None) -> tuple[int, int]:
    """(entries, bytes) in the cache directory: a scan."""
    found = _scan(directory() if path is None else path)
    return len(found), sum(size for _, size, _ in found)


def _scan(path: str) -> list:
    """``(modification time, size, path)`` of each entry; stale temporary files are removed on the way."""
    found, now = [], time.time()
    try:
        items = list(os.scandir(path))
    except OSError:
        return []
    for item in items:
        try:
            if item.name.endswith(SUFFIX):
                stat = item.stat()
                found.append((stat.st_mtime, stat.st_size, item.path))
            elif item.name.startswith(".tmp-") and now - item.stat().st_mtime > STALE_TEMPORARY:
                os.remove(item.path)
        except OSError:  # gone meanwhile (another process pruned or replaced it)
            continue
    return found


def prune(max_bytes: int | None = None, path: str | None = None, target: float = 1.0) -> tuple[int, int]:
    """Remove the least recently used entries until the cache holds at most ``target * max_bytes``
    (default: the bound; None: no bound, nothing removed). Returns (entries removed, bytes removed)."""
    path = directory() if path is None else path
    max_bytes = limit() if max_bytes is None else max_bytes
    with _locked(path) as mine:
        if not mine:  # another process is pruning this directory now
            return 0, 0
        found = _scan(path)
        total = sum(size for _, size, _ in found)
        removed = freed = 0
        if max_bytes is not None:
            goal = int(max_bytes * target)
            for _, size, entry in sorted(found):  # oldest use first
                if total - freed <= goal:
                    break
                try:
                    os.remove(entry)
                except FileNotFoundError:  # another process removed or replaced it
                    pass
                except OSError:  # open elsewhere, where the platform forbids removing it: kept
                    continue
                removed, freed = removed + 1, freed + size
        _reset_estimate(path, total - freed)
    return removed, freed


class _locked:
    """``with _locked(path) as mine``: ``mine`` is False where another process holds the prune lock."""

    def __init__(self, path: str):
        self.path, self.handle = path, None

    def __enter__(self) -> bool:
        if fcntl is None:  # no advisory locks here: concurrent prunes only repeat each other's work
            return True
        try:
            self.handle = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # no directory, or no lock there: prune anyway (removing is safe)
            pass
        return True

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            os.close(self.handle)  # releases the lock


def _reset_estimate(path: str, size: int) -> None:
    """Write the estimate afresh: ``size`` bytes, one byte per ``UNIT`` (stores meanwhile are forgotten)."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".estimate", dir=path)
        with os.fdopen(handle, "wb") as file:
            file.truncate(-(-size // UNIT))
        os.replace(temporary, os.path.join(path, ESTIMATE))
    except OSError:
        pass


def _count(path: str, size: int, bound: int | None) -> None:
    """Count ``size`` bytes just stored; prune where the estimate passes ``bound``.

    Counted without a bound too: the estimate stays right for when one is set."""
    estimate = os.path.join(path, ESTIMATE)
    try:
        handle = os.open(estimate, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:  # a directory never scanned (or cleared): its size is not known yet
        if bound is not None:
            prune(bound, path, TARGET)
        return
    except OSError:
        return
    try:
        os.write(handle, b"\0" * -(-size // UNIT))  # one write with O_APPEND: no store is lost to another
        stored = os.fstat(handle).st_size * UNIT
    except OSError:
        return
    finally:
        os.close(handle)
    if bound is not None and stored > bound:
        prune(bound, path, TARGET)


def describe_entry(path: str) -> dict | None:
    """An entry's metadata (``name``, ``created``), or None if it cannot be read."""
    try:
        with open(path, "rb") as file:
            entry = marshal.load(file)
        return {"name": entry["name"], "created": entry["created"], "size": os.path.getsize(path)}
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


# ---- the key ----------------------------------------------------------------------------
_FILES: dict = {}  # path -> ((mtime_ns, size), digest)
_VERSION: list = []  # sct's source fingerprint and the library versions, computed once


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _file_digest(path: str) -> str:
    """A digest of a file's text; the file must exist (source from elsewhere cannot be checked)."""
    try:
        stat = os.stat(path)
    except (OSError, TypeError, ValueError):
        raise Uncacheable(path) from None
    known = _FILES.get(path)
    if known is not None and known[0] == (stat.st_mtime_ns, stat.st_size):
        return known[1]
    try:
        with open(path, "rb") as file:
            digest = _digest(file.read())
    except OSError:
        raise Uncacheable(path) from None
    _FILES[path] = ((stat.st_mtime_ns, stat.st_size), digest)
    return digest


def versions() -> tuple:
    """sct's own source (each file's path, size and mtime) and the versions of what it generates code with."""
    if not _VERSION:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package sct, all of it
        h = hashlib.blake2b(digest_size=20)
        folders = [root]
        while folders:  # sorted, so the same files give the same digest
            folder = folders.pop()
            with os.scandir(folder) as found:
                items = sorted(found, key=lambda item: item.name, reverse=True)
            for item in items:
                if item.name.endswith(".py"):
                    stat = item.stat()
                    h.update(f"{item.path[len(root) :]}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
                elif item.is_dir() and item.name != "__pycache__":
                    folders.append(item.path)
        _VERSION.append((FORMAT, version.__version__, h.hexdigest(), sys.version, np.__version__, gast.__version__))
    scipy = sys.modules.get("scipy")
    return (*_VERSION[0], getattr(scipy, "__version__", None))


def _resolve(module: str, qualname: str):
    """``module.qualname`` among the loaded modules, or raise ``LookupError``."""
    obj = sys.modules.get(module)
    if obj is None or "<" in qualname:
        raise LookupError(qualname)
    for part in qualname.split("."):
        obj = getattr(obj, part)  # an AttributeError: the callers take it as not found
    return obj


def _ref(value) -> tuple:
    """``(module, qualname)`` by which ``value`` is found again, or raise ``Uncacheable``."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise Uncacheable(repr(value))
    try:
        found = _resolve(module, qualname)
    except (LookupError, AttributeError):
        raise Uncacheable(f"{module}.{qualname}") from None
    if found is not value:
        raise Uncacheable(f"{module}.{qualname}")
    return module, qualname


def _module_file(module: str) -> str | None:
    path = getattr(sys.modules.get(module), "__file__", None)
    return _file_digest(path) if isinstance(path, str) and path.endswith(".py") else None


def _code(code) -> tuple:
    return (_digest(marshal.dumps(code)), _file_digest(code.co_filename))


def token(value, depth: int = 0, seen: set | None = None):
    """A description of ``value`` that is equal across processes only for an equal value."""
    if depth > 12:
        raise Uncacheable("too deep")
    seen = set() if seen is None else seen
    kind = type(value)
    if kind in _DATA:
        return (kind.__name__, repr(value))
    if kind in (tuple, list):
        return (kind.__name__, *(token(v, depth + 1, seen) for v in value))
    if kind is frozenset or kind is set:
        return (kind.__name__, *sorted(repr(token(v, depth + 1, seen)) for v in value))
    if kind is dict:
        return ("dict", *((token(k, depth + 1, seen), token(v, depth + 1, seen)) for k, v in value.items()))
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.tobytes().hex())
    if value is dispatch.ABSENT:
        return ("absent",)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, Callee):
        return ("callee", token(value.value, depth + 1, seen))
    if kind is types.FunctionType:  # what it relies on, as for the function differentiated
        if id(value) in seen:  # a function reached again (lib.g calling lib.g): described where first met
            return ("again", value.__module__, value.__qualname__, _code(value.__code__))
        seen.add(id(value))
        return ("function", guards_token(_guards(value), depth + 1, seen))
    if isinstance(value, type):
        return _class(value, depth, seen)
    if isinstance(value, np.ndarray):
        raise Uncacheable("an array")
    if kind.__module__.startswith("sct.") and hasattr(value, "__dict__"):  # custom_vjp, a rule's wrapper
        if id(value) in seen:
            return ("again", kind.__qualname__)
        seen.add(id(value))
        state = {k: v for k, v in vars(value).items() if k not in _RUN_TIME}
        return ("sct", kind.__qualname__, token(state, depth + 1, seen))
    module, qualname = _ref(value)
    return ("ref", module, qualname, _module_file(module))


def _class(cls, depth: int, seen: set) -> tuple:
    """A class by name, with what its body defines (methods sct may inline, class attributes), base classes too."""
    module, qualname = _ref(cls)
    if id(cls) in seen:
        return ("again", module, qualname)
    seen.add(id(cls))
    members = []
    for owner in cls.__mro__:
        if owner is object or _library(sys.modules.get(owner.__module__) or sys):
            continue
        for name, member in vars(owner).items():
            member = getattr(member, "__func__", member)  # a staticmethod's or classmethod's function
            if isinstance(member, property):
                member = (member.fget, member.fset)
            dunder = name.startswith("__") and name.endswith("__")
            if dunder and not isinstance(member, types.FunctionType):
                continue  # __module__, __dict__, __doc__ ...
            if isinstance(member, np.ndarray):
                members.append((owner.__qualname__, name, "ndarray", member.ndim, member.dtype.str))
            else:
                members.append((owner.__qualname__, name, token(member, depth + 1, seen)))
    return ("class", module, qualname, _module_file(module), tuple(members))


def _shallow(value, depth: int) -> tuple:
    """A function the guards already went into: its name and code (the rest is in the guards)."""
    if type(value) is types.FunctionType:
        return ("function", value.__module__, value.__qualname__, _code(value.__code__))
    return token(value, depth)


def guards_token(guards, depth: int = 0, seen: set | None = None) -> tuple:
    """``guards`` (see ``sct.backend.variants._guards``) as a token, with the plain data globals each function reads
    and what it reaches as attributes of modules (``lib.g``)."""
    seen = set() if seen is None else seen
    cells, names, codes = guards
    found = [("cell", _shallow(value, depth + 1)) for _, value in cells]
    found += sorted(
        (("global", scope.get("__name__"), name, _shallow(value, depth + 1)) for scope, name, value in names), key=repr
    )
    described = []  # the guards come in the order of a set of names: sorted, to be the same in every process
    for fn, code, defaults, kwdefaults in codes:
        described.append(
            (
                "code",
                getattr(fn, "__module__", None),
                getattr(fn, "__qualname__", None),
                _code(code),
                token(defaults, depth + 1),
                token(kwdefaults, depth + 1),
                _data_globals(fn, code),
                _module_attributes(fn, code, depth + 1, seen),
            )
        )
    return (*found, *sorted(described, key=repr))


def _library(module) -> bool:
    """A module the versions in the key cover: built in, the standard library, NumPy, SciPy, gast or sct."""
    path = getattr(module, "__file__", None)
    top = module.__name__.partition(".")[0]
    return not isinstance(path, str) or top in _VERSIONED or path.startswith(_STDLIB) and "-packages" not in path


_VERSIONED = frozenset({"numpy", "scipy", "gast", "sct"})
_STDLIB = tuple(sorted({os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "platstdlib")}))


def _module_attributes(fn, code, depth: int, seen: set) -> tuple:
    """What ``code`` may reach as an attribute of a user's module (``lib.g``, ``pkg.sub.h``).

    sct inlines such a function's body, but the guards hold only the module: so
    every attribute of a reachable user module (not of a library) named anywhere
    in the code is part of the key, functions with what they rely on.
    """
    names = sorted(_global_names(code))
    scope = getattr(fn, "__globals__", {})
    stack = [scope[n] for n in names if isinstance(scope.get(n), types.ModuleType)]
    visited, found = set(), []
    while stack:
        module = stack.pop()
        if id(module) in visited or _library(module):
            continue
        visited.add(id(module))
        for name in names:
            value = vars(module).get(name, dispatch.ABSENT)
            if value is dispatch.ABSENT:
                continue
            if isinstance(value, types.ModuleType):
                stack.append(value)
                found.append((module.__name__, name, ("module", value.__name__)))
            elif isinstance(value, np.ndarray):
                found.append((module.__name__, name, ("ndarray", value.ndim, value.dtype.str)))
            else:
                found.append((module.__name__, name, token(value, depth, seen)))
    return tuple(sorted(found, key=repr))


def _data_globals(fn, code) -> tuple:
    """The types of the plain data globals ``code`` reads (their values are read live)."""
    scope = getattr(fn, "__globals__", {})
    found = []
    for name in sorted(_global_names(code)):
        value = scope.get(name, dispatch.ABSENT)
        if isinstance(value, np.ndarray):
            found.append((name, "ndarray", value.ndim, value.dtype.str))
        elif type(value) in _DATA or isinstance(value, np.generic):
            found.append((name, token(value)))
    return tuple(found)


def _user_rules() -> tuple:
    """The rules registered with ``sct.defvjp``/``sct.defjvp``: generated code calls them by name.

    The table keeps their entries (:func:`sct.rules.table.called_by_name`, found again only where
    the table's version moved): a walk of its ~400 entries was a tenth of a millisecond of a first
    call. Their tokens are taken each time: they hold what the rules' own globals and closures mean now."""
    found = [(_shallow(e.fn, 1), token(e.vjp, 1), token(e.jvp, 1)) for e in table.called_by_name()]
    return tuple(sorted(found, key=repr))


def key(fn, positions, sig, options: dict, guards) -> str | None:
    """The entry name for a variant of ``fn``, or None where the cache is off or cannot describe it."""
    if not enabled() or type(fn) is not types.FunctionType or hasattr(fn, "__sct_generated__"):
        return None
    try:
        described = (
            versions(),
            fn.__module__,
            fn.__qualname__,
            tuple(positions),
            token(sig),
            token(sorted(options.items())),
            guards_token(guards),
            _user_rules(),
        )
    except Uncacheable:
        STATS["uncacheable"] += 1
        return None
    return _digest(repr(described).encode())


# ---- entries ------------------------------------------------------------------------------
def _spec(value, seen: set):
    """How to rebuild ``value`` in another process."""
    kind = type(value)
    if kind in _DATA:
        return ("const", value)
    if kind is tuple:
        return ("tuple", tuple(_spec(v, seen) for v in value))
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.tobytes())
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    made = getattr(value, "__sct_compiled__", None) if kind is types.FunctionType else None
    if made is not None:
        if id(value) in seen:  # a generated function that calls itself
            raise Uncacheable("recursive")
        seen.add(id(value))
        text, fn_name, label, helpers, code, params = made
        make_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
        if not any(c is value.__code__ for c in make_code.co_consts):  # a wrapper that copied the attribute
            raise Uncacheable("a wrapper")
        return ("gen", text, fn_name, label, _specs(helpers, seen), marshal.dumps(code), tuple(params))
    if kind is codegen.Deferred:  # its text: compiled, as now, where it first runs
        return ("deferred", value.text, value.fn_name, value.label, _specs(value.helpers, seen))
    if isinstance(value, np.ndarray):
        raise Uncacheable("an array")
    module, qualname = _ref(value)
    return ("ref", module, qualname, repr(_shallow(value, 0)))


def _specs(helpers: dict, seen: set) -> dict:
    return {name: _spec(value, seen) for name, value in helpers.items()}


def _rebuild(spec, user_globals: dict):
    kind = spec[0]
    if kind == "const":
        return spec[1]
    if kind == "tuple":
        return tuple(_rebuild(s, user_globals) for s in spec[1])
    if kind == "np":
        return np.frombuffer(spec[2], dtype=np.dtype(spec[1]))[0]
    if kind == "module":
        found = sys.modules.get(spec[1])
        if found is None:
            raise LookupError(spec[1])
        return found
    if kind == "ref":
        value = _resolve(spec[1], spec[2])
        if repr(_shallow(value, 0)) != spec[3]:  # the same name, another object
            raise LookupError(spec[2])
        return value
    if kind == "gen":
        _, text, fn_name, label, helpers, code, params = spec
        helpers = {name: _rebuild(s, user_globals) for name, s in helpers.items()}
        return codegen.compile_source(text, fn_name, user_globals, helpers, label, code=(marshal.loads(code), params))
    if kind == "deferred":
        _, text, fn_name, label, helpers = spec
        helpers = {name: _rebuild(s, user_globals) for name, s in helpers.items()}
        return codegen.Deferred(None, fn_name, user_globals, helpers, label, text=text)
    raise LookupError(kind)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def store(name: str, fn, variant: Compiled) -> bool:
    """Write ``variant`` as entry ``name``; False where it cannot be rebuilt (nothing is written)."""
    bound = limit()  # a bad SCT_CACHE_MAX_MB is refused before anything is written
    made = getattr(variant.function, "__sct_compiled__", None)
    if made is None or variant.function.__globals__ is not fn.__globals__ or not _same(made[3], variant.helpers):
        return False
    try:
        entry = {
            "name": f"{fn.__module__}.{fn.__qualname__}",
            "created": time.time(),
            "function": _spec(variant.function, set()),
            "source": variant.source,
            "params": list(variant.params),
            "wrt": list(variant.wrt),
            "scalar": variant.scalar,
            "grads_only": variant.grads_only,
            "facts": tuple(variant.facts),
        }
        data = marshal.dumps(entry)
    except (Uncacheable, ValueError):
        STATS["uncacheable"] += 1
        return False
    path = directory()
    try:
        os.makedirs(path, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX + ".part", dir=path)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, os.path.join(path, name + SUFFIX))  # atomic: a reader sees all or nothing
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:  # a read-only or full disk: the cache is an optimisation
        return False
    STATS["stores"] += 1
    _count(path, len(data), bound)
    return True


def _touch(file) -> None:
    """Mark an entry used now (its modification time, the order a prune removes in): at most once a minute."""
    try:
        if time.time() - os.fstat(file.fileno()).st_mtime > TOUCH_EVERY:
            os.utime(file.fileno() if os.utime in os.supports_fd else file.name)
    except OSError:  # removed or replaced meanwhile, or a read-only directory: only the order is lost
        pass


def load(name: str, fn) -> Compiled | None:
    """Entry ``name`` rebuilt for ``fn``, or None (no entry, or one that cannot be rebuilt here)."""
    try:
        with open(os.path.join(directory(), name + SUFFIX), "rb") as file:
            entry = marshal.load(file)
            _touch(file)
    except FileNotFoundError:  # never stored, or removed by a prune
        STATS["misses"] += 1
        return None
    except (OSError, EOFError, ValueError, TypeError):
        STATS["misses"] += 1
        return None
    try:
        function = _rebuild(entry["function"], fn.__globals__)
    except (LookupError, AttributeError, ValueError, TypeError):
        STATS["misses"] += 1
        return None
    STATS["hits"] += 1
    return Compiled(
        function,
        entry["source"],
        function.__sct_compiled__[3],  # the helpers it was compiled with
        entry["params"],
        entry["wrt"],
        scalar=entry["scalar"],
        grads_only=entry["grads_only"],
        facts=tuple(entry.get("facts", ())),
    )
