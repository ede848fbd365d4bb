"""Generated code evaluates nothing but the user's code and NumPy.

* sct never calls ``eval``/``exec``/``compile`` except in the few places listed
  below, none of which run text taken from the user's strings;
* every name in generated code is an identifier, and its free names are the
  user's own, sct's helpers, or harmless builtins;
* strings, function names and paths from the user end up as data (string
  literals, escaped docstrings), never as code, in generated and exported source;
* ``sct export`` writes only to the path it is given, and never overwrites a
  file without ``--force``.
"""

import ast
import builtins
import io
import keyword
import tokenize
from pathlib import Path

import numpy as np
import programs as P
from hypothesis import given, settings
from hypothesis import strategies as st

import sct
from sct import pipeline
from sct.backend import codegen, dispatch, variants

SCT = Path(sct.__file__).parent

# (file, builtin): why it is safe.
ALLOWED = {
    ("codegen.py", "compile"): "compiles the generated function: text built from an AST by ast.unparse",
    ("dispatch.py", "compile"): "the cache guard and call dispatcher: text of generated names only (cell0, a0, ...)",
    ("dispatch.py", "exec"): "runs that text, defining one function",
    ("export.py", "compile"): "syntax-checks the exported module; nothing is run",
    ("commands.py", "compile"): "loads the user's own FILE.py, as `python FILE.py` would",
    ("commands.py", "exec"): "runs the user's own FILE.py to get the function to differentiate",
    ("cache.py", "open"): "reads and writes the persistent cache's entries, in SCT_CACHE_DIR only",
    ("native.py", "compile"): "backend='numba': compiles the generated function's text (an AST unparsed)",
    ("native.py", "exec"): "runs that text, defining the one function numba.njit compiles",
    ("native_exact.py", "exec"): "defines sct_pow, Python's float power for numba: a constant string of sct's own",
    ("revolve.py", "exec"): "defines the revolve schedule helpers for numba.njit: sct's own source, read by inspect",
}
# (file, module): why it may import a module that can load code
IMPORTS = {
    ("cache.py", "marshal"): "the persistent cache's entries: generated code, marshalled as in .pyc files",
    ("__init__.py", "importlib"): "sct's and sct.backend's __getattr__ (PEP 562): sct's own modules, fixed names",
}
DANGEROUS = {"eval", "exec", "compile", "__import__", "breakpoint", "input", "open"}


def _calls_to_dangerous_builtins(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in DANGEROUS:
                yield func.id, node.lineno
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in DANGEROUS - {"compile"}
                and isinstance(func.value, ast.Name)
                and func.value.id in ("builtins", "importlib")
            ):
                yield func.attr, node.lineno
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            risky = [n for n in names if n in ("importlib", "runpy", "pickle", "marshal")]
            assert all((path.name, n) in IMPORTS for n in risky) or path.name == "commands.py", (
                f"{path.name}:{node.lineno} imports {names}"
            )


def test_no_eval_or_exec_outside_the_known_places():
    found = set()
    for path in sorted(SCT.rglob("*.py")):
        for name, lineno in _calls_to_dangerous_builtins(path):
            key = (path.name, name)
            assert key in ALLOWED, f"sct/{path.relative_to(SCT)}:{lineno} calls {name}()"
            found.add(key)
    assert ("codegen.py", "compile") in found  # the scan does see calls


def test_cache_guard_text_holds_no_user_names():
    scope = {'a") or __import__("os': np.sin}
    fresh = dispatch.guard_function(((), ((scope, 'a") or __import__("os', np.sin),), ()))
    assert fresh()
    scope['a") or __import__("os'] = np.cos
    assert not fresh()


# ---- names in generated code --------------------------------------------------------------------
UNSAFE_FREE = DANGEROUS | {"getattr", "setattr", "delattr", "globals", "locals", "vars", "exit", "quit"}


def _free_names(tree) -> set:
    stored, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store | ast.Del) else loaded).add(node.id)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            stored.add(node.name)
    return loaded - stored


def _all_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.FunctionDef):
            yield node.name
        elif isinstance(node, ast.Attribute):
            yield node.attr


