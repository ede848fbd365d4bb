"""Why the generated code looks as it does: which user line each generated line comes from,
which variables are active, which are recorded, and how big the result is.

Every lowered statement remembers the user line it came from (``origin`` in
:mod:`sct.ir`); the generated text does not. :func:`line_origins` puts the two
together again: a forward-sweep line is the statement that assigns its target
(matched in program order), a backward line belongs to the block under the
``# <forward statement>`` comment that heads it. A line that cannot be matched
with certainty (a record's set-up, a zero adjoint, ``return``) maps to None:
the mapping may say "unknown", never a wrong line.

:func:`explain` runs the pipeline once more (uncached) to see the lowered code
and returns an :class:`Explanation`; :mod:`sct.display` and :mod:`sct.report_page`
render it, :meth:`Explanation.text_report` is ``sct dump --explain``.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field

from . import nested
from .analysis.activity import activity, overwritten, varied
from .backend.codegen import unparse
from .backend.variants import header, with_header
from .errors import Location
from .ir import Assign, Effect, For, If, SetItem, While, names_in, walk
from .pipeline import build
from .reverse.sweep import ForwardSweep

# ---- which user line each generated line comes from --------------------------------------


def _key(origin: Location | None):
    return None if origin is None else (origin.filename, origin.lineno)


class _Index:
    """The lowered statements in program order, looked up by target, by rendered text and by kind."""

    def __init__(self, ir):

        self.order = list(walk(ir.body))
        self.by_target, self.by_text, self.ends = {}, {}, {}
        for pos, stmt in enumerate(self.order):
            if isinstance(stmt, Assign | SetItem):
                self.by_target.setdefault(stmt.target, []).append(pos)
            if isinstance(stmt, Assign | SetItem | Effect):
                self.by_text.setdefault(unparse(ForwardSweep.statement(stmt)), []).append(pos)
        self._spans(ir.body, 0)

    def _spans(self, body, pos) -> int:
        """Record where each compound statement's nested statements end; returns the position after ``body``."""
        for stmt in body:
            start, pos = pos, pos + 1
            if isinstance(stmt, If):
                pos = self._spans(stmt.orelse, self._spans(stmt.body, pos))
            elif isinstance(stmt, While):
                pos = self._spans(stmt.body, self._spans(stmt.cond, pos))
            elif isinstance(stmt, For):
                pos = self._spans(stmt.body, pos)
            self.ends[start] = pos
        return pos

    def next_after(self, positions, cursor):
        """The first of ``positions`` after ``cursor``, else None (the forward sweep keeps program order)."""
        later = [p for p in positions if p > cursor]
        return min(later) if later else None

    def last_before(self, positions, cursor):
        """The last of ``positions`` before ``cursor``, else the last of all (a loop reversed twice)."""
        earlier = [p for p in positions if p < cursor]
        return max(earlier) if earlier else (max(positions) if positions else None)

    def controls(self, kinds):
        return [p for p, s in enumerate(self.order) if isinstance(s, kinds)]


def _stored_name(stmt) -> str | None:
    """The variable a simple generated statement stores (``v = ...``, ``v[i] = ...``, ``v += ...``)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    if len(targets) != 1:
        return None
    target = targets[0]
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def _pushed(stmt) -> list[tuple[str, str, str]]:
    """``(record, variable, kind)`` of each value ``stmt`` pushes: ``record.append(v)`` (kind "value"),
    ``record.append(np.shape(v))`` ("shape"), and each item of a loop's ``tape.append((v, np.shape(w)))``."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append"):
        return []
    if not isinstance(call.func.value, ast.Name) or len(call.args) != 1:
        return []
    arg = call.args[0]
    found = []
    for item in arg.elts if isinstance(arg, ast.Tuple) else [arg]:
        shape = isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute) and item.func.attr == "shape"
        names = [n.id for n in ast.walk(item) if isinstance(n, ast.Name) and n.id != "np"]
        if names:
            found.append((call.func.value.id, names[0], "shape" if shape else "value"))
    return found


def _is_none(node) -> bool:
    """``v = None``: the forward sweep's set-up of a variable first assigned inside a loop or branch."""
    return isinstance(node, ast.Constant) and node.value is None


def _is_pop(stmt) -> bool:
    value = getattr(stmt, "value", None)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "pop"


