"""A network of Loihi CUBA LIF neurons (Lava's ``LIF`` + ``Dense``), and converters to it.

:class:`CubaNetwork` is what the exporters share: populations of discrete-time current-based
LIF neurons and dense projections, either in floating point (``fixed=False``: the map of
Lava's ``floating_pt`` models) or as Loihi integers (``fixed=True``: the registers of Lava's
bit-accurate ``fixed_pt`` models, see :mod:`brainkit.exporters.fixed_point`).

Per time step ``t`` (Lava's ``LIF`` process)::

    u[t] = (1 - d_u) u[t-1] + a_in[t]
    v[t] = (1 - d_v) v[t-1] + u[t] + bias
    s[t] = v[t] > vth ;  v[t] <- 0 where s[t]
    a_in[t] = sum_c W_c @ pre_c[t-1]          (Dense: one-step delay)

:func:`to_cuba` converts a :class:`~brainkit.netfile.NetworkSpec` to a float
:class:`CubaNetwork` through the ``CONVERTERS`` table ``{neuron model: converter}``; a model
without a converter, or a parameter Lava cannot express (a refractory period, a reset value
other than rest, different synaptic time constants into one population), is a
:class:`ExportError` naming the population and the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import numpy as np

from brainkit.fileio import atomic_write
from brainkit.netfile import NetworkSpec, PopulationSpec


class ExportError(ValueError):
    """The network cannot be exported as asked; the message says what and where."""


@dataclass
class CubaPopulation:
    """``n`` CUBA LIF neurons.  Float: ``d_u``, ``d_v`` in [0, 1], ``vth`` and ``bias`` in
    units of ``v``.  Fixed: Lava's integer registers ``du``, ``dv`` (12 bit), ``vth`` (17 bit),
    ``bias_mant`` (13 bit), ``bias_exp`` (3 bit), in ``d_u``/``d_v``/``vth``/``bias``/
    ``bias_exp``."""

    name: str
    n: int
    d_u: Any
    d_v: Any
    vth: Any
    bias: np.ndarray
    bias_exp: Optional[np.ndarray] = None
    u0: Optional[np.ndarray] = None
    v0: Optional[np.ndarray] = None


@dataclass
class CubaConnection:
    """Dense projection ``pre -> post`` with ``weights`` of shape (n_post, n_pre) (Lava's
    orientation).  ``graded``: the presynaptic side sends values (analog input channels),
    not binary spikes.  ``weight_exp``: Lava's shared weight exponent (fixed point only)."""

    name: str
    pre: str
    post: str
    weights: np.ndarray
    weight_exp: int = 0
    graded: bool = False


@dataclass
class CubaNetwork:
    dt: float  # seconds
    populations: Dict[str, CubaPopulation] = field(default_factory=dict)
    connections: Dict[str, CubaConnection] = field(default_factory=dict)
    inputs: Dict[str, int] = field(default_factory=dict)  # name -> number of channels
    graded_inputs: Dict[str, bool] = field(default_factory=dict)
    fixed: bool = False
    report: Dict[str, Any] = field(default_factory=dict)  # how it was mapped (JSON-able)

    def size(self, name: str) -> int:
        if name in self.populations:
            return self.populations[name].n
        return self.inputs[name]

    def incoming(self, pop: str):
        return [c for c in self.connections.values() if c.post == pop]


# ------------------------------------------------------------------- converters
def _value(x, unit=None) -> float:
    """A parameter as a float (in ``unit`` if given)."""
    from brian2.units.fundamentalunits import Quantity, have_same_dimensions

    if unit is not None:
        if not have_same_dimensions(x, unit):
            raise ExportError(f"{x!r} does not have the units of {unit!r}")
        return float(x / unit)
    if isinstance(x, Quantity):
        return float(np.asarray(x))
    return float(x)


