"""``sct cache info|clear|prune``: the persistent cache of generated code (:mod:`sct.backend.cache`)."""

from __future__ import annotations

import os
import sys

from ..backend import cache
from ..errors import SctError

EPILOG = """\
examples:
  sct cache info            where the cache is, whether it is on, its entries, size and bound
  sct cache info --list     also one line per entry: the function and when it was stored
  sct cache clear           remove every entry
  sct cache prune           remove the least recently used entries down to the bound
  sct cache prune --max-mb 100   ... down to 100 MB

SCT_CACHE_DIR sets the directory (default $XDG_CACHE_HOME/sct or ~/.cache/sct);
SCT_CACHE=0 turns the cache off; SCT_CACHE_MAX_MB bounds its size (default 512;
0 or off: no bound), kept by removing the least recently used entries."""


def register(commands, formatter) -> None:
    """Add the ``cache`` command to the subparsers ``commands`` of the ``sct`` parser."""
    sub = commands.add_parser(
        "cache",
        help="show, clear or prune the persistent cache of generated code",
        description="show, clear or prune the persistent cache of generated code",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    sub.add_argument(
        "action",
        choices=["info", "clear", "prune"],
        help="info: describe the cache; clear: empty it; prune: remove the least recently used entries",
    )
    sub.add_argument("--list", action="store_true", help="with info: one line per entry")
    sub.add_argument(
        "--max-mb", type=float, default=None, metavar="N", help="with prune: the size to prune to (default: the bound)"
    )
    sub.set_defaults(run=run)


def run(args) -> int:
    path = cache.directory()
    if args.action == "clear":
        removed = cache.clear(path)
        print(f"removed {removed} {_entries(removed)} from {path}")
        return 0
    if args.action == "prune":
        return _prune(path, args.max_mb)
    found = cache.entries(path)
    size = sum(_size(p) for p in found)
    state = "on" if cache.enabled() else "off (SCT_CACHE=0)"
    print(f"directory: {path}{'' if os.path.isdir(path) else ' (not created yet)'}")
    print(f"state: {state}")
    print(f"entries: {len(found)} ({_human(size)})")
    print(f"bound: {_bound(cache.limit())}")
    if args.list:
        for p in found:
            meta = cache.describe_entry(p)
            if meta is None:
                print(f"  {os.path.basename(p)}: unreadable", file=sys.stdout)
                continue
            print(f"  {meta['name']}  {_human(meta['size'])}  {os.path.basename(p)}")
    return 0


def _prune(path: str, max_mb: float | None) -> int:
    if max_mb is not None and not max_mb >= 0:
        raise SctError(f"sct cache prune --max-mb {max_mb}: give a size in MB, 0 or more")
    bound = cache.limit() if max_mb is None else int(max_mb * 2**20)
    if bound is None:
        print(f"no bound (SCT_CACHE_MAX_MB={os.environ.get('SCT_CACHE_MAX_MB')}): nothing removed from {path}")
        return 0
    removed, freed = cache.prune(bound, path)
    entries, size = cache.usage(path)
    print(f"removed {removed} {_entries(removed)} ({_human(freed)}) from {path}")
    print(f"left: {entries} {_entries(entries)} ({_human(size)}), bound {_bound(bound)}")
    return 0


def _bound(size: int | None) -> str:
    return "none (SCT_CACHE_MAX_MB=0)" if size is None else _human(size)


def _entries(n: int) -> str:
    return "entry" if n == 1 else "entries"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
