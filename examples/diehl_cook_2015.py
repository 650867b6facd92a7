"""Diehl & Cook (2015): unsupervised digit learning with STDP, on scikit-learn's 8x8 digits.

Reproduces the network of P. U. Diehl, M. Cook, "Unsupervised learning of digit recognition
using spike-timing-dependent plasticity", Front. Comput. Neurosci. 9 (2015) 99 (their Fig. 1
architecture; the learned receptive fields of their Fig. 2A and the accuracy of their
Table 1) on ``sklearn.datasets.load_digits`` (1797 images of 8x8 pixels, values 0..16)
instead of MNIST (28x28):

* input: 64 Poisson neurons, one per pixel, rate ``r = r_max (1 + boost/2) x / 16`` for pixel
  value x (Bernoulli per step: ``rand() < r dt``, as Brian2's PoissonGroup); ``boost`` = 0 at
  first and +1 each time an image made the excitatory layer fire fewer than 5 spikes (the
  paper's "increase the maximum input rate by 32 Hz" from 63.75 Hz: +50 % each time);
* each image is presented 350 ms, followed by 150 ms without input;
* n_e excitatory neurons: library model ``adaptive_lif`` variant ``diehl_cook_2015``
  (tau_m = 100 ms, E_L = V_r = -65 mV, V_th = -52 mV, t_ref = 5 ms, adaptive threshold
  theta_a += 0.05 mV per spike, tau_theta = 1e7 ms), driven by the paper's conductances:
  R I = g_e (E_exc - v) + g_i (E_inh - v), tau_ge dg_e/dt = -g_e (1 ms), tau_gi dg_i/dt = -g_i
  (2 ms), E_exc = 0 mV, E_inh = -100 mV;
* n_e inhibitory neurons: library model ``lif`` with the paper's constants (tau_m = 10 ms,
  E_L = -60 mV, V_th = -40 mV, V_r = -45 mV, t_ref = 2 ms), R I = g_e (E_exc - v);
  excitatory neuron k excites inhibitory neuron k (g_e += 10.4), which inhibits every other
  excitatory neuron (g_i += 17): soft winner-take-all;
* input -> excitatory: all-to-all, the rule of the paper's published code ("pre-and-post"
  STDP with a triplet potentiation term; ``DC_STDP`` below), w in [0, 1], weights initially
  0.3 (U + 0.01), and before every presentation the incoming weights of each excitatory
  neuron are rescaled to sum to w_total = 0.1 x 64 (the paper's 78 for 784 inputs: the same
  mean weight 0.1).  The depression rate is nu_pre = 0.0001 x 63.75 Hz / r_max (see below);
  potentiation nu_post = 0.01 as in the paper.

Input rate: the paper's 63.75 Hz per maximal MNIST pixel gives a mean total input of
784 x 0.1307 x 63.75 Hz = 6.5 kHz per image (0.1307: the mean MNIST intensity).  The 8x8
digits have 64 pixels of mean intensity 0.305, so the same total input rate needs
r_max = 6532 / (64 x 0.305) = 335 Hz: that is the rate used (``R_MAX``).  At that rate a
pixel fires 5x more pre spikes per presentation than at 63.75 Hz, so the rule's depression
(one step per pre spike) would be 5x stronger relative to its potentiation (one step per post
spike, with a pre trace that saturates at 1); with the paper's nu_pre unchanged the receptive
fields stayed noisy (100 neurons: 76 % after 1 epoch, 50 % after 3), with nu_pre scaled by
63.75/335 they become digits (80 % after 1 epoch, 84 % after 3).

After training, weights and thresholds are frozen (no STDP, no theta increment, no threshold
decay, no normalisation), each excitatory neuron is labelled with the class to which it
responds most on the training set (mean spike count per class), and a test digit is
classified as the class whose labelled neurons fire most on average (the paper's procedure).
Split: ``train_test_split(test_size=0.25, random_state=0, stratify=labels)``: 1347 training
and 450 test images.

Simulation: cpp_standalone, compiled once.  A controller neuron (one per network) schedules
the presentations inside the simulation with ``run_regularly`` every 50 ms: it steps through
the image queue (a TimedArray of pixel values), applies the boost and repeats an image that
drew fewer than 5 spikes; the weight normalisation is a ``run_regularly`` of the synapses
every 500 ms.  One binary run presents a chunk of up to ``CHUNK`` 500 ms slots; the next run
gets the remaining images, weights and thresholds as ``run_args`` (no recompilation).

Measured on 2 CPU cores shared with other jobs (load average 40-80; timings are wall-clock;
the first run of a structure compiles for 150-270 s under that load, later runs reuse the
build folder ``$TMPDIR/brainkit-dc2015/ne<n_e>-chunk<chunk>``: about 10 s):

    python examples/diehl_cook_2015.py --out out/diehl_cook_2015     # 100 neurons, 3 epochs
        -> test_accuracy 0.836 (train 0.856); training 120 s (3 epochs, compile cached),
           whole script 188 s; 264 neurons (64 input, 100 exc, 100 inh)
    python examples/diehl_cook_2015.py --epochs 1                    # 100 neurons, 1 epoch
        -> test_accuracy 0.800; training 38 s
    python examples/diehl_cook_2015.py --n-e 400                     # 400 neurons, 3 epochs
        -> test_accuracy 0.884 (train 0.918); training 300 s + 187 s compilation, whole
           script 634 s; 864 neurons
    python examples/diehl_cook_2015.py --quick --seed S              # 20 neurons, 200/100 images
        -> test_accuracy 0.45, 0.51, 0.53 for S = 1, 2, 3 (chance 0.10; seed 1 gives 0.45
           again on re-runs); 26-68 s with the build cached, 149-315 s with its compilation

The paper (MNIST, 60 000 training images) reports 82.9 % with 100 and 87.0 % with 400
excitatory neurons; here the training set is 1347 images of 8x8 pixels.  Differences from
the paper: no random input->excitatory delays (theirs: 0-10 ms); the STDP rule is the one of
their published code, not the weight-dependent variant of their eq. (3); r_max = 335 Hz and
nu_pre scaled by 63.75/335 (above); an image is accepted after MAX_BOOST = 8 boosts even with
fewer than 5 spikes (the paper has no limit).
"""