def _param(pop: PopulationSpec, name: str):
    if name not in pop.parameters:
        raise ExportError(f"population '{pop.name}' (model '{pop.model}'): parameter '{name}' "
                          "is missing from the network file")
    return pop.parameters[name]


def _initial(pop: PopulationSpec, var: str, default, unit=None, offset=0.0) -> np.ndarray:
    """Initial value of ``var`` per neuron (expressions are evaluated with the parameters)."""
    from brainkit.library import evaluate_expression

    value = pop.initial.get(var, default)
    if isinstance(value, str):
        try:
            value = evaluate_expression(value, pop.parameters)
        except Exception as exc:  # noqa: BLE001
            raise ExportError(f"population '{pop.name}': initial value {var} = {value!r} cannot "
                              f"be evaluated for export ({exc}); store numbers") from None
    arr = np.asarray(value / unit if unit is not None else value, dtype=float) - offset
    return np.broadcast_to(arr, (pop.n,)).astype(float)


def _same_code(a: Optional[str], b: Optional[str]) -> bool:
    norm = (lambda s: re.sub(r"\s+", "", re.sub(r"#[^\n]*", "", s or "")))
    return norm(a) == norm(b)


def _check_library_equations(pop: PopulationSpec) -> None:
    """The file's equations must be the library model's: the converter knows only those."""
    from brainkit.library import load_model

    m = load_model(pop.model)
    for key in ("equations", "threshold", "reset"):
        if not _same_code(getattr(pop, key), getattr(m, key)):
            raise ExportError(f"population '{pop.name}': its {key} differ from library model "
                              f"'{pop.model}' ({getattr(pop, key)!r} vs {getattr(m, key)!r}); "
                              "the exporter maps only the library's equations")


def convert_cuba_lif(spec: NetworkSpec, pop: PopulationSpec, net: CubaNetwork) -> None:
    """``cuba_lif`` is Lava's LIF already: copy d_u, d_v, vth, bias; ``delta`` synapses and
    ``current`` (analog input) projections become Dense weights unchanged."""
    _check_library_equations(pop)
    d_u, d_v = _value(_param(pop, "d_u")), _value(_param(pop, "d_v"))
    for name, d in (("d_u", d_u), ("d_v", d_v)):
        if not 0.0 <= d <= 1.0:
            raise ExportError(f"population '{pop.name}': {name} = {d} is not in [0, 1]")
    net.populations[pop.name] = CubaPopulation(
        pop.name, pop.n, d_u, d_v, _value(_param(pop, "vth")),
        bias=_initial(pop, "bias", 0.0), u0=_initial(pop, "u", 0.0),
        v0=_initial(pop, "v", 0.0))
    for c in spec.connections.values():
        if c.post != pop.name:
            continue
        if c.synapse not in ("delta", "current"):
            raise ExportError(f"connection '{c.name}': synapse '{c.synapse}' into cuba_lif "
                              f"population '{pop.name}' cannot be mapped (use 'delta')")
        net.connections[c.name] = CubaConnection(c.name, c.pre, c.post,
                                                 np.asarray(c.weights, float).T.copy(),
                                                 graded=c.synapse == "current")