def _is_zero(node) -> bool:
    """``0.0``, ``zeros_like(v)``, ``np.zeros...``: an adjoint set to zero before a loop or branch, or never reached."""
    if isinstance(node, ast.Constant):
        return node.value == 0
    func = node.func if isinstance(node, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name.startswith("zeros")


class _Mapper:
    """Walks the generated function's statements and gives each line its user origin."""

    def __init__(self, text: str, ir, mode: str):
        self.lines = text.splitlines()
        self.index = _Index(ir)
        self.mode = mode
        self.origins: list[Location | None] = [None] * len(self.lines)
        stripped = [line.strip() for line in self.lines]
        self.backward_from = stripped.index("# backward") + 1 if "# backward" in stripped else len(self.lines) + 1
        self.fcursor = -1  # forward sweep: the last statement matched
        self.bcursor = len(self.index.order)  # backward sweep: positions before this come next
        self.tests = {}  # the test of each forward ``if`` matched -> the branches it was matched to

    def origin(self, pos):
        return None if pos is None else self.index.order[pos].origin

    def run(self) -> list[Location | None]:
        tree = ast.parse("\n".join(self.lines))
        self.body(tree.body[0].body)
        self.comments()
        return self.origins

    def body(self, stmts):
        last = None  # forward mode: a tangent line takes its value's line
        pushes = []  # records taken just before this point: they belong to the assignment that follows
        for stmt in stmts:
            if stmt.lineno >= self.backward_from:
                self.backward(stmt)
                continue
            pushed = _pushed(stmt)
            if pushed:
                pushes += [(stmt.lineno, var) for _, var, _ in pushed]
                continue
            found = self.forward(stmt)
            if found is None and self.mode == "forward" and (_stored_name(stmt) or "").startswith("dot_"):
                found = last
            if found is not None:
                end = stmt.body[0].lineno - 1 if hasattr(stmt, "body") and stmt.body else stmt.end_lineno
                self.set(stmt.lineno, end, found)
                for line, var in pushes:  # v_stack.append(v) right before v = ...: that line's record
                    if isinstance(stmt, ast.Assign | ast.AugAssign) and _stored_name(stmt) == var:
                        self.set(line, line, found)
            pushes = []
            last = found if found is not None else last
            for inner in ("body", "orelse"):
                self.body(getattr(stmt, inner, None) or [])

    def set(self, first: int, last: int, origin):
        for line in range(first, last + 1):
            self.origins[line - 1] = origin

    def forward(self, stmt) -> Location | None:
        index = self.index
        kinds = {ast.If: If, ast.While: While, ast.For: For}
        if type(stmt) in kinds:
            pos = index.next_after(index.controls(kinds[type(stmt)]), self.fcursor)
            if pos is not None and isinstance(stmt, ast.If):  # the backward sweep tests it again
                self.tests.setdefault(ast.unparse(stmt.test), []).append(pos)
        elif isinstance(stmt, ast.Assign | ast.AugAssign) and not _is_pop(stmt) and not _is_none(stmt.value):
            pos = index.next_after(index.by_text.get(ast.unparse(stmt), []), self.fcursor)
            if pos is None:  # the clean-up passes changed its value: the next assignment of its target
                pos = index.next_after(index.by_target.get(_stored_name(stmt), []), self.fcursor)
        elif isinstance(stmt, ast.Expr | ast.Raise):
            pos = index.next_after(index.by_text.get(ast.unparse(stmt), []), self.fcursor)
        else:
            pos = None
        if pos is None:
            return None
        self.fcursor = pos
        return self.origin(pos)

    def backward(self, stmt):
        """A compound statement of the backward sweep: the loop or branch it reverses, if it names one."""
        if isinstance(stmt, ast.For | ast.While | ast.If):
            pos = self.reversed_control(stmt)
            if pos is not None:
                self.set(stmt.lineno, stmt.body[0].lineno - 1, self.origin(pos))
                self.bcursor = self.index.ends[pos]
        for inner in ("body", "orelse"):
            for child in getattr(stmt, inner, None) or ():
                self.backward(child)

    def reversed_control(self, stmt):
        index = self.index
        if isinstance(stmt, ast.If):
            test = ast.unparse(stmt.test)
            found = [p for p in index.controls(If) if unparse(index.order[p].test) == test]
            found = found or sorted(set(self.tests.get(test, [])))
        elif isinstance(stmt, ast.For):
            names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            target = stmt.target.id if isinstance(stmt.target, ast.Name) else None
            found = [p for p in index.controls(For) if index.order[p].target == target and target != "_"]
            found += [p for p in index.controls(While) if index.order[p].trips in names - {target}]
            found = [p for p in found if stmt.iter is not None and _iter_names(stmt) & _loop_names(index.order[p])]
        else:
            return None
        ends = [p for p in found if index.ends[p] <= self.bcursor]
        return max(ends) if ends else (max(found) if found else None)

    def comments(self):
        """Each backward block: its ``# <forward statement>`` comment and the adjoint lines under it."""
        index, current = self.index, None
        for number in range(self.backward_from, len(self.lines) + 1):
            line = self.lines[number - 1]
            text, indent = line.strip(), len(line) - len(line.lstrip())
            if text.startswith("#"):
                pos = self.commented(text[1:].strip())
                if pos is not None:
                    self.bcursor = pos
                    current = (index.order[pos], indent)
                    self.origins[number - 1] = current[0].origin
                else:
                    current = None
                continue
            if current is None or indent != current[1] or not self.in_block(text, current[0]):
                current = None
                continue
            self.origins[number - 1] = current[0].origin

    def commented(self, text: str):
        """The forward statement a backward comment names: the first of ``a = ...; b = ...`` (lines the
        optimiser wrote as one) that comes before the cursor."""
        for part in [text, *text.split("; ")]:
            pos = self.index.last_before(self.index.by_text.get(part, []), self.bcursor)
            if pos is not None:
                return pos
        return None

    @staticmethod
    def in_block(text: str, stmt) -> bool:
        """Whether a backward line continues the block of ``stmt``: an adjoint's update, or ``stmt``'s own pop."""
        try:
            node = ast.parse(text).body[0]
        except SyntaxError:  # the header of a compound statement
            return False
        if isinstance(node, ast.Delete):  # a value dropped after its last use in the block
            return True
        stored = _stored_name(node)
        if stored is None or not isinstance(node, ast.Assign | ast.AugAssign):
            return False
        if _is_pop(node):
            return stored == stmt.target or stored.startswith(f"{stmt.target}_shape")
        zeroed = isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and _is_zero(node.value)
        return stored.startswith("delta_") and not zeroed


def _iter_names(stmt) -> set:
    return {n.id for n in ast.walk(stmt.iter) if isinstance(n, ast.Name)} | {
        n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)
    }


