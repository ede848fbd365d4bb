"""The package's import graph is a hierarchy: no cycles, and no imports inside functions to hide one.

A stage that needs to compile another function (a recursive call, ``sct.grad``
inside differentiated code) reaches the pipeline through :mod:`sct.nested`,
which the layers above fill in; it never imports them.
"""

import ast
import subprocess
import sys
from pathlib import Path

import sct

PACKAGE = Path(sct.__file__).parent
# Imports inside a function that are there for a reason other than a cycle: SciPy's rules load
# only once the user's code has imported SciPy (SciPy is optional); the package names its lazy
# attributes' modules under ``if TYPE_CHECKING`` (never run) for type checkers and the API reference.
DEFERRED = {
    ("sct.rules", "sct.rules.scipy_rules"),
    ("sct", "sct.report_page"),
    ("sct", "sct.testing"),
}
# The stages' packages: none of their modules imports the layers above (api, transforms, higher, pipeline).
STAGES = tuple(
    f"sct.{stage}." for stage in ("frontend", "analysis", "reverse", "forward", "passes", "backend", "rules")
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported module, at module level?) for each import of an sct module in ``path``."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):  # import sct, import sct.x
            for alias in node.names:
                if alias.name.split(".")[0] == "sct":
                    yield alias.name, node.col_offset == 0
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        elif (node.module or "").split(".")[0] == "sct":
            module = node.module
        else:
            continue
        for alias in node.names:  # `from . import parse` imports the module sct.frontend.parse
            candidate = f"{module}.{alias.name}"
            is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py"
            ).exists()
            yield (candidate if is_module else module), node.col_offset == 0


def _graph() -> dict:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph[name] = {target for target, _ in _imports(path) if target != name}
    return graph


def _cycles(graph: dict) -> list:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_inside_a_function_hides_a_cycle():
    deferred = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        deferred |= {(_module_name(path), target) for target, top in _imports(path) if not top}
    assert deferred == DEFERRED


def test_the_pipeline_is_the_only_way_stages_reach_a_nested_compile():
    graph = _graph()
    above = {"sct", "sct.api", "sct.transforms", "sct.higher", "sct.pipeline", "sct.custom", "sct.testing"}
    stages = [m for m in graph if m.startswith(STAGES)]
    assert stages
    for stage in stages:
        assert not graph[stage] & above, f"{stage} imports {graph[stage] & above}"


def test_import_sct_fills_in_what_stages_need_for_a_nested_compile():
    code = (
        "import sct\n"
        "from sct import nested\n"
        "c = nested.COMPILER\n"
        "names = ('compiled', 'validated', 'signature', 'for_call', 'jacobian_of', 'hessian_of',"
        " 'differentiable', 'grad')\n"
        "assert all(callable(getattr(c, n)) for n in names)\n"
        "assert set(c.makers.values()) == {'grad', 'value_and_grad', 'jacobian', 'hessian'}\n"
        "assert set(c.direct.values()) == {'jvp', 'hvp', 'vjp'}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
