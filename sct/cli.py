"""The command line: ``sct dump FILE.py:FUNC``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from .api import source
from .errors import SctError


def load(spec: str):
    path, _, func = spec.rpartition(":")
    if not path or not func:
        raise SctError(f"expected FILE.py:FUNC, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise SctError(f"{path}: no such file")
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules.setdefault(file.stem, module)
    module_spec.loader.exec_module(module)
    if not hasattr(module, func):
        raise SctError(f"{path} has no function {func!r}")
    return getattr(module, func)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sct", description="source-to-source autodiff for NumPy")
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump", help="print the generated gradient code")
    dump.add_argument("target", help="FILE.py:FUNC")
    dump.add_argument("--wrt", default=None, help="comma-separated parameter names or positions")
    args = parser.parse_args(argv)
    try:
        fn = load(args.target)
        wrt = 0
        if args.wrt:
            items = [int(w) if w.strip().isdigit() else w.strip() for w in args.wrt.split(",")]
            wrt = tuple(items) if len(items) > 1 else items[0]
        print(source(fn, wrt=wrt))
    except SctError as exc:
        print(f"sct: {exc}", file=sys.stderr)
        return 2
    return 0
