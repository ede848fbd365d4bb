"""Rules for ``scipy.integrate.odeint`` and ``scipy.integrate.solve_ivp``: the adjoint method.

Each rule is a call of a helper of :mod:`sct.backend.ode_adjoint`, named by the
operand it differentiates (``odeint_vjp_y0``, ``odeint_jvp_args``, ...), with
the call's own operands and options: the reverse helpers integrate the adjoint
equation backwards with the same integrator, the forward ones the sensitivity
equation. The right-hand side is differentiated when the helpers run, by
``sct.vjp`` / ``sct.jvp``: it must be a function sct can read (ordinary
Python), whose parameters are the state, the time and the items of ``args``.

``args=`` carries a derivative as a keyword operand (:func:`.table.defkeyword`).
``solve_ivp`` is differentiated through the ``.y`` of its result at the times
``t_eval`` (which must be given); its ``t_span`` moves the result through its
start only.
"""

from scipy import integrate

from ..backend import ode_adjoint as ode
from ..errors import SctError
from ..symbolic import call
from .table import defjvp, defkeyword, defvjp


def _static_false(value) -> bool:
    return value is None or (isinstance(value, bool | int) and not value)


# ---- odeint(func, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ...) --------------------------
def _odeint_checked(rest, kwargs):
    if len(rest) > 1:
        raise SctError("sct differentiates odeint with its options (Dfun, rtol, ...) passed by keyword; name them")
    if not _static_false(kwargs.get("full_output")):
        raise SctError("sct differentiates odeint without full_output (its result is then a pair); drop it")


def _odeint_rule(helper):
    def rule(g, ans, func, y0, t, *rest, **kwargs):
        _odeint_checked(rest, kwargs)
        return call(helper, g, ans, func, y0, t, *rest, **kwargs)

    return rule


defvjp(
    integrate.odeint,
    None,
    _odeint_rule(ode.odeint_vjp_y0),
    _odeint_rule(ode.odeint_vjp_t),
    _odeint_rule(ode.odeint_vjp_args),
    ndim=lambda ranks, args, kwargs: 2,
)
defjvp(
    integrate.odeint,
    None,
    _odeint_rule(ode.odeint_jvp_y0),
    _odeint_rule(ode.odeint_jvp_t),
    _odeint_rule(ode.odeint_jvp_args),
)
defkeyword(integrate.odeint, "args", _odeint_rule(ode.odeint_vjp_args), _odeint_rule(ode.odeint_jvp_args))


# ---- solve_ivp(fun, t_span, y0, method='RK45', t_eval=None, dense_output=False, events=None,
#                vectorized=False, args=None, **options).y ------------------------------------------------
_IVP_POSITIONS = ("fun", "t_span", "y0", "method", "t_eval", "dense_output", "events", "vectorized", "args")


def _ivp_checked(rest, kwargs):
    given = dict(zip(_IVP_POSITIONS[3:], rest), **kwargs)
    if given.get("t_eval") is None:
        raise SctError(
            "sct differentiates solve_ivp at the times t_eval only (its own steps are not differentiable): "
            "pass t_eval=..."
        )
    if given.get("events") is not None:
        raise SctError("sct differentiates solve_ivp without events (an event may end the integration); drop events=")


def _ivp_rule(helper):
    def rule(g, ans, fun, t_span, y0, *rest, **kwargs):
        _ivp_checked(rest, kwargs)
        return call(helper, g, ans, fun, t_span, y0, *rest, **kwargs)

    return rule


def _ivp_rules(t_span, y0, t_eval, args):
    rules = [None, _ivp_rule(t_span), _ivp_rule(y0), None, _ivp_rule(t_eval), None, None, None, _ivp_rule(args)]
    return lambda i: rules[i] if i < len(rules) else None


defvjp(
    integrate.solve_ivp,
    _ivp_rules(ode.solve_ivp_vjp_t_span, ode.solve_ivp_vjp_y0, ode.solve_ivp_vjp_t_eval, ode.solve_ivp_vjp_args),
)
defjvp(
    integrate.solve_ivp,
    _ivp_rules(ode.solve_ivp_jvp_t_span, ode.solve_ivp_jvp_y0, ode.solve_ivp_jvp_t_eval, ode.solve_ivp_jvp_args),
)
defkeyword(
    integrate.solve_ivp,
    "t_eval",
    _ivp_rule(ode.solve_ivp_vjp_t_eval),
    _ivp_rule(ode.solve_ivp_jvp_t_eval),
)
defkeyword(integrate.solve_ivp, "args", _ivp_rule(ode.solve_ivp_vjp_args), _ivp_rule(ode.solve_ivp_jvp_args))

# ``sol.y``: the derivative of the result object is that of its ``y`` (the only part sct differentiates);
# solution_part checks, when it runs, that ``sol`` is a result of solve_ivp.
defvjp(ode.solution_y, lambda g, ans, sol: call(ode.solution_part, g, sol))
defjvp(ode.solution_y, lambda t, ans, sol: call(ode.solution_part, t, sol))


# ---- second derivatives ------------------------------------------------------------------------------
# The helpers integrate with SciPy; sct does not differentiate them again. Differentiating generated code
# that calls one (sct.grad of sct.grad, sct.hessian, check_grads(order=2)) is refused, not taken as zero.
def _second_order(*args, **kwargs):
    raise SctError(
        "sct differentiates odeint and solve_ivp once (reverse or forward mode); a second derivative through "
        "the adjoint method is not supported: use check_grads(..., order=1), or write the integrator as a loop"
    )


for _name, _helper in ode.HELPERS.items():
    if _name not in ("solution_y", "solution_part"):
        defvjp(_helper, lambda i: _second_order)
        defjvp(_helper, lambda i: _second_order)
# solution_part(d, sol) is d (checked): linear in d.
defvjp(ode.solution_part, lambda G, ans, d, sol: call(ode.solution_part, G, sol), None)
defjvp(ode.solution_part, lambda t, ans, d, sol: call(ode.solution_part, t, sol), None)
