"""A NIR graph written by any tool as a :class:`~brainkit.netfile.NetworkSpec`.

Every neuron node becomes a ``cuba_lif`` population running the graph's discrete-time map
(:mod:`brainkit.exporters.nir_convention`); everything between two neuron nodes that is linear
becomes the weights (and a constant drive) of ``delta`` connections:

=================================  ==================================================
NIR node                           brainkit
=================================  ==================================================
Input                              an input (``'spikes'``, or ``'current'`` values)
CubaLIF, LIF, IF, Threshold        a spiking ``cuba_lif`` population
CubaLI, LI, I                      a non-spiking ``cuba_lif`` (vth = inf), read out
Linear, Affine, Scale, Flatten,    multiplied into dense weights; an Affine/Conv bias is
Conv1d, Conv2d, SumPool2d,         a constant drive, added to the target's ``bias``
AvgPool2d, nested NIRGraph
Output                             a population's spikes, or a readout of ``v``
=================================  ==================================================

A node's parameters may differ between its neurons (``r``, ``w_in``, ``v_leak`` go into the
weights and the bias) except its decays and ``v_threshold - v_reset``, which are population
constants of ``cuba_lif``.  ``v`` is measured from ``v_reset`` (and starts at NIR's 0).
Anything else - a Delay node, a constant drive into a neuron with synaptic memory (CubaLIF),
an analog (non-spiking) node feeding a connection, an algebraic loop, an unknown node type -
is an :class:`~brainkit.exporters.cuba.ExportError` naming the node and the reason.
"""

from __future__ import annotations

import re
from typing import Dict, List, Set, Tuple

import numpy as np

from brainkit.netfile import ConnectionSpec, InputSpec, NetworkSpec, PopulationSpec, ReadoutSpec

from .cuba import ExportError
from .nir_convention import Convention

#: the largest dense weight matrix an import builds (entries)
MAX_DENSE = 50_000_000


# ------------------------------------------------------------------ graph flattening
def _flatten(graph, prefix: str = "") -> Tuple[dict, list, Set[str]]:
    """Nodes and edges of ``graph`` with nested graphs inlined as ``sub.node``; the inner
    Input/Output nodes stay as pass-through nodes (returned in the third item)."""
    import nir

    nodes, edges, through = {}, [], set()
    ends: Dict[str, Tuple[List[str], List[str]]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_through = _flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            through |= sub_through
            ins = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            through |= set(ins) | set(outs)
            ends[full] = (ins, outs)
        else:
            nodes[full] = node
    def end(node, side, kind, edge):  # a subgraph as an edge's end: its one Input/Output
        if node not in ends:
            return node
        if len(ends[node][side]) != 1:
            raise ExportError(f"NIR edge {edge}: subgraph '{node}' has "
                              f"{len(ends[node][side])} {kind} nodes; name the one meant "
                              f"('{node}.<{kind.lower()}>')")
        return ends[node][side][0]
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        a, b = end(a, 1, "Output", (a, b)), end(b, 0, "Input", (a, b))
        edges.append((a, b))
    return nodes, edges, through


# ----------------------------------------------------------------------- shapes
def _vector(value, n: int, what: str) -> np.ndarray:
    """``value`` as ``n`` numbers (an array of n values in any shape, or one value for all)."""
    arr = np.asarray(value, dtype=float)
    if arr.size == n:
        return arr.reshape(-1).copy()
    if arr.size == 1:
        return np.full(n, float(arr.reshape(-1)[0]))
    raise ExportError(f"{what} of shape {arr.shape} does not fit {n} values")


def _param(node, key, n: int, where: str) -> np.ndarray:
    return _vector(getattr(node, key), n, f"{where}: parameter {key}")


NEURON_PARAMS = {"CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset",
                             "w_in"),
                 "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
                 "IF": ("r", "v_threshold", "v_reset"),
                 "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
                 "LI": ("tau", "r", "v_leak"),
                 "I": ("r",),
                 "Threshold": ("threshold",)}
