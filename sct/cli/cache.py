"""``sct cache info|clear``: the persistent cache of generated code (:mod:`sct.backend.cache`)."""

from __future__ import annotations

import os
import sys

from ..backend import cache

EPILOG = """\
examples:
  sct cache info            where the cache is, whether it is on, its entries and size
  sct cache info --list     also one line per entry: the function and when it was stored
  sct cache clear           remove every entry

SCT_CACHE_DIR sets the directory (default $XDG_CACHE_HOME/sct or ~/.cache/sct);
SCT_CACHE=0 turns the cache off."""


def register(commands, formatter) -> None:
    """Add the ``cache`` command to the subparsers ``commands`` of the ``sct`` parser."""
    sub = commands.add_parser(
        "cache",
        help="show or clear the persistent cache of generated code",
        description="show or clear the persistent cache of generated code",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    sub.add_argument("action", choices=["info", "clear"], help="info: describe the cache; clear: empty it")
    sub.add_argument("--list", action="store_true", help="with info: one line per entry")
    sub.set_defaults(run=run)


def run(args) -> int:
    path = cache.directory()
    if args.action == "clear":
        removed = cache.clear(path)
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {path}")
        return 0
    found = cache.entries(path)
    size = sum(_size(p) for p in found)
    state = "on" if cache.enabled() else "off (SCT_CACHE=0)"
    print(f"directory: {path}{'' if os.path.isdir(path) else ' (not created yet)'}")
    print(f"state: {state}")
    print(f"entries: {len(found)} ({_human(size)})")
    if args.list:
        for p in found:
            meta = cache.describe_entry(p)
            if meta is None:
                print(f"  {os.path.basename(p)}: unreadable", file=sys.stdout)
                continue
            print(f"  {meta['name']}  {_human(meta['size'])}  {os.path.basename(p)}")
    return 0


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
