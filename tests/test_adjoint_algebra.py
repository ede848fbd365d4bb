"""Adjoint code as a person writes it (issue 17 items 2-3, issue 19 item 2): sct/passes/algebra.py and
sct/reverse/items.py.

Identities through a loop-carried copy go, ``v = A; ...; v = v + B`` is one line ``v = A + B``,
the unit seed is folded through the adjoint of a scalar output, and a tuple result read item by
item gives its rule the items' adjoints directly. Each is checked on the generated text and on the
numbers: central differences, and the unoptimised code's gradient to 1e-12 relative (the
rewrites add in the order the code accumulated, so in practice to the bit).
"""

import importlib.util
import sys
from pathlib import Path

import gast
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sct
from sct import api
from sct.backend.codegen import unparse
from sct.passes import algebra, optimize

ROOT = Path(__file__).resolve().parent.parent


def _workloads():
    name = "sct_workloads_algebra"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "workloads.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _ran(f, args, wrt):
    """The source of the variant a gradient object ran for ``args``, and its gradients."""
    g = sct.grad(f, wrt=wrt)
    grads = g(*args)
    return g.source, grads


def _backward(source: str) -> list[str]:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# backward")
    return [line.strip() for line in lines[start + 1 :] if line.strip() and not line.strip().startswith("#")]


def _unoptimised(f, args, wrt):
    return api.compiled(f, list(wrt), api.signature(args), many=True, optimize=False).function(*args)[1]


def _close(got, want, rtol=1e-12):
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=0.0)


def _workload(name):
    w = _workloads().BY_NAME[name]
    return w.f, w.make_args(), tuple(w.wrt)


# ---- the workloads ------------------------------------------------------------------------
def test_the_bouncing_ball_has_no_identities_through_its_loop_carried_copies():
    f, args, wrt = _workload("ball")
    source, grads = _ran(f, args, wrt)
    lines = _backward(source)
    for identity in ("delta_m = delta_energy", "delta_energy = delta_m", "delta_d = delta_y", "delta_y = delta_d"):
        assert identity not in lines, source
    assert sum(line.startswith("delta_v = delta_v + ") for line in lines) == 2, source  # one per forward line
    _close(grads, _unoptimised(f, args, wrt))
    sct.check_grads(f, args, modes=("rev",), order=1)


def test_the_seed_assigns_each_gradient_once():
    f, args, wrt = _workload("seed")
    source, grads = _ran(f, args, wrt)
    lines = _backward(source)
    assert [line.split(" = ")[0] for line in lines if line.startswith("delta_")] == [
        "delta_e",
        "delta_g",
        "delta_x",
        "delta_y",
    ], source
    assert "return (delta_x, delta_y)" in lines, source  # the gradients keep their names
    _close(grads, _unoptimised(f, args, wrt))
    sct.check_grads(f, args, modes=("rev",), order=1)


def test_the_gp_log_determinant_reads_as_written_by_hand():
    f, args, wrt = _workload("gp")
    source, grads = _ran(f, args, wrt)
    lines = _backward(source)
    assert "inv_K_1 = np.linalg.inv(K_1)" in lines, source  # one inverse, shared with solve's adjoint
    assert "delta_K_1 = 0.5 * inv_K_1.T" in lines, source
    for gone in ("np.sum(1.0)", "zeros_like(r)", "delta_r", "expand_dims", "swapaxes"):
        assert not any(gone in line for line in lines), (gone, source)
    _close(grads, _unoptimised(f, args, wrt))
    sct.check_grads(f, args, modes=("rev",), order=1, wrt=wrt)


@pytest.mark.parametrize("name", ["chain", "rk4", "loop"])
def test_other_scalar_workloads_keep_their_numbers(name):
    f, args, wrt = _workload(name)
    source, grads = _ran(f, args, wrt)
    _close(grads, _unoptimised(f, args, wrt))
    sct.check_grads(f, args, modes=("rev",), order=1, wrt=wrt)


