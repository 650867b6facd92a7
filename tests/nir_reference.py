"""A numpy reference simulator of NIR graphs, written from the peers' documented update
equations (snnTorch 1.0 ``Leaky``/``Synaptic``, Norse 1.1 ``LIFBoxCell``/``LIBoxCell``/
``IAFCell``: forward Euler, an input value or spike counted once per step, reset to
``v_reset``), independent of brainkit's importer.

``timing="peer"``: nodes run in topological order within a step (a feed-forward spike arrives
in the step it is emitted; an edge closing a cycle carries the previous step's value), as
nirtorch's graph executor does.  ``timing="brainkit"``: every neuron (and Output) sees its
sources' outputs of the previous step (brainkit's and Lava's one-step delivery).
"""

from __future__ import annotations

import numpy as np
import nir


def _flatten(graph, prefix=""):
    """(nodes, edges, inner Input/Output names) with nested graphs inlined."""
    nodes, edges, ends, inner = {}, [], {}, set()
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            n2, e2, i2 = _flatten(node, prefix + name + ".")
            nodes.update(n2)
            edges += e2
            inner |= i2 | {prefix + name + "." + k for k, v in node.nodes.items()
                           if isinstance(v, (nir.Input, nir.Output))}
            ends[prefix + name] = (
                [prefix + name + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)],
                [prefix + name + "." + k for k, v in node.nodes.items()
                 if isinstance(v, nir.Output)])
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        a = ends[a][1][0] if a in ends else a
        b = ends[b][0][0] if b in ends else b
        edges.append((a, b))
    return nodes, edges, inner


