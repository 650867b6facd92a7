"""A :class:`~brainkit.netfile.NetworkSpec` to and from a NIR graph (nir 1.0.8).

**Export** goes through the CUBA network Lava runs (:func:`brainkit.exporters.cuba.to_cuba`), so
the graph's numbers alone are the discrete-time map brainkit simulates, read with a stated
:class:`~brainkit.exporters.nir_convention.Convention` (default: a spike is worth one step,
forward-Euler decays - how snnTorch and Norse run a graph)::

    Input  '<input>'          shape (n,)
    Linear '<connection>'     weight (n_post, n_pre) = Lava weight / gain of the target
    CubaLIF '<population>'    tau_syn, tau_mem from d_u, d_v; r = 1/d_v, w_in = 1,
                              v_leak = bias/d_v (the per-neuron bias), v_reset = 0, v_threshold
      LIF  (d_u = 1)          tau from d_v, r = 1, v_leak = bias/d_v
      IF   (d_u = 1, d_v = 0) r = 1
    Output '<population>.spikes'
    readout of spikes:        Affine '<readout>' (O, bias) -> Output '<readout>.out'
    readout of the trace s:   Linear '<readout>' (O) -> LI '<readout>.filter' (the
                              threshold-synapse trace: tau_s, +1/tau_s per spike) -> Output

The graph's metadata states the reading (``dt``, ``spike_amplitude``, ``discretisation``).
What NIR cannot hold is refused, not dropped: a refractory period (by ``to_cuba``), an initial
state other than rest, a readout of another variable (``readouts=False`` leaves readouts out).
brainkit's own extras (the exact equations, parameters with units, input spikes, the file's
metadata) ride along in ``brainkit_*`` metadata, so brainkit reads its own file back exactly.

**Import** (:func:`from_nir`): a brainkit graph from that metadata; any other graph (or with
``use_metadata=False``) from its numbers by :mod:`brainkit.exporters.nir_import`, at the
``dt`` the graph states or the caller gives.  Files are written atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from brainkit.fileio import atomic_write
from brainkit.netfile import (ConnectionSpec, InputSpec, NetworkSpec, PopulationSpec,
                              ReadoutSpec)

from .cuba import ExportError
from .nir_convention import Convention

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
def _neuron_node(P, conv: Convention):
    """The NIR node of a float :class:`CubaPopulation` and its input gain (n,)."""
    import nir

    from .nir_import import neuron_map

    where = f"population '{P.name}'"
    for var, x0 in (("u", P.u0), ("v", P.v0)):
        if x0 is not None and np.any(np.asarray(x0, float) != 0):
            raise ExportError(f"{where}: initial {var} is not 0; a NIR graph starts at rest")
    n, bias = P.n, np.asarray(P.bias, float) * np.ones(P.n)
    ones, zeros = np.ones(n), np.zeros(n)
    d_u, d_v, vth = float(P.d_u), float(P.d_v), float(P.vth) * ones
    if d_u == 1.0 and d_v == 0.0:
        if np.any(bias != 0):
            raise ExportError(f"{where}: a bias without leak (d_v = 0) has no NIR IF form")
        node = nir.IF(r=ones, v_threshold=vth, v_reset=zeros)
    elif d_v == 0.0:
        raise ExportError(f"{where}: d_v = 0 with a synaptic current (d_u = {d_u}) has no NIR "
                          "CubaLIF form")
    elif d_u == 1.0:
        node = nir.LIF(tau=conv.tau(d_v, where) * ones, r=ones, v_leak=bias / d_v,
                       v_threshold=vth, v_reset=zeros)
    else:
        node = nir.CubaLIF(tau_syn=conv.tau(d_u, where) * ones,
                           tau_mem=conv.tau(d_v, where) * ones, r=ones / d_v, v_leak=bias / d_v,
                           v_threshold=vth, v_reset=zeros, w_in=ones)
    gain = neuron_map(P.name, node, n, conv.dt, conv)[2]
    return node, gain


def _readout_nodes(spec: NetworkSpec, r: ReadoutSpec, conv: Convention):
    """(nodes, edges) of a readout; an ExportError for what NIR cannot compute."""
    import nir

    O = np.asarray(r.weights, float)
    out = nir.Output(output_type=np.array([O.shape[0]]))
    meta = {"brainkit_variable": r.variable, "brainkit_has_bias": int(r.bias is not None)}
    if r.variable == "spikes":
        b = np.zeros(O.shape[0]) if r.bias is None else np.asarray(r.bias, float)
        return ({r.name: nir.Affine(weight=O, bias=b, metadata=meta), f"{r.name}.out": out},
                [(r.population, r.name), (r.name, f"{r.name}.out")])
    tau_s = (spec.metadata or {}).get("readout_tau_s")
    if r.variable == "s" and tau_s and r.bias is None:
        # brainkit's trace: s <- (1 - dt/tau_s) s + spikes/tau_s  (an LI of gain 1/tau_s)
        d = conv.dt / float(tau_s)
        tau = conv.tau(d, f"readout '{r.name}'")
        k = O.shape[0]
        gain = 1 / conv.dt if conv.spike == "step" else tau / float(tau_s)
        li = nir.LI(tau=tau * np.ones(k), r=gain * np.ones(k), v_leak=np.zeros(k))
        return ({r.name: nir.Linear(weight=O, metadata=meta), f"{r.name}.filter": li,
                 f"{r.name}.out": out},
                [(r.population, r.name), (r.name, f"{r.name}.filter"),
                 (f"{r.name}.filter", f"{r.name}.out")])
    raise ExportError(f"readout '{r.name}' of variable '{r.variable}' of '{r.population}' has "
                      "no NIR form (a NIR neuron emits spikes; brainkit writes readouts of "
                      "'spikes' and of the task trace 's'); export with "
                      "to_nir(spec, readouts=False) to leave it out")


def _spec_scale(spec_w: np.ndarray, cuba_w: np.ndarray) -> float:
    """``k`` with cuba_w = k spec_w.T (the unit conversion of ``to_cuba``)."""
    a = np.asarray(spec_w, float).T
    den = float(np.sum(a * a))
    return float(np.sum(a * cuba_w)) / den if den > 0 else 1.0


def to_nir(spec: NetworkSpec, *, spike: str = "step", discretisation: str = "euler",
           readouts: bool = True, peer: Optional[str] = None):
    """The NIR graph (type-checked by nir) of ``spec``, read with the convention ``spike``
    and ``discretisation`` (:mod:`brainkit.exporters.nir_convention`); ``readouts=False``
    leaves the readouts out (every population's spikes are an Output either way).  With
    ``peer`` ('snntorch' or 'norse'), a graph that peer's own importer would run otherwise
    than written (:func:`peer_problems`) is an ExportError listing why."""
    import nir

    from .cuba import to_cuba

    cuba = to_cuba(spec, target="NIR")
    conv = Convention(cuba.dt, spike, discretisation)
    nodes: Dict[str, Any] = {}
    edges = []
    gains = {}
    for name, inp in spec.inputs.items():
        nodes[name] = nir.Input(input_type=np.array([inp.n]), metadata={
            "brainkit_kind": inp.kind, "brainkit_parameters": _encode_dict(inp.parameters)})
    for name, P in cuba.populations.items():
        S = spec.populations[name]
        nodes[name], gains[name] = _neuron_node(P, conv)
        nodes[name].metadata = {
            "brainkit_model": S.model, "brainkit_equations": S.equations,
            "brainkit_parameters": _encode_dict(S.parameters),
            "brainkit_initial": _encode_dict(S.initial),
            "brainkit_code": json.dumps({k: getattr(S, k) for k in
                                         ("threshold", "reset", "refractory", "method")})}
        nodes[f"{name}.spikes"] = nir.Output(output_type=np.array([P.n]))
        edges.append((name, f"{name}.spikes"))
    for name, c in cuba.connections.items():
        s = spec.connections[name]
        gain = gains[c.post]
        nodes[name] = nir.Linear(weight=np.asarray(c.weights, float) / gain[:, None], metadata={
            "brainkit_synapse": s.synapse, "brainkit_weight_unit": s.weight_unit,
            "brainkit_parameters": _encode_dict(s.parameters),
            "brainkit_scale": (gain / _spec_scale(s.weights, c.weights)).tolist()})
        edges += [(c.pre, name), (name, c.post)]
    for r in (spec.readouts.values() if readouts else ()):
        more_nodes, more_edges = _readout_nodes(spec, r, conv)
        nodes.update(more_nodes)
        edges += more_edges
    meta = dict(conv.metadata(), brainkit_format=FORMAT, brainkit_dt=cuba.dt,
                brainkit_metadata=json.dumps(spec.metadata or {}))
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError) as exc:
        raise ExportError(f"NIR rejected the graph: {exc}") from None
    if peer is not None:
        problems = peer_problems(graph, peer)
        if problems:
            raise ExportError(f"{peer} would not run this graph as written: "
                              + "; ".join(problems))
    return graph


# ----------------------------------------------------------------- the peers
#: NIR node types each peer's importer takes (snnTorch 1.0.0 import_nir.py, Norse 1.1.0
#: torch/utils/import_nir.py)
PEER_NODES = {
    "snntorch": {"Input", "Output", "Affine", "Linear", "Conv2d", "Flatten", "AvgPool2d", "IF",
                 "LIF", "CubaLIF", "NIRGraph"},
    "norse": {"Input", "Output", "Affine", "Linear", "Conv2d", "Flatten", "SumPool2d", "IF",
              "LIF", "CubaLIF", "NIRGraph"},
}


def peer_problems(graph, peer: str) -> List[str]:
    """Why ``peer``'s own NIR importer would run ``graph`` otherwise than it says: the limits
    and bugs of snnTorch 1.0.0 and Norse 1.1.0 found by ``benchmarks/nir_peers.py`` (each with
    the peer's source line); ``[]`` if none is known."""
    if peer not in PEER_NODES:
        raise ExportError(f"peer '{peer}' is not one of {sorted(PEER_NODES)}")
    problems = []

    def say(text):
        if text not in problems:
            problems.append(text)
    dt = (graph.metadata or {}).get("dt")
    if peer == "snntorch" and dt is not None and not math.isclose(float(np.asarray(dt)), 1e-4):
        say(f"snnTorch integrates every graph at dt = 0.1 ms (import_nir.py: dt = 1e-4), this "
            f"one is for dt = {float(np.asarray(dt)):g} s")
    cycles = {b for a, b in graph.edges for c, d in graph.edges if (a, b) == (d, c)}
    for name, node in graph.nodes.items():
        t = type(node).__name__
        if t not in PEER_NODES[peer]:
            say(f"{peer} has no importer for {t} ('{name}')")
            continue
        leak = np.asarray(getattr(node, "v_leak", 0.0), float)
        reset = getattr(node, "v_reset", None)
        reset = np.asarray(0.0 if reset is None else reset, float)
        if np.any(reset != 0):
            say(f"{peer} resets v to 0, not v_reset ('{name}')")
        if peer == "snntorch":
            if np.any(leak != 0):
                say(f"snnTorch refuses v_leak, brainkit's per-neuron bias ('{name}'; "
                    "import_nir.py:281)")
            if t == "IF":
                say(f"snnTorch runs IF as a leaky neuron, beta = 0.9 ('{name}')")
            if t in ("LIF", "CubaLIF") and name in cycles:
                say(f"snnTorch feeds the external input of a recurrent layer through its "
                    f"recurrent weights ('{name}'; import_nir.py:41)")
        else:
            if t == "CubaLIF" and np.any(leak != 0):
                say(f"Norse leaks a CubaLIF's synaptic current towards v_leak and starts both "
                    f"at v_leak ('{name}'; import_nir.py:102, leaky_integrator_box.py:49)")
            if t == "LIF" and np.any(leak != 0):
                say(f"Norse starts a LIF at v = v_leak, not 0 ('{name}'; lif_box.py:47)")
            if t in ("LIF", "IF") and np.any(np.asarray(node.r, float) != 1):
                say(f"Norse ignores r of a {t} ('{name}'; import_nir.py:120-130)")
    return problems


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
def _seconds(dt) -> float:
    from brian2 import second
    from brian2.units.fundamentalunits import Quantity

    if isinstance(dt, Quantity):
        if not dt.has_same_dimensions(second):
            raise ExportError(f"dt = {dt!r} is not a time")
        return float(dt / second)
    return float(dt)


def convention_of(graph, dt=None, spike=None, discretisation=None) -> Convention:
    """The reading of ``graph``: what its metadata states, else what is given (``dt`` in
    seconds or a Brian2 time; spike 'step' and discretisation 'euler' by default).  A value
    given that contradicts the graph's, or no dt at all, is an ExportError."""
    gm = graph.metadata or {}
    stated = {"dt": gm.get("dt", gm.get("brainkit_dt")), "spike": gm.get("spike_amplitude"),
              "discretisation": gm.get("discretisation")}
    given = {"dt": None if dt is None else _seconds(dt), "spike": spike,
             "discretisation": discretisation}
    chosen = {}
    for key, value in given.items():
        mine = stated[key]
        if mine is not None:
            mine = float(np.asarray(mine)) if key == "dt" else _text(mine)
        if value is not None and mine is not None and not (
                math.isclose(value, mine, rel_tol=1e-9) if key == "dt" else value == mine):
            label = {"spike": "spike_amplitude"}.get(key, key)
            raise ExportError(f"the graph states {label} = {mine}, not {value} as given")
        chosen[key] = value if value is not None else mine
    if chosen["dt"] is None:
        raise ExportError("the NIR graph does not state its time step: give dt (--dt, e.g. "
                          "--dt 1ms)")
    return Convention(chosen["dt"], chosen["spike"] or "step",
                      chosen["discretisation"] or "euler")


def from_nir(graph, dt=None, *, spike=None, discretisation=None, analog_inputs: bool = False,
             use_metadata: bool = True) -> NetworkSpec:
    """A :class:`NetworkSpec` from a NIR graph: exactly the spec a brainkit graph was written
    from (its ``brainkit_*`` metadata, unless ``use_metadata=False``); any other graph from
    its numbers (:func:`brainkit.exporters.nir_import.import_graph`), read with
    :func:`convention_of` (``dt`` required where the graph does not state it)."""
    from .nir_import import import_graph

    conv = convention_of(graph, dt, spike, discretisation)
    gm = graph.metadata or {}
    if use_metadata and _text(gm.get("brainkit_format", "")) == FORMAT:
        return _from_brainkit_graph(graph, conv)
    return import_graph(graph, conv, analog_inputs=analog_inputs)


def _from_brainkit_graph(graph, conv: Convention) -> NetworkSpec:
    import nir
    from brian2 import second

    gm = graph.metadata
    spec = NetworkSpec(dt=conv.dt * second, metadata=json.loads(_text(gm["brainkit_metadata"])))
    pre_of: Dict[str, list] = {}
    post_of: Dict[str, list] = {}
    for a, b in graph.edges:
        post_of.setdefault(a, []).append(b)
        pre_of.setdefault(b, []).append(a)
    for name, node in graph.nodes.items():
        m = node.metadata or {}
        if isinstance(node, nir.Input):
            spec.inputs[name] = InputSpec(name, int(np.prod(node.output_type["output"])),
                                          _text(m["brainkit_kind"]),
                                          _decode_dict(m["brainkit_parameters"]))
        elif "brainkit_model" in m:
            code = json.loads(_text(m["brainkit_code"]))
            spec.populations[name] = PopulationSpec(
                name=name, model=_text(m["brainkit_model"]),
                n=int(np.asarray(node.v_threshold).size),
                equations=_text(m["brainkit_equations"]),
                parameters=_decode_dict(m["brainkit_parameters"]),
                initial=_decode_dict(m["brainkit_initial"]), **code)
        elif "brainkit_synapse" in m:
            scale = np.asarray(m["brainkit_scale"], float)
            spec.connections[name] = ConnectionSpec(
                name, pre_of[name][0], post_of[name][0], _text(m["brainkit_synapse"]),
                (np.asarray(node.weight, float) * scale[:, None]).T,
                _text(m["brainkit_weight_unit"]), _decode_dict(m["brainkit_parameters"]))
        elif "brainkit_variable" in m:
            has_bias = int(np.asarray(m["brainkit_has_bias"]))
            spec.readouts[name] = ReadoutSpec(
                name, pre_of[name][0], _text(m["brainkit_variable"]),
                np.asarray(node.weight, float),
                np.asarray(node.bias, float) if has_bias else None)
    spec.validate("NIR graph")
    return spec


def read_nir(path: Union[str, Path], dt=None, **kwargs) -> NetworkSpec:
    """``nir.read`` (type-checked) then :func:`from_nir` (``dt`` and ``kwargs`` as there)."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"NIR file {path} does not exist")
    try:
        graph = nir.read(path, type_check=True)
    except Exception as exc:  # noqa: BLE001 - nir raises many types for bad files
        raise ExportError(f"{path}: not a readable NIR file: {type(exc).__name__}: {exc}") \
            from None
    try:
        return from_nir(graph, dt, **kwargs)
    except ExportError as exc:
        raise ExportError(f"{path}: {exc}") from None