def test_the_generic_seed_writes_its_sums_as_one_line():
    f, _, wrt = _workload("seed")
    lines = _backward(sct.source(f, wrt=wrt))
    assert sum(line.startswith("delta_y = ") for line in lines) == 1, lines
    assert sum(line.startswith("delta_x = ") for line in lines) == 1, lines
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.7, 0.4])
    got = sct.grad(lambda x, y: np.sum(f(x, y)), wrt=(0, 1))(x, y)
    sct.check_grads(lambda x, y: np.sum(f(x, y)), (x, y), modes=("rev",), order=1)
    assert all(np.all(np.isfinite(g)) for g in got)


# ---- the rewrites on snippets ---------------------------------------------------------------
def _rewritten(text: str) -> str:
    fn = gast.parse(text).body[0]
    while algebra.rewrite(fn):
        pass
    return unparse(fn)


def test_a_round_trip_copy_goes():
    text = (
        "def f(delta_e, x):\n    delta_m = delta_e\n    delta_k = delta_m * x\n    delta_e = delta_m\n"
        "    return delta_k, delta_e\n"
    )
    out = _rewritten(text)
    assert "delta_e = delta_m" not in out and "delta_m = delta_e" in out, out


def test_a_round_trip_stays_where_a_name_is_assigned_between():
    text = (
        "def f(delta_e, x):\n    delta_m = delta_e\n    delta_e = x\n    delta_k = delta_e * x\n"
        "    delta_e = delta_m\n    return delta_k, delta_e\n"
    )
    assert _rewritten(text).count("delta_e = delta_m") == 1


@pytest.mark.parametrize(
    "between",
    [
        "    r = delta_y * 2.0\n",  # reads v
        "    a = s.pop()\n",  # what A reads changes
        "    delta_z += b\n",  # an array updated in place: it may be one A reads under another name
        "    delta_z[0] = b\n",
        "    q = user_function(a)\n",  # a call that may change what it is passed
    ],
)
def test_a_sum_stays_on_two_lines_where_something_between_forbids_it(between):
    text = (
        f"def f(a, b, s, delta_z):\n    delta_y = a * 2.0\n{between}    delta_y = delta_y + b\n"
        "    return delta_y, delta_z, r, q\n"
    )
    out = _rewritten(text)
    assert "delta_y = delta_y + b" in out, out


def test_an_in_place_accumulation_is_not_merged():
    text = "def f(a, b):\n    delta_y = a * 2.0\n    delta_y += b\n    return delta_y\n"
    assert "delta_y += b" in _rewritten(text)  # += keeps the dtype of a * 2.0's array: not a + b


def test_a_sum_moves_past_a_line_that_changes_nothing_it_reads():
    text = "def f(a, b, s):\n    delta_y = a * 2.0\n    c = s.pop()\n    delta_y = delta_y - b * c\n"
    text += "    return delta_y\n"
    out = _rewritten(text)
    assert "delta_y = a * 2.0 - b * c" in out, out


def test_a_long_sum_stays_on_two_lines():
    long_name = "delta_" + "q" * 60
    text = f"def f(a, b):\n    {long_name} = a * 2.0 + a\n    {long_name} = {long_name} + b * b * b\n"
    text += f"    return {long_name}\n"
    assert f"{long_name} = {long_name} + b" in _rewritten(text)


def test_a_number_summed_is_the_number_in_adjoint_lines_only():
    text = "def f(x):\n    a = np.sum(1.0)\n    delta_v = np.sum(1.0)\n    delta_w = np.sum(1)\n"
    text += "    return a, delta_v, delta_w\n"
    out = _rewritten(text)
    assert "a = np.sum(1.0)" in out and "delta_v = 1.0" in out and "delta_w = np.sum(1)" in out, out


# ---- random straight-line adjoint code: the rewrites change no number ---------------------------
_ADJOINTS = ["delta_a", "delta_b"]
_PRIMALS = ["p", "q"]
_ATOMS = _ADJOINTS + _PRIMALS + ["0.5", "2.0"]