def convert_lif(spec: NetworkSpec, pop: PopulationSpec, net: CubaNetwork) -> None:
    """Brian2 ``lif`` (tau_m dv/dt = E_L - v + R I) with ``exp_current`` synapses
    (tau_syn dI/dt = -I, I += w at a spike) as a Lava LIF that equals it at every step::

        v_lava = (v - E_L) / mV,  vth = (V_th - E_L) / mV
        a = exp(-dt/tau_syn), b = exp(-dt/tau_m),  d_u = 1 - a,  d_v = 1 - b
        weight  w (amp)  ->  c w / mV  with  c = R tau_syn (a - b) / (tau_syn - tau_m)
                                        (c = R (dt/tau) b  when tau_syn = tau_m)

    Why: between spikes both are linear.  Brian2 integrates exactly,
    v(t+dt) = b v(t) + c I(t) with I(t) the current after the jumps of step t, and
    I(t+dt) = a I(t) + jumps; Lava computes u[t+1] = a u[t] + a_in[t+1] (a_in = the jumps of
    step t) and v[t+1] = b v[t] + u[t+1].  With u[t+1] = c I(t) these are the same map, the
    threshold is checked at the same steps and both reset only v, to rest.  So spikes agree
    step for step up to float rounding.

    Lava's LIF has no refractory period and resets to 0 (= rest), so ``t_ref`` must be 0 and
    ``V_r`` equal ``E_L``; every incoming connection must be ``exp_current`` with one
    ``tau_syn`` (Lava has one current decay per population).
    """
    from brian2 import Mohm, mV, second

    _check_library_equations(pop)
    where = f"population '{pop.name}' (model 'lif')"
    t_ref = _value(_param(pop, "t_ref"), second)
    if t_ref != 0.0:
        raise ExportError(f"{where}: refractory period t_ref = {t_ref * 1e3:g} ms cannot be "
                          "expressed: Lava's (and Loihi's) CUBA LIF has no refractory period; "
                          "build the network with params={'t_ref': 0*ms}")
    E_L, V_r = _value(_param(pop, "E_L"), mV), _value(_param(pop, "V_r"), mV)
    if not math.isclose(E_L, V_r, rel_tol=0, abs_tol=1e-9):
        raise ExportError(f"{where}: reset V_r = {V_r:g} mV differs from rest E_L = {E_L:g} mV; "
                          "Lava's LIF resets v to 0 = rest")
    dt = float(spec.dt / second)
    tau_m = _value(_param(pop, "tau_m"), second)
    R = _value(_param(pop, "R"), Mohm) * 1e6  # ohm
    d_v = -math.expm1(-dt / tau_m)
    taus = set()
    incoming = [c for c in spec.connections.values() if c.post == pop.name]
    for c in incoming:
        if c.synapse != "exp_current":
            raise ExportError(f"connection '{c.name}': synapse '{c.synapse}' into lif population "
                              f"'{pop.name}' cannot be mapped to Lava (use 'exp_current')")
        if c.weight_unit != "amp":
            raise ExportError(f"connection '{c.name}': weights in '{c.weight_unit}', expected "
                              "'amp' for exp_current")
        taus.add(round(_value(c.parameters.get("tau_syn", 5e-3 * second), second), 15))
    if len(taus) > 1:
        raise ExportError(f"{where}: incoming exp_current synapses have different tau_syn "
                          f"({', '.join(f'{t * 1e3:g} ms' for t in sorted(taus))}); Lava's LIF "
                          "has one current decay per population")
    tau_syn = taus.pop() if taus else None
    d_u = -math.expm1(-dt / tau_syn) if tau_syn else 1.0
    if tau_syn:
        a, b = math.exp(-dt / tau_syn), math.exp(-dt / tau_m)
        c_gain = (R * dt / tau_m * b if math.isclose(tau_syn, tau_m, rel_tol=1e-12)
                  else R * tau_syn * (a - b) / (tau_syn - tau_m))
        for c in incoming:  # amp -> mV of u
            net.connections[c.name] = CubaConnection(
                c.name, c.pre, c.post, np.asarray(c.weights, float).T * (c_gain / 1e-3))
    net.populations[pop.name] = CubaPopulation(
        pop.name, pop.n, d_u, d_v, _value(_param(pop, "V_th"), mV) - E_L,
        bias=np.zeros(pop.n), u0=np.zeros(pop.n), v0=_initial(pop, "v", E_L * mV, mV, E_L))


CONVERTERS: Dict[str, Callable[[NetworkSpec, PopulationSpec, CubaNetwork], None]] = {
    "cuba_lif": convert_cuba_lif,
    "lif": convert_lif,
}


