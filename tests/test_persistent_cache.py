"""The persistent cache (sct.backend.cache): generated code reused by later processes, never stale.

Most tests run fresh Python processes against a temporary cache directory: a first one
compiles and stores, a later one must reuse exactly what is still valid and nothing else.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import numpy as np
import programs as P
import pytest

import sct
from sct import api, pipeline
from sct.backend import cache
from sct.cli import commands as cli

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """\
import json, sys
import numpy as np
import sct
from sct import api, pipeline
from sct.backend import cache


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return ["array", v.dtype.str, v.tolist()]
    return [type(v).__name__, float(v)]


def report(**results):
    stats = {"compiles": pipeline.STATS["compiles"], **cache.STATS}
    print(json.dumps({"results": plain(results), "stats": stats}))
"""


def run(code: str, modules: Path, cache_dir: Path, package: Path = ROOT, **env) -> dict:
    """Run ``code`` in a fresh process with the cache on; returns what it ``report``-ed."""
    environment = {**os.environ, "SCT_CACHE": "1", "SCT_CACHE_DIR": str(cache_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    environment["PYTHONPATH"] = os.pathsep.join([str(modules), str(package)])
    environment.pop("SCT_VALIDATE", None)
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(modules),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(text))


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "modules", tmp_path / "cache"


# ---- reuse -----------------------------------------------------------------------------------
MODELS = """\
import numpy as np


def seed(x, y):
    return (x + 1.0 / (1.0 + np.exp(-y))) / (x ** 2 + y)


def helper(v, k=2.0):
    return np.tanh(v) * k


def net(W, x):
    return np.sum(helper(W @ x) ** 2)


def nested(p):
    return p["a"] * np.sum(p["b"][0] ** 2) + p["b"][1]


def aux(x):
    return np.sum(x ** 2), np.max(x)


def loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
    return np.sum(s)


def power(x):
    return x ** 2.5 + abs(x)
"""

USE_MODELS = """\
import models as m

