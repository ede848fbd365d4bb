"""Arrays of other libraries: Dask, and the array API namespaces (array_api_strict, PyTorch, CuPy, JAX).

An argument that is such an array is described in a variant's signature as
``(ndim, ("array", kind, namespace name))`` (:func:`describe`), so the variant
compiled for it is its own, and NumPy arguments keep their variants and fast
path unchanged. The generated source is the one NumPy arguments get, with its
NumPy calls written against the namespace (:func:`retarget`): ``np.exp(a)``
becomes ``xp.exp(a)``, ``a.sum(axis=0)`` becomes ``xp.sum(a, axis=0)``, and
the helpers it calls (``unbroadcast``, ...) are those of :mod:`sct.backend.runtime_xp`.
The namespace is ``array_api_compat.array_namespace`` of the argument.

Only functions of the array API standard are used. Where a rule needs one
outside it (``np.cumprod``, ``np.add.at``, ``np.linalg.*``), or a helper that
has no array API version, compiling raises :class:`BackendError` naming it and
the namespace: never a silently different function.

The user's function is read as array API code: ``np.exp(x)`` means the
namespace's ``exp``.
"""

from __future__ import annotations

import gast

from ..errors import BackendError, SctError
from . import runtime, runtime_xp

LIBRARIES = frozenset({"dask", "torch", "array_api_strict", "cupy", "jax", "jaxlib"})
_NAMESPACES: dict = {}  # namespace name -> namespace


# ---- describing arguments ------------------------------------------------------------------------
def describe(a):
    """``(ndim, ("array", kind, name))`` for an array of another library; None for anything else."""
    if describe_value(a) is None:
        return None
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        return None
    key = (type(a), a.dtype)
    kind = _KINDS.get(key)
    if kind is None:  # array_namespace and isdtype cost more than a small gradient: once per type and dtype
        xp = namespace_of(a)
        _NAMESPACES[xp.__name__] = xp
        kind = _KINDS[key] = ("array", _kind(xp, a.dtype), xp.__name__)
    return (len(a.shape), kind)


_KINDS: dict = {}  # (array type, dtype) -> the kind describe gives


def namespace_of(*arrays):
    """``array_api_compat.array_namespace(*arrays)``, with a typed error where it has none."""
    try:
        import array_api_compat
    except ImportError:
        raise BackendError(
            f"sct runs gradients on {type(arrays[0]).__module__} arrays through the array API: "
            "pip install array-api-compat"
        ) from None
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        kinds = [type(a).__name__ for a in arrays]
        raise BackendError(f"no one array namespace for arguments of types {kinds}: {exc}") from None


def _kind(xp, dtype) -> str:
    for kind, name in (("b", "bool"), ("i", "signed integer"), ("u", "unsigned integer"), ("c", "complex floating")):
        if xp.isdtype(dtype, name):
            return kind
    return "f"


def is_foreign(entry) -> bool:
    """Whether a signature entry describes an array of another library."""
    return isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], tuple) and entry[1][:1] == ("array",)


def of_signature(sig):
    """The namespace the arguments described by ``sig`` run on, or None for NumPy's own."""
    names = {s[1][2] for s in sig if is_foreign(s)}
    if not names:
        return None
    if len(names) > 1:
        raise BackendError(
            f"the arguments are arrays of different libraries ({', '.join(sorted(names))}); convert them to one"
        )
    name = names.pop()
    if "dask" not in name and any(_numpy_array(s) for s in sig):
        raise BackendError(
            f"the arguments mix NumPy arrays with arrays of {name}; convert the NumPy ones "
            f"(xp.asarray(a), with xp = array_api_compat.array_namespace(x))"
        )
    if any(s[1][1] == "c" for s in sig if is_foreign(s)):
        raise BackendError(f"sct differentiates by real arrays of {name}, not complex ones")
    return _NAMESPACES[name]


def _numpy_array(entry) -> bool:
    return isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str) and entry[0] not in (0, None)


def integer(entry) -> bool:
    """Whether a signature entry describes an integer or bool array of another library."""
    return is_foreign(entry) and entry[1][1] in "iub"


