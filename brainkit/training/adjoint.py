"""Exact gradients of a recurrent gated-synapse network: the discrete adjoint, derived by sympy.

The network (see :mod:`brainkit.training.recurrent`) is, per neuron ``i`` of trial ``b``,

.. math::

    y = (z, s),\\qquad \\dot y = h(y, I),\\qquad I = J + U x(t) + I_0,\\qquad
    \\dot J = a J + W D(y, I),\\qquad o = O s

where ``z`` are the neuron model's differential variables (``theta`` for the theta neuron),
``s`` is the gated synapse's trace, ``h`` the right-hand sides from the model library, and the
synapse equation is linear in ``s``: :math:`h_s = a s + D(z, I)` (checked symbolically; for the
gated synapse :math:`a = -1/\\tau_s`, :math:`D = g(V) \\dot V / \\tau_s`).  ``J`` is the recurrent
input ``W s`` filtered directly (by linearity :math:`J_n = W s_n` at every step), so only neurons
with :math:`D \\neq 0` (inside the active zone) send anything.

Brian2 integrates this with forward Euler, every variable from the values of step ``n``:

.. math::

    y_{n+1} = y_n + \\Delta t\\, h(y_n, I_n),\\qquad
    J_{n+1} = J_n + \\Delta t\\,(a J_n + W D(y_n, I_n)),\\qquad
    I_n = J_n + U x_n + I_0,

and the loss is :math:`L = \\sum_{n<T} \\ell_n(o_n)`, :math:`o_n = O s_n` (``s`` recorded at the
start of step ``n``, before its update).  With :math:`\\lambda_n = \\partial L/\\partial(y_n, J_n)`,
:math:`\\lambda_T = 0` and :math:`P = \\lambda_{n+1}`, the reverse recursion is

.. math::

    r_n &= W^\\top P_J \\quad(\\text{needed only where } \\partial D/\\partial(y, I) \\neq 0)\\\\
    q_n &= \\Delta t\\,\\big(\\textstyle\\sum_k \\partial_I h_k\\, P_{y_k} + \\partial_I D\\, r_n\\big)
           \\qquad(= \\partial L / \\partial I_n)\\\\
    \\lambda_{y,n} &= P_y + \\Delta t\\,(\\partial_y h)^\\top P_y + \\Delta t\\,\\partial_y D\\, r_n
                     + [O^\\top \\partial \\ell_n/\\partial o_n]_s\\\\
    \\lambda_{J,n} &= (1 + \\Delta t\\, a) P_J + q_n

and the parameter gradients are

.. math::

    \\frac{\\partial L}{\\partial U} = \\sum_{n,b} q_n x_n^\\top,\\quad
    \\frac{\\partial L}{\\partial I_0} = \\sum_{n,b} q_n,\\quad
    \\frac{\\partial L}{\\partial W} = \\Delta t \\sum_{n,b} P_{J,n+1} D_n^\\top,\\quad
    \\frac{\\partial L}{\\partial O} = \\sum_{n,b} \\frac{\\partial \\ell_n}{\\partial o_n} s_n^\\top.

Scalar model constants (time constants such as the neuron's ``tau`` and the synapse's
``tau_s``) can be trained too (``derive_system(..., constants=...)``): they stay sympy symbols,
every derived function takes their values as extra arguments, and
:math:`\\partial L/\\partial p = \\Delta t \\sum_{n,b,i} (\\lambda_{y,n+1} \\cdot \\partial_p h
+ \\lambda_{J,n+1} \\partial_p a\\, J_n + r_n \\partial_p D)`.

Every partial derivative (:math:`\\partial_y h`, :math:`\\partial_I h`, :math:`D`,
:math:`\\partial_y D`, :math:`\\partial_I D`) is derived with sympy from the equation strings
Brian2 compiles, then compiled into the backward loop: no model-specific gradient code.  Piecewise-constant
functions (``int(...)``, ``floor``, ``ceil``, comparisons) get derivative 0: the gradient is that of
the discrete map wherever the map is differentiable (the gated synapse's raised-cosine gate is
C1, so the theta network's map is differentiable everywhere).

Sparsity and speed: the only terms that couple neurons (:math:`r_n`, :math:`\\partial
L/\\partial W`) carry :math:`D` or its derivatives, non-zero only inside the active zone (a few %
of neuron-steps).  The backward pass is one compiled loop (:mod:`brainkit.training.adjoint_kernel`:
the sympy Jacobians written as source with common subexpressions shared, compiled by numba)
that evaluates every Jacobian entry where it is needed, every gated one only inside its zone,
and touches ``W`` only for in-zone neurons: a contiguous row of ``W^T`` dotted with
:math:`P_J` for :math:`r_n`, the same row of :math:`\\partial L/\\partial W^T` updated by
:math:`D_n P_J` (event-driven, no dense product per step).

What is refused (:class:`NotDifferentiableError`): a reset that changes a variable the dynamics
or the readout depend on (``lif``: ``v = V_r``), a refractory period, a threshold synapse (one with
``on_pre`` jumps, e.g. ``exp_current``), a synapse equation not linear in its trace, dynamics that
depend on ``t`` or on variables the network does not define.  A reset that only touches
variables outside the differentiated state and outside every right-hand side is harmless: the
theta neuron's ``theta_spike += 2*pi`` only books the phase of the next spike (the threshold
``theta > theta_spike`` then fires once per crossing of pi mod 2 pi); neither it nor the threshold
affects ``theta``, ``s``, ``J`` or ``o``, so the simulated map does not depend on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import sympy

from ..equations import pre_equations
from ..library import Model, ModelError

SYN_SUFFIX = "_syn"  # suffix of the synapse's own variables (s_syn, gate_syn) in the group


class NotDifferentiableError(ModelError):
    """The model's simulated map has jumps (resets, spike-triggered synapses) or other terms the
    discrete adjoint cannot differentiate; the message names the offending term."""


# --------------------------------------------------------------------------- sympy helpers
class _PiecewiseConstant(sympy.Function):
    """A function that is constant almost everywhere (``int``, ``floor``, ``ceil``): derivative 0."""

    def _eval_derivative(self, s):  # noqa: D401 - sympy hook
        return sympy.S.Zero


class _int0(_PiecewiseConstant):
    pass


class _floor0(_PiecewiseConstant):
    pass


class _ceil0(_PiecewiseConstant):
    pass


class _sign0(_PiecewiseConstant):
    pass


def _int0_impl(c):
    # int(x) in Brian2's C++ is a truncation towards zero (also for booleans)
    return np.trunc(np.asarray(c, dtype=float))


_NUMPY_IMPL = {"_int0": _int0_impl, "_floor0": np.floor, "_ceil0": np.ceil, "_sign0": np.sign}


def _replace_piecewise(expr):
    """Replace Brian2's ``int_``/``floor``/``ceiling``/``sign`` by zero-derivative functions."""
    mapping = {"int_": _int0, "floor": _floor0, "ceiling": _ceil0, "sign": _sign0}

    def rec(e):
        if not e.args:
            return e
        args = [rec(a) for a in e.args]
        name = type(e).__name__
        if isinstance(e, sympy.Function) and name in mapping:
            return mapping[name](*args)
        try:
            return e.func(*args)
        except TypeError:  # pragma: no cover - immutable leaf types
            return e

    return rec(expr)


