"""The flags lowering adds for ``break`` and ``continue`` carry the loop's own line (messages and the
line map of ``sct dump --explain`` name it), not the line of the loop's last statement."""

from sct.frontend.lower import lower
from sct.frontend.parse import parse
from sct.ir import Assign, For, While, walk


def searching(x):
    total = 0.0
    for i in range(10):
        if i == 3:
            continue
        total = total + x * i
        if total > 5.0:
            break
    while total > 1.0:
        total = total * 0.5
        if total < 2.0:
            break
    return total


def test_break_and_continue_flags_carry_the_loops_line():
    ir, _ = lower(parse(searching))
    loops = [s for s in walk(ir.body) if isinstance(s, For | While)]
    assert len(loops) == 2
    first_line = searching.__code__.co_firstlineno
    for loop in loops:
        flags = [s for s in walk(ir.body) if isinstance(s, Assign) and s.target == loop.brk]
        assert flags, loop.brk
        assert {s.origin.lineno for s in flags if s.value.value is False} == {loop.origin.lineno}
    assert sorted(loop.origin.lineno - first_line for loop in loops) == [2, 8]