def _loop_names(loop) -> set:
    if isinstance(loop, While):
        return {loop.trips}
    return set(names_in(loop.iter)) | {loop.target}


def line_origins(text: str, ir, mode: str = "reverse") -> list[Location | None]:
    """Per line of generated ``text`` (made from lowered ``ir``), the user's place it comes from, or None."""
    try:
        return _Mapper(text, ir, mode).run()
    except (SyntaxError, ValueError, IndexError, KeyError):  # not a shape this knows: say nothing, never guess
        return [None] * len(text.splitlines())


# ---- the explanation ------------------------------------------------------------------------------
@dataclass
class Variable:
    """One variable of the lowered function, and what the analyses decided about it."""

    name: str
    kind: str  # "parameter", "yours" (named in the source), "temporary"
    origin: Location | None  # where it is first assigned (None for a parameter)
    active: bool
    why_active: str
    record: str  # "recorded", "shape recorded", "not recorded", "kept", "not needed", "-"
    why_record: str


@dataclass
class Loop:
    """A loop of the forward sweep, and what one trip of it pushes on the records."""

    line: int  # its line in the generated code
    origin: Location | None
    pushes: list = field(default_factory=list)  # "h", "shape of k", ...


@dataclass
class Explanation:
    """What ``explain`` found: the code, its line map (``origins``), the variables, the sizes."""

    name: str  # the user function's qualified name
    mode: str
    wrt: list
    text: str  # the generated code
    origins: list  # per generated line: Location or None
    user_first_line: int  # the user function's first line in its file, 0 if unknown
    user_lines: list  # its source lines
    filename: str
    variables: list
    loops: list
    statements: int  # lowered primitive statements
    backward_from: int  # first line of the backward sweep (1-based; past the end in forward mode)

    @property
    def records(self) -> int:
        """Distinct records (stacks) the forward sweep fills."""
        return sum(v.record in ("recorded", "shape recorded") for v in self.variables)

    def sizes(self) -> list[tuple[str, str]]:
        total = len(self.text.splitlines())
        backward = max(0, total - self.backward_from + 1)
        rows = [
            ("your function", f"{len(self.user_lines)} lines"),
            ("lowered", f"{self.statements} primitive statements"),
            ("generated", f"{total} lines ({total - backward} forward, {backward} backward)"),
        ]
        if self.mode == "reverse":
            rows.append(("records", f"{self.records} (stacks the forward sweep fills in loops)"))
        for loop in self.loops:
            where = _where(loop.origin) or f"generated line {loop.line}"
            pushes = ", ".join(loop.pushes) if loop.pushes else "nothing"
            rows.append((f"loop at {where}", f"{len(loop.pushes)} values recorded per trip: {pushes}"))
        return rows

    def user_to_generated(self) -> dict:
        """``{(filename, line): [generated line numbers]}`` for every user line that produced code."""
        found = {}
        for number, origin in enumerate(self.origins, 1):
            if origin is not None:
                found.setdefault(_key(origin), []).append(number)
        return found

    def text_report(self) -> str:
        """The explanation as plain text (``sct dump --explain``)."""
        width = max([len(_where(o) or "") for o in self.origins] + [4])
        out = [f"{self.mode} code of {self.name} by {', '.join(self.wrt)}, each line with the line it comes from:", ""]
        for origin, line in zip(self.origins, self.text.splitlines()):
            out.append(f"{(_where(origin) or ''):>{width}} | {line}")
        out += ["", "variables:"]
        rows = [("name", "kind", "active", "why", "record", "why")]
        for v in self.variables:
            rows.append((v.name, v.kind, "yes" if v.active else "no", v.why_active, v.record, v.why_record))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            out.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5])
        out += ["", "sizes:"] + [f"  {k}: {v}" for k, v in self.sizes()]
        return "\n".join(line.rstrip() for line in out)


