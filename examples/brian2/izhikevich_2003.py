"""Network of 1000 Izhikevich neurons, Izhikevich 2003 Fig. 3 (Brian2's Izhikevich_2003.py)

Original: ``examples/frompapers/Izhikevich_2003.py`` of brian-team/brian2 (the port of the
paper's net.m): 800 excitatory and 200 inhibitory neurons of the simple model with
heterogeneous parameters (from r uniform in [0, 1]), all-to-all random weights (0.5 U for
excitatory, -U for inhibitory sources), each spike added to the targets' input I for one
1 ms step (an "up" pathway adds w at once, a "down" pathway takes it away 1 ms later), and
a normal input noise drawn every step (sd 5 for excitatory, 2 for inhibitory neurons); the
plot: the raster (with its alpha and gamma rhythms) and v of neuron 0.

brainkit: the user's model file ``models/izhikevich_2003_net.yaml`` (the example's
equations, dimensionless as net.m), its parameters a, b, c, d per neuron
(``params={'a': array, ...}``), the library's ``delta`` synapse (each spike's weight in
the input for exactly one step: the up/down pair of the example) with the example's
weight matrix, ``run_regularly`` for the noise, ``add()`` for the v monitor after the
thresholds.  The random parameters and weights are drawn as the script draws them (numpy
seeded with the seed), so neurons and weights are the script's.

Compared: the rates and rhythms of the two populations.  Why not identical spikes: the
script draws the noise with two ``run_regularly`` operations, one per subgroup (Brian2
runs the inhibitory one first: equal slots are ordered by name), after numpy's stream has
given the parameters and the million weights; brainkit's ``run_regularly`` takes a
population, not a subgroup (``run_regularly('N[800:]', ...)`` is a NetworkError: no
population named 'N[800:]'), so one operation draws all 1000 numbers in index order
(``(5*int(i < 800) + 2*int(i >= 800))*randn()``), from a stream that starts at the seed.
The noise is another draw; with the same neurons and weights, only it differs.
Statistics, per population (excitatory, inhibitory), after 100 ms, from the spikes in 1 ms
bins: the mean rate (Hz) and the sd of the population rate over the bins (the rhythms'
amplitude).  The population rate is a correlated time series: its time averages have the
standard error of batch means, the 900 ms cut into 9 blocks of 100 ms (a few periods of
the 10-40 Hz rhythms), the statistic per block, SE = sd(blocks)/3.  Over 20 noise seeds
with the script's weights (seed 1) the sd between runs was 0.08 Hz (excitatory rate),
0.43 (its sd), 0.22 (inhibitory rate), 1.0 (its sd), against batch SEs of 0.23, 0.45,
0.39, 0.99: the formula holds (and is conservative for the rates).  Tolerance:
4 sqrt(SE_a^2 + SE_b^2).

Measured (seed 1, 2-core machine): DURATION = QUICK = 1000 ms (the example's own; Brian2
1.5 s, brainkit 1.1 s): excitatory rate 8.76 vs 8.83 Hz (+-0.99), its sd 6.16 vs 5.29 Hz
(+-2.6), inhibitory rate 9.56 vs 9.14 Hz (+-2.0), its sd 12.2 vs 10.3 Hz (+-4.7).
The script's last line (the default clock set back to 0.1 ms) is added: it sets the
global defaultclock, which would otherwise stay at 1 ms for the next example.
"""

import os
import sys

import numpy as np
from brian2 import ms

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from acceptance import within  # noqa: E402

ORIGINAL = "examples/frompapers/Izhikevich_2003.py"
DURATION = 1000 * ms
QUICK = 1000 * ms
NE, NI = 800, 200
SKIP, BLOCK = 100, 100  # ms: transient, batch length


