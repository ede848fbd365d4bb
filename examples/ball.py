"""A bouncing ball: a ``while`` loop with an ``if``, on Python floats, differentiated by sct.

How high is the ball after two seconds, and how does that change with where it
started, how fast, and how much of its speed each bounce keeps? The parameters
are annotated ``float``, so ``sct dump`` (and ``.source``) show the variant that
runs for Python floats. Run ``sct dump examples/ball.py:height --wrt y0,v0,restitution``
to read the adjoint.

    python examples/ball.py
"""

import sct


def height(y0: float, v0: float, restitution: float) -> float:
    """Height after 2 s (plus a little of the kinetic energy spent on the way)."""
    g = 9.81
    dt = 0.01
    y = y0
    v = v0
    t = 0.0
    energy = 0.0
    while t < 2.0:
        v = v - g * dt
        y = y + v * dt
        if y < 0.0:  # the floor: bounce back, losing speed
            y = -y
            v = -restitution * v
        energy = energy + 0.5 * v * v * dt
        t = t + dt
    return y + 0.1 * energy


if __name__ == "__main__":
    grad = sct.grad(height, wrt=(0, 1, 2))
    args = (1.0, 0.0, 0.8)
    print(f"height(1.0, 0.0, 0.8) = {height(*args):.6f}")
    for name, value in zip(("y0", "v0", "restitution"), grad(*args)):
        print(f"d height / d {name:<11s} = {value:.6f}")
    sct.check_grads(height, args, modes=("rev",), order=1)
    print("matches central differences")
