"""A :class:`~brainkit.netfile.NetworkSpec` to and from a NIR graph (nir 1.0.8).

Nodes::

    Input  '<input>'        shape (n,)                  one per input
    Linear '<connection>'   weight (n_post, n_pre)      one per connection
    CubaLIF '<population>'  tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in (n,)
      (LIF '<population>'   tau, r, v_leak, v_threshold, v_reset: cuba_lif with d_u = 1)
    Affine '<readout>'      weight O (n_out, n), bias   one per readout
    Output '<readout>.out' / '<population>.spikes'

NIR's CubaLIF is ``tau_syn dI/dt = -I + w_in S``, ``tau_mem dv/dt = v_leak - v + r I`` with
spike trains ``S`` (sums of delta functions), so a synaptic jump ``I <- I + w`` is the NIR
weight ``w tau_syn``.  Numbers are SI (volt, second, ohm, ampere) or dimensionless.

* ``lif`` + ``exp_current`` (Brian2, continuous time): tau_syn, tau_mem = tau_m, r = R,
  v_leak = E_L, v_threshold = V_th, v_reset = V_r; weights w (amp) * tau_syn.
* ``cuba_lif`` + ``delta`` (discrete time, Lava's LIF): tau = -dt / ln(1 - d) for both decays
  (the same decay per step), r = 1/d_v (a current u moves v by d_v r u per step), v_leak =
  v_reset = 0, v_threshold = vth; weights w * tau_syn.  The per-neuron bias has no NIR field.
  With d_u = 1 (no current memory) the node is a NIR ``LIF`` (tau = tau_mem, r = 1): a
  spike moves v by r w_nir / tau, so w_nir = w tau.

What NIR cannot hold (refractory period, bias, the exact equations, input spikes, the file's
metadata, the gated synapse's readout variable) goes into node and graph ``metadata`` under
``brainkit_*`` keys, as JSON strings; :func:`from_nir` uses them to rebuild the spec exactly,
and reads a CubaLIF graph written by other tools (without that metadata) as ``lif`` +
``exp_current`` populations.  Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

from brainkit.fileio import atomic_write
from brainkit.netfile import (ConnectionSpec, InputSpec, NetworkSpec, PopulationSpec,
                              ReadoutSpec)

from .cuba import ExportError

FORMAT = "brainkit-network"


# ------------------------------------------------------------------ JSON values
def _encode(value) -> Any:
    from brian2 import get_unit
    from brian2.units.fundamentalunits import Quantity, get_dimensions

    if isinstance(value, str):
        return {"expr": value}
    if isinstance(value, Quantity):
        dim = get_dimensions(value)
        return {"value": np.asarray(value, float).tolist(),
                "unit": "1" if dim.is_dimensionless else repr(get_unit(dim)),
                "dim": [float(dim._dims[k]) for k in range(7)]}
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ExportError(f"cannot store {value!r} in NIR metadata")
    return {"value": arr.tolist()}


def _decode(d):
    from brian2.units.fundamentalunits import Quantity, get_or_create_dimension

    if "expr" in d:
        return d["expr"]
    v = d["value"]
    if "dim" in d:
        return Quantity(np.asarray(v, float), dim=get_or_create_dimension(
            [float(x) for x in d["dim"]]))
    return v if not isinstance(v, list) else np.asarray(v)


def _encode_dict(values: Dict[str, Any]) -> str:
    return json.dumps({k: _encode(v) for k, v in values.items()})


def _decode_dict(text) -> Dict[str, Any]:
    return {k: _decode(v) for k, v in json.loads(_text(text)).items()}


def _text(x) -> str:
    if isinstance(x, bytes):
        return x.decode("utf8")
    if isinstance(x, np.ndarray) and x.shape == ():
        return _text(x.item())
    return str(x)


# --------------------------------------------------------------------- to NIR
def _lif_node(spec: NetworkSpec, P: PopulationSpec):
    """(CubaLIF arrays, tau_syn) of a population."""
    from brian2 import second

    n = P.n
    ones = np.ones(n)
    dt = float(spec.dt / second)
    if P.model == "lif":
        taus = {float(c.parameters.get("tau_syn", 5e-3 * second) / second)
                for c in spec.connections.values()
                if c.post == P.name and c.synapse == "exp_current"}
        bad = [c.name for c in spec.connections.values()
               if c.post == P.name and c.synapse != "exp_current"]
        if bad or len(taus) > 1:
            raise ExportError(f"population '{P.name}': NIR's CubaLIF has one synaptic current; "
                              f"incoming connections {bad or sorted(taus)} differ")
        tau_syn = taus.pop() if taus else 5e-3
        p = {k: float(np.asarray(P.parameters[k])) for k in ("tau_m", "R", "E_L", "V_th",
                                                                  "V_r")}
        return dict(tau_syn=tau_syn * ones, tau_mem=p["tau_m"] * ones, r=p["R"] * ones,
                    v_leak=p["E_L"] * ones, v_threshold=p["V_th"] * ones,
                    v_reset=p["V_r"] * ones), tau_syn
    if P.model == "cuba_lif":
        d_u, d_v = float(P.parameters["d_u"]), float(P.parameters["d_v"])
        tau = (lambda d: -dt / math.log1p(-d) if 0 < d < 1 else (math.inf if d == 0 else 0.0))
        tau_syn, tau_mem = tau(d_u), tau(d_v)
        if d_u == 1.0 and 0 < d_v < 1:  # no current memory: a LIF with delta synapses
            return dict(tau=tau_mem * ones, r=ones, v_leak=0 * ones,
                        v_threshold=float(P.parameters["vth"]) * ones, v_reset=0 * ones), \
                tau_mem
        if not (0 < d_u < 1 and 0 < d_v < 1):
            raise ExportError(f"population '{P.name}': decays d_u = {d_u}, d_v = {d_v} must lie "
                              "in (0, 1) to be NIR time constants")
        return dict(tau_syn=tau_syn * ones, tau_mem=tau_mem * ones, r=ones / d_v,
                    v_leak=0 * ones, v_threshold=float(P.parameters["vth"]) * ones,
                    v_reset=0 * ones), tau_syn
    raise ExportError(f"population '{P.name}': model '{P.model}' has no NIR form (NIR "
                      "export knows 'lif' and 'cuba_lif')")


def to_nir(spec: NetworkSpec):
    """The NIR graph (type-checked by nir) of ``spec``."""
    import nir
    from brian2 import second

    nodes: Dict[str, Any] = {}
    edges = []
    tau_syn = {}
    for name, inp in spec.inputs.items():
        nodes[name] = nir.Input(input_type=np.array([inp.n]), metadata={
            "brainkit_kind": inp.kind, "brainkit_parameters": _encode_dict(inp.parameters)})
    for name, P in spec.populations.items():
        arrays, tau_syn[name] = _lif_node(spec, P)
        meta = {"brainkit_model": P.model, "brainkit_equations": P.equations,
                "brainkit_parameters": _encode_dict(P.parameters),
                "brainkit_initial": _encode_dict(P.initial),
                "brainkit_code": json.dumps({k: getattr(P, k) for k in
                                             ("threshold", "reset", "refractory", "method")})}
        if "tau_syn" in arrays:
            nodes[name] = nir.CubaLIF(**arrays, w_in=1.0, metadata=meta)
        else:
            nodes[name] = nir.LIF(**arrays, metadata=meta)
    for name, c in spec.connections.items():
        W = np.asarray(c.weights, float).T * tau_syn[c.post]
        nodes[name] = nir.Linear(weight=W, metadata={
            "brainkit_synapse": c.synapse, "brainkit_weight_unit": c.weight_unit,
            "brainkit_parameters": _encode_dict(c.parameters),
            "brainkit_scale": float(tau_syn[c.post])})
        edges += [(c.pre, name), (name, c.post)]
    for name, r in spec.readouts.items():
        O = np.asarray(r.weights, float)
        b = np.zeros(O.shape[0]) if r.bias is None else np.asarray(r.bias, float)
        nodes[name] = nir.Affine(weight=O, bias=b, metadata={
            "brainkit_variable": r.variable, "brainkit_has_bias": int(r.bias is not None)})
        nodes[f"{name}.out"] = nir.Output(output_type=np.array([O.shape[0]]))
        edges += [(r.population, name), (name, f"{name}.out")]
    read_out = {r.population for r in spec.readouts.values()}
    for name, P in spec.populations.items():
        if name not in read_out:
            nodes[f"{name}.spikes"] = nir.Output(output_type=np.array([P.n]))
            edges.append((name, f"{name}.spikes"))
    meta = {"brainkit_format": FORMAT, "brainkit_dt": float(spec.dt / second),
            "brainkit_metadata": json.dumps(spec.metadata or {})}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError) as exc:
        raise ExportError(f"NIR rejected the graph: {exc}") from None


def write_nir(path: Union[str, Path], spec: NetworkSpec) -> Path:
    """Write ``spec`` as a NIR file (``nir.write``), atomically."""
    return write_graph(path, to_nir(spec))


def write_graph(path: Union[str, Path], graph) -> Path:
    """Write a NIR graph (``nir.write``), atomically."""
    import nir

    path = Path(path)
    with atomic_write(path) as tmp:
        nir.write(tmp, graph)
    return path


# -------------------------------------------------------------------- from NIR
def from_nir(graph, dt=None) -> NetworkSpec:
    """A :class:`NetworkSpec` from a NIR graph: exact for graphs written by :func:`to_nir`;
    in a foreign graph of Input, Linear/Affine, CubaLIF/LIF and Output nodes a CubaLIF becomes
    ``lif`` + ``exp_current`` and a LIF ``cuba_lif`` (d_u = 1) + ``delta`` at the graph's
    ``dt`` (a brainkit graph's own, else the ``dt`` given, else 0.1 ms); every parameter must
    be the same across a node's neurons."""
    import nir
    from brian2 import Mohm, ms, mV, second

    gm = graph.metadata or {}
    ours = _text(gm.get("brainkit_format", "")) == FORMAT
    dt = float(np.asarray(gm["brainkit_dt"])) * second if ours else (
        dt if dt is not None else 0.1 * ms)
    spec = NetworkSpec(dt=dt, metadata=json.loads(_text(gm["brainkit_metadata"]))
                       if ours else {"imported_from": "nir"})
    pre_of = {}
    post_of = {}
    for a, b in graph.edges:
        post_of.setdefault(a, []).append(b)
        pre_of.setdefault(b, []).append(a)
    for name, node in graph.nodes.items():
        m = node.metadata or {}
        if isinstance(node, nir.Input):
            n = int(np.prod(node.output_type["output"]))
            kind = _text(m["brainkit_kind"]) if "brainkit_kind" in m else "spikes"
            params = _decode_dict(m["brainkit_parameters"]) if "brainkit_parameters" in m else {}
            spec.inputs[name] = InputSpec(name, n, kind, params)
        elif isinstance(node, (nir.CubaLIF, nir.LIF)):
            if "brainkit_model" in m:
                code = json.loads(_text(m["brainkit_code"]))
                spec.populations[name] = PopulationSpec(
                    name=name, model=_text(m["brainkit_model"]),
                    n=int(np.asarray(node.v_threshold).size),
                    equations=_text(m["brainkit_equations"]),
                    parameters=_decode_dict(m["brainkit_parameters"]),
                    initial=_decode_dict(m["brainkit_initial"]), **code)
            elif isinstance(node, nir.LIF):
                spec.populations[name] = _foreign_delta_lif(name, node, float(dt / second))
            else:
                spec.populations[name] = _foreign_lif(name, node, Mohm, mV, second)
        elif isinstance(node, (nir.Linear, nir.Affine)) and not (
                isinstance(node, nir.Affine) and "brainkit_variable" in m):
            if len(pre_of.get(name, [])) != 1 or len(post_of.get(name, [])) != 1:
                raise ExportError(f"NIR node '{name}': a projection needs one source and one "
                                  "target")
            if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
                raise ExportError(f"NIR node '{name}': an Affine bias into a neuron has no "
                                  "brainkit form")
            pre, post = pre_of[name][0], post_of[name][0]
            if "brainkit_synapse" in m:
                scale = float(np.asarray(m["brainkit_scale"]))
                spec.connections[name] = ConnectionSpec(
                    name, pre, post, _text(m["brainkit_synapse"]),
                    np.asarray(node.weight, float).T / scale, _text(m["brainkit_weight_unit"]),
                    _decode_dict(m["brainkit_parameters"]))
            elif isinstance(graph.nodes[post], nir.LIF):
                target = graph.nodes[post]
                gain = np.asarray(target.r, float) / np.asarray(target.tau, float)  # v per unit
                spec.connections[name] = ConnectionSpec(
                    name, pre, post, "delta", (np.asarray(node.weight, float) * gain[:, None]).T,
                    "1", {})
            else:
                target = graph.nodes[post]
                tau = float(np.asarray(target.tau_syn).flat[0])
                spec.connections[name] = ConnectionSpec(
                    name, pre, post, "exp_current", np.asarray(node.weight, float).T / tau,
                    "amp", {"tau_syn": tau * second})
        elif isinstance(node, nir.Affine):
            spec.readouts[name] = ReadoutSpec(
                name, pre_of[name][0], _text(m["brainkit_variable"]),
                np.asarray(node.weight, float),
                np.asarray(node.bias, float) if int(np.asarray(m["brainkit_has_bias"])) else None)
        elif isinstance(node, nir.Output):
            continue
        else:
            raise ExportError(f"NIR node '{name}' of type {type(node).__name__} has no brainkit "
                              "form (known: Input, Output, Linear, Affine, CubaLIF)")
    spec.validate("NIR graph")
    return spec


def _foreign_lif(name, node, Mohm, mV, second) -> PopulationSpec:
    from brainkit.library import load_model

    vals = {}
    for key in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"):
        arr = np.asarray(getattr(node, key), float).ravel()
        if not np.allclose(arr, arr[0]):
            raise ExportError(f"NIR CubaLIF '{name}': {key} differs between neurons; brainkit's "
                              "lif takes one value per population")
        vals[key] = float(arr[0])
    if vals["w_in"] != 1.0:
        raise ExportError(f"NIR CubaLIF '{name}': w_in = {vals['w_in']} is not 1")
    m = load_model("lif")
    params = dict(m.parameters)
    params.update(tau_m=vals["tau_mem"] * second, R=vals["r"] / 1e6 * Mohm,
                  E_L=vals["v_leak"] * 1e3 * mV, V_th=vals["v_threshold"] * 1e3 * mV,
                  V_r=vals["v_reset"] * 1e3 * mV, t_ref=0 * second)
    return PopulationSpec(name=name, model="lif", n=int(np.asarray(node.tau_syn).size),
                          equations=m.equations, threshold=m.threshold, reset=m.reset,
                          refractory=str(m.refractory), method=m.method, parameters=params,
                          initial={"v": "E_L"})


def _foreign_delta_lif(name, node, dt: float) -> PopulationSpec:
    """A NIR ``LIF`` (tau dv/dt = v_leak - v + r I, I a sum of weighted spikes) as a
    ``cuba_lif`` population with d_u = 1 (no current memory) and d_v = 1 - exp(-dt/tau):
    a spike moves v by r w / tau one step later; v is measured from v_leak."""
    from brainkit.library import load_model

    vals = {}
    for key in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        arr = np.asarray(getattr(node, key), float).ravel()
        if not np.allclose(arr, arr[0]):
            raise ExportError(f"NIR LIF '{name}': {key} differs between neurons; cuba_lif takes "
                              "one value per population")
        vals[key] = float(arr[0])
    if not math.isclose(vals["v_reset"], vals["v_leak"], abs_tol=1e-12):
        raise ExportError(f"NIR LIF '{name}': v_reset = {vals['v_reset']} differs from v_leak = "
                          f"{vals['v_leak']}; cuba_lif resets to rest")
    m = load_model("cuba_lif")
    n = int(np.asarray(node.tau).size)
    return PopulationSpec(name=name, model="cuba_lif", n=n, equations=m.equations,
                          threshold=m.threshold, reset=m.reset, refractory=None, method=m.method,
                          parameters={"d_u": 1.0, "d_v": -math.expm1(-dt / vals["tau"]),
                                      "vth": vals["v_threshold"] - vals["v_leak"]},
                          initial={"u": 0.0, "v": 0.0, "bias": 0.0})


def read_nir(path: Union[str, Path]) -> NetworkSpec:
    """``nir.read`` (type-checked) then :func:`from_nir`."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"NIR file {path} does not exist")
    try:
        graph = nir.read(path, type_check=True)
    except Exception as exc:  # noqa: BLE001 - nir raises many types for bad files
        raise ExportError(f"{path}: not a readable NIR file: {type(exc).__name__}: {exc}") \
            from None
    return from_nir(graph)