rng = np.random.default_rng(0)
W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
p = {"a": 1.5, "b": [x, 0.5]}
out, back = sct.vjp(m.net, W, x)
report(
    seed=sct.grad(m.seed, wrt=(0, 1))(1.5, 2.0),
    seed_arrays=sct.value_and_grad(m.seed, wrt="y")(np.array(1.5), np.array(2.0)),
    net=sct.value_and_grad(m.net, wrt=(0, 1))(W, x),
    nested=sct.grad(m.nested)(p),
    aux=sct.grad(m.aux, has_aux=True)(x),
    loop=sct.grad(m.loop)(x, 3),
    power=[sct.grad(m.power)(v) for v in (0.7, 1.3)],
    vjp=[out, back(1.0)],
    jvp=sct.jvp(m.seed, (1.5, 2.0), (1.0, 0.5)),
    hessian=sct.hessian(m.seed)(1.5, 2.0),
    source=[len(sct.grad(m.net).source)],
)
"""


def test_a_second_process_reuses_the_code_and_gets_the_same_numbers(dirs):
    modules, cache_dir = dirs
    write(modules, "models", MODELS)
    first = run(USE_MODELS, modules, cache_dir)
    assert first["stats"]["compiles"] > 0 and first["stats"]["stores"] > 0 and first["stats"]["hits"] == 0
    second = run(USE_MODELS, modules, cache_dir)
    assert second["results"] == first["results"]  # bit for bit, types included
    assert second["stats"]["hits"] == first["stats"]["stores"] and second["stats"]["stores"] == 0
    assert second["stats"]["compiles"] < first["stats"]["compiles"]
    assert len(cache.entries(str(cache_dir))) == first["stats"]["stores"]


def test_the_numbers_are_right(dirs):
    """What a hit serves is the gradient (central differences), not only what the first process computed."""
    modules, cache_dir = dirs
    write(modules, "models", MODELS)
    code = """\
    import models as m
    from sct.testing import check_grads

    x = np.random.default_rng(1).standard_normal(4)
    W = np.random.default_rng(2).standard_normal((3, 4))
    check_grads(m.net, (W, x), modes=("rev",), order=1)
    check_grads(m.seed, (1.5, 2.0), modes=("rev",), order=1)
    check_grads(m.loop, (x, 3), modes=("rev",), order=1)
    report()
    """
    run(code, modules, cache_dir)
    assert run(code, modules, cache_dir)["stats"]["hits"] > 0


# ---- never stale -------------------------------------------------------------------------------
def test_an_edited_module_is_compiled_again(dirs):
    modules, cache_dir = dirs
    code = """\
    import main
    report(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))
    """
    x = np.linspace(0.1, 1.0, 3)
    write(modules, "main", "import numpy as np\n\ndef f(x):\n    return np.sum(np.sin(x) * x)\n")
    first = run(code, modules, cache_dir)
    np.testing.assert_allclose(first["results"]["g"][2], np.cos(x) * x + np.sin(x))
    write(modules, "main", "import numpy as np\n\ndef f(x):\n    return np.sum(np.cos(x) * x)\n")  # same size
    second = run(code, modules, cache_dir)
    assert second["stats"]["hits"] == 0 and second["stats"]["compiles"] == 1
    np.testing.assert_allclose(second["results"]["g"][2], -np.sin(x) * x + np.cos(x))
    write(modules, "main", "import numpy as np\n\ndef f(x):\n    # a comment\n    return np.sum(np.cos(x) * x)\n")
    third = run(code, modules, cache_dir)  # the line numbers moved: compiled again, the same numbers
    assert third["results"] == second["results"] and third["stats"]["hits"] == 0
    assert run(code, modules, cache_dir)["stats"]["hits"] == 1


def test_an_edited_callee_or_default_in_another_module_is_compiled_again(dirs):
    modules, cache_dir = dirs
    code = """\
    import main
    report(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))
    """
    write(modules, "main", "import numpy as np\nfrom lib import g\n\ndef f(x):\n    return np.sum(g(x))\n")
    x = np.linspace(0.1, 1.0, 3)
    versions = [
        ("def g(v, k=2.0):\n    return k * np.sin(v)\n", 2.0 * np.cos(x)),
        ("def g(v, k=3.0):\n    return k * np.sin(v)\n", 3.0 * np.cos(x)),
        ("def g(v, k=3.0):\n    return k * np.exp(v)\n", 3.0 * np.exp(x)),
    ]
    for body, expected in versions:
        write(modules, "lib", "import numpy as np\n\n" + body)
        got = run(code, modules, cache_dir)
        assert got["stats"]["hits"] == 0
        np.testing.assert_allclose(got["results"]["g"][2], expected)
    assert run(code, modules, cache_dir)["stats"]["hits"] == 1


def test_an_edited_function_reached_through_a_module_is_compiled_again(dirs):
    """``lib.g(x)`` and ``pkg.sub.h(x)``: sct inlines their bodies, though f names only the modules."""
    modules, cache_dir = dirs
    write(
        modules,
        "main",
        "import numpy as np\nimport lib\nimport pkg.sub\n\n"
        "def f(x):\n    return np.sum(lib.g(x)) + np.sum(pkg.sub.h(x))\n",
    )
    write(modules / "pkg", "__init__", "")
    code = "import main\nreport(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))\n"
    x = np.linspace(0.1, 1.0, 3)
    versions = [
        ("2.0 * np.sin(v)", "np.exp(v)", 2.0 * np.cos(x) + np.exp(x)),
        ("3.0 * np.sin(v)", "np.exp(v)", 3.0 * np.cos(x) + np.exp(x)),
        ("3.0 * np.sin(v)", "np.exp(2.0 * v)", 3.0 * np.cos(x) + 2.0 * np.exp(2.0 * x)),
    ]
    for g, h, expected in versions:
        write(modules, "lib", f"import numpy as np\n\ndef g(v):\n    return {g}\n")
        write(modules / "pkg", "sub", f"import numpy as np\n\ndef h(v):\n    return {h}\n")
        got = run(code, modules, cache_dir)
        assert got["stats"]["hits"] == 0
        np.testing.assert_allclose(got["results"]["g"][2], expected)
    assert run(code, modules, cache_dir)["stats"]["hits"] == 1


def test_globals_and_closures_are_part_of_the_key(dirs):
    modules, cache_dir = dirs
    write(
        modules,
        "main",
        """\
        import os
        import numpy as np

        ACT = np.sin if os.environ["WHICH"] == "sin" else np.cos
        SCALE = float(os.environ["SCALE"])


        def f(x):
            return np.sum(ACT(x))


        def make(k):
            def inner(x):
                return np.sum(k * x ** 2)

            return inner


        closed = make(SCALE)
        holding_array = make(np.full(3, SCALE))
        """,
    )
    code = """\
    import main
    x = np.linspace(0.1, 1.0, 3)
    report(f=sct.grad(main.f)(x), closed=sct.grad(main.closed)(x), array=sct.grad(main.holding_array)(x))
    """
    x = np.linspace(0.1, 1.0, 3)
    for which, scale in [("sin", 2.0), ("cos", 2.0), ("cos", 3.0), ("sin", 3.0)]:
        got = run(code, modules, cache_dir, WHICH=which, SCALE=str(scale))
        np.testing.assert_allclose(got["results"]["f"][2], np.cos(x) if which == "sin" else -np.sin(x))
        np.testing.assert_allclose(got["results"]["closed"][2], 2 * scale * x)
        np.testing.assert_allclose(got["results"]["array"][2], 2 * scale * x)
        assert got["stats"]["uncacheable"] >= 1  # the closure holding an array: never stored
    again = run(code, modules, cache_dir, WHICH="sin", SCALE="3.0")
    assert again["stats"]["hits"] == 2 and again["stats"]["compiles"] == 1  # the array's closure again


def test_a_rule_registered_in_one_process_is_not_served_to_another(dirs):
    modules, cache_dir = dirs
    write(
        modules,
        "main",
        """\
        import numpy as np


        def g(v):
            return np.sin(v)


        def g_rule(grad, ans, v):
            return 2.0 * grad * np.cos(v)


        def f(x):
            return np.sum(g(x))
        """,
    )
    code = """\
    import os
    import main
    if os.environ.get("REGISTER"):
        sct.defvjp(main.g, main.g_rule)
    report(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))
    """
    x = np.linspace(0.1, 1.0, 3)
    for register, factor in [("1", 2.0), ("", 1.0), ("1", 2.0), ("", 1.0)]:
        got = run(code, modules, cache_dir, REGISTER=register)
        np.testing.assert_allclose(got["results"]["g"][2], factor * np.cos(x))
    assert got["stats"]["hits"] == 1  # the last two were served from the cache


def test_custom_vjp_rules_are_compiled_in_each_process(dirs):
    """The generated code calls a wrapper sct made for the rule: not rebuildable by name, so never stored."""
    modules, cache_dir = dirs
    write(
        modules,
        "main",
        """\
        import numpy as np
        import sct


        @sct.custom_vjp
        def clip(x):
            return x


        def clip_fwd(x):
            return x, None


        def clip_bwd(res, g):
            return (np.clip(g, -1.0, 1.0),)


        clip.defvjp(clip_fwd, clip_bwd)


        def f(x):
            return np.sum(clip(x * 3.0))
        """,
    )
    code = "import main\nreport(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))\n"
    for _ in range(2):
        got = run(code, modules, cache_dir)
        np.testing.assert_allclose(got["results"]["g"][2], [3.0, 3.0, 3.0])
        assert got["stats"]["hits"] == 0 and got["stats"]["uncacheable"] >= 1
    assert cache.entries(str(cache_dir)) == []


def test_a_changed_rule_or_version_is_never_served_stale(tmp_path):
    """A copy of sct with one rule edited: the next process compiles with the new rule."""
    modules, cache_dir, package = tmp_path / "modules", tmp_path / "cache", tmp_path / "package"
    shutil.copytree(ROOT / "sct", package / "sct", ignore=shutil.ignore_patterns("__pycache__"))
    write(modules, "main", "import numpy as np\n\ndef f(x):\n    return np.sum(np.sin(x))\n")
    code = """\
    import main
    import os
    assert sct.__file__.startswith(os.environ["PACKAGE"])
    if os.environ.get("VERSION"):
        sct.version.__version__ = os.environ["VERSION"]
    report(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 3)))
    """
    x = np.linspace(0.1, 1.0, 3)
    first = run(code, modules, cache_dir, package=package, PACKAGE=str(package))
    np.testing.assert_allclose(first["results"]["g"][2], np.cos(x))
    assert run(code, modules, cache_dir, package=package, PACKAGE=str(package))["stats"]["hits"] == 1
    rules = package / "sct" / "rules" / "np_elementwise.py"
    text = rules.read_text()
    old = "_unary(np.sin, lambda g, ans, x: g * np.cos(x))"
    assert old in text
    rules.write_text(text.replace(old, "_unary(np.sin, lambda g, ans, x: g * 2.0 * np.cos(x))"))
    edited = run(code, modules, cache_dir, package=package, PACKAGE=str(package))
    assert edited["stats"]["hits"] == 0
    np.testing.assert_allclose(edited["results"]["g"][2], 2.0 * np.cos(x))  # the new rule, not the stored code
    other = run(code, modules, cache_dir, package=package, PACKAGE=str(package), VERSION="99.0")
    assert other["stats"]["hits"] == 0 and other["stats"]["stores"] == 1


# ---- concurrency -------------------------------------------------------------------------------
RACE = """\
import os, time
import main
from sct.analysis.shapes import pattern_of
from sct.backend import variants

