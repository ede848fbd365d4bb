"""Nothing lost: the compile cache under threads, and never a stale gradient.

A compiled variant is reused only while the names it was compiled against mean
the same objects: a redefined function, a rebound closure cell, a module global
rebound to another function, a replaced ``__code__``, all get a fresh compile;
plain data globals (numbers, arrays) are read live and need none.
"""

import threading

import numpy as np
import programs as P
import pytest

import sct
from sct import pipeline


def compiles():
    return pipeline.STATS["compiles"]


# ---- threads -------------------------------------------------------------------------------
POWER = "import numpy as np\n\n\ndef f(x):\n    return np.sum(np.sin(x) * x ** {k})\n"


def expected_power_grad(x, k):
    return np.cos(x) * x**k + np.sin(x) * k * x ** (k - 1)


def test_threads_compile_each_function_and_signature_once():
    functions = {k: P.load(POWER.format(k=k)) for k in (1, 2, 3, 4)}
    shared = {k: sct.grad(fn) for k, fn in functions.items()}  # one Grad object used by all threads
    inputs = [1.3, np.linspace(0.5, 1.5, 3), np.linspace(0.5, 1.5, 6).reshape(2, 3)]
    tasks = [(k, i) for k in functions for i in range(len(inputs))] * 3
    n_threads = 8
    start = threading.Barrier(n_threads)
    failures, before = [], compiles()

    def work(seed):
        order = np.random.default_rng(seed).permutation(len(tasks))
        start.wait()
        for t in order:
            k, i = tasks[t]
            g = shared[k] if t % 2 else sct.grad(functions[k])  # shared and fresh wrappers
            try:
                got = g(inputs[i])
                np.testing.assert_allclose(got, expected_power_grad(inputs[i], k), rtol=1e-12)
                assert np.shape(got) == np.shape(inputs[i])
            except Exception as exc:  # collected: an assert in a thread would be lost
                failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert compiles() - before == len(functions) * len(inputs)


def test_threads_changing_a_closure_while_others_differentiate(no_validation):
    # no_validation: c changes between the generated call and validation's call of f (not a bug)
    source = (
        "def make():\n"
        "    c = 1.0\n"
        "\n"
        "    def f(x):\n"
        "        return c * x * x\n"
        "\n"
        "    def set_c(value):\n"
        "        nonlocal c\n"
        "        c = value\n"
        "\n"
        "    return f, set_c\n"
    )
    f, set_c = P.load(source, "make")()
    g = sct.grad(f)
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(g(1.0))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for c in (2.0, 3.0, 4.0):
        set_c(c)
        assert g(1.0) == 2.0 * c  # this thread sees its own change at once
    stop.set()
    for t in threads:
        t.join()
    assert set(seen) <= {2.0, 4.0, 6.0, 8.0}


# ---- redefinition ---------------------------------------------------------------------------
def test_function_redefined_with_the_same_name_in_the_same_file():
    module = P.load("def f(x):\n    return x * x\n", name=None)
    path = module.f.__code__.co_filename
    old = sct.grad(module.f)
    assert old(3.0) == 6.0
    for k in range(3, 8):  # rewrite the file and re-run it in the same module, like reload()
        text = f"def f(x):\n    return x ** {k}\n"
        with open(path, "w") as fh:
            fh.write(text)
        exec(compile(text, path, "exec"), module.__dict__)
        assert sct.grad(module.f)(2.0) == pytest.approx(k * 2.0 ** (k - 1))
    assert old(3.0) == 6.0  # the gradient of the old function object is still the old one


def test_redefined_function_reusing_a_freed_id_is_not_stale():
    results = []
    for k in range(2, 12):
        fn = P.load(f"def f(x):\n    return x ** {k}\n")
        results.append(sct.grad(fn)(1.5) - k * 1.5 ** (k - 1))
        del fn  # the next function object may reuse this one's id
    assert max(abs(r) for r in results) < 1e-12


def test_replaced_code_object_is_recompiled():
    f = P.load("def f(x):\n    return x * x\n")
    cube = P.load("def f(x):\n    return x * x * x\n")
    g = sct.grad(f)
    assert g(2.0) == 4.0
    f.__code__ = cube.__code__
    assert g(2.0) == 12.0


# ---- closures --------------------------------------------------------------------------------
CLOSURE = (
    "import numpy as np\n"
    "\n"
    "\n"
    "def make(c, act):\n"
    "    def f(x):\n"
    "        return np.sum(act(x) * c)\n"
    "\n"
    "    def set(new_c, new_act):\n"
    "        nonlocal c, act\n"
    "        c, act = new_c, new_act\n"
    "\n"
    "    return f, set\n"
)