def to_cuba(spec: NetworkSpec, target: str = "Lava") -> CubaNetwork:
    """Convert every population of ``spec`` with the converter of its model (``target``:
    the export this conversion is for, named in errors).

    Raises
    ------
    ExportError
        a model without a converter (named, with the models that have one) or a parameter
        the converter cannot express.
    """
    from brian2 import second

    net = CubaNetwork(dt=float(spec.dt / second))
    for name, inp in spec.inputs.items():
        net.inputs[name] = int(inp.n)
        net.graded_inputs[name] = inp.kind == "current"
    for pop in spec.populations.values():
        conv = CONVERTERS.get(pop.model)
        if conv is None:
            raise ExportError(f"population '{pop.name}': model '{pop.model}' cannot be exported "
                              f"to {target} (models with a converter: {', '.join(sorted(CONVERTERS))}; "
                              "a trained reset-free/gated task network goes through its CUBA LIF "
                              "mapping, brainkit.loihi.mapping, which needs its metadata 'task')")
        conv(spec, pop, net)
    for c in spec.connections.values():
        if c.name not in net.connections:  # pragma: no cover - converters map all inputs
            raise ExportError(f"connection '{c.name}' was not mapped by any converter")
        net.connections[c.name].graded = c.pre in net.inputs and net.graded_inputs[c.pre]
    return net


# ------------------------------------------------------------------ on disk
def save_cuba(path, net: CubaNetwork) -> None:
    """Write ``net`` as one ``.npz`` file (arrays + a JSON header), atomically: the Lava export
    (:func:`load_cuba` + :func:`brainkit.exporters.lava.build_processes` rebuild it)."""
    import json

    header = {"format": "brainkit-cuba", "version": 1, "dt": net.dt, "fixed": net.fixed,
              "inputs": net.inputs, "graded_inputs": net.graded_inputs,
              "populations": {p: {"n": P.n, "d_u": _num(P.d_u), "d_v": _num(P.d_v),
                                  "vth": _num(P.vth)} for p, P in net.populations.items()},
              "connections": {c.name: {"pre": c.pre, "post": c.post, "weight_exp": c.weight_exp,
                                       "graded": c.graded} for c in net.connections.values()},
              "report": net.report}
    arrays = {"header": np.frombuffer(json.dumps(header, default=_num).encode(), np.uint8)}
    for p, P in net.populations.items():
        for key in ("bias", "bias_exp", "u0", "v0"):
            if getattr(P, key) is not None:
                arrays[f"pop/{p}/{key}"] = np.asarray(getattr(P, key))
    for c in net.connections.values():
        arrays[f"conn/{c.name}/weights"] = np.asarray(c.weights)
    with atomic_write(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_cuba(path) -> CubaNetwork:
    """Read a file written by :func:`save_cuba` (:class:`ExportError` if it is not one)."""
    import json

    try:
        with np.load(path) as f:
            header = json.loads(bytes(f["header"]).decode())
            arrays = {k: f[k] for k in f.files if k != "header"}
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"{path}: not a brainkit Lava export: {exc}") from None
    if header.get("format") != "brainkit-cuba" or header.get("version") != 1:
        raise ExportError(f"{path}: not a brainkit Lava export (format/version)")
    net = CubaNetwork(dt=header["dt"], inputs=header["inputs"],
                      graded_inputs=header["graded_inputs"], fixed=header["fixed"],
                      report=header["report"])
    for p, h in header["populations"].items():
        net.populations[p] = CubaPopulation(p, h["n"], h["d_u"], h["d_v"], h["vth"],
                                            **{k: arrays.get(f"pop/{p}/{k}") for k in
                                               ("bias", "bias_exp", "u0", "v0")})
    for name, h in header["connections"].items():
        net.connections[name] = CubaConnection(name, h["pre"], h["post"],
                                               arrays[f"conn/{name}/weights"], h["weight_exp"],
                                               h["graded"])
    return net


def _num(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x