def _conv(x, in_shape, node):
    """Direct cross-correlation (PyTorch Conv1d/Conv2d, pooling) of a flat input."""
    t = type(node).__name__
    one_d = t == "Conv1d"
    x = x.reshape(in_shape)
    if one_d:
        x = x[:, None, :]
    C, H, W = x.shape

    def pair(v, d, height):
        a = np.atleast_1d(np.asarray(d if v is None else v)).astype(int)
        return (height, int(a[0])) if one_d else (int(a[0]), int(a[-1]))
    if t in ("Conv1d", "Conv2d"):
        K = np.asarray(node.weight, float)
        K = K[:, :, None, :] if one_d else K
        groups, bias = int(node.groups), np.broadcast_to(node.bias, (K.shape[0],))
        stride, dil = pair(node.stride, 1, 1), pair(node.dilation, 1, 1)
        if isinstance(node.padding, str):
            pad = (0, 0) if node.padding == "valid" else ((K.shape[2] - 1) // 2,
                                                        (K.shape[3] - 1) // 2)
        else:
            pad = pair(node.padding, 0, 0)
    else:
        ky, kx = pair(node.kernel_size, 1, 1)
        K = np.zeros((C, 1, ky, kx)) + (1.0 if t == "SumPool2d" else 1.0 / (ky * kx))
        groups, bias = C, np.zeros(C)
        stride, dil, pad = pair(node.stride, (ky, kx), 1), (1, 1), pair(node.padding, 0, 0)
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    C_out, c_per, ky, kx = K.shape
    Ho = (H + 2 * pad[0] - dil[0] * (ky - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * pad[1] - dil[1] * (kx - 1) - 1) // stride[1] + 1
    out = np.zeros((C_out, Ho, Wo))
    for o in range(C_out):
        g = o // (C_out // groups)
        for y in range(Ho):
            for z in range(Wo):
                patch = xp[g * c_per:(g + 1) * c_per,
                           y * stride[0]:y * stride[0] + dil[0] * (ky - 1) + 1:dil[0],
                           z * stride[1]:z * stride[1] + dil[1] * (kx - 1) + 1:dil[1]]
                out[o, y, z] = np.sum(patch * K[o]) + bias[o]
    shape = (C_out, Wo) if one_d else (C_out, Ho, Wo)
    return out.ravel(), shape


NEURONS = (nir.CubaLIF, nir.LIF, nir.IF, nir.CubaLI, nir.LI, nir.I, nir.Threshold)


def simulate(graph, inputs, dt, timing="peer"):
    """Run ``graph`` on ``inputs`` ({Input name: (T, n)}); returns {Output name: (T, n)}."""
    nodes, edges, inner = _flatten(graph)
    if timing == "brainkit":  # learn every node's size from one step at rest
        sizes = _run(nodes, edges, inner, {k: np.zeros_like(v[:1]) for k, v in inputs.items()},
                     dt, "peer", None, sizes_only=True)
        return _run(nodes, edges, inner, inputs, dt, "brainkit", sizes)
    return _run(nodes, edges, inner, inputs, dt, "peer", None)


def _run(nodes, edges, inner, inputs, dt, timing, sizes, sizes_only=False):
    pre = {n: [a for a, b in edges if b == n] for n in nodes}
    T = len(next(iter(inputs.values())))
    order, seen, back = [], set(), set()

    def visit(n, stack):
        if n in seen:
            return
        stack.add(n)
        for a in pre[n]:
            if a in stack:
                back.add((a, n))
            else:
                visit(a, stack)
        stack.discard(n)
        seen.add(n)
        order.append(n)
    for n in nodes:
        visit(n, set())
    top_out = {n for n, node in nodes.items() if isinstance(node, nir.Output) and n not in inner}
    is_source = {n: n not in inner and isinstance(nodes[n], (nir.Input,) + NEURONS)
                 for n in nodes}
    state, shape = {}, {}
    out_now = {n: np.zeros(k) for n, k in sizes.items()} if sizes else {}
    results = {n: [] for n in top_out}
    for n, node in nodes.items():
        if isinstance(node, nir.Input) and n not in inner:
            shape[n] = tuple(np.atleast_1d(node.input_type["input"]))
    for t in range(T):
        out_prev, out_now = out_now, {}

        def value_of(a, n):
            stale = (timing == "brainkit" and is_source[a] and n not in top_out) \
                or (a, n) in back
            return (out_prev if stale else out_now).get(a)

        for n in order:
            node = nodes[n]
            if is_source[n] and isinstance(node, nir.Input):
                out_now[n] = np.asarray(inputs[n][t], float).ravel()
                continue
            vals = [v for v in (value_of(a, n) for a in pre[n]) if v is not None]
            if not vals:
                continue
            x = sum(vals)
            in_shape = shape.get(pre[n][0], (x.size,))
            if isinstance(node, (nir.Output, nir.Input, nir.Flatten)):
                y = x
            elif isinstance(node, nir.Linear):
                y = np.asarray(node.weight, float) @ x
            elif isinstance(node, nir.Affine):
                y = np.asarray(node.weight, float) @ x + node.bias
            elif isinstance(node, nir.Scale):
                y = np.asarray(node.scale, float) * x
            elif isinstance(node, (nir.Conv1d, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)):
                y, shape[n] = _conv(x, in_shape, node)
            else:
                y = _neuron_step(node, x, state.setdefault(n, {}), dt)
                shp = max((np.shape(v) for v in vars(node).values()
                           if isinstance(v, np.ndarray)), key=len, default=())
                shape[n] = shp if len(shp) and np.prod(shp) == y.size else (y.size,)
            shape.setdefault(n, (y.size,))
            out_now[n] = y
            if n in results:
                results[n].append(y.copy())
    if sizes_only:
        return {n: v.size for n, v in out_now.items()}
    return {n: np.array(v) for n, v in results.items()}


def _neuron_step(node, x, s, dt):
    n = x.size
    p = {k: np.broadcast_to(np.asarray(getattr(node, k), float).reshape(-1), (n,))
         for k in ("tau_syn", "tau_mem", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in",
                   "threshold") if getattr(node, k, None) is not None}
    v = s.setdefault("v", np.zeros(n))
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        i = s.setdefault("i", np.zeros(n))
        i += dt / p["tau_syn"] * (-i + p["w_in"] * x)
        v += dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
    elif isinstance(node, (nir.LIF, nir.LI)):
        v += dt / p["tau"] * (p["v_leak"] - v + p["r"] * x)
    elif isinstance(node, (nir.IF, nir.I)):
        v += dt * p["r"] * x
    else:  # Threshold
        return (x > p["threshold"]).astype(float)
    if isinstance(node, (nir.CubaLI, nir.LI, nir.I)):
        return v.copy()
    spikes = v > p["v_threshold"]
    v[spikes] = p["v_reset"][spikes]
    return spikes.astype(float)