import argparse
import json
import os
import time

import numpy as np

#: maximal input rate for pixel value 16 (see the module docstring)
R_MAX = 335.0  # Hz
#: presentation, rest and controller period (ms)
T_PRESENT, T_REST, T_TICK = 350.0, 150.0, 50.0
T_BLOCK = T_PRESENT + T_REST
MIN_SPIKES = 5
#: an image is accepted after this many boosts even if it drew fewer than MIN_SPIKES spikes
MAX_BOOST = 8
W_MAX = 1.0
N_INPUT = 64
W_TOTAL = 0.1 * N_INPUT
#: one binary run presents at most this many 500 ms blocks
CHUNK = 200

#: the rule of the paper's published code (github.com/peter-u-diehl/stdp-mnist, the "pre-and-post"
#: rule of Diehl_and_Cook_spiking_MNIST.py): traces reset to 1 at each spike,
#: depression at pre spikes, potentiation at post spikes gated by the post trace just before
DC_STDP = dict(
    model="""w : 1
nu_dep : 1 (shared)
nu_pot : 1 (shared)
plastic : 1 (shared)
dpre/dt = -pre/tau_pre : 1 (event-driven)
dpost1/dt = -post1/tau_post1 : 1 (event-driven)
dpost2/dt = -post2/tau_post2 : 1 (event-driven)""",
    on_pre="""ge_post += w
pre = 1
w = clip(w - nu_dep*post1, 0, w_max)""",
    on_post="""w = clip(w + nu_pot*pre*post2, 0, w_max)
post1 = 1
post2 = 1""",
    namespace=dict(tau_pre=20e-3, tau_post1=20e-3, tau_post2=40e-3, w_max=W_MAX),
    # the paper's nu_pre = 0.0001 at 63.75 Hz; depression per presentation grows with the
    # input rate (potentiation does not: the pre trace is reset to 1), so the balance of the
    # two is kept by scaling nu_pre with 63.75 Hz / R_MAX
    nu_pre=0.0001 * 63.75 / R_MAX, nu_post=0.01)