def _si_value(name: str, namespace: Dict[str, Any]) -> Optional[float]:
    """The SI float value of a parameter or unit name, or None if it is neither."""
    import brian2

    if name in namespace:
        return float(np.asarray(namespace[name], dtype=float)) if not hasattr(
            namespace[name], "dim") else float(namespace[name])
    obj = getattr(brian2, name, None)
    if obj is not None and isinstance(obj, brian2.units.fundamentalunits.Quantity):
        return float(obj)
    return None


def _assigned(statements: str) -> List[Tuple[str, str]]:
    """(variable, statement) for every assignment in a Brian2 code block (reset, on_pre)."""
    out = []
    for stmt in re.split(r"[\n;]", statements or ""):
        stmt = stmt.split("#")[0].strip()
        m = re.match(r"^([A-Za-z_]\w*)\s*([+\-*/]?=)(?!=)", stmt)
        if m:
            out.append((m.group(1), stmt))
    return out


# --------------------------------------------------------------------------- the system
@dataclass
class DiscreteSystem:
    """The per-neuron Euler map of a neuron model driving a gated synapse, with its Jacobians.

    Built by :func:`derive_system`; all values are SI floats (times in seconds).

    Attributes
    ----------
    states : list of str
        Differentiated per-neuron variables ``y`` in order: the neuron's differential variables,
        then the synapse trace (``s_syn``).
    input_name : str
        The neuron's input variable ``I``.
    trace : str
        Name of the synapse trace (the readout and the recurrent input use it).
    a : float
        The trace's linear coefficient (``h_s = a s + D``).
    """

    neuron: Model
    synapse: Model
    states: List[str]
    input_name: str
    trace: str
    a: float
    h: Dict[str, sympy.Expr]
    D: sympy.Expr
    symbols: Dict[str, sympy.Symbol]
    initial: Dict[str, float]
    brian2_D: str = ""  # D written as a Brian2 expression (units kept), for the forward pass
    brian2_zone: str = ""  # Brian2 condition outside which D is identically 0 ("": none found)
    constants: List[str] = field(default_factory=list)  # trainable model constants (tau, ...)
    values: Dict[str, float] = field(default_factory=dict)  # their current SI values
    a_expr: Any = None  # the trace coefficient a as an expression of the constants
    _funcs: Dict[str, Any] = field(default_factory=dict, repr=False)

    def set_constants(self, values: Dict[str, float]) -> None:
        """Evaluate the map at these values of the trainable constants (SI floats); updates
        :attr:`a`."""
        for k in self.constants:
            if k in values:
                self.values[k] = float(values[k])
        self.a = self.a_at(self.values)

    def a_at(self, values: Dict[str, float]) -> float:
        """The trace coefficient ``a`` at these values of the trainable constants."""
        if not self.constants:
            return self.a
        return float(sympy.sympify(self.a_expr).xreplace(
            {self.symbols[k]: float(values.get(k, self.values[k])) for k in self.constants}))

    def _args(self):
        return ([self.symbols[s] for s in self.states] + [self.symbols[self.input_name]]
                + [self.symbols[k] for k in self.constants])

    def _const_values(self):
        return [self.values[k] for k in self.constants]

    # ------------------------------------------------------------------ evaluation
    def _lambdify(self, key: str, expr) -> Callable:
        if key not in self._funcs:
            args = self._args()
            expr = sympy.sympify(expr)
            if not expr.free_symbols:
                value = float(expr)
                self._funcs[key] = ("const", value)
            else:
                f = sympy.lambdify(args, expr, modules=[_NUMPY_IMPL, "numpy"])
                self._funcs[key] = ("func", f)
        return self._funcs[key]

    def gates(self, key: str, expr):
        """The ``int(...)`` factors that switch ``expr`` off: if ``expr`` is identically 0
        wherever all of them are 0 (the gated synapse's active zone), return them, else ()."""
        gk = ("gates", key)
        if gk not in self._funcs:
            atoms = sorted(sympy.sympify(expr).atoms(_int0), key=str)
            gated = ()
            if atoms and sympy.sympify(expr).xreplace({a: 0 for a in atoms}) == 0:
                gated = tuple(atoms)
            self._funcs[gk] = gated
        return self._funcs[gk]

    def evaluate(self, key: str, expr, Y: Dict[str, np.ndarray], I: np.ndarray,
                 cache: Optional[dict] = None, masked: bool = True):
        """``expr`` at the states ``Y`` (name -> array) and input ``I``: an array like ``I`` or a
        float for a constant expression.  An expression that vanishes outside an ``int(...)``
        condition (everything that carries the gate) is evaluated only where the condition
        holds (``cache`` keeps those masks for one set of arrays)."""
        kind, f = self._lambdify(key, expr)
        if kind == "const":
            return f
        gates = self.gates(key, expr) if masked else ()
        if gates:
            cache = {} if cache is None else cache
            mkey = tuple(str(g) for g in gates)
            if mkey not in cache:
                mask = np.zeros(np.shape(I), dtype=bool)
                for g in gates:
                    mask |= self.evaluate(f"gate:{g}", g, Y, I, masked=False) != 0
                cache[mkey] = (mask, {k: Y[k][mask] for k in self.states}, I[mask])
            mask, Ym, Im = cache[mkey]
            out = np.zeros(np.shape(I))
            if len(Im):
                out[mask] = f(*[Ym[s] for s in self.states], Im, *self._const_values())
            return out
        out = f(*[Y[s] for s in self.states], I, *self._const_values())
        return np.broadcast_to(np.asarray(out, dtype=float), np.shape(I))

    def rhs(self, Y, I) -> Dict[str, np.ndarray]:
        """h(y, I) for every state."""
        return {k: self.evaluate(f"h:{k}", self.h[k], Y, I) for k in self.states}

    def drive(self, Y, I, cache=None):
        """D(y, I): what a neuron sends through the recurrent weights."""
        return self.evaluate("D", self.D, Y, I, cache)

    def jacobian_exprs(self):
        """The non-zero symbolic partial derivatives of the Euler map, keyed ``('A', m, k)``
        (``dh_m/dy_k``), ``('hI', m)`` (``dh_m/dI``), ``('Dy', k)``, ``('DI',)``, ``('D',)`` (the
        drive itself) and, per trainable constant ``p``, ``('hp', m, p)`` and ``('Dp', p)``;
        :mod:`brainkit.training.adjoint_kernel` compiles them into the backward loop."""
        if "jac_exprs" not in self._funcs:
            Isym = self.symbols[self.input_name]
            ex = {}
            for m in self.states:
                for k in self.states:
                    d = self.derivative(self.h[m], self.symbols[k])
                    if d != 0:
                        ex[("A", m, k)] = d
                d = self.derivative(self.h[m], Isym)
                if d != 0:
                    ex[("hI", m)] = d
            for k in self.states:
                d = self.derivative(self.D, self.symbols[k])
                if d != 0:
                    ex[("Dy", k)] = d
            d = self.derivative(self.D, Isym)
            if d != 0:
                ex[("DI",)] = d
            for p in self.constants:
                psym = self.symbols[p]
                for m in self.states:
                    d = self.derivative(self.h[m], psym)
                    if d != 0:
                        ex[("hp", m, p)] = d
                d = self.derivative(self.D, psym)
                if d != 0:
                    ex[("Dp", p)] = d
            ex[("D",)] = self.D
            self._funcs["jac_exprs"] = ex
        return self._funcs["jac_exprs"]

    def derivative(self, expr, sym):
        key = ("d", expr, sym)
        if key not in self._funcs:
            self._funcs[key] = sympy.diff(expr, sym)
        return self._funcs[key]

    # ------------------------------------------------------------------ numpy reference
    def simulate(self, params: Dict[str, np.ndarray], x: np.ndarray, dt: float):
        """Plain numpy forward Euler of the same map (a reference for tests, not for speed):
        returns dict of (batch, steps, N) arrays of every state at the start of each step, ``I``
        and ``o``."""
        U, W, O, I0 = (np.asarray(params[k], dtype=float) for k in ("U", "W", "O", "I0"))
        self.set_constants({k: params[k] for k in self.constants if k in params})
        B, T, _ = x.shape
        N = W.shape[0]
        Y = {k: np.full((B, N), self.initial[k]) for k in self.states}
        J = np.zeros((B, N))
        rec = {k: np.empty((B, T, N)) for k in self.states + [self.input_name]}
        for n in range(T):
            I = J + x[:, n, :] @ U.T + I0
            for k in self.states:
                rec[k][:, n] = Y[k]
            rec[self.input_name][:, n] = I
            h = self.rhs(Y, I)
            D = self.drive(Y, I)
            Y = {k: Y[k] + dt * h[k] for k in self.states}
            J = J + dt * (self.a * J + D @ W.T)
        rec["o"] = rec[self.trace] @ O.T
        return rec