def check_generated(fn, wrt):
    user_tree = ast.parse(Path(fn.__code__.co_filename).read_text())
    user_names = {n.id for n in ast.walk(user_tree) if isinstance(n, ast.Name)}
    for mode in ("reverse", "forward"):
        try:
            text = sct.source(fn, wrt=wrt, mode=mode)
        except sct.SctError:
            continue
        tree = ast.parse(text)
        for name in _all_names(tree):
            assert name.isidentifier() and not keyword.iskeyword(name), name
        variant = pipeline.compiled(fn, list(wrt), variants._annotated_signature(fn), many=True)
        ours = set(codegen.BASE_NAMESPACE) | set(variant.helpers)
        free = _free_names(tree) - user_names - ours
        assert free <= set(dir(builtins)) - UNSAFE_FREE, f"{mode}: generated code reads {free}\n{text}"


@settings(suppress_health_check=list(__import__("hypothesis").HealthCheck))
@given(P.programs(control=True))
def test_generated_code_uses_only_identifiers_and_known_free_names(program):
    fn = P.load(program)
    check_generated(fn, tuple(range(len(program.params))))


# ---- user strings stay data ------------------------------------------------------------------------
STRINGS = '''import numpy as np

PWNED = []


def helper(v):
    """A docstring with code in it:
    PWNED.append("helper")
    """
    return v * 2.0


def f(x):
    """Docstring.\\nPWNED.append("docstring")"""
    y = x * len("""a
PWNED.append("string")
""")
    z = np.sin(y) + np.cos(x) * len('b\\n    PWNED.append("escaped")')
    return helper(z * y)
'''


def _name_tokens(text):
    return {t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME}


def test_user_strings_are_never_code_in_generated_or_exported_source():
    module = P.load(STRINGS, name=None)
    g = sct.grad(module.f)
    value = g(0.7)
    assert np.isfinite(value)
    assert "PWNED" not in _name_tokens(g.source)
    from sct.export import export_source

    text = export_source(module.f)
    assert "PWNED" not in _name_tokens(text)
    exported = P.load(text, name=None)
    assert exported.gradient(0.7) == value
    assert module.PWNED == [] and not hasattr(exported, "PWNED")


def test_crafted_function_name_cannot_inject_code_into_export():
    module = P.load("import numpy as np\n\nPWNED = []\n\n\ndef f(x):\n    return np.sin(x) * x\n", name=None)
    for crafted in ('f"""\nPWNED.append(1)\n"""', 'f""""\n    PWNED.append(2)\n    """', "f\\"):
        module.f.__name__ = module.f.__qualname__ = crafted
        from sct.export import export_source

        text = export_source(module.f, origin=crafted, command=crafted)
        exported = P.load(text, name=None)
        assert "PWNED" not in _name_tokens(text)
        assert exported.gradient(0.5) == sct.grad(module.f)(0.5)


def test_export_refuses_a_helper_whose_name_is_not_an_identifier():
    from sct.export import ExportError, export_source

    module = P.load("def helper(v):\n    return v * v\n\n\ndef f(x):\n    return helper(x)\n", name=None)
    module.helper.__name__ = "h = 1\nimport os\nh"
    try:
        text = export_source(module.f)
    except ExportError as exc:
        assert "not an identifier" in str(exc)
    else:
        assert "import os" not in text


# ---- sct export writes only where it is told ------------------------------------------------------
def test_export_writes_only_the_given_path_and_never_overwrites_without_force(tmp_path, capsys):
    from sct.cli.commands import main

    source = tmp_path / "model.py"
    source.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(np.tanh(x))\n")
    out = tmp_path / "out" / "grad_model.py"
    out.parent.mkdir()
    out.write_text("# precious\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["export", f"{source}:f", "-o", str(out)]) == 2
    assert out.read_text() == "# precious\n"
    assert "--force" in capsys.readouterr().err
    assert main(["export", f"{source}:f", "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith('"""')
    after = sorted(p.name for p in tmp_path.rglob("*") if p.name != "__pycache__" and p.suffix != ".pyc")
    assert after == before


@given(st.sampled_from(["..", "", "/", "-o"]))
@settings(max_examples=4)
def test_export_to_odd_paths_is_a_clean_usage_error(path):
    from sct.cli.commands import main

    model = Path(P.load("def f(x):\n    return x * x\n").__code__.co_filename)
    code = main(["export", f"{model}:f", "-o", path])
    assert code in (0, 2)