def dc_stdp_change(t_pre, t_post, nu_pre=DC_STDP["nu_pre"], nu_post=DC_STDP["nu_post"],
                   w0=0.5):
    """Weight after the spike trains ``t_pre``, ``t_post`` (seconds) under the paper's rule.

    With traces x_pre, x_1, x_2 decaying with tau_pre = 20 ms, tau_1 = 20 ms, tau_2 = 40 ms
    and set to 1 at their neuron's spikes:

        pre spike:  w <- clip(w - nu_pre x_1, 0, w_max)        (x_1 just before the spike)
        post spike: w <- clip(w + nu_post x_pre x_2, 0, w_max) (x_2 just before the spike)

    Computed here event by event from the definition (the reference for the test).
    """
    ns = DC_STDP["namespace"]
    events = sorted([(t, 0) for t in t_pre] + [(t, 1) for t in t_post])
    w, last_pre, last_post = w0, -np.inf, -np.inf
    for t, kind in events:
        if kind == 0:
            w = min(max(w - nu_pre * np.exp(-(t - last_post) / ns["tau_post1"]), 0), W_MAX)
            last_pre = t
        else:
            w = min(max(w + nu_post * np.exp(-(t - last_pre) / ns["tau_pre"])
                        * np.exp(-(t - last_post) / ns["tau_post2"]), 0), W_MAX)
            last_post = t
    return w


def load_split(seed=0, test_size=0.25):
    """The digits as pixel values in [0, 1] (value / 16), split with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.reshape(len(d.images), -1) / 16.0
    return train_test_split(x, d.target, test_size=test_size, random_state=seed,
                            stratify=d.target)


def pixel_rates(images, r_max=R_MAX, boost=0):
    """Input rates in Hz: r = r_max (1 + boost/2) x for pixel values x in [0, 1]."""
    x = np.asarray(images, dtype=float)
    if x.size == 0 or x.min() < 0 or x.max() > 1:
        raise ValueError("pixel values must lie in [0, 1] (divide the digits by 16)")
    if boost < 0:
        raise ValueError(f"boost must be >= 0, got {boost}")
    return r_max * (1 + 0.5 * boost) * x


class DiehlCook:
    """The network, compiled once on ``cpp_standalone`` (or run on ``runtime``).

    Excitatory neurons (``adaptive_lif``, variant ``diehl_cook_2015``)::

        tau_m dv/dt = E_L - v + g_e (E_exc - v) + g_i (E_inh - v)
        dtheta_a/dt = -theta_a / tau_theta,   spike: v > V_th + theta_a,
        reset: v <- V_r, theta_a <- theta_a + delta_theta
        dg_e/dt = -g_e / 1 ms,  dg_i/dt = -g_i / 2 ms

    inhibitory neurons (``lif``) alike without theta and g_i; input spike of pixel j onto
    neuron k: g_e,k += w_jk; excitatory k -> inhibitory k: g_e += 10.4; inhibitory k -> every
    excitatory l != k: g_i,l += 17.  ``w`` (64, n_e) and ``theta`` (n_e, volts) hold the
    learned state between runs.

    Parameters
    ----------
    n_e : int
        Excitatory (and inhibitory) neurons.
    chunk : int
        500 ms blocks per binary run (structure is fixed once compiled).
    seed : int
        Seed of the initial weights and of Brian2's random numbers.
    backend : {'cpp_standalone', 'runtime'}
        ``runtime`` (numpy) rebuilds the network for every chunk: for small tests only.
    build_dir : str, optional
        Standalone build folder (default: one per n_e and chunk in the temp folder, reused).
    record_input : bool
        Also record the input spikes (``_objects['inp_spikes']``).
    """

    def __init__(self, n_e, chunk=CHUNK, seed=1, backend="cpp_standalone", build_dir=None,
                 dt_ms=0.5, r_max=R_MAX, record_input=False):
        if n_e < 1 or chunk < 1:
            raise ValueError(f"n_e and chunk must be >= 1, got n_e={n_e}, chunk={chunk}")
        if backend not in ("cpp_standalone", "runtime"):
            raise ValueError(f"backend must be 'cpp_standalone' or 'runtime', got {backend!r}")
        self.n_e, self.chunk, self.seed, self.backend = n_e, chunk, seed, backend
        self.build_dir, self.dt_ms, self.r_max = build_dir, dt_ms, r_max
        self.record_input = record_input
        rng = np.random.default_rng(seed)
        self.w = 0.3 * (rng.random((N_INPUT, n_e)) + 0.01)
        self.theta = np.zeros(n_e)
        self._pre, self._post = (a.ravel() for a in np.meshgrid(
            np.arange(N_INPUT), np.arange(n_e), indexing="ij"))
        self._objects = None
        self.compile_s = 0.0

    # ---------------------------------------------------------------- build
    def _build(self, queue):
        import brian2 as b2
        from brian2 import Hz, TimedArray, mV, ms, second

        from brainkit.library import load_model

        exc_m = load_model("adaptive_lif", variant="diehl_cook_2015")
        inh_m = load_model("lif").with_parameters(tau_m=10 * ms, E_L=-60 * mV, V_th=-40 * mV,
                                                  V_r=-45 * mV, t_ref=2 * ms)
        dt = self.dt_ms * ms
        n_e = self.n_e
        stim = TimedArray(queue, dt=1 * second, name="stim")
        ctrl = b2.NeuronGroup(1, """slot : 1