def check_scalar(fn_name: str, out) -> bool:
    """Whether ``out`` is another library's array (then checked to be a real scalar, from its shape alone)."""
    if describe_value(out) is None:
        return False
    shape = tuple(out.shape)
    if len(shape) and any(not isinstance(n, int) or n != 1 for n in shape):
        raise SctError(
            f"sct.grad needs {fn_name} to return a scalar, but it returned a value of shape {shape}; "
            "use sct.vjp(f, *args) for a vector-Jacobian product, or sct.jacobian(f) for the full Jacobian"
        )
    return True


def check_failure(args, exc) -> None:
    """Where generated code failed on another library's arrays: raise a BackendError that says so."""
    kinds = {type(a) for a in args if describe_value(a) is not None}
    if not kinds:
        return
    names = ", ".join(sorted(f"{k.__module__}.{k.__name__}" for k in kinds))
    raise BackendError(
        f"the gradient's code failed on arrays of type {names}: {type(exc).__name__}: {exc}\n"
        "(the array API standard asks more than NumPy in places: arrays where NumPy takes Python numbers, "
        "no arithmetic on booleans, an index for every axis); pass NumPy arrays, or write the function "
        "so that the standard's functions take arrays"
    ) from exc


def describe_value(value):
    """The type of ``value`` where it is another library's array (not NumPy's), else None."""
    kind = type(value)
    top = kind.__module__.partition(".")[0]
    if top in LIBRARIES or top != "numpy" and hasattr(kind, "__array_namespace__"):
        return kind
    return None


# ---- the generated code, against a namespace --------------------------------------------------------
# NumPy's name -> the array API's, for the functions of the standard (2023.12) under another name or the same.
_SAME = [
    "abs",
    "acos",
    "acosh",
    "add",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "ceil",
    "clip",
    "conj",
    "cos",
    "cosh",
    "divide",
    "equal",
    "exp",
    "expm1",
    "floor",
    "floor_divide",
    "greater",
    "greater_equal",
    "hypot",
    "imag",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "positive",
    "real",
    "remainder",
    "round",
    "sign",
    "signbit",
    "sin",
    "sinh",
    "square",
    "sqrt",
    "subtract",
    "tan",
    "tanh",
    "trunc",
    "arange",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "tril",
    "triu",
    "zeros",
    "zeros_like",
    "broadcast_to",
    "expand_dims",
    "flip",
    "moveaxis",
    "reshape",
    "roll",
    "stack",
    "argmax",
    "argmin",
    "where",
    "max",
    "mean",
    "min",
    "prod",
    "std",
    "var",
    "sum",
    "all",
    "any",
    "matmul",
    "tensordot",
    "e",
    "inf",
    "nan",
    "newaxis",
    "pi",
]
_RENAMED = {
    "absolute": "abs",
    "arccos": "acos",
    "arccosh": "acosh",
    "arcsin": "asin",
    "arcsinh": "asinh",
    "arctan": "atan",
    "arctan2": "atan2",
    "arctanh": "atanh",
    "power": "pow",
    "concatenate": "concat",
    "true_divide": "divide",
    "amax": "max",
    "amin": "min",
}
FUNCTIONS = {**{n: n for n in _SAME}, **_RENAMED}
HELPERS = {"shape": "shape", "size": "size", "ndim": "ndim", "transpose": "transpose", "swapaxes": "swapaxes"}
HELPERS.update({"outer": "outer", "dot": "dot", "full_like": "full_like"})
# Parameters NumPy takes by position that the standard takes by keyword only (after the array).
_KEYWORDS = {
    **dict.fromkeys(("sum", "mean", "prod", "max", "min", "all", "any", "argmax", "argmin"), ("axis",)),
    "std": ("axis",),
    "var": ("axis",),
    "clip": ("min", "max"),
    "expand_dims": ("axis",),
    "concat": ("axis",),
    "stack": ("axis",),
    "tensordot": ("axes",),
    "roll": ("shift", "axis"),
    "flip": ("axis",),
}
_KEYWORD_RENAMES = {"clip": {"a_min": "min", "a_max": "max"}, "std": {"ddof": "correction"}}
_KEYWORD_RENAMES["var"] = _KEYWORD_RENAMES["std"]
_METHODS = frozenset({"sum", "mean", "prod", "max", "min", "std", "var", "all", "any"})