def derive_system(neuron: Model, synapse: Model, constants=()) -> DiscreteSystem:
    """Derive the Euler map and its Jacobians for ``neuron`` driving a ``synapse`` (gated).

    ``constants`` names scalar parameters of either model (e.g. the time constants ``tau`` of
    the theta neuron and ``tau_s`` of the gated synapse) that stay symbols, so that their
    gradients can be computed (:meth:`DiscreteSystem.set_constants` sets their values).

    Raises
    ------
    NotDifferentiableError
        naming the reset, refractory period, spike-triggered synapse term or non-linear trace
        equation that makes the simulated map non-differentiable.
    """
    from brian2 import Equations
    from brian2.parsing.sympytools import str_to_sympy

    if neuron.kind != "neuron":
        raise ModelError(f"model '{neuron.name}' is a {neuron.kind} model, not a neuron model",
                         neuron.path)
    if synapse.kind != "synapse":
        raise ModelError(f"model '{synapse.name}' is a {synapse.kind} model, not a synapse model",
                         synapse.path)
    if synapse.on_pre or synapse.post_equations or not synapse.pre_equations:
        what = (f"its on_pre '{synapse.on_pre}' jumps at every presynaptic spike"
                if synapse.on_pre else "it has no presynaptic trace equation (pre_equations)")
        raise NotDifferentiableError(
            f"synapse model '{synapse.name}' is a threshold (spike-triggered) synapse: {what}; "
            "exact gradients need a continuous synapse such as 'gated'",
            synapse.path, synapse.line_of("on_pre") if synapse.on_pre else None)
    if not neuron.input:
        raise ModelError(f"neuron model '{neuron.name}' declares no input variable", neuron.path)

    constants = list(constants)
    values = {}  # their SI values in the models
    for k in constants:
        owners = [m for m in (neuron, synapse) if k in m.parameters]
        if len(owners) != 1:
            raise ModelError(f"trainable constant '{k}' must be a parameter of exactly one of "
                             f"'{neuron.name}' and '{synapse.name}' (found in "
                             f"{[m.name for m in owners] or 'neither'}; neuron parameters: "
                             f"{', '.join(sorted(neuron.parameters))}; synapse parameters: "
                             f"{', '.join(sorted(synapse.parameters))})")
        value = owners[0].parameters[k]
        if np.ndim(value) != 0:
            raise ModelError(f"trainable constant '{k}' must be a scalar parameter")
        values[k] = float(value)
    neq = neuron.brian2_equations()
    pre = pre_equations(synapse, neuron, SYN_SUFFIX, keep=constants)
    eqs = Equations(list(neq.values()) + list(pre.values()))
    states = list(neq.diff_eq_names) + list(pre.diff_eq_names)
    if len(pre.diff_eq_names) != 1:
        raise ModelError(f"synapse model '{synapse.name}': expected one presynaptic trace "
                         f"equation, found {sorted(pre.diff_eq_names)}", synapse.path)
    trace = next(iter(pre.diff_eq_names))
    input_name = neuron.input["name"]
    namespace = dict(neuron.parameters)
    namespace.update(synapse.parameters)

    h_raw = dict(eqs.get_substituted_expressions())
    names = set(states) | {input_name}
    symbols = {n: sympy.Symbol(n, real=True) for n in names | set(constants)}
    h, h_brian = {}, {}
    for k in states:
        expr = _replace_piecewise(str_to_sympy(h_raw[k].code))
        subs = {}
        for sym in expr.free_symbols:
            if sym.name in names or sym.name in constants:
                subs[sym] = symbols[sym.name]
            else:
                val = _si_value(sym.name, namespace)
                if val is None:
                    where = "time 't'" if sym.name == "t" else f"'{sym.name}'"
                    raise NotDifferentiableError(
                        f"the equation of '{k}' ({h_raw[k].code}) depends on {where}, which is "
                        "neither a differentiated state, the input, nor a parameter of "
                        f"'{neuron.name}'/'{synapse.name}'", neuron.path)
                subs[sym] = sympy.Float(val, 17)
        h[k] = expr.xreplace(subs)
        h_brian[k] = h_raw[k].code
    # the trace equation must be linear with a constant coefficient: h_s = a s + D(z, I)
    s = symbols[trace]
    a_expr = sympy.simplify(sympy.diff(h[trace], s))
    if a_expr.free_symbols - {symbols[k] for k in constants}:
        raise NotDifferentiableError(
            f"synapse model '{synapse.name}': the trace equation d{trace}/dt = {h_raw[trace].code} "
            f"is not linear in {trace} with a constant coefficient (d/d{trace} = {a_expr}); the "
            "recurrent input cannot be filtered as J = W s", synapse.path)
    a = float(a_expr.xreplace({symbols[k]: v for k, v in values.items()}))
    D = h[trace].xreplace({s: 0})  # d h_s / d s is the constant a, so h_s - a s = h_s(s=0)
    # the reset may only touch variables the simulated map never reads
    dyn_names = set(states) | {input_name}
    for k in states:
        dyn_names |= {str(x) for x in str_to_sympy(h_raw[k].code).free_symbols}
    for var, stmt in _assigned(neuron.reset or ""):
        if var in dyn_names:
            raise NotDifferentiableError(
                f"neuron model '{neuron.name}': reset '{stmt}' changes '{var}', which the "
                "dynamics depend on: the state jumps at every spike and the simulated map is "
                "not differentiable there (use a reset-free model such as 'theta' or "
                "'rotator')", neuron.path, neuron.line_of("reset"))
    if neuron.refractory is not None:
        raise NotDifferentiableError(
            f"neuron model '{neuron.name}': refractory period '{neuron.refractory}' clamps the "
            "state for a while after each spike, a jump the gradient cannot follow",
            neuron.path, neuron.line_of("refractory"))
    initial = {}
    for k in states:
        val = neuron.initial.get(k, 0.0) if k != trace else 0.0
        if isinstance(val, str):
            from ..library import evaluate_expression

            val = evaluate_expression(val, namespace)
        initial[k] = float(val)
    # the drive as a Brian2 expression: the trace's right-hand side at s = 0
    from brian2.utils.stringtools import word_substitute

    trace_unit = eqs[trace].dim
    brian2_D = word_substitute(h_brian[trace], {trace: "(0*trace_unit_zero)"})
    sys_ = DiscreteSystem(neuron=neuron, synapse=synapse, states=states, input_name=input_name,
                          trace=trace, a=a, h=h, D=D, symbols=symbols, initial=initial,
                          brian2_D=brian2_D, brian2_zone=_zone_condition(brian2_D),
                          constants=constants, values=values, a_expr=a_expr)
    sys_._funcs["trace_dim"] = trace_unit
    return sys_