img : 1
boost : 1
count : 1
on : 1
n_img : 1""", dt=dt, name="ctrl",
                              namespace={"min_spikes": MIN_SPIKES, "max_boost": MAX_BOOST})
        ctrl.slot, ctrl.img, ctrl.count, ctrl.n_img = -1, -1, MIN_SPIKES, self.chunk
        # at every 50 ms tick: next slot; at a new 500 ms block, accept the image if it drew
        # enough spikes (or was boosted MAX_BOOST times), else repeat it with a higher rate
        ctrl.run_regularly(f"""slot = slot + 1 - 10*int(slot >= 9)
new_block = int(slot == 0)
ok = int(count >= min_spikes or boost >= max_boost)
img = img + new_block*ok
boost = boost*(1 - new_block) + new_block*(1 - ok)*(boost + 1)
count = count*(1 - new_block)
on = int(slot < {T_PRESENT / T_TICK:g}) * int(img < n_img)""",
                           dt=T_TICK * ms, when="start", order=0, name="ctrl_tick")
        # input rate r = r_max (1 + boost/2) x of the pixel x of the current image
        rate = "rate = on_c*r_max*(1 + 0.5*boost_c)*stim(img_c*second, i) : Hz"
        inp = b2.NeuronGroup(N_INPUT, rate + """
on_c : 1 (linked)
boost_c : 1 (linked)
img_c : 1 (linked)""", threshold="rand() < rate*dt", dt=dt, name="inp",
                             namespace={"r_max": self.r_max * Hz, "stim": stim})
        zeros = np.zeros(N_INPUT, dtype=int)
        inp.on_c = b2.linked_var(ctrl, "on", index=zeros)
        inp.boost_c = b2.linked_var(ctrl, "boost", index=zeros)
        inp.img_c = b2.linked_var(ctrl, "img", index=zeros)

        cond = {"E_exc": 0 * mV, "E_inh": -100 * mV, "tau_ge": 1 * ms, "tau_gi": 2 * ms}
        exc_eqs = exc_m.brian2_equations() + b2.Equations("""
I = (ge*(E_exc - v) + gi*(E_inh - v))/R : amp
dge/dt = -ge/tau_ge : 1
dgi/dt = -gi/tau_gi : 1
delta_theta : volt (shared)
tau_theta : second (shared)
wsum : 1""")
        # delta_theta and tau_theta are variables here (they shadow the model's parameters)
        # so that a run can freeze the thresholds
        ns = {k: v for k, v in exc_m.namespace().items() if k not in ("delta_theta", "tau_theta")}
        exc = b2.NeuronGroup(n_e, exc_eqs, threshold=exc_m.threshold, reset=exc_m.reset,
                             refractory=exc_m.refractory, method="euler", dt=dt, name="exc",
                             namespace={**ns, **cond})
        inh_eqs = inh_m.brian2_equations() + b2.Equations("""