@st.composite
def _expression(draw):
    left, right = draw(st.sampled_from(_ATOMS)), draw(st.sampled_from(_ATOMS))
    op = draw(st.sampled_from(["+", "-", "*"]))
    form = draw(st.sampled_from(["{l} {op} {r}", "np.sin({l}) {op} {r}", "{l}", "np.sum({l}) {op} {r}"]))
    return form.format(l=left, op=op, r=right)


@st.composite
def _statement(draw):
    target = draw(st.sampled_from(_ADJOINTS))
    kinds = ["assign", "add", "add", "sub", "copy", "inplace", "inplace", "item", "primal", "primal"]
    kind = draw(st.sampled_from(kinds))
    e = draw(_expression())
    if kind == "assign":
        return f"{target} = {e}"
    if kind == "add":
        return f"{target} = {target} + {e}"
    if kind == "sub":
        return f"{target} = {target} - ({e})"
    if kind == "copy":
        return f"{target} = {draw(st.sampled_from(_ADJOINTS + _PRIMALS))}"
    if kind == "inplace":
        return f"{target} += {e}"
    if kind == "item":
        return f"{target}[0] = np.sum({e})"
    return f"{draw(st.sampled_from(_PRIMALS))} = {e}"


def _run(text, inputs):
    namespace = {"np": np}
    exec(compile(text, "<algebra>", "exec"), namespace)
    return namespace["f"](*(np.array(v, dtype=float) for v in inputs))