def plain_brian2(duration, seed):
    """The original script (tfinal and seed as parameters; no plot)."""
    import brian2
    from brian2 import NeuronGroup, SpikeMonitor, StateMonitor, Synapses, defaultclock, ms, run

    from brainkit.engine import runtime_device

    with runtime_device("numpy"):
        brian2.start_scope()
        brian2.seed(seed)
        tfinal = duration
        Ne = 800
        Ni = 200

        re = np.random.uniform(size=Ne)
        ri = np.random.uniform(size=Ni)
        weights = np.hstack(
            [
                0.5 * np.random.uniform(size=(Ne + Ni, Ne)),
                -np.random.uniform(size=(Ne + Ni, Ni)),
            ]
        ).T

        defaultclock.dt = 1 * ms

        eqs = """dv/dt = (0.04*v**2 + 5*v + 140 - u + I + I_noise )/ms : 1
                 du/dt = (a*(b*v - u))/ms  : 1
                 I : 1
                 I_noise : 1
                 a : 1
                 b : 1
                 c : 1
                 d : 1
               """

        N = NeuronGroup(Ne + Ni, eqs, threshold="v>=30", reset="v=c; u+=d", method="euler")
        N.v = -65

        N_exc = N[:Ne]
        N_inh = N[Ne:]

        spikemon = SpikeMonitor(N)
        statemon = StateMonitor(N, 'v', record=0, when='after_thresholds')
        N_exc.a = 0.02
        N_exc.b = 0.2
        N_exc.c = -65 + 15 * re**2
        N_exc.d = 8 - 6 * re**2

        N_inh.a = 0.02 + 0.08 * ri
        N_inh.b = 0.25 - 0.05 * ri
        N_inh.c = -65
        N_inh.d = 2

        N_exc.u = "b*v"
        N_inh.u = "b*v"

        S = Synapses(
            N,
            N,
            "w : 1",
            on_pre={"up": "I += w", "down": "I -= w"},
            delay={"up": 0 * ms, "down": 1 * ms},
        )
        S.connect()
        S.w[:] = weights.flatten()

        N_exc.run_regularly("I_noise = 5*randn()", dt=1 * ms)
        N_inh.run_regularly("I_noise = 2*randn()", dt=1 * ms)

        run(tfinal)
        out = dict(i=np.array(spikemon.i[:], copy=True), t=np.array(spikemon.t / ms, copy=True),
                   v0=np.array(statemon.v[0], copy=True))
        defaultclock.dt = 0.1 * ms  # (added: leave Brian2's default clock as it was)
        return out


def with_brainkit(duration, seed):
    """The same network: the user's neuron file, per-neuron parameters, library delta."""
    import brian2
    import brainkit
    from brian2 import ms

    brainkit.add_model_path(os.path.join(HERE, "models"))
    rng = np.random.RandomState(seed)
    re, ri = rng.uniform(size=800), rng.uniform(size=200)
    weights = np.hstack([0.5 * rng.uniform(size=(1000, 800)), -rng.uniform(size=(1000, 200))]).T
    params = dict(a=np.r_[np.full(800, 0.02), 0.02 + 0.08 * ri],
                  b=np.r_[np.full(800, 0.2), 0.25 - 0.05 * ri],
                  c=np.r_[-65 + 15 * re**2, np.full(200, -65.0)],
                  d=np.r_[8 - 6 * re**2, np.full(200, 2.0)])
    net = brainkit.Network(dt=1*ms, backend="runtime", codegen_target="numpy", seed=seed)
    net.population("N", "izhikevich_2003_net", 1000, params=params, external_current=False)
    net.connect("N", "N", "delta", weights=weights)
    net.run_regularly("N", "I_noise = (5*int(i < 800) + 2*int(i >= 800))*randn()", dt=1*ms)
    net.record("N", "spikes")
    net.add(lambda o: brian2.StateMonitor(o["N"], "v", record=0, when="after_thresholds"),
            name="statemon")
    res = net.run(duration)
    i, t = res.spikes["N"]
    return dict(i=np.array(i, copy=True), t=np.array(t / ms, copy=True),
                v0=np.array(res.extra["statemon"]["v"][0], copy=True))


def population_rate(i, t, first, n, duration_ms):
    """The population rate of neurons [first, first + n) in 1 ms bins (Hz), after SKIP."""
    sel = (i >= first) & (i < first + n) & (t >= SKIP)
    edges = np.arange(SKIP, int(duration_ms) + 1, 1.0)
    return np.histogram(t[sel], bins=edges)[0] / n * 1000.0


def compare(a, b):
    """Per population: mean rate and the sd of its population rate (1 ms bins), within 4
    standard errors (batch means of BLOCK ms) of their difference."""
    duration_ms = max(a["t"].max(initial=0), b["t"].max(initial=0)) // BLOCK * BLOCK + BLOCK
    rows = []
    for name, first, n in (("excitatory", 0, NE), ("inhibitory", NE, NI)):
        per_block = []
        for r in (a, b):
            x = population_rate(r["i"], r["t"], first, n, duration_ms)
            x = x[:len(x) // BLOCK * BLOCK].reshape(-1, BLOCK)
            per_block.append((x.mean(axis=1), x.std(axis=1), x.mean(), x.std()))
        (ma, sa, mean_a, sd_a), (mb, sb, mean_b, sd_b) = per_block

        def tol(u, v):
            return 4 * np.sqrt(np.var(u, ddof=1) / len(u) + np.var(v, ddof=1) / len(v))

        rows.append((f"{name} rate (Hz)", mean_a, mean_b, tol(ma, mb)))
        rows.append((f"{name} rate sd, 1 ms bins (Hz)", sd_a, sd_b, tol(sa, sb)))
    return within(rows)


if __name__ == "__main__":
    import acceptance
    sys.exit(acceptance.main(["--only", "izhikevich_2003"] + sys.argv[1:]))