I = ge*(E_exc - v)/R : amp
dge/dt = -ge/tau_ge : 1""")
        inh = b2.NeuronGroup(n_e, inh_eqs, threshold=inh_m.threshold, reset=inh_m.reset,
                             refractory=inh_m.refractory, method="euler", dt=dt, name="inh",
                             namespace={**inh_m.namespace(), **cond})
        ie = b2.Synapses(inp, exc, DC_STDP["model"], on_pre=DC_STDP["on_pre"],
                         on_post=DC_STDP["on_post"], dt=dt, name="ie",
                         namespace={"w_total": W_TOTAL,
                                    **{k: (v * second if k.startswith("tau") else v)
                                       for k, v in DC_STDP["namespace"].items()}})
        ie.connect(i=self._pre, j=self._post)
        # normalisation at the start of every block: sum the weights into the target, rescale
        exc.run_regularly("wsum = 0", dt=T_BLOCK * ms, when="start", order=1, name="exc_sum0")
        ie.run_regularly("wsum_post += w", dt=T_BLOCK * ms, when="start", order=2,
                         name="ie_sum")
        ie.run_regularly("w = w*(1 - plastic + plastic*w_total/(wsum_post + 1e-12))",
                         dt=T_BLOCK * ms, when="start", order=3, name="ie_norm")
        ei = b2.Synapses(exc, inh, on_pre="ge_post += 10.4", dt=dt, name="ei")
        ei.connect(j="i")
        inh_exc = b2.Synapses(inh, exc, on_pre="gi_post += 17.0", dt=dt, name="ii")
        inh_exc.connect(condition="i != j")
        counter = b2.Synapses(exc, ctrl, on_pre="count_post += on_post", dt=dt, name="counter")
        counter.connect()
        spikes = b2.SpikeMonitor(exc, name="exc_spikes")
        states = b2.StateMonitor(ctrl, ["img", "boost", "count"], record=0, dt=T_TICK * ms,
                                 when="end", name="ctrl_states")
        exc.v = exc_m.parameters["E_L"]
        inh.v = inh_m.parameters["E_L"]
        net = b2.Network(ctrl, inp, exc, inh, ie, ei, inh_exc, counter, spikes, states)
        self._objects = dict(ctrl=ctrl, inp=inp, exc=exc, inh=inh, ie=ie, stim=stim,
                             spikes=spikes, states=states, net=net, exc_m=exc_m)
        if self.record_input:
            self._objects["inp_spikes"] = b2.SpikeMonitor(inp, name="inp_spikes")
            net.add(self._objects["inp_spikes"])

    def _queue(self, images):
        queue = np.zeros((self.chunk, N_INPUT))
        if len(images):
            queue[:len(images)] = images
        return queue

    def _values(self, images, learn):
        """Per-run values {(object, variable): value}: the weights, thresholds, the queue
        length and the learning switches (frozen: no STDP, theta fixed, no normalisation)."""
        from brian2 import second, volt

        exc_m = self._objects["exc_m"]
        return {
            ("ctrl", "n_img"): float(len(images)),
            ("ie", "w"): self.w[self._pre, self._post],
            ("exc", "theta_a"): self.theta * volt,
            ("exc", "delta_theta"): exc_m.parameters["delta_theta"] if learn else 0 * volt,
            ("exc", "tau_theta"): exc_m.parameters["tau_theta"] if learn else 1e30 * second,
            ("ie", "nu_dep"): DC_STDP["nu_pre"] if learn else 0.0,
            ("ie", "nu_pot"): DC_STDP["nu_post"] if learn else 0.0,
            ("ie", "plastic"): 1.0 if learn else 0.0,
        }

    def _run_chunk(self, images, learn):
        import tempfile

        import brian2 as b2
        from brian2 import ms, second
        from brian2.devices.device import get_device, reset_device, set_device

        from brainkit.engine import compile_prefs, runtime_device

        duration = self.chunk * T_BLOCK * ms
        if self.backend == "runtime":
            with runtime_device("numpy"):
                b2.seed(self.seed)
                self._build(self._queue(images))
                o = self._objects
                for (obj, var), val in self._values(images, learn).items():
                    setattr(o[obj], var, val)
                o["net"].run(duration)
        else:
            if self._objects is None:
                from brian2.utils.filelock import FileLock

                previous = get_device()
                # a fixed folder per structure: Brian2 rewrites only changed files, so a
                # second run with the same n_e and chunk skips the compilation
                directory = self.build_dir or os.path.join(
                    tempfile.gettempdir(), "brainkit-dc2015", f"ne{self.n_e}-chunk{self.chunk}")
                os.makedirs(directory, exist_ok=True)
                set_device("cpp_standalone", directory=directory, build_on_run=False)
                try:
                    with FileLock(os.path.join(directory, "build.lock")):
                        for pref, value in compile_prefs().items():  # Brian2's flags, -jN
                            b2.prefs[pref] = value
                        b2.seed(self.seed)
                        self._build(self._queue([]))
                        self._objects["net"].run(duration)
                        self._device = get_device()
                        t0 = time.perf_counter()
                        self._device.build(directory=directory, compile=True, run=False)
                        self.compile_s = time.perf_counter() - t0
                finally:
                    reset_device(previous)
            o = self._objects
            run_args = {o["stim"]: self._queue(images)}
            for (obj, var), val in self._values(images, learn).items():
                run_args[getattr(o[obj], var)] = val
            # results per process: concurrent runs of one build folder do not clash
            self._device.run(run_args=run_args, with_output=False,
                             results_directory=f"results_{os.getpid()}")
        o = self._objects
        self.w = np.zeros((N_INPUT, self.n_e))
        self.w[self._pre, self._post] = np.asarray(o["ie"].w[:])
        self.theta = np.asarray(o["exc"].theta_a[:] / b2.volt)
        # decode the schedule: state every 50 ms (recorded after the tick's update)
        img = np.round(o["states"].img[0]).astype(int)
        boost = np.round(o["states"].boost[0]).astype(int)
        count = np.round(o["states"].count[0]).astype(int)
        ticks = int(T_BLOCK / T_TICK)
        n_blocks = len(img) // ticks
        t = np.asarray(o["spikes"].t / second)
        i = np.asarray(o["spikes"].i)
        block = (t / (T_BLOCK * 1e-3)).astype(int)
        in_pres = (t - block * T_BLOCK * 1e-3) < T_PRESENT * 1e-3
        done = []  # (image index, boost, block)
        for b in range(n_blocks):
            k = img[b * ticks]
            if k >= len(images):
                break
            total = count[b * ticks + ticks - 1]  # the block's count, before the next reset
            if total >= MIN_SPIKES or boost[b * ticks] >= MAX_BOOST:
                done.append((k, boost[b * ticks], b))
        responses = np.zeros((len(done), self.n_e))
        blocks = np.array([d[2] for d in done], dtype=int)
        if len(done):
            sel = in_pres & np.isin(block, blocks)
            row = np.searchsorted(blocks, block[sel])
            np.add.at(responses, (row, i[sel]), 1)
        return [d[0] for d in done], [d[1] for d in done], responses

    def cleanup(self):
        """Remove this process's results folder of the (shared) build folder."""
        import shutil

        if self._objects is not None and self.backend == "cpp_standalone":
            shutil.rmtree(self._device.results_dir, ignore_errors=True)

    def present(self, images, learn, report=None):
        """Present ``images`` (n, 64) of pixel values in [0, 1], in chunks of binary runs.

        With ``learn`` the STDP, the threshold increments and the normalisation are on and
        ``w``, ``theta`` carry the learned state; without, both are frozen.  Returns the
        excitatory spike counts of each image's accepted presentation (the last one, with
        >= 5 spikes or MAX_BOOST boosts), shape (n, n_e), and each image's boost.
        """
        images = np.asarray(images, dtype=float)
        if images.ndim != 2 or images.shape[1] != N_INPUT:
            raise ValueError(f"images must have shape (n, {N_INPUT}), got {images.shape}")
        pixel_rates(images, self.r_max)  # checks the range
        responses = np.zeros((len(images), self.n_e))
        boosts = np.zeros(len(images), dtype=int)
        start = 0
        while start < len(images):
            batch = images[start:start + self.chunk]
            t0 = time.perf_counter()
            idx, bst, resp = self._run_chunk(batch, learn)
            if not idx:
                raise RuntimeError("a chunk finished no image: increase chunk")
            idx = np.asarray(idx)
            responses[start + idx] = resp
            boosts[start + idx] = bst
            start += int(idx.max()) + 1
            if report:
                print(f"  {report}: {start}/{len(images)} images "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
        return responses, boosts


def assign_labels(responses, labels, n_classes=10):
    """Each neuron's class: the largest mean response over the training images of a class
    (-1 for a neuron that never fired)."""
    mean = np.stack([responses[labels == c].mean(axis=0) for c in range(n_classes)])
    assigned = np.argmax(mean, axis=0)
    assigned[mean.max(axis=0) == 0] = -1
    return assigned


def classify(responses, assigned, n_classes=10):
    """The class whose assigned neurons respond most on average (the paper's rule)."""
    scores = np.zeros((len(responses), n_classes))
    for c in range(n_classes):
        members = assigned == c
        if members.any():
            scores[:, c] = responses[:, members].mean(axis=1)
    return np.argmax(scores, axis=1)


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    from brainkit.fileio import atomic_write, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/diehl_cook_2015")
    parser.add_argument("--quick", action="store_true",
                        help="20 neurons, 200 training and 100 test images, 1 epoch")
    parser.add_argument("--n-e", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="network seed")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    quick = args.quick
    n_e = args.n_e or (20 if quick else 100)
    epochs = args.epochs or (1 if quick else 3)
    x_tr, x_te, y_tr, y_te = load_split(args.split_seed)
    n_train = args.n_train or (200 if quick else len(x_tr))
    n_test = args.n_test or (100 if quick else len(x_te))
    x_tr, y_tr, x_te, y_te = x_tr[:n_train], y_tr[:n_train], x_te[:n_test], y_te[:n_test]

    t_start = time.perf_counter()
    net = DiehlCook(n_e, chunk=args.chunk, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x_tr))
        _, boosts = net.present(x_tr[order], learn=True, report=f"epoch {epoch + 1} training")
        print(f"epoch {epoch + 1}: mean boost {boosts.mean():.2f}, compile "
              f"{net.compile_s:.1f} s", flush=True)
    t_train = time.perf_counter() - t_start
    r_tr, _ = net.present(x_tr, learn=False, report="labelling")
    r_te, b_te = net.present(x_te, learn=False, report="testing")
    assigned = assign_labels(r_tr, y_tr)
    pred_tr = classify(r_tr, assigned)
    pred = classify(r_te, assigned)
    net.cleanup()
    acc = float(np.mean(pred == y_te))
    cm = confusion_matrix(y_te, pred, labels=range(10))
    metrics = {
        "test_accuracy": acc,
        "train_accuracy": float(np.mean(pred_tr == y_tr)),
        "n_excitatory": n_e, "n_inhibitory": n_e, "n_input": N_INPUT,
        "n_neurons": 2 * n_e + N_INPUT,
        "epochs": epochs, "n_train": int(len(x_tr)), "n_test": int(len(x_te)),
        "split": "train_test_split(test_size=0.25, random_state=%d, stratify)" % args.split_seed,
        "seed": args.seed, "r_max_hz": R_MAX, "w_total": W_TOTAL,
        "train_time_s": round(t_train, 1), "compile_time_s": round(net.compile_s, 1),
        "total_time_s": round(time.perf_counter() - t_start, 1),
        "neurons_per_class": [int(np.sum(assigned == c)) for c in range(10)],
        "silent_neurons": int(np.sum(assigned == -1)),
        "mean_test_spikes": float(r_te.sum(axis=1).mean()),
        "mean_test_boost": float(b_te.mean()),
        "theta_mV_mean": float(net.theta.mean() * 1e3),
        "quick": quick,
    }
    write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)

    cols = int(np.ceil(np.sqrt(n_e)))
    rows = int(np.ceil(n_e / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.4))
    for k, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if k < n_e:
            ax.imshow(net.w[:, k].reshape(8, 8), cmap="hot_r", vmin=0, vmax=net.w.max())
            ax.set_title(str(assigned[k]) if assigned[k] >= 0 else "-", fontsize=6, pad=1)
    fig.suptitle("Learned receptive fields (title: assigned class)", fontsize=8)
    with atomic_write(os.path.join(args.out, "receptive_fields.png")) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(cm, cmap="Blues")
    for a in range(10):
        for b in range(10):
            if cm[a, b]:
                ax.text(b, a, str(cm[a, b]), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_title(f"Test accuracy {acc:.1%} ({n_e} excitatory neurons)", fontsize=9)
    fig.colorbar(im, ax=ax)
    with atomic_write(os.path.join(args.out, "confusion_matrix.png")) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    print(json.dumps(metrics, indent=1))
    return metrics


if __name__ == "__main__":
    main()