def _zone_condition(brian2_D: str) -> str:
    """The Brian2 condition of the active zone: the ``int(...)`` factors of the drive that
    switch it off (the drive is identically 0 wherever all of them are 0), joined by ``or``;
    ``""`` if the drive has none (it is then non-zero anywhere)."""
    from brian2.parsing.sympytools import str_to_sympy, sympy_to_str

    expr = str_to_sympy(brian2_D)
    gates = sorted((a for a in expr.atoms(sympy.Function) if a.func.__name__ == "int_"),
                   key=str)
    if not gates or expr.xreplace({g: 0 for g in gates}) != 0:
        return ""
    return " or ".join(f"({sympy_to_str(g.args[0])})" for g in gates)


# --------------------------------------------------------------------------- the backward pass
def adjoint_gradients(system: DiscreteSystem, states: Dict[str, np.ndarray], I: np.ndarray,
                      x: np.ndarray, params: Dict[str, np.ndarray], dl_do: np.ndarray,
                      dt: float, threads: Optional[int] = None
                      ) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """Gradients of ``L = sum_n l_n(o_n)`` for ``U, W, O, I0`` (and the trainable constants
    ``p`` of ``system``) by the discrete adjoint.  For a constant,

    .. math:: \\frac{\\partial L}{\\partial p} = \\Delta t \\sum_{n,b,i} \\Big(\\sum_m
              \\lambda_{y_m, n+1} \\partial_p h_m + \\lambda_{J, n+1}\\, \\partial_p a\\, J_n
              + r_n\\, \\partial_p D\\Big)

    (every term of the step-``n`` map that depends on ``p``, weighted by the adjoint of what
    it updates; ``J_n = I_n - U x_n - I_0``).

    Parameters
    ----------
    system : DiscreteSystem
    states : dict
        Every state of ``system.states`` recorded at the start of each step, ``(T, B, N)``.
    I : ndarray
        The input ``I_n`` at each step, ``(T, B, N)``.
    x : ndarray
        The analog input, ``(B, T, n_in)``.
    params : dict
        ``U (N, n_in)``, ``W (N, N)``, ``O (n_out, N)``, ``I0 (N,)``, and a float for each
        trainable constant of ``system`` (its value, SI).
    dl_do : ndarray
        ``dL/do_n``, ``(B, T, n_out)``.
    dt : float
        Time step in seconds.
    threads : int, optional
        Threads of the backward loop (the trials run in parallel); default
        :func:`~brainkit.training.adjoint_kernel.thread_count`.

    Returns
    -------
    grads : dict like ``params``
    info : dict
        ``zone_fraction`` (share of neuron-steps with a non-zero coupling term).
    """
    from .adjoint_kernel import run_backward

    return run_backward(system, states, I, x, params, dl_do, dt, threads)