def retarget(fn: gast.FunctionDef, helpers: dict, namespace=None, base: str = "xp") -> str:
    """Write the NumPy calls of generated ``fn`` against ``namespace``; returns the name it is read by.

    The name is ``base`` unless ``fn`` uses it already; ``helpers`` (the names the code binds) gets the
    namespace under it, and the :mod:`sct.backend.runtime_xp` versions of the helpers the code calls, bound to
    the namespace (unbound, reading a global ``xp``, where ``namespace`` is None: ``sct export --xp``).
    Raises :class:`BackendError` for what has no array API form.
    """

    available = runtime_xp.HELPERS if namespace is None else runtime_xp.bound(namespace)
    where = "any array namespace" if namespace is None else f"arrays of {namespace.__name__}"

    taken = {n.id for n in gast.walk(fn) if isinstance(n, gast.Name)} | {a.id for a in fn.args.args}
    local = {n.id for n in gast.walk(fn) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    state = _State(_fresh(base, taken), taken, [])
    state.lazy = namespace is None or "dask" in namespace.__name__  # math.* of a 0-d Dask array: kept lazy
    for node in _walk(fn):
        for field, child in gast.iter_fields(node):
            if isinstance(child, list):
                child[:] = [_rewritten(c, state) for c in child]
            elif isinstance(child, gast.AST):
                setattr(node, field, _rewritten(child, state))
    called = [n.id for n in gast.walk(fn) if isinstance(n, gast.Name) and n.id not in local]
    for alias, helper in state.aliases.items():
        helpers[alias] = available[helper]
    for helper in sorted(set(called)):
        if helper in helpers and helpers[helper] is not runtime.HELPERS.get(helper):
            continue  # a user's rule, or one bound above
        if helper in runtime.HELPERS:
            if helper in available:
                helpers[helper] = available[helper]
            elif helper not in _PLAIN_PYTHON:
                state.problems.append(f"the helper {helper}() (sct.backend.runtime), which is written for NumPy arrays")
        elif helper == "np" and not state.problems:
            state.problems.append("NumPy itself (np), passed as a value")
    if state.problems:
        listed = "\n  ".join(dict.fromkeys(state.problems))
        raise BackendError(
            f"the gradient needs what the array API standard does not have, so it cannot run on {where}:\n  "
            f"{listed}\nconvert the arguments to NumPy arrays (np.asarray), or differentiate a function "
            "that uses only array API functions"
        )
    if namespace is not None:
        helpers[state.name] = namespace
    return state.name


class _State:
    def __init__(self, name, taken, problems):
        self.name, self.taken, self.problems = name, taken, problems
        self.aliases = {}  # name in the code -> sct.backend.runtime_xp helper

    def helper(self, helper: str) -> str:
        for alias, known in self.aliases.items():
            if known == helper:
                return alias
        alias = _fresh(helper, self.taken)
        self.taken.add(alias)
        self.aliases[alias] = helper
        return alias


def _fresh(base: str, taken) -> str:
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


_PLAIN_PYTHON = frozenset({"tree_add", "appended", "dropped_last", "pullback", "primal_like"})


def _walk(fn):
    """Every node under ``fn``, parents before their children (rewriting a call before its operands)."""
    stack = [fn]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in gast.iter_child_nodes(node))