x = np.linspace(0.1, 1.0, 5)
gradient = sct.grad(main.f)
expected = gradient(x)
sig = variants.signature((x,))
options = {"split": False, "has_aux": False, "optimize": True, "many": False, "mode": "reverse",
           "unit_seed": True, "grads_only": True, "shapes": pattern_of((x,))}  # as a call of gradient compiles
name = cache.key(main.f, [0], sig, options, variants._guards(main.f))
variant = pipeline.compiled(main.f, [0], sig, **options)
start = float(os.environ["START"])
while time.time() < start:
    pass
bad = rounds = 0
while time.time() < start + 1.5 or rounds < 50:  # together for a second and a half
    rounds += 1
    assert cache.store(name, main.f, variant)
    found = cache.load(name, main.f)
    if found is None or not np.array_equal(found.function(x), expected):
        bad += 1
report(bad=bad, rounds=rounds)
"""


def test_two_processes_writing_the_same_entry(dirs):
    modules, cache_dir = dirs
    write(modules, "main", "import numpy as np\n\ndef f(x):\n    return np.sum(np.tanh(x) * x)\n")
    start = str(time.time() + 4.0)  # both past their imports by then: they store and load together
    environment = {**os.environ, "SCT_CACHE": "1", "SCT_CACHE_DIR": str(cache_dir), "START": start}
    environment["PYTHONPATH"] = os.pathsep.join([str(modules), str(ROOT)])
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", PRELUDE + RACE], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err.decode()
        assert json.loads(out.decode().splitlines()[-1])["results"]["bad"] == ["int", 0.0]
    assert len(cache.entries(str(cache_dir))) == 1
    left = [p for p in os.listdir(cache_dir) if not p.endswith(cache.SUFFIX) and p not in cache.BOOKKEEPING]
    assert not left  # no temporary file left
    code = "import main\nreport(g=sct.grad(main.f)(np.linspace(0.1, 1.0, 5)))\n"
    assert run(code, modules, cache_dir)["stats"]["hits"] == 1


# ---- in this process -----------------------------------------------------------------------------
@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """The cache on, in ``tmp_path``; nothing compiled in this process yet."""
    monkeypatch.setenv("SCT_CACHE", "1")
    monkeypatch.setenv("SCT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    # rules other tests registered in this process are no part of these keys (a process that registers
    # one is test_a_rule_registered_in_one_process_is_not_served_to_another)
    monkeypatch.setattr(cache, "_user_rules", lambda: ())
    return tmp_path


SOURCE = "import numpy as np\n\n\ndef f(x, y):\n    return np.sum(np.sin(x) * y) + y ** 2\n"


def test_cache_off_writes_nothing(fresh, monkeypatch):
    monkeypatch.setenv("SCT_CACHE", "0")
    f = P.load(SOURCE)
    x = np.linspace(0.0, 1.0, 3)
    np.testing.assert_allclose(sct.grad(f)(x, 2.0), 2.0 * np.cos(x))
    assert cache.key(f, [0], (), {}, ((), (), ())) is None
    assert cache.entries(str(fresh)) == []


def test_in_process_hit_after_the_memory_cache_is_gone(fresh, monkeypatch):
    f = P.load(SOURCE)
    x = np.linspace(0.0, 1.0, 3)
    before = dict(cache.STATS)
    first = sct.value_and_grad(f, wrt=(0, 1))(x, 2.0)
    stored = cache.STATS["stores"] - before["stores"]  # two where validation compiles one to compare with
    assert stored >= 1 and len(cache.entries()) == stored
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    compiles = pipeline.STATS["compiles"]
    again = sct.value_and_grad(f, wrt=(0, 1))(x, 2.0)
    assert pipeline.STATS["compiles"] == compiles and cache.STATS["hits"] == before["hits"] + 1
    assert again[0] == first[0]
    for a, b in zip(again[1], first[1]):
        np.testing.assert_array_equal(a, b)


def test_an_unreadable_entry_is_compiled_again(fresh, monkeypatch):
    f = P.load(SOURCE)
    x = np.linspace(0.0, 1.0, 3)
    sct.grad(f)(x, 2.0)
    for entry in cache.entries():
        Path(entry).write_bytes(b"not an entry")
    monkeypatch.setattr(pipeline, "_CACHE", weakref.WeakKeyDictionary())
    monkeypatch.setattr(api, "_VARIANTS", weakref.WeakKeyDictionary())
    np.testing.assert_allclose(sct.grad(f)(x, 2.0), 2.0 * np.cos(x))
    assert all(cache.describe_entry(entry) is not None for entry in cache.entries())  # written again


def test_the_cache_command(fresh, capsys):
    f = P.load(SOURCE)
    sct.grad(f)(np.linspace(0.0, 1.0, 3), 2.0)
    n = len(cache.entries())
    assert n >= 1
    assert cli.main(["cache", "info", "--list"]) == 0
    out = capsys.readouterr().out
    assert str(fresh) in out and f"entries: {n} (" in out and out.count(f"{f.__module__}.f ") == n
    assert cli.main(["cache", "clear"]) == 0
    assert f"removed {n} entr" in capsys.readouterr().out
    assert cache.entries() == []
    assert cli.main(["cache", "info"]) == 0
    assert "entries: 0" in capsys.readouterr().out


def test_the_default_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("SCT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.directory() == str(tmp_path / "sct")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.directory() == os.path.join(os.path.expanduser("~"), ".cache", "sct")


def test_an_object_argument_and_its_class(dirs):
    """An object passed in: its methods are inlined; its class, with what the class body defines, is in the key."""
    modules, cache_dir = dirs
    write(
        modules,
        "main",
        """\
        import os
        import numpy as np


        class Model:
            scale = float(os.environ["SCALE"])

            def __init__(self, w):
                self.w = w

            def loss(self, x):
                return self.scale * np.sum(self.w * x ** 2)


        def f(m, x):
            return m.loss(x)
        """,
    )
    code = """\
    import main
    report(g=sct.grad(main.f, wrt=1)(main.Model(np.ones(3)), np.linspace(0.1, 1.0, 3)))
    """
    x = np.linspace(0.1, 1.0, 3)
    for scale, hits in [("2.0", 0), ("3.0", 0), ("2.0", 1)]:
        got = run(code, modules, cache_dir, SCALE=scale)
        np.testing.assert_allclose(got["results"]["g"][2], 2 * float(scale) * x)
        assert got["stats"]["hits"] == hits
