"""Adjoint liveness (sct/passes/liveness.py): ``del`` lines release values where they die, and change no number.

Each generated function is compared with its twin: the same source with the ``del`` lines taken
out (``liveness.strip``), compiled the same way. The two must give identical results (the lines
only drop references), and running the one with ``del`` shows any name released too early (a
``NameError`` or ``UnboundLocalError``). Peak memory is compared with hand-written backprop as a
ratio (tracemalloc), not a time.
"""

import copy
import importlib.util
import math
import sys
import tracemalloc
from pathlib import Path

import functions as F
import gast
import numpy as np
import programs as P
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sct
from sct import api, pipeline
from sct.backend import codegen
from sct.backend.variants import _annotated_signature
from sct.passes import liveness

ROOT = Path(__file__).resolve().parent.parent


def twins(fn, wrt, args=None, **options):
    """The variant of ``fn`` for ``args`` (shape-generic where None) and its twin without ``del`` lines."""
    positions, many = api.resolve_wrt(fn, wrt)
    sig = pipeline.signature(args) if args is not None else _annotated_signature(fn)
    variant = pipeline.compiled(fn, positions, sig, many=many, **options)
    tree = liveness.strip(gast.parse(variant.source).body[0])
    assert "del " not in codegen.unparse(tree)
    twin = codegen.compile_source(
        codegen.unparse(tree), tree.name, variant.function.__globals__, variant.helpers, f"{tree.name}_twin"
    )
    return variant, twin


def assert_identical(a, b):
    """Same structure, same types, same numbers to the bit (NaNs equal)."""
    if isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_identical(a[k], b[k])
    else:
        assert type(a) is type(b), (a, b)
        np.testing.assert_array_equal(a, b)


def check_same_numbers(fn, wrt, args, specialised=True) -> str:
    """Run the variant with ``del`` lines and its twin on copies of ``args``; return the variant's source."""
    variant, twin = twins(fn, wrt, args if specialised else None)
    with np.errstate(all="ignore"):
        with_del = variant.function(*copy.deepcopy(args))
        without = twin(*copy.deepcopy(args))
    assert_identical(with_del, without)
    return variant.source


