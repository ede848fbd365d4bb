"""Issue 13's gap and issue 18's false refusals: the alias scan (sct/frontend/aliases.py) follows rebinding
inside loop and branch bodies, exactly where it can and conservatively where it cannot.

Each name's bindings are told apart by reaching definitions; a binding that makes a new array in
each trip of a loop stands for that trip's array; a list used only as a stack of distinct arrays no
longer holds an array once it is popped. What Python sees through a second name is still refused,
and the cases that gave wrong numbers before (a rebinding in one branch, ``z = ys.pop()``, an array
appended twice, an alias made in an earlier trip) are refused now.
"""

import alias_loop_targets as A
import numpy as np
import pytest
from conftest import numeric_grad

import sct
from sct.errors import UnsupportedSyntaxError

X = np.array([0.3, 0.7, -0.4])


@pytest.mark.parametrize(
    ("fn", "order"),
    [
        (A.rows_made_in_a_loop, 2),  # its second order went through join_split's list (sct.passes.containers)
        (A.written_before_its_alias_is_made, 2),
        (A.rebound_in_a_loop_body, 1),  # the first-order code's stacks hold y's array: refused, as they may
        (A.stack_of_earlier_trips, 1),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_rebinding_in_loops_is_followed(fn, order):
    grad = sct.grad(fn)(X)  # refused before (but the second): the write was taken as seen through the other name
    np.testing.assert_allclose(grad, numeric_grad(fn, (X,), 0), rtol=1e-6, atol=1e-8)
    sct.check_grads(fn, (X,), modes=("fwd", "rev"), order=order)


def test_the_second_order_of_a_list_built_in_a_loop_and_stacked():
    """Reverse over reverse of rows_made_in_a_loop: the first-order code slices the list of shares that
    join_split returns, and the slice's adjoint added into it with ``+=`` (list concatenation) where
    sct took join_split's result for an array: a wrong Hessian, without an error."""
    first = sct.grad(A.rows_made_in_a_loop)
    eps = 1e-5
    numeric = np.array([(first(X + eps * e) - first(X - eps * e)) / (2 * eps) for e in np.eye(3)]).T
    np.testing.assert_allclose(sct.jacobian(first)(X), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sct.jacobian(first, mode="fwd")(X), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("fn", "args", "other"),
    [
        (A.rebound_in_a_branch, (X, -1.0), "y"),  # bound again in one branch only: the other keeps x's array
        (A.popped_from_a_list, (X,), "x"),  # a popped item is the array the list held
        (A.stack_that_still_holds_it, (X,), "stack"),  # appended twice: popped once, still held once
        (A.aliased_in_an_earlier_trip, (X,), "w"),  # the popped array is the one w holds
        (A.grown_from_a_number, (X,), "y"),  # s = 0.0; s += x: an array after all
        (A.through_a_function_that_returns_its_argument, (X,), "y"),
        (A.flipped, (X,), "y"),  # np.flip is a view
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_what_python_sees_through_another_name_is_still_refused(fn, args, other):
    # each of these gave a wrong value or gradient, without an error, before
    with pytest.raises(UnsupportedSyntaxError, match=f"and `{other}`"):
        sct.grad(fn)(*args)


def test_a_helper_bound_before_the_argument_is_rebound_is_differentiated():
    fn = A.through_a_helper_that_computes  # x is bound again before the write: y holds the old array
    np.testing.assert_allclose(sct.grad(fn)(X), numeric_grad(fn, (X,), 0), rtol=1e-6, atol=1e-8)


def vec(x):
    return np.tanh(x) * x[0]


W = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.2, 0.1, 0.4]])


def uses_jacobian(x):
    return np.sum(sct.jacobian(vec)(x) * W)


def test_second_order_through_a_reverse_mode_jacobian_inside():
    """sct.grad of code that calls sct.jacobian (mode="rev") inside, differentiated again: the first-order
    code keeps a stack of arrays it writes into, which the alias scan refused."""
    first = sct.grad(uses_jacobian)
    hessian = sct.jacobian(first)(X)
    eps = 1e-5
    numeric = np.array([(first(X + eps * e) - first(X - eps * e)) / (2 * eps) for e in np.eye(3)]).T
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-8)
    sct.check_grads(uses_jacobian, (X,), modes=("fwd", "rev"), order=2)
    v = np.array([0.5, -1.0, 2.0])
    directional = sct.grad(lambda x: np.sum(first(x) * v))(X)
    np.testing.assert_allclose(directional, hessian.T @ v, rtol=1e-10, atol=1e-12)


class Model:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return np.sin(x) * self.k


def test_forward_source_of_a_bound_method_reads_self():
    model = Model(2.0)
    text = sct.source(model.energy, mode="forward")
    assert text.startswith("def jvp_energy(self, x, dot_x):") and "self.k" in text
    assert "self" in sct.source(model.energy)  # reverse mode, as before
    namespace = {"np": np}
    exec(text, namespace)
    out, tangent = namespace["jvp_energy"](model, 0.5, 1.0)
    assert out == model.energy(0.5) and tangent == pytest.approx(2.0 * np.cos(0.5))