def test_changed_closure_constant_gives_the_new_gradient():
    f, set_ = P.load(CLOSURE, "make")(2.0, np.sin)
    g = sct.grad(f)
    assert g(0.5) == pytest.approx(2.0 * np.cos(0.5))
    set_(5.0, np.sin)
    assert g(0.5) == pytest.approx(5.0 * np.cos(0.5))
    assert sct.value_and_grad(f)(0.5)[1] == pytest.approx(5.0 * np.cos(0.5))
    before = compiles()
    for _ in range(3):
        g(0.5)
    assert compiles() == before  # recompiled once, then reused


def test_changed_closure_function_gives_the_new_rule():
    f, set_ = P.load(CLOSURE, "make")(1.0, np.sin)
    g = sct.grad(f)
    assert g(0.5) == pytest.approx(np.cos(0.5))
    set_(1.0, np.cos)
    assert g(0.5) == pytest.approx(-np.sin(0.5))
    assert "sin" in sct.source(f)


def test_closures_made_by_the_same_factory_do_not_share_gradients():
    make = P.load(CLOSURE, "make")
    f2, _ = make(2.0, np.sin)
    f3, _ = make(3.0, np.tanh)
    assert sct.grad(f2)(0.5) == pytest.approx(2.0 * np.cos(0.5))
    assert sct.grad(f3)(0.5) == pytest.approx(3.0 * (1 - np.tanh(0.5) ** 2))


# ---- module globals ----------------------------------------------------------------------------
GLOBALS = "import numpy as np\n\nC = 2.0\nact = np.sin\n\n\ndef f(x):\n    return np.sum(C * act(x))\n"


def test_changed_global_number_is_read_live_without_recompiling():
    module = P.load(GLOBALS, name=None)
    g = sct.grad(module.f)
    assert g(0.5) == pytest.approx(2.0 * np.cos(0.5))
    before = compiles()
    module.C = 7.0
    assert g(0.5) == pytest.approx(7.0 * np.cos(0.5))
    assert compiles() == before


def test_global_number_becoming_an_array_still_gives_the_right_gradient():
    module = P.load(GLOBALS, name=None)
    g = sct.grad(module.f)
    assert g(0.5) == pytest.approx(2.0 * np.cos(0.5))
    module.C = np.array([1.0, 2.0, 3.0])
    assert g(0.5) == pytest.approx(6.0 * np.cos(0.5))


def test_global_rebound_to_another_function_gets_its_rule():
    module = P.load(GLOBALS, name=None)
    g = sct.grad(module.f)
    assert g(0.5) == pytest.approx(2.0 * np.cos(0.5))
    sin_source = g.source
    module.act = np.tanh
    assert g(0.5) == pytest.approx(2.0 * (1 - np.tanh(0.5) ** 2))
    assert g.source != sin_source


def test_global_shadowing_a_builtin_later_is_noticed():
    module = P.load("def f(x):\n    return abs(x) * x\n", name=None)
    g = sct.grad(module.f)
    assert g(-2.0) == pytest.approx(4.0)  # d(|x| x)/dx = 2|x|
    module.abs = np.square
    assert g(-2.0) == pytest.approx(12.0)  # d(x^3)/dx


# ---- what a cache hit costs --------------------------------------------------------------------
def test_fresh_variant_checks_are_identity_tests_only():
    f, _ = P.load(CLOSURE, "make")(2.0, np.sin)
    sct.grad(f)(0.5)
    variant = next(iter(pipeline._CACHE[f].values()))
    cells, names, codes = variant.guards
    assert len(cells) == 2 and len(codes) == 1
    assert all(name != "C" for _, name, _ in names)  # data globals are not guarded
    assert variant.fresh()


def test_a_function_reached_through_a_module_rebound_later_gets_the_new_gradient():
    """``lib.g`` is inlined: rebinding it in ``lib`` must not serve the old gradient (it did, silently)."""
    lib = P.load("import numpy as np\n\n\ndef g(v):\n    return np.sin(v) * 2.0\n", name=None)
    module = P.load("import numpy as np\n\n\ndef f(x):\n    return np.sum(lib.g(x))\n", name=None)
    module.lib = lib
    x = np.array([0.3, 0.5])
    g = sct.grad(module.f)
    assert np.allclose(g(x), 2.0 * np.cos(x))
    assert np.allclose(g(x), 2.0 * np.cos(x))  # the dispatcher's path too
    lib.g = lambda v: np.cos(v)
    assert np.allclose(g(x), -np.sin(x))
    assert np.allclose(sct.grad(module.f)(x), -np.sin(x))
