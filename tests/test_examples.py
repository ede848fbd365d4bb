"""Every script in examples/ runs, and prints what its docstring promises."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sct

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


def run_example(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def losses(out: str) -> list[float]:
    return [float(m) for m in re.findall(r"^step +\d+ +loss ([\d.]+)$", out, re.M)]


def test_every_example_is_tested_and_documented():
    assert set(EXAMPLES) == {
        "seed.py",
        "scalar.py",
        "mlp.py",
        "rnn.py",
        "newton.py",
        "relu_net.py",
        "closures.py",
        "idioms.py",
        "dask_logistic.py",  # tested in tests/test_dask.py (it needs dask[distributed])
        "ball.py",
    }
    for name in EXAMPLES:
        text = (ROOT / "examples" / name).read_text()
        assert text.startswith('"""'), f"{name} has no docstring"
        assert 'if __name__ == "__main__":' in text, f"{name} does work when imported"


def test_seed():
    out = run_example("seed.py")
    dx, dy = (float(v) for v in re.findall(r"= (-?[\d.]+)", out))

    def f(x, y):
        return (x + 1.0 / (1.0 + np.exp(-y))) / (x**2 + y)

    h = 1e-6
    assert dx == pytest.approx((f(1.5 + h, 2.0) - f(1.5 - h, 2.0)) / (2 * h), abs=2e-6)
    assert dy == pytest.approx((f(1.5, 2.0 + h) - f(1.5, 2.0 - h)) / (2 * h), abs=2e-6)


def test_scalar():
    out = run_example("scalar.py")
    assert out.startswith("def grad_f(x, delta_out=1.0):")
    rows = re.findall(r"f'\(x\) = +(-?[\d.]+) +by hand: +(-?[\d.]+)", out)
    assert len(rows) == 4
    for ours, by_hand in rows:
        assert ours == by_hand


def test_mlp_loss_falls():
    out = run_example("mlp.py", "600")
    history = losses(out)
    assert len(history) == 4
    assert history[-1] < 0.05 * history[0]
    assert "loss fell from" in out


def test_rnn_loss_falls():
    out = run_example("rnn.py")
    history = losses(out)
    assert len(history) == 11
    assert history[-1] < 0.1 * history[0]


def test_newton_converges_quadratically():
    out = run_example("newton.py")
    norms = [float(m) for m in re.findall(r"\|grad\| = ([\d.e+-]+)", out)]
    assert norms[-1] < 1e-10
    tail = [n for n in norms if 0 < n < 1e-1]
    assert any(b < a**1.5 for a, b in zip(tail, tail[1:])), norms  # faster than linear near the end
    assert re.search(r"minimum at \[1\.? +1\.?\]", out)


def test_relu_net_loss_falls_and_gradient_is_a_list():
    out = run_example("relu_net.py")
    first, last = (float(v) for v in re.search(r"loss ([\d.]+) -> ([\d.]+)", out).groups())
    assert last < first / 2


def _load(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name[:-3], ROOT / "examples" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_closures():
    out = run_example("closures.py")
    (dk,) = re.findall(r"d one_step / dk: (-?[\d.]+)", out)
    assert float(dk) == pytest.approx(-0.1 * 1.5**3)  # d/dk of u + 0.1 * (-k * u**3)
    module = _load("closures.py")
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(4, 3)), np.zeros(4)), (rng.normal(size=(1, 4)), np.zeros(1))]
    x, y = rng.normal(size=3), np.array([0.5])
    for act in (np.tanh, np.sin):
        sct.check_grads(lambda W1, act=act: module.loss([(W1, params[0][1]), params[1]], x, y, act), (params[0][0],))


def test_idioms():
    out = run_example("idioms.py")
    assert out.startswith("largest activation")
    module = _load("idioms.py")
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(2, 3)), np.zeros(2), rng.normal(size=3)
    shown = np.array([[float(v) for v in row.split()] for row in re.findall(r"\[+([^\[\]]+)\]", out.split("db =")[0])])
    sct.check_grads(lambda W, b: module.loss(W, b, x, l2=0.1), (W, b))
    dW, _ = sct.grad(module.loss, wrt=("W", "b"))(W, b, x, l2=0.1)
    assert np.allclose(shown, np.round(dW, 4))


def test_ball():
    out = run_example("ball.py")
    values = [float(v) for v in re.findall(r"= (-?[\d.]+)", out)]
    assert "matches central differences" in out
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from ball import height
    finally:
        sys.path.pop(0)
    h = 1e-6
    args = [1.0, 0.0, 0.8]
    for i, got in enumerate(values[1:]):
        up, down = list(args), list(args)
        up[i] += h
        down[i] -= h
        assert got == pytest.approx((height(*up) - height(*down)) / (2 * h), abs=2e-5)
