"""Gradient objects pickle, before and after their first call, as their function and options.

They rebuild where they are unpickled, from the persistent cache (:mod:`sct.backend.cache`) where it
has the entry; tested through ``multiprocessing.Pool`` with the spawn start method.
"""

import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pickle_targets as T
import pytest

import sct
from sct import api


def _args(rng):
    return rng.standard_normal(3), rng.standard_normal((4, 3))


def _same(a, b):
    """Equal results: arrays, floats and the tuples of them a gradient object returns."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    np.testing.assert_array_equal(a, b)
    assert type(a) is type(b)


GRADIENTS = [
    ("grad", lambda: sct.grad(T.loss)),
    ("grad wrt name", lambda: sct.grad(T.loss, wrt="x")),
    ("grad wrt tuple", lambda: sct.grad(T.loss, wrt=(0, 1))),
    ("grad has_aux", lambda: sct.grad(T.loss_aux, has_aux=True)),
    ("value_and_grad", lambda: sct.value_and_grad(T.loss, wrt=(1, 0))),
    ("value_and_grad has_aux", lambda: sct.value_and_grad(T.loss_aux, wrt=("w", "x"), has_aux=True)),
    ("decorator form", lambda: sct.grad(wrt=1)(T.loss)),
]


@pytest.mark.parametrize("called", [False, True], ids=["before the first call", "after it"])
@pytest.mark.parametrize("make", [m for _, m in GRADIENTS], ids=[n for n, _ in GRADIENTS])
def test_round_trip(make, called, rng):
    gradient = make()
    args = _args(rng)
    if called:  # twice: the second call installs the generated dispatcher (a class of its own)
        gradient(*args)
        gradient(*args)
    again = pickle.loads(pickle.dumps(gradient))
    assert type(again) in (api.Grad, api.ValueAndGrad) and again is not gradient
    assert again.__wrapped__ is gradient.__wrapped__
    assert (again.positions, again.options, again.has_aux) == (gradient.positions, gradient.options, gradient.has_aux)
    _same(again(*args), gradient(*args))
    assert isinstance(again, api.ValueAndGrad) == isinstance(gradient, api.ValueAndGrad)


def test_gradient_of_scalars_after_calls(rng):
    gradient = sct.grad(T.scalar, wrt=(0, 1))
    for a in (0.5, 1.5, -2.0):
        gradient(a, 0.25)
    again = pickle.loads(pickle.dumps(gradient))
    assert again(1.25, -0.5) == gradient(1.25, -0.5)
    assert again(1.25, -0.5) == (np.sin(-0.5), 1.25 * np.cos(-0.5) - 1.0)


def test_a_decorated_module_function_pickles_by_name():
    data = pickle.dumps(T.decorated)
    assert b"decorated" in data and pickle.loads(data) is T.decorated  # the module's own object


def test_methods(rng):
    model = T.Model(2.5)
    w = rng.standard_normal(3)
    bound = model.energy  # decorated in the class body: obj.energy again, on a copy of obj
    again = pickle.loads(pickle.dumps(bound))
    assert isinstance(again, api.Grad) and again._receiver.scale == 2.5
    np.testing.assert_array_equal(again(w), bound(w))
    np.testing.assert_allclose(again(w), 2 * 2.5 * w)
    plain = sct.grad(model.plain)  # of a bound method: the method again
    plain(w)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(plain))(w), 2.5 * np.exp(w))


def test_higher_order_pickles(rng):
    second = sct.grad(sct.grad(T.scalar, wrt=1), wrt=1)
    assert second(0.5, 0.25) == pytest.approx(-0.5 * np.sin(0.25) + 2.0)
    again = pickle.loads(pickle.dumps(second))
    assert again(0.5, 0.25) == second(0.5, 0.25)


def test_a_function_pickle_cannot_find_is_refused_by_pickle():
    gradient = sct.grad(lambda x: x**2)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(gradient)


FILL = """\
import numpy as np
import pickle_targets as T
import sct

w, x = np.linspace(0.1, 0.3, 3), np.linspace(-1.0, 1.0, 12).reshape(4, 3)
sct.grad(T.loss)(w, x)
sct.value_and_grad(T.loss_aux, wrt=(0, 1), has_aux=True)(w, x)
T.decorated(0.5, 1.5)
"""


def test_spawned_pool_workers_rebuild_from_the_cache(tmp_path, monkeypatch, rng):
    """Spawned workers unpickle the gradient objects and find their code in the persistent cache.

    A fresh process fills the cache: this one's keys differ where other tests registered rules here.
    """
    monkeypatch.setenv("SCT_CACHE", "1")
    monkeypatch.setenv("SCT_CACHE_DIR", str(tmp_path))  # the workers inherit the environment
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([here, os.path.dirname(here), os.environ.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", FILL], env={**os.environ, "PYTHONPATH": path}, check=True, timeout=300)
    w, x = _args(rng)
    gradients = [sct.grad(T.loss), sct.value_and_grad(T.loss_aux, wrt=(0, 1), has_aux=True), T.decorated]
    expected = [gradients[0](w, x), gradients[1](w, x), T.decorated(0.5, 1.5)]  # pickled after a call
    tasks = [(gradients[0], (w, x)), (gradients[1], (w, x)), (T.decorated, (0.5, 1.5))]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(T.worker, tasks, chunksize=1)
    for (result, hits, compiles), want in zip(results, expected):
        _same(result, want)
        assert hits >= 1 and compiles == 0  # rebuilt from the cache: nothing compiled in the worker