def _np_attribute(node) -> str | None:
    """``"exp"`` for ``np.exp``; ``"linalg.solve"`` for ``np.linalg.solve``; None for anything else."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name) and node.id == "np" and parts:
        return ".".join(reversed(parts))
    return None


def _math_attribute(node) -> str | None:
    """``"exp"`` for ``math.exp``; None for anything else."""
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and node.value.id == "math":
        return node.attr
    return None


# math's functions of floats to a float: on a 0-d Dask array, Python's function of the number, lazily
# (runtime_xp.scalar_math). The others (floor, isnan, ...) give integers or booleans, which code branches on.
FLOAT_MATH = frozenset(
    [
        "exp",
        "expm1",
        "exp2",
        "log",
        "log1p",
        "log2",
        "log10",
        "sqrt",
        "cbrt",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "fabs",
        "erf",
        "erfc",
        "gamma",
        "lgamma",
        "degrees",
        "radians",
        "copysign",
        "hypot",
        "pow",
        "fmod",
    ]
)


def _xp(name: str, attr: str):
    return gast.Attribute(
        value=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), attr=attr, ctx=gast.Load()
    )


def _helper(attr: str):
    return gast.Name(id=attr, ctx=gast.Load(), annotation=None, type_comment=None)


def _rewritten(node, state):
    """``node`` written against the namespace (a new node, or ``node`` changed in place)."""
    name, problems = state.name, state.problems
    if isinstance(node, gast.Call):
        if isinstance(node.func, gast.Name) and node.func.id == "float" and len(node.args) == 1:
            node.func = _helper(state.helper("as_float"))  # float() would compute a lazy array
            return node
        func = _np_attribute(node.func)
        if func is not None:
            return _call(node, func, state)
        if state.lazy and _math_attribute(node.func) in FLOAT_MATH:  # math.exp(s) -> scalar_math(math.exp, s)
            return gast.Call(func=_helper(state.helper("scalar_math")), args=[node.func, *node.args], keywords=[])
        if isinstance(node.func, gast.Attribute) and node.func.attr == "reshape" and _np_attribute(node.func) is None:
            shape = node.args[0] if len(node.args) == 1 else gast.Tuple(elts=list(node.args), ctx=gast.Load())
            return gast.Call(func=_xp(name, "reshape"), args=[node.func.value, shape], keywords=node.keywords)
        if isinstance(node.func, gast.Attribute) and node.func.attr in _METHODS and _np_attribute(node.func) is None:
            method = node.func.attr  # a.sum(axis=0) -> xp.sum(a, axis=0): the standard's arrays have no such methods
            call = gast.Call(func=_xp(name, method), args=[node.func.value, *node.args], keywords=node.keywords)
            return _keywords(call, method)
        return node
    func = _np_attribute(node)
    if func is not None:
        if func in FUNCTIONS and func not in _KEYWORDS:
            return _xp(name, FUNCTIONS[func])
        problems.append(f"np.{func}")
    return node


def _call(node, func: str, state):
    if func in HELPERS:
        node.func = _helper(state.helper(HELPERS[func]))
        return node
    if func not in FUNCTIONS:  # reported where its np.<func> is visited
        return node
    target = FUNCTIONS[func]
    if target in _REDUCTIONS and len(node.args) == 1 and not node.keywords and _number(node.args[0]):
        return node.args[0]  # np.sum(1.0) is 1.0; the standard's sum takes arrays only
    node.func = _xp(state.name, target)
    if target in _FLOAT64 and not any(k.arg == "dtype" for k in node.keywords) and len(node.args) <= _FLOAT64[target]:
        node.keywords.append(gast.keyword(arg="dtype", value=_xp(state.name, "float64")))  # NumPy's default
    return _keywords(node, target)


_REDUCTIONS = frozenset({"sum", "mean", "prod", "max", "min"})


def _number(node) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub | gast.UAdd):
        node = node.operand
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


# Creation functions whose NumPy default dtype is float64 (the standard leaves it to the library: PyTorch's is
# float32), with how many positional operands NumPy takes before its dtype: with more, a dtype was given.
_FLOAT64 = {"zeros": 1, "ones": 1, "empty": 1, "eye": 3, "linspace": 3}


def _keywords(node, target: str):
    """Positional operands NumPy allows that the standard takes by keyword: as keywords; NumPy's keyword names
    the standard renamed: renamed."""
    names = _KEYWORDS.get(target, ())
    extra = node.args[1:]
    if len(extra) > len(names):
        return node  # more than the standard takes: the call fails, by the namespace's own TypeError
    node.args = node.args[:1]
    node.keywords = [gast.keyword(arg=n, value=v) for n, v in zip(names, extra)] + list(node.keywords)
    for keyword in node.keywords:
        keyword.arg = _KEYWORD_RENAMES.get(target, {}).get(keyword.arg, keyword.arg)
    return node
