"""Random networks to check the exporters on, built through :class:`brainkit.Network` from library
models: random CUBA LIF networks (Poisson-like input spikes -> a recurrently connected
population), in the discrete-time ``cuba_lif`` + ``delta`` form (what Lava computes) or the
continuous ``lif`` + ``exp_current`` form.
"""

from __future__ import annotations

import numpy as np

from ..netfile import NetworkSpec


def random_cuba_network(n_in: int = 20, n: int = 30, steps: int = 500, seed: int = 0,
                        model: str = "cuba_lif", rate: float = 0.1, w_in: float = 0.03,
                        w_rec: float = 0.05, p_rec: float = 0.5, dt_ms: float = 1.0,
                        backend: str = "runtime"):
    """A random network and its input spikes: returns ``(brainkit.Network, NetworkSpec)``.

    ``model='cuba_lif'``: d_u = 0.2, d_v = 0.1, vth = 1, random bias (N(0, 0.02)), input
    weights N(w_in/2, w_in/2), recurrent weights N(0, w_rec) with connection probability
    ``p_rec`` (dimensionless, ``delta`` synapses).  ``model='lif'``: the library LIF with
    t_ref = 0, exp_current synapses, weights in nA of the same relative size.
    Input spikes: each channel spikes with probability ``rate`` per step (a spike source with
    those exact spikes, stored in the spec).
    """
    from brian2 import ms, nA

    from ..network import Network

    from ..network_spec import spec_from_network

    rng = np.random.default_rng(seed)
    dt = dt_ms * ms
    net = Network(dt=dt, backend=backend, seed=seed)
    rows, idx = np.nonzero(rng.random((steps, n_in)) < rate)
    net.spike_source("in", n_in, idx, rows * dt)
    W_in = rng.normal(w_in / 2, w_in / 2, (n_in, n))
    W_rec = rng.normal(0, w_rec, (n, n)) * (rng.random((n, n)) < p_rec)
    np.fill_diagonal(W_rec, 0)
    if model == "cuba_lif":
        net.population("p", "cuba_lif", n, params={"d_u": 0.2, "d_v": 0.1, "vth": 1.0},
                       init={"bias": rng.normal(0, 0.02, n)})
        net.connect("in", "p", "delta", weights=W_in)
        net.connect("p", "p", "delta", weights=W_rec)
    elif model == "lif":
        net.population("p", "lif", n, params={"t_ref": 0 * ms})
        scale = 2.0 * nA  # a 1 nA jump through 100 Mohm moves v by ~ d_v * 100 mV
        net.connect("in", "p", "exp_current", weights=W_in * scale)
        net.connect("p", "p", "exp_current", weights=W_rec * scale)
    else:
        raise ValueError(f"model must be 'cuba_lif' or 'lif', not {model!r}")
    spec: NetworkSpec = spec_from_network(net, metadata={"example": "random_cuba_network",
                                                         "seed": seed, "model": model})
    return net, spec
