"""How close sct's generated adjoints come to hand-written ones, in lines.

    python benchmarks/readability.py [--only NAME[,NAME...]] [--show NAME]

For every workload in ``workloads.py`` this compiles sct's gradient, calls it on
the workload's arguments, and takes the variant that ran (the one specialised
to those arguments: Python floats, ranks). It counts the non-blank, non-comment
lines of the backward part of that adjoint (after its ``# backward`` comment)
and of the workload's ``hand_grad`` (after its ``# backward`` comment), and the
same for the whole functions. Bookkeeping lines are counted separately, in both:
records (``x_stack = []``, ``.append(``, ``.pop()``), shape records
(``np.shape(``), ``zeros_like`` initialisations, ``= None`` placeholders, trip
counters and ``del`` (the liveness pass's releases, which hand-written code gets
by reusing names; issue 19's memory targets need them). The goal (issue 17) is a
backward part, bookkeeping aside, at most 1.5 times the hand-written one on every
workload; the bookkeeping is its own column, and the ratios of all the lines are
beside it. Markdown to stdout.
"""

import argparse
import inspect
import re
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the sct checkout this script lives in
sys.path.insert(0, str(HERE))

import temporary_cache  # noqa: E402
from workloads import BY_NAME, WORKLOADS  # noqa: E402

import sct  # noqa: E402 - needs the path set above

GOAL = 1.5
BOOKKEEPING = re.compile(
    r"_stack = \[\]|\.append\(|\.pop\(\)|np\.shape\(|zeros_like\(|= None$|^trips\b|trips \+= 1|^del "
)


def code_lines(source: str) -> list[str]:
    """The non-blank, non-comment lines of ``source``, stripped."""
    lines = (line.strip() for line in source.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def backward_part(source: str) -> str:
    """What follows the first ``# backward`` comment (the whole source if there is none)."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("# backward"):
            return "\n".join(lines[i + 1 :])
    return source


def body(source: str) -> str:
    """A function's source without its ``def`` line."""
    lines = textwrap.dedent(source).splitlines()
    return "\n".join(lines[1:])


def bookkeeping(lines: list[str]) -> int:
    return sum(1 for line in lines if BOOKKEEPING.search(line))


def generated(workload) -> str:
    """The source of the adjoint variant that runs for the workload's own arguments.

    ``.source`` shows the variant of the last call (Python floats, ranks), which
    is the one counted here.
    """
    gradient = sct.grad(workload.f, wrt=workload.wrt)
    gradient(*workload.make_args())
    return gradient.source


def measure(workload) -> dict:
    ours = body(generated(workload))
    hand = body(inspect.getsource(workload.hand_grad))
    ours_back, hand_back = code_lines(backward_part(ours)), code_lines(backward_part(hand))
    ours_all, hand_all = code_lines(ours), code_lines(hand)
    return {
        "name": workload.name,
        "backward": (len(ours_back), len(hand_back)),
        "kept": (bookkeeping(ours_back), bookkeeping(hand_back)),
        "whole": (len(ours_all), len(hand_all)),
    }


def table(rows: list[dict]) -> str:
    out = [
        "| workload | backward, bookkeeping aside: sct / hand | ratio | backward bookkeeping: sct / hand "
        "| whole backward: sct / hand | ratio | whole function: sct / hand | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        (sb, hb), (sk, hk), (sw, hw) = r["backward"], r["kept"], r["whole"]
        ratio = (sb - sk) / (hb - hk)
        mark = "" if ratio <= GOAL else " (miss)"
        out.append(
            f"| {r['name']} | {sb - sk} / {hb - hk} | {ratio:.2f}x{mark} | {sk} / {hk} | {sb} / {hb} | {sb / hb:.2f}x "
            f"| {sw} / {hw} | {sw / hw:.2f}x |"
        )
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="workload name(s), comma-separated")
    parser.add_argument("--show", help="print the generated adjoint of one workload")
    options = parser.parse_args(argv)
    temporary_cache.use()  # times compiles, not loads; leaves the user's cache alone
    if options.show:
        print(generated(BY_NAME[options.show]))
        return
    names = [n for spec in options.only for n in spec.split(",") if n]
    chosen = [BY_NAME[n] for n in names] if names else list(WORKLOADS)
    print(table([measure(w) for w in chosen]))


if __name__ == "__main__":
    main()