def _array_args(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [float(rng.normal()) if s == () else rng.normal(size=s) for s in shapes]


# ---- the corpus: same numbers with and without the releases ---------------------------------
@pytest.mark.parametrize("fn, shapes", F.ARRAY_CASES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("specialised", [True, False], ids=["specialised", "generic"])
def test_releases_change_no_number_on_the_array_corpus(fn, shapes, specialised):
    args = _array_args(shapes)
    source = check_same_numbers(fn, tuple(range(len(args))), args, specialised)
    if fn is F.mlp:
        assert "del " in source  # the test compares something


RNN_ARGS = (np.full((3, 2), 0.3), np.eye(3) * 0.5, np.full(3, 0.1), np.arange(8.0).reshape(4, 2) / 8)
INDEXED_ARGS = (0.3, np.array([0.9, -0.4, 1.3, 0.2, -1.1]))
CONTROL_CASES = F.SCALAR_CONTROL_CASES + [
    (F.rnn, RNN_ARGS),
    (F.relu_net, ([np.eye(3) - 0.2, np.full((2, 3), 0.3)], np.array([0.5, -1.0, 2.0]))),
    (F.rows, (np.arange(6.0).reshape(2, 3), np.array([0.5, -1.0, 2.0]))),
    (F.written, (np.array([0.5, -1.0, 2.0]),)),
    (F.loop_written, (np.array([0.5, -1.0, 2.0, 0.7]),)),
    (F.enumerate_zip, (np.array([1.0, 2.0, 0.5, 0.1]), np.array([3.0, 1.0, 2.0, 2.0]))),
    (F.grow_lists, ([np.array([1.0, 2.0]), np.array([0.5, 0.1]), np.array([3.0, 1.0])], 0.5)),
]


@pytest.mark.parametrize("fn, args", CONTROL_CASES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("specialised", [True, False], ids=["specialised", "generic"])
def test_releases_change_no_number_across_control_flow(fn, args, specialised):
    if not specialised and type(args[0]) is list and fn is F.horner_reversed:
        pytest.skip("the shape-generic variant (no annotations) is for arrays and numbers, not lists")
    try:
        check_same_numbers(fn, tuple(range(len(args))), list(args), specialised)
    except sct.SctError:  # a construct the generic variant cannot take (containers need their structure)
        assert not specialised
        pytest.skip("refused for this signature")


def test_the_gradients_still_match_central_differences():
    for fn, args in [(F.rnn, RNN_ARGS), (F.indexed_branches, INDEXED_ARGS)]:
        sct.check_grads(fn, args, modes=("rev", "fwd"))
    sct.check_grads(F.mlp, _array_args([(3, 4), (4,), (4, 2), (5, 3)]), modes=("rev", "fwd"), order=2)


def test_split_and_forward_modes_release_too():
    x = np.array([0.5, -1.0, 2.0])
    source = check_same_numbers(F.unary_chain, 0, [x])
    assert "del " in source
    out, vjp_fn = sct.vjp(F.unary_chain, x)
    np.testing.assert_allclose(vjp_fn(1.0)[0], sct.grad(F.unary_chain)(x), rtol=1e-14)
    forward = pipeline.compiled(F.unary_chain, [0], pipeline.signature([x]), mode="forward")
    assert "del " in forward.source
    tangent = sct.jvp(F.unary_chain, (x,), (np.ones(3),))[1]
    np.testing.assert_allclose(tangent, np.sum(sct.grad(F.unary_chain)(x)), rtol=1e-14)


# ---- random programs -------------------------------------------------------------------
@settings(suppress_health_check=list(HealthCheck), max_examples=40)
@given(P.programs(control=True, max_statements=5), st.integers(0, 2**32 - 1), st.booleans())
def test_random_programs_give_the_same_numbers_with_releases(program, seed, specialised):
    f = P.load(program)
    args = P.make_args(program, np.random.default_rng(seed))
    try:
        check_same_numbers(f, tuple(range(len(args))), args, specialised)
    except sct.SctError:
        assume(False)


@pytest.mark.parametrize("family", ["containers", "simultaneous", "targets", "dicts"])
def test_idiom_programs_give_the_same_numbers_with_releases(family):
    @settings(suppress_health_check=list(HealthCheck), max_examples=25)
    @given(P.idioms(family), st.integers(0, 2**32 - 1))
    def check(program, seed):
        f = P.load(program)
        args = P.make_args(program, np.random.default_rng(seed))
        try:
            check_same_numbers(f, tuple(range(len(args))), args)
        except sct.SctError:
            assume(False)

    check()


# ---- golden and example functions: no name is read after its release ---------------------
def _example(name: str):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sct_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_golden_functions_run_with_their_releases():
    sys.path.insert(0, str(ROOT / "tests"))
    from test_forward import golden_loop, golden_seed

    for x in (0.8, -0.3):
        check_same_numbers(F.loop_with_branch, 0, [x], specialised=False)
        check_same_numbers(F.branch, (0, 1), [x, 1.2], specialised=False)
    check_same_numbers(golden_seed, (0, 1), [0.7, 1.3], specialised=False)
    variant = pipeline.compiled(golden_loop, [0], _annotated_signature(golden_loop), mode="forward")
    for n in (3, 40):  # the loop runs out, or breaks
        assert variant.function(0.7, n, 1.0)[0] == golden_loop(0.7, n)


def test_example_functions_run_with_their_releases():
    mlp, rnn, relu, newton = (_example(n) for n in ("mlp", "rnn", "relu_net", "newton"))
    X, y = mlp.data(n=20)
    params = mlp.init(hidden=5)
    source = check_same_numbers(mlp.loss, (0, 1, 2, 3), [*params, X, y])
    assert "del " in source
    rng = np.random.default_rng(0)
    Wx, Wh, b, w_out = (rng.normal(size=s) * 0.3 for s in [(4,), (4, 4), (4,), (4,)])
    xs, targets = rng.normal(size=(6, 5)), rng.normal(size=(6,))
    check_same_numbers(rnn.loss, (0, 1, 2, 3), [Wx, Wh, b, w_out, xs, targets])
    check_same_numbers(rnn.loss, (0, 1, 2, 3), [Wx, Wh, b, w_out, xs, targets], specialised=False)
    Ws = [rng.normal(size=(4, 4)) for _ in range(3)]
    check_same_numbers(relu.loss, 0, [Ws, rng.normal(size=4), rng.normal(size=4)])
    check_same_numbers(newton.rosenbrock, 0, [np.array([0.3, -0.2, 1.1])])


# ---- where releases go, and where they do not ----------------------------------------------
def _released(source: str) -> set:
    lines = [line.strip() for line in source.splitlines()]
    return {n.strip() for line in lines if line.startswith("del ") for n in line[4:].split("#")[0].split(",")}


def test_nothing_defined_before_a_loop_is_released_inside_it():
    for fn, args in CONTROL_CASES:
        try:
            source = twins(fn, tuple(range(len(args))))[0].source
        except sct.SctError:
            continue
        tree = gast.parse(source).body[0]
        for loop in (n for n in gast.walk(tree) if isinstance(n, gast.For | gast.While)):
            before = _assigned_before(tree, loop)
            released = {t.id for n in gast.walk(loop) if isinstance(n, gast.Delete) for t in n.targets}
            assert not released & before, (fn.__name__, released & before)


def _assigned_before(tree, loop) -> set:
    names = {a.id for a in tree.args.args}
    for node in gast.walk(tree):
        if node is loop:
            continue
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and node.lineno < loop.lineno:
            names.add(node.id)
    return names


def test_float_variants_keep_no_arrays_and_get_no_releases():
    g = sct.grad(F.loop_with_branch)
    g(0.8)
    sig = pipeline.signature([0.8])
    compiled = pipeline._CACHE[F.loop_with_branch].items()
    sources = [v.source for key, v in compiled if key[1] == sig and "float(" in v.source]
    assert sources and all("del " not in s for s in sources)  # what sct.grad runs on a Python float
    assert "del " in sct.source(F.loop_with_branch)  # the shape-generic variant: x may be an array


def test_parameters_scalars_and_copies_are_not_released():
    text = liveness.demo(
        "def grad_f(x, n, delta_out=1.0):\n"
        "    s = x.shape\n"
        "    k = s[0] + 1\n"
        "    a = x * k\n"
        "    b = a\n"
        "    out = np.sum(b * b)\n"
        "    flag = True\n"
        "    delta_b = 2.0 * (delta_out * b)\n"
        "    delta_x = delta_b * k\n"
        "    return (out, delta_x)\n"
    )
    assert _released(text) == {"b"}, text  # not x (a parameter), s, k, flag (small), a (b is a copy of it),
    # nor delta_b (the function returns next: that frees it all the same)


def test_a_name_dying_in_one_branch_is_released_on_the_other_path_too():
    text = liveness.demo(
        "def f(x, c):\n"
        "    a = x * 2.0\n"
        "    b = x * 3.0\n"
        "    if c:\n"
        "        d = a * b\n"
        "        e = d * d\n"
        "    else:\n"
        "        e = b * b\n"
        "    return np.sum(e) + 1.0\n"
    )
    assert text.count("del ") == 4, text  # a and b after d; a at the head of the else, b after e
    f = {}
    exec(text.replace("# not read again", ""), {"np": np}, f)
    for c in (True, False):
        assert f["f"](np.ones(2), c) == (np.sum(np.ones(2) * 36.0) if c else np.sum(np.ones(2) * 9.0)) + 1.0


def test_break_paths_and_later_trips_keep_what_they_read():
    source = (
        "def f(x, n):\n"
        "    y = x * 1.0\n"
        "    z = x * 2.0\n"
        "    for i in range(n):\n"
        "        t = y * z\n"
        "        u = t + 1.0\n"
        "        if np.sum(u) > 50.0:\n"
        "            break\n"
        "        y = u * 0.5\n"
        "    w = y + z\n"
        "    return np.sum(w)\n"
    )
    text = liveness.demo(source)
    plain, released = {}, {}
    exec(source, {"np": np}, plain)
    exec(text, {"np": np}, released)
    for n in (0, 1, 3, 30):
        assert released["f"](np.arange(3.0), n) == plain["f"](np.arange(3.0), n)
    body = text.split("for i in range(n):")[1].split("w = y + z")[0]
    assert _released(body) == {"t", "u"}, text  # each trip's own; y and z are read on the next trip


def test_unmodelled_statements_leave_the_function_as_it_is():
    source = "def f(x):\n    a = x * 2.0\n    try:\n        b = a + 1.0\n    except ValueError:\n        b = a\n"
    source += "    return b\n"
    assert "del" not in liveness.demo(source)


# ---- memory ---------------------------------------------------------------------------
def _peak(fn, args) -> int:
    """Peak bytes allocated during one call; without translation validation, which runs the function too."""
    validating = sct.validation(False)
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sct.validation(validating)


def test_mlp_gradient_peak_memory_is_near_hand_written_backprop():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import workloads as W

    args = W.mlp_args(batch=256, width=256)
    grad = sct.grad(W.mlp, wrt=(0, 1, 2, 3, 4, 5))
    grad(*args)  # compile first
    hand, ours = _peak(W.mlp_hand, args), _peak(grad, args)
    assert ours <= 1.35 * hand, f"peak {ours / 2**20:.1f} MiB, hand-written {hand / 2**20:.1f} MiB"
    twin = twins(W.mlp, (0, 1, 2, 3, 4, 5), list(args))[1]
    assert _peak(twin, args) > 1.6 * hand  # without the releases it is far above: the bound can fail


def test_rnn_gradient_releases_each_trips_temporaries():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import workloads as W

    args = W.rnn_args(steps=20, batch=64, hidden=128)
    grad = sct.grad(W.rnn, wrt=(0, 1, 2))
    grad(*args)
    variant, twin = twins(W.rnn, (0, 1, 2), list(args))
    assert _peak(variant.function, args) < _peak(twin, args)
    assert math.isfinite(_peak(grad, args) / _peak(W.rnn_hand, args))


# ---- shapes: an array read later only for its shape is released early ------------------------
def test_an_array_read_later_only_for_its_shape_is_released_after_its_last_value_read():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import workloads as W

    args = list(W.mlp_args(batch=8, width=6))
    variant = twins(W.mlp, (0, 1, 2, 3, 4, 5), args)[0]
    lines = [line.strip() for line in variant.source.splitlines()]
    at = lines.index("a_shape = np.shape(a)")
    assert lines[at - 1] == "b = a + b1" and lines[at + 1] == "del a  # not read again"
    assert "unbroadcast(delta_b, a_shape)" in variant.source
    check_same_numbers(W.mlp, (0, 1, 2, 3, 4, 5), args)


def test_a_shape_is_never_taken_of_a_shape():
    """``unbroadcast(g, s)`` with a tuple ``s`` reads ``s`` as the shape: ``np.shape(s)`` would be wrong."""
    text = (
        "def f(x, g):\n"
        "    a = x * 2.0\n"
        "    s = np.shape(a)\n"
        "    t = np.full_like(a, 1.0)\n"
        "    b = t + 1.0\n"
        "    return unbroadcast(g, s) + unbroadcast(g, t)\n"
    )
    fn = gast.parse(text).body[0]
    assert liveness.record_shapes(fn, {"a", "s", "t", "b"})
    out = codegen.unparse(fn)
    assert "s_shape" not in out and "unbroadcast(g, s)" in out and "unbroadcast(g, t_shape)" in out


def test_gradients_of_gradients_with_recorded_shapes():
    def with_default(x, p=2.0):
        return np.sum(np.sin(x) * p)

    def fn(x):
        return np.sum(sct.grad(with_default)(x) * x) + np.sum(sct.grad(with_default)(x, 3.0))

    sct.check_grads(fn, (np.array([0.1, 0.7, -0.4]),), modes=("fwd", "rev"), order=2)
