"""Run one family of idiom programs many times and print its DISTINCT failures (issue 12).

    PYTHONPATH=$PWD python -W ignore tests/harvest_idioms.py FAMILY [N] [PER_SIGNATURE]

A failing hypothesis property stops at its first bug and spends minutes shrinking it; this runs
``test_fuzz_idioms.check_idiom_program`` on N fresh programs (default 400) without stopping,
groups the failures by signature (the kind of wrong number, or the exception and the normalised
line it came from) and by the idioms each program used (``Program.notes``), and prints the
shortest program of each group with its arguments' seed. Counts of exact, refused and
discarded programs come first. Not collected by pytest.
"""

import re
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import programs as P  # noqa: E402
import test_fuzz_idioms as T  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import UnsatisfiedAssumption  # noqa: E402

_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")
_WRONG = ("forward value differs", "value differs", "gradient mismatch", "forward mode", "mutated", "changed type")


def signature(exc) -> str:
    if isinstance(exc, AssertionError):
        text = str(exc)
        for key in _WRONG:
            if key in text:
                return f"WRONG: {key}"
        return "WRONG: " + _NUMBER.sub("N", text.split("\n")[0])[:80]
    last = traceback.extract_tb(exc.__traceback__)[-1]
    message = _NUMBER.sub("N", str(exc).split("\n")[0])[:60]
    if last.filename.startswith("<sct"):  # generated code: the line, names normalised
        keep = ("np", "range", "len", "list", "dict", "float")
        line = re.sub(r"\b[a-z_][a-z_0-9]*\b", lambda m: m.group(0) if m.group(0) in keep else "v", last.line or "")
        return f"{type(exc).__name__} in generated code: {_NUMBER.sub('N', line)} | {message}"
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.name} | {message}"


def harvest(family, n=400):
    found, counts = {}, {}

    @P.generating(n)
    @given(P.idioms(family), st.integers(0, 2**32 - 1))
    def run(program, seed):
        try:
            outcome = T.check_idiom_program(program, seed)
        except UnsatisfiedAssumption:
            counts["discarded"] = counts.get("discarded", 0) + 1
            raise
        except Exception as exc:  # noqa: BLE001 every failure is collected, none stops the run
            outcome = "failed"
            key = (signature(exc), tuple(sorted(set(program.notes))))
            if key not in found or len(program.source) < len(found[key][0].source):
                found[key] = (program, seed, str(exc)[:600])
        counts[outcome] = counts.get(outcome, 0) + 1

    run()
    return found, counts


def main(argv):
    family, n = argv[1], int(argv[2]) if len(argv) > 2 else 400
    per = int(argv[3]) if len(argv) > 3 else 2
    start = time.time()
    found, counts = harvest(family, n)
    print(f"# {family}: {n} programs in {time.time() - start:.0f} s: {counts}")
    by_signature = {}
    for (sig, notes), entry in found.items():
        by_signature.setdefault(sig, []).append((notes, entry))
    for sig, entries in sorted(by_signature.items()):
        entries.sort(key=lambda e: len(e[1][0].source))
        print("=" * 100)
        print(f"{sig}  ({len(entries)} combinations of idioms)")
        for notes, (program, seed, message) in entries[:per]:
            print(f"-- idioms {list(notes)}, seed {seed}, shapes {program.shapes}")
            print(program.source.split("import numpy as np\n", 1)[-1].strip("\n"))
            print("   ", message.replace("\n", "\n    "))


if __name__ == "__main__":
    main(sys.argv)