@settings(max_examples=300, deadline=None)
@given(st.lists(_statement(), min_size=2, max_size=8), st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_random_adjoint_code_computes_the_same_numbers_after_the_rewrites(statements, values):
    params = _ADJOINTS + _PRIMALS
    header = f"def f({', '.join(params)}):\n"
    # each name its own array (arguments are never changed in place), as the generated code's adjoints are
    copies = "".join(f"    {v} = {v} + 0.0\n" for v in params)
    text = header + copies + "".join(f"    {s}\n" for s in statements) + f"    return ({', '.join(params)})\n"
    fn = gast.parse(text).body[0]
    while algebra.rewrite(fn):
        optimize.propagate_copies(fn)
    after = unparse(fn)
    inputs = [[values[k % 3] + k, values[(k + 1) % 3], values[(k + 2) % 3] - k] for k in range(len(params))]
    with np.errstate(all="ignore"):
        try:
            want = _run(text, inputs)
        except (TypeError, IndexError, ValueError):  # a number where an item is written: nothing to compare
            assume(False)
        got = _run(after, inputs)
    for a, b in zip(want, got):
        assert np.array_equal(a, b, equal_nan=True), (text, after)


def test_an_in_place_update_through_another_name_stops_a_sum():
    # delta_b holds p's array: delta_b += q changes what p * 2.0 reads, without naming p
    text = (
        "def f(p, q):\n    p = p + 0.0\n    delta_b = p\n    delta_a = p * 2.0\n    delta_b += q\n"
        "    delta_a = delta_a + q\n    return delta_a, delta_b\n"
    )
    after = _rewritten(text)
    inputs = ([1.0, 2.0], [0.5, -1.0])
    for a, b in zip(_run(text, inputs), _run(after, inputs)):
        assert np.array_equal(a, b), after


# ---- items of a tuple result -----------------------------------------------------------------
def slogdet_logdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * 2.0


def slogdet_both(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def eigh_values(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w**3)


def eigh_vectors(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v[:, -1] ** 4)


def eig_values(a):
    w, v = np.linalg.eig(a)
    return np.sum(np.real(w) ** 2)


def lstsq_solution(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(x**2)


def lstsq_residuals(a, b):
    r = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(r[1])


def qr_r(a):
    q, r = np.linalg.qr(a)
    return np.sum(r**2)


def svd_s(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(s**3)


def split_first(x):
    parts = np.split(x, 2)
    return np.sum(parts[0] ** 2)


_RNG = np.random.default_rng(7)
_SQUARE = _RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)
_SYMMETRIC = _SQUARE + _SQUARE.T
_TALL = _RNG.normal(size=(5, 3))
_RHS = _RNG.normal(size=5)

CASES = [
    (slogdet_logdet, (_SQUARE,)),
    (slogdet_both, (_SQUARE,)),
    (eigh_values, (_SYMMETRIC,)),
    (eigh_vectors, (_SYMMETRIC,)),
    (eig_values, (np.diag([1.0, 2.0, 4.0]) + 0.1 * _SQUARE,)),
    (lstsq_solution, (_TALL, _RHS)),
    (lstsq_residuals, (_TALL, _RHS)),
    (qr_r, (_TALL,)),
    (svd_s, (_TALL,)),
    (split_first, (np.arange(1.0, 7.0),)),
]


@pytest.mark.parametrize("f, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_a_tuple_result_with_items_unused_matches_finite_differences(f, args):
    wrt = tuple(range(len(args)))
    sct.check_grads(f, args, modes=("rev",), order=1, wrt=wrt)
    grads = sct.grad(f, wrt=wrt)(*args)
    _close(grads, _unoptimised(f, args, wrt), rtol=1e-10)


@pytest.mark.parametrize("f", [slogdet_logdet, eigh_values, lstsq_solution])
def test_a_rule_gets_the_items_adjoints_not_a_list_of_zeros(f):
    args = next(a for g, a in CASES if g is f)
    g = sct.grad(f, wrt=tuple(range(len(args))))
    g(*args)
    lines = _backward(g.source)
    assert not any("delta_r" in line for line in lines), g.source
    if f is lstsq_solution:  # the residuals' adjoint is read too: made as a list, once
        assert sum("zeros_like(" in line for line in lines) == 1, g.source
    if f is slogdet_logdet:  # a 2-d matrix: the forms of a matrix, and the seed folded
        assert "delta_a = 2.0 * np.linalg.inv(a).T" in lines, g.source
    if f is eigh_values:  # the vectors carry nothing, and the rule reads them: the list is made, once
        assert "delta_b = zeros_like(b)" in lines and "delta_b[0] += delta_w" in lines, g.source


def inner_squared(a, b):
    return (a @ b) ** 2


def test_an_inner_product_reads_as_a_product_with_the_other_vector():
    a, b = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.75])
    g = sct.grad(inner_squared, wrt=(0, 1))
    grads = g(a, b)
    assert "matmul_grad" not in g.source and "* b" in g.source and "* a" in g.source, g.source
    sct.check_grads(inner_squared, (a, b), modes=("rev",), order=2)
    _close(grads, _unoptimised(inner_squared, (a, b), (0, 1)))


def slogdet_in_a_loop(a):
    s = 0.0
    for k in range(3):
        sign, logdet = np.linalg.slogdet(a * (1.0 + 0.1 * k))
        s = s + logdet * logdet
    return s


def slogdet_in_a_branch(a):
    if np.sum(a) > 0.0:
        sign, logdet = np.linalg.slogdet(a)
        out = logdet**2
    else:
        w, v = np.linalg.eigh(a @ a.T)
        out = np.sum(w)
    return out


@pytest.mark.parametrize("f", [slogdet_in_a_loop, slogdet_in_a_branch])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_items_of_a_tuple_result_inside_loops_and_branches(f, sign):
    a = sign * (_SQUARE + 0.5 * np.eye(3))
    if f is slogdet_in_a_loop and sign < 0:
        a = _SQUARE
    sct.check_grads(f, (a,), modes=("rev",), order=1)
    _close((sct.grad(f)(a),), _unoptimised(f, (a,), (0,)), rtol=1e-10)


def svd_u(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u[:, 0] ** 4) + np.sum(s)


def svd_values_only(a):
    s = np.linalg.svd(a, compute_uv=False)
    return np.sum(s**2)


def svd_full(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(s**3)


@pytest.mark.parametrize("f", [svd_s, svd_u, svd_values_only, svd_full])
def test_svd_items_and_its_single_array_form(f):
    a = _TALL if f is not svd_full else _SQUARE
    sct.check_grads(f, (a,), modes=("rev",), order=1)
    _close(sct.grad(f, wrt=(0,))(a), _unoptimised(f, (a,), (0,)), rtol=1e-10)
    source = sct.source(f)
    assert source.count("zeros_like(b") <= 1, source  # the result's zeros made once, if at all