def _where(origin: Location | None) -> str | None:
    return None if origin is None else f"{origin.filename}:{origin.lineno}"


def explain(fn, wrt=None, mode="reverse", optimize=True, *, args=None, generic=False) -> Explanation:
    """Explain the code ``sct.source(fn, wrt, mode, optimize)`` returns.

    ``fn`` may be a gradient object: without ``wrt`` (and in reverse mode, optimised)
    its own code is explained, what its ``.source`` shows; ``wrt`` defaults to 0 otherwise.
    ``args`` and ``generic`` choose the variant as for :func:`sct.source`.
    """
    chosen = args is not None or generic
    if isinstance(fn, nested.COMPILER.gradient_types) and wrt is None and mode == "reverse" and optimize and not chosen:
        return explain_request(fn.source_request())
    wrt = 0 if wrt is None else wrt
    return explain_request(nested.COMPILER.source_request(fn, wrt, mode, optimize, args=args, generic=generic))


def explain_request(request: tuple) -> Explanation:
    """Explain the code shown for ``request`` (:func:`sct.api.source_request`'s answer)."""
    fn, positions, sig, options, generic = request
    seen = {}

    def observe(ir, wrt):
        seen["ir"], seen["wrt"] = ir, wrt

    built = build(fn, positions, sig, **options, counted=False, observe=observe)
    ir, wrt = seen["ir"], seen["wrt"]
    mode = options.get("mode", "reverse")
    origins = line_origins(built.source, ir, mode)
    line = header(built.params, sig, generic=generic, facts=built.facts)
    text = with_header(built.source, line)  # as sct.source shows it
    origins = [*origins[:1], None, *origins[1:]]  # the header line comes from no line of the user's
    first, lines = _user_source(fn)
    stripped = [line.strip() for line in text.splitlines()]
    backward_from = stripped.index("# backward") + 1 if "# backward" in stripped else len(stripped) + 1
    code = _Code(text, backward_from, origins)
    variables = _variables(ir, wrt, mode, code, _names_in_source(lines))
    return Explanation(
        name=getattr(fn, "__qualname__", getattr(fn, "__name__", "f")),
        mode=mode,
        wrt=list(wrt),
        text=text,
        origins=origins,
        user_first_line=first,
        user_lines=lines,
        filename=ir.filename,
        variables=variables,
        loops=code.loops,
        statements=sum(1 for s in walk(ir.body) if isinstance(s, Assign | SetItem)),
        backward_from=backward_from,
    )