SPIKING = ("CubaLIF", "LIF", "IF", "Threshold")
LINEAR = ("Linear", "Affine", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d")


def _own_shape(name, node, kind):
    """The output shape a node states itself (None if it depends on its input)."""
    t = type(node).__name__
    if kind == "input":
        return tuple(int(x) for x in np.atleast_1d(node.input_type["input"]))
    if t in NEURON_PARAMS:
        shapes = {np.shape(getattr(node, k)) for k in NEURON_PARAMS[t]
                  if getattr(node, k, None) is not None and np.ndim(getattr(node, k)) > 0}
        if len(shapes) > 1:
            raise ExportError(f"NIR node '{name}' ({t}): its parameters have different shapes "
                              f"{sorted(shapes)}")
        return shapes.pop() if shapes else None
    if t in ("Linear", "Affine"):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ExportError(f"NIR node '{name}' ({t}): weight has shape {w.shape}, expected "
                              "(n_out, n_in)")
        return (w.shape[0],)
    if t == "Scale" and np.ndim(node.scale) > 0:
        return tuple(np.shape(node.scale))
    return None


def _conv_matrix(name, node, in_shape):
    """(dense matrix (n_out, n_in), offset (n_out,), out shape (C, ...)) of a Conv1d/Conv2d/
    SumPool2d/AvgPool2d node on a (C, H, W) or (C, L) input, through
    :func:`brainkit.connectivity.conv2d` (which indexes (H, W, C))."""
    from brainkit.connectivity import conv2d

    t = type(node).__name__
    one_d = t == "Conv1d"
    if one_d:
        if len(in_shape) != 2:
            raise ExportError(f"NIR node '{name}' (Conv1d): input shape {in_shape} is not (C, L)")
        C, H, W = in_shape[0], 1, in_shape[1]
    else:
        if len(in_shape) != 3:
            raise ExportError(f"NIR node '{name}' ({t}): input shape {in_shape} is not "
                              "(C, H, W)")
        C, H, W = in_shape

    def pair(x, default, height):  # (y, x) values; a 1-d layer is an image of height 1
        a = np.atleast_1d(np.asarray(default if x is None else x)).astype(int).ravel()
        return (height, int(a[0])) if one_d else ((int(a[0]), int(a[0])) if a.size == 1
                                                  else (int(a[0]), int(a[1])))
    if t in ("Conv1d", "Conv2d"):
        K = np.asarray(node.weight, float)  # (C_out, C_in / groups, k...)
        if K.ndim != (3 if one_d else 4):
            raise ExportError(f"NIR node '{name}' ({t}): weight of shape {K.shape} is not "
                              f"(C_out, C_in / groups, {'k' if one_d else 'k_y, k_x'})")
        if one_d:
            K = K[:, :, None, :]
        groups = int(node.groups)
        C_out, c_per = K.shape[0], K.shape[1]
        if c_per * groups != C:
            raise ExportError(f"NIR node '{name}' ({t}): weight {K.shape} with groups = "
                              f"{groups} does not take {C} input channels")
        dy, dx = pair(node.dilation, 1, 1)
        kernel = np.zeros(((K.shape[2] - 1) * dy + 1, (K.shape[3] - 1) * dx + 1, C, C_out))
        per_group = C_out // groups
        for o in range(C_out):
            g = o // per_group
            kernel[::dy, ::dx, g * c_per:(g + 1) * c_per, o] = K[o].transpose(1, 2, 0)
        bias = _vector(node.bias, C_out, f"NIR node '{name}' ({t}): bias")
        padding = node.padding
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ExportError(f"NIR node '{name}' ({t}): padding '{padding}' is not 'valid' "
                                  "or 'same'")
        else:
            padding = pair(padding, 0, 0)
        stride = pair(node.stride, 1, 1)
    else:
        ky, kx = pair(node.kernel_size, 1, 1)
        kernel = np.zeros((ky, kx, C, C))
        for c in range(C):
            kernel[:, :, c, c] = 1.0 if t == "SumPool2d" else 1.0 / (ky * kx)
        bias, C_out = np.zeros(C), C
        padding, stride = pair(node.padding, 0, 0), pair(node.stride, (ky, kx), 1)
    try:
        i, j, w, (Ho, Wo, _) = conv2d((H, W, C), kernel, stride, padding)
    except ValueError as exc:
        raise ExportError(f"NIR node '{name}' ({t}): {exc}") from None
    n_in, n_out = C * H * W, C_out * Ho * Wo
    if n_in * n_out > MAX_DENSE:
        raise ExportError(f"NIR node '{name}' ({t}): a dense {n_out} x {n_in} weight matrix is "
                          f"larger than brainkit's network files take ({MAX_DENSE} entries)")

    def chw(idx, hw, chans):  # C-order index of (H, W, C) -> C-order index of (C, H, W)
        return (idx % chans) * hw + idx // chans
    A = np.zeros((n_out, n_in))
    np.add.at(A, (chw(j, Ho * Wo, C_out), chw(i, H * W, C)), w)
    out_shape = (C_out, Wo) if one_d else (C_out, Ho, Wo)
    return A, np.repeat(bias, Ho * Wo), out_shape


# ------------------------------------------------------------------------ import
class _Graph:
    """The flattened graph with each node's kind, shape and (for linear nodes) value."""

    def __init__(self, graph):
        import nir

        self.nodes, self.edges, through = _flatten(graph)
        self.kind = {}
        for name, node in self.nodes.items():
            t = type(node).__name__
            if name in through:
                self.kind[name] = "through"
            elif isinstance(node, nir.Input):
                self.kind[name] = "input"
            elif isinstance(node, nir.Output):
                self.kind[name] = "output"
            elif t in NEURON_PARAMS:
                self.kind[name] = "neuron"
            elif t in LINEAR:
                self.kind[name] = "linear"
            elif t == "Delay":
                raise ExportError(f"NIR node '{name}' (Delay): brainkit's network files have no "
                                  "per-connection delays (a spike already arrives one step late)")
            else:
                raise ExportError(f"NIR node '{name}' of type {t} has no brainkit form (known: "
                                  f"Input, Output, {', '.join(NEURON_PARAMS)}, "
                                  f"{', '.join(LINEAR)}, NIRGraph)")
        self.pre: Dict[str, List[str]] = {n: [] for n in self.nodes}
        for a, b in self.edges:
            for end in (a, b):
                if end not in self.nodes:
                    raise ExportError(f"NIR edge ({a}, {b}): there is no node '{end}'")
            if self.kind[a] == "output":
                raise ExportError(f"NIR edge ({a}, {b}): Output node '{a}' has no outgoing edge")
            if self.kind[b] == "input":
                raise ExportError(f"NIR edge ({a}, {b}): Input node '{b}' takes no edge")
            self.pre[b].append(a)
        self.shape = {n: _own_shape(n, node, self.kind[n]) for n, node in self.nodes.items()}
        self._values: Dict[str, dict] = {}
        self._busy: Set[str] = set()

    def is_source(self, name) -> bool:
        return self.kind[name] in ("input", "neuron")

    def source_shape(self, name):
        """A source's shape: its own, or its input's (if it states none, or only a flat one
        of the same size: a layer after a convolution keeps the image shape)."""
        own = self.shape[name]
        if (own is None or len(own) == 1) and self.kind[name] == "neuron" \
                and name not in self._busy:
            self._busy.add(name)
            try:
                shape = self._input_shape(name)
            except ExportError:
                if own is None:
                    raise
                shape = own
            finally:
                self._busy.discard(name)
            if own is None or int(np.prod(shape)) == own[0]:
                self.shape[name] = tuple(shape)
        return self.shape[name]

    def _input_shape(self, name):
        """The shape of the first input of ``name`` that resolves (a recurrent one may not
        while ``name``'s own shape is being found)."""
        error = ExportError(f"NIR node '{name}' ({type(self.nodes[name]).__name__}) has no "
                            "incoming edge")
        for p in self.pre[name]:
            try:
                return self.value(p)[2]
            except ExportError as exc:
                error = exc
        raise error

    def input_value(self, name):
        """``({source: M}, c, shape)``: what flows into ``name``, ``sum M @ source + c``."""
        maps: Dict[str, np.ndarray] = {}
        offset, shape = 0.0, None
        if not self.pre[name]:
            raise ExportError(f"NIR node '{name}' ({type(self.nodes[name]).__name__}) has no "
                              "incoming edge")
        for p in self.pre[name]:
            value, c, s = self.value(p)
            if shape is not None and int(np.prod(s)) != int(np.prod(shape)):
                raise ExportError(f"NIR node '{name}': its inputs have shapes {shape} and {s}")
            shape = s if shape is None or len(s) > len(shape) else shape
            offset = offset + c
            for src, M in value.items():
                maps[src] = maps[src] + M if src in maps else M
        return maps, offset + np.zeros(int(np.prod(shape))), shape

    def value(self, name):
        """``({source: M}, c, shape)`` of the output of ``name``."""
        if self.is_source(name):
            if name in self._busy:  # recurrent edge into a shape-less neuron
                raise ExportError(f"NIR node '{name}': its size is not stated and depends on "
                                  "itself; give its parameters as arrays")
            shape = self.source_shape(name)
            n = int(np.prod(shape))
            return {name: np.eye(n)}, np.zeros(n), shape
        if name in self._values:
            return self._values[name]
        if name in self._busy:
            raise ExportError(f"NIR node '{name}': an algebraic loop (a cycle with no neuron)")
        self._busy.add(name)
        try:
            maps, c, shape = self.input_value(name)
        finally:
            self._busy.discard(name)
        A, b, out_shape = self._operator(name, shape)
        if A is not None:
            maps, c = {s: A @ M for s, M in maps.items()}, A @ c
        if b is not None:
            c = c + b
        if self.shape[name] is not None and int(np.prod(self.shape[name])) != \
                int(np.prod(out_shape)):
            raise ExportError(f"NIR node '{name}': output shape {out_shape} differs from its "
                              f"stated {self.shape[name]}")
        self._values[name] = (maps, c, out_shape)
        return self._values[name]

    def _operator(self, name, in_shape):
        """(A or None for identity, offset or None, output shape) of a linear node."""
        node = self.nodes[name]
        t = type(node).__name__
        n_in = int(np.prod(in_shape))
        if self.kind[name] == "through":
            return None, None, in_shape
        if t in ("Linear", "Affine"):
            W = np.asarray(node.weight, float)
            if W.shape[1] != n_in:
                raise ExportError(f"NIR node '{name}' ({t}): weight {W.shape} takes {W.shape[1]} "
                                  f"inputs, its input has {n_in}")
            b = _vector(node.bias, W.shape[0], f"NIR node '{name}' (Affine): bias") \
                if t == "Affine" and node.bias is not None else np.zeros(W.shape[0])
            return W, b, (W.shape[0],)
        if t == "Scale":
            s = _vector(node.scale, n_in, f"NIR node '{name}' (Scale): scale")
            return np.diag(s), None, in_shape
        if t == "Flatten":
            out = node.output_type.get("output") if node.output_type else None
            return None, None, (tuple(int(x) for x in out) if out is not None
                                and np.prod(out) == n_in else (n_in,))
        return _conv_matrix(name, node, tuple(in_shape))


def _sanitise(names) -> Dict[str, str]:
    """NIR node name -> a Brian2-safe brainkit name (letters, digits, '_'; no leading digit),
    unique."""
    out, used = {}, set()
    for name in names:
        base = re.sub(r"\W", "_", name) or "node"
        if not (base[0].isalpha()):
            base = "n" + base
        new, k = base, 2
        while new in used:
            new, k = f"{base}_{k}", k + 1
        used.add(new)
        out[name] = new
    return out


def neuron_map(name, node, n, dt, conv: Convention):
    """``(d_u, d_v, gain, leak, v_reset, vth, spiking)``: the ``cuba_lif`` form of a NIR
    neuron node of ``n`` neurons (gain: v per unit of input, leak: the bias, v_reset: where
    v is measured from; arrays of n, in units of each neuron's threshold if those differ)."""
    t = type(node).__name__
    where = f"NIR node '{name}' ({t})"
    P = {k: _param(node, k, n, where) for k in NEURON_PARAMS[t]
         if getattr(node, k, None) is not None}

    def one(key, values):
        if not np.allclose(values, values[0], rtol=1e-12, atol=0):
            raise ExportError(f"{where}: {key} differs between neurons; a brainkit population "
                              "has one value")
        return float(values[0])
    zero = np.zeros(n)
    w_in = P.get("w_in", np.ones(n))
    v_reset = P.get("v_reset", zero) if t in SPIKING else zero
    if t in ("CubaLIF", "CubaLI"):
        tau_syn, tau_mem = one("tau_syn", P["tau_syn"]), one("tau_mem", P["tau_mem"])
        d_u, d_v = conv.decay(tau_syn, where), conv.decay(tau_mem, where)
        gain = (d_u * d_v if conv.spike == "step" else d_v / tau_syn) * P["r"] * w_in
        leak = d_v * (P["v_leak"] - v_reset)
    elif t in ("LIF", "LI"):
        tau = one("tau", P["tau"])
        d_u, d_v = 1.0, conv.decay(tau, where)
        gain = (d_v if conv.spike == "step" else 1 / tau) * P["r"]
        leak = d_v * (P["v_leak"] - v_reset)
    elif t in ("IF", "I"):
        d_u, d_v = 1.0, 0.0
        gain = (dt if conv.spike == "step" else 1.0) * P["r"]
        leak = zero
    else:  # Threshold: v = input, every step
        d_u, d_v, gain, leak = 1.0, 1.0, np.ones(n), zero
    scale = np.ones(n)
    if t not in SPIKING:
        vth = np.inf
    else:
        height = P["threshold"] if t == "Threshold" else P["v_threshold"] - v_reset
        if np.allclose(height, height[0], rtol=1e-12, atol=0):
            vth = float(height[0])
        elif np.all(height > 0):  # v measured in units of each neuron's threshold: vth = 1
            scale, vth = 1 / height, 1.0
        else:
            raise ExportError(f"{where}: thresholds (above reset) differ between neurons and "
                              "are not all positive; a brainkit population has one threshold")
    return d_u, d_v, gain * scale, leak * scale, v_reset * scale, vth, t in SPIKING


def import_graph(graph, conv: Convention, analog_inputs: bool = False) -> NetworkSpec:
    """The :class:`NetworkSpec` of a NIR ``graph`` read with ``conv`` (see the module
    docstring); ``analog_inputs`` makes the inputs ``'current'`` (values) instead of spikes."""
    from brian2 import second

    from brainkit.library import load_model

    g = _Graph(graph)
    neurons = [n for n, k in g.kind.items() if k == "neuron"]
    outputs = [n for n, k in g.kind.items() if k == "output"]
    inputs = [n for n, k in g.kind.items() if k == "input"]
    names = _sanitise(inputs + neurons + outputs)
    model = load_model("cuba_lif")
    spec = NetworkSpec(dt=conv.dt * second, metadata={
        "imported_from": "nir", "nir_convention": conv.metadata(),
        "nir_names": {names[k]: k for k in inputs + neurons + outputs}})
    for name in inputs:
        n = int(np.prod(g.source_shape(name)))
        spec.inputs[names[name]] = InputSpec(names[name], n,
                                             "current" if analog_inputs else "spikes")
    spiking = {}

    def add_population(name, key, n, d_u, d_v, vth, bias, v0, value, gain):
        spec.populations[key] = PopulationSpec(
            name=key, model="cuba_lif", n=n, equations=model.equations,
            threshold=model.threshold, reset=model.reset, refractory=None, method=model.method,
            parameters={"d_u": d_u, "d_v": d_v, "vth": vth},
            initial={"u": 0.0, "v": v0, "bias": bias})
        for src, M in value.items():
            if g.kind[src] == "neuron" and not spiking[src]:
                raise ExportError(f"NIR node '{src}' ({type(g.nodes[src]).__name__}) feeds "
                                  f"'{name}': it does not spike, and brainkit connections carry "
                                  "spikes (a non-spiking node can only be read out)")
            conn = f"{names[src]}->{key}"
            synapse = "current" if (g.kind[src] == "input" and analog_inputs) else "delta"
            spec.connections[conn] = ConnectionSpec(conn, names[src], key, synapse,
                                                    (gain[:, None] * M).T.copy(), "1", {})

    for name in neurons:
        spiking[name] = type(g.nodes[name]).__name__ in SPIKING
    for name in neurons:
        n = int(np.prod(g.source_shape(name)))
        d_u, d_v, gain, leak, v_reset, vth, _ = neuron_map(name, g.nodes[name], n, conv.dt,
                                                           conv)
        value, drive, _ = g.input_value(name)
        if np.any(drive != 0) and d_u != 1.0:
            raise ExportError(f"NIR node '{name}' ({type(g.nodes[name]).__name__}): a constant "
                              "input (an Affine or Conv bias) into a neuron with synaptic memory "
                              "has no cuba_lif form (its bias adds to v, not to the current)")
        add_population(name, names[name], n, d_u, d_v, vth, leak + gain * drive, -v_reset,
                       value, gain)
    for name in outputs:
        value, drive, shape = g.input_value(name)
        n = int(np.prod(shape))
        direct = g.pre[name][0] if len(g.pre[name]) == 1 else None
        if direct in spiking and spiking[direct]:
            spec.metadata.setdefault("nir_outputs", {})[name] = f"{names[direct]}.spikes"
            continue
        if direct in spiking:  # a non-spiking node: read out its v
            pop = names[direct]
        else:  # a linear map of sources: a pass-through population v[t] = x[t-1], read out
            pop = names[name]
            add_population(name, pop, n, 1.0, 1.0, np.inf, drive, 0.0, value, np.ones(n))
        spec.readouts[names[name]] = ReadoutSpec(names[name], pop, "v", np.eye(n), None)
        spec.metadata.setdefault("nir_outputs", {})[name] = f"{names[name]} (readout of v)"
    spec.validate("NIR graph")
    return spec