def _user_source(fn) -> tuple[int, list]:
    target = inspect.unwrap(getattr(fn, "__func__", fn))
    target = getattr(target, "__sct_user__", target)
    try:
        lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return 0, []
    return first, [line.rstrip("\n") for line in lines]


def _names_in_source(lines: list) -> set:
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:
        return set()
    nodes = list(ast.walk(tree))
    return {n.id for n in nodes if isinstance(n, ast.Name)} | {n.arg for n in nodes if isinstance(n, ast.arg)}


class _Code:
    """What the generated code does with records: who is pushed where, what the backward sweep reads."""

    def __init__(self, text: str, backward_from: int, origins: list):
        tree = ast.parse(text)
        self.pushes = {}  # variable -> "value" or "shape"
        self.loops = []
        self.read_backward, self.present = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.arg):
                self.present.add(node.arg)
            if isinstance(node, ast.Name):
                self.present.add(node.id)
                if isinstance(node.ctx, ast.Load) and node.lineno >= backward_from:
                    self.read_backward.add(node.id)
        self._walk(tree.body[0].body, None, backward_from, origins)

    def _walk(self, body, loop, backward_from, origins):
        for stmt in body:
            if stmt.lineno >= backward_from:
                return
            for _, var, kind in _pushed(stmt):
                self.pushes[var] = kind if self.pushes.get(var, kind) == kind else "value"
                if loop is not None:
                    loop.pushes.append(var if kind == "value" else f"shape of {var}")
            inner = loop
            if isinstance(stmt, ast.For | ast.While):
                inner = Loop(stmt.lineno, origins[stmt.lineno - 1])
                self.loops.append(inner)
            for field_ in ("body", "orelse"):
                if not isinstance(stmt, ast.FunctionDef):
                    self._walk(getattr(stmt, field_, None) or [], inner, backward_from, origins)


def _variables(ir, wrt: list, mode: str, code: _Code, user_names: set) -> list:
    names, origins = list(ir.params), {}
    for stmt in walk(ir.body):
        target = stmt.target if isinstance(stmt, Assign | SetItem | For) else None
        if target is not None and target not in origins:
            origins[target] = stmt.origin
            if target not in names:
                names.append(target)
    active = activity(ir, wrt)
    needed = activity(ir, names)  # what the output depends on (everything reaches itself)
    by_input = {w: varied(ir, [w]) for w in wrt}
    again = overwritten(ir)
    found = []
    for var in names:
        kind = "parameter" if var in ir.params else "yours" if var in user_names else "temporary"
        why, record = _why_active(var, wrt, active, needed, by_input), _why_record(var, mode, again, code)
        found.append(Variable(var, kind, origins.get(var), var in active, why, *record))
    return found


def _why_active(var, wrt, active, needed, by_input) -> str:
    inputs = [w for w in wrt if var in by_input[w]]
    if var in active:
        return ("differentiated by" if var in wrt else f"depends on {', '.join(inputs)}") + "; the result depends on it"
    if not inputs:
        return f"does not depend on {' or '.join(wrt)} through differentiable operations"
    return f"depends on {', '.join(inputs)}, but the result does not depend on it through differentiable operations"


def _why_record(var, mode, again, code: _Code) -> tuple[str, str]:
    if mode != "reverse":
        return "-", "forward mode keeps no records: each tangent is computed next to its value"
    if var not in code.present:
        return "-", "not in the generated code (the clean-up passes removed it)"
    pushed = code.pushes.get(var)
    if pushed == "value":
        return "recorded", "assigned again (or in a loop), and the backward sweep reads its old values"
    if pushed == "shape":
        return "shape recorded", "assigned again; the backward sweep needs only its shape, to sum a gradient back"
    if var in again:
        return "not recorded", "assigned again, but the backward sweep never reads its old values"
    if var in code.read_backward:
        return "kept", "assigned once: the backward sweep reads the value the forward sweep left"
    return "not needed", "the backward sweep does not read it"
