"""Training: losses vs finite differences, Adam vs Kingma & Ba by hand, task statistics, the
trainer's checkpoints (exact resume, NaN stop), and short trainings that must beat chance.

The default run (``pytest -q tests/test_training.py``) takes about a minute on 2 cores; the
trainings that reach the headline targets are marked ``long`` (``make test-all``).
"""

import json
import math
import os

import numpy as np
import pytest

from brainkit.training.losses import LossError, cross_entropy, mse, nmse, window_mean
from brainkit.training.optim import Adam, OptimError, Schedule, clip_by_global_norm, global_norm
from brainkit.training.tasks import Autoencode, DelayedXOR, TaskError, get_task, smooth_signal


# --------------------------------------------------------------------------- losses
def _central_fd(f, o, eps=1e-6):
    g = np.zeros_like(o)
    it = np.nditer(o, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        op, om = o.copy(), o.copy()
        op[i] += eps
        om[i] -= eps
        g[i] = (f(op)[0] - f(om)[0]) / (2 * eps)
    return g


def test_mse_matches_finite_differences_and_definition():
    rng = np.random.default_rng(1)
    o = rng.normal(size=(3, 7, 2))
    y = rng.normal(size=(3, 7, 2))
    mask = (rng.random((3, 7)) > 0.4).astype(float)
    mask[0, 0] = 1.0
    loss, g = mse(o, y, mask)
    m3 = np.repeat(mask[:, :, None], 2, axis=2)
    assert loss == pytest.approx(np.sum(m3 * (o - y) ** 2) / m3.sum(), rel=1e-14)
    np.testing.assert_allclose(g, _central_fd(lambda a: mse(a, y, mask), o), rtol=1e-6, atol=1e-9)
    assert np.all(g[mask == 0] == 0)
    # targets outside the mask may be NaN (undefined) without poisoning the loss
    y2 = y.copy()
    y2[mask == 0] = np.nan
    loss2, g2 = mse(o, y2, mask)
    assert loss2 == pytest.approx(loss, rel=1e-14) and np.all(np.isfinite(g2))


def test_cross_entropy_matches_finite_differences_and_definition():
    rng = np.random.default_rng(2)
    o = rng.normal(size=(4, 9, 3))
    labels = np.array([0, 2, 1, 2])
    win = np.zeros((4, 9))
    win[:, 5:8] = 1.0
    win[1, 2] = 0.5  # weighted windows work too
    loss, g = cross_entropy(o, labels, win)
    z = window_mean(o, win)
    ref = -np.mean([z[b, labels[b]] - np.log(np.sum(np.exp(z[b]))) for b in range(4)])
    assert loss == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(g, _central_fd(lambda a: cross_entropy(a, labels, win), o),
                               rtol=1e-6, atol=1e-9)
    assert np.all(g[win == 0] == 0)


def test_nmse_and_loss_errors():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(2, 50, 1))
    assert nmse(y, y) == 0.0
    const = np.full_like(y, y.mean())
    assert nmse(const, y) == pytest.approx(1.0)
    with pytest.raises(LossError, match="does not match"):
        mse(y, y[:, :10])
    with pytest.raises(LossError, match="no time step"):
        mse(y, y, np.zeros((2, 50)))
    with pytest.raises(LossError, match=r"window is empty for trial\(s\) \[1\]"):
        cross_entropy(np.zeros((2, 5, 2)), np.array([0, 1]), np.array([[1, 0, 0, 0, 0], [0] * 5]))
    with pytest.raises(LossError, match="labels must be integers"):
        cross_entropy(np.zeros((2, 5, 2)), np.array([0, 2]), np.ones((2, 5)))


# --------------------------------------------------------------------------- optimiser
def test_adam_matches_kingma_ba_algorithm_1_by_hand():
    # two steps of Algorithm 1 (Kingma & Ba 2015), written out in scalars
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    th0 = np.array([1.0, -2.0])
    g1 = np.array([0.5, -1.5])
    g2 = np.array([-0.25, 3.0])
    opt = Adam(lr, b1, b2, eps)
    p1 = opt.step({"w": th0}, {"w": g1})["w"]
    # step 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2 -> update = lr * g / (|g| + eps)
    np.testing.assert_allclose(p1, th0 - lr * g1 / (np.abs(g1) + eps), rtol=0, atol=1e-15)
    p2 = opt.step({"w": p1}, {"w": g2})["w"]
    for i in range(2):
        m = 0.9 * (0.1 * g1[i]) + 0.1 * g2[i]
        v = 0.999 * (0.001 * g1[i] ** 2) + 0.001 * g2[i] ** 2
        mhat, vhat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
        assert p2[i] == pytest.approx(p1[i] - lr * mhat / (math.sqrt(vhat) + eps), abs=1e-15)


def test_adam_minimises_rosenbrock_and_quadratic_with_exact_gradients():
    def rosen(p):
        x, y = p["xy"]
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2, {
            "xy": np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])}

    opt = Adam(Schedule(0.02, "cosine", total=6000, lr_min=1e-4))
    p = {"xy": np.array([-1.2, 1.0])}
    for _ in range(6000):
        p = opt.step(p, rosen(p)[1])
    np.testing.assert_allclose(p["xy"], [1.0, 1.0], atol=1e-3)

    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    opt = Adam(0.05)
    q = {"a": np.zeros(2), "c": np.array(5.0)}
    for _ in range(3000):
        q = opt.step(q, {"a": A @ q["a"] - b, "c": 2 * (q["c"] - 0.5)})
    np.testing.assert_allclose(q["a"], np.linalg.solve(A, b), atol=1e-4)
    assert float(q["c"]) == pytest.approx(0.5, abs=1e-4)


def test_adam_state_roundtrip_is_exact_and_errors():
    rng = np.random.default_rng(4)
    p = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    opt = Adam(Schedule(0.01, "step", gamma=0.5, every=2), clip_norm=1.0)
    for _ in range(3):
        p = opt.step(p, {k: rng.normal(size=v.shape) for k, v in p.items()})
    sd = opt.state_dict()
    json.dumps(sd["config"])  # settings are JSON-able
    other = Adam.from_state_dict(sd)
    g = {k: rng.normal(size=v.shape) for k, v in p.items()}
    pa, pb = opt.step(p, g), other.step(p, g)
    for k in p:
        assert np.array_equal(pa[k], pb[k])
    with pytest.raises(OptimError, match="do not match"):
        opt.step(p, {"a": g["a"]})
    with pytest.raises(OptimError, match="shape"):
        opt.step(p, {"a": g["a"], "b": np.zeros(4)})
    with pytest.raises(OptimError, match="unknown schedule"):
        Schedule(0.1, "linear")


def test_clip_by_global_norm_and_schedules():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(g) == 5.0
    c, n = clip_by_global_norm(g, 1.0)
    assert n == 5.0 and global_norm(c) == pytest.approx(1.0)
    np.testing.assert_allclose(c["a"], [0.6, 0.0])
    c, n = clip_by_global_norm(g, 10.0)
    assert np.array_equal(c["a"], g["a"])
    s = Schedule(1.0, "cosine", total=100, warmup=10, lr_min=0.1)
    assert s(5) == pytest.approx(0.5) and s(10) == pytest.approx(1.0)
    assert s(55) == pytest.approx(0.55) and s(100) == pytest.approx(0.1)
    assert Schedule(1.0, "step", gamma=0.1, every=10)(25) == pytest.approx(0.01)


# --------------------------------------------------------------------------- tasks
def test_smooth_signal_statistics():
    rng = np.random.default_rng(5)
    sigma = 10.0
    x = smooth_signal(rng, 256, 400, 2, sigma, amplitude=0.7)
    assert x.shape == (256, 400, 2)
    assert abs(x.mean()) < 0.03
    assert x.std() == pytest.approx(0.7, rel=0.03)
    # Gaussian kernel (x) itself: autocorrelation exp(-lag^2 / (4 sigma^2))
    for lag in (5, 10, 20):
        r = np.mean(x[:, lag:] * x[:, :-lag]) / np.mean(x * x)
        assert r == pytest.approx(math.exp(-lag ** 2 / (4 * sigma ** 2)), abs=0.03)


def test_autoencode_batches():
    t = Autoencode(channels=3, steps=200, washout=30e-3)
    b = t.sample(np.random.default_rng(0), 4)
    assert b.x.shape == (4, 200, 3) and np.array_equal(b.x, b.target)
    assert np.all(b.mask[:, :30] == 0) and np.all(b.mask[:, 30:] == 1)
    assert t.score(b.target, b) == 0.0
    # held-out data is reproducible per seed and differs from the training stream
    assert np.array_equal(t.test_batch(3, 4).x, t.test_batch(3, 4).x)
    assert not np.allclose(t.test_batch(3, 4).x, t.sample(t.train_rng(3), 4).x)
    with pytest.raises(TaskError, match="washout"):
        Autoencode(steps=20, washout=30e-3)


def test_xor_trials_follow_the_protocol():
    t = DelayedXOR()
    tau_max = 10e-3  # the largest time constant of the tuned network (tau_v = tau_s)
    assert t.delay_min * t.dt > 2 * tau_max
    b = t.sample(np.random.default_rng(6), 2000)
    signs, d = b.info["signs"], b.info["delays"]
    assert np.all((d >= t.delay_min) & (d <= t.delay_max)) and len(np.unique(d)) > 20
    assert abs(b.labels.mean() - 0.5) < 0.03  # balanced classes
    np.testing.assert_array_equal(b.labels, (signs[:, 0] * signs[:, 1] < 0).astype(int))
    for k in range(50):
        x0, x1, m = b.x[k, :, 0], b.x[k, :, 1], b.mask[k]
        p1, p2, go = b.info["pulse1"][k], b.info["pulse2"][k], b.info["go"][k]
        assert np.all(x0[p1: p1 + t.pulse] == signs[k, 0])
        assert np.all(x0[p2: p2 + t.pulse] == signs[k, 1])
        assert np.count_nonzero(x0) == 2 * t.pulse  # silence during the delays
        assert np.flatnonzero(x1).tolist() == list(range(go, go + t.go))
        win = np.flatnonzero(m)
        assert win[0] == go + t.answer_start and len(win) == t.answer_len
        assert win[-1] < t.steps
    # a readout that answers the label in the window scores 1, its opposite 0
    o = np.zeros((50, t.steps, 2))
    o[np.arange(50), :, b.labels[:50]] = 1.0
    sub = type(b)(x=b.x[:50], mask=b.mask[:50], labels=b.labels[:50])
    assert t.score(o, sub) == 1.0 and t.score(o[:, :, ::-1], sub) == 0.0
    with pytest.raises(TaskError, match="unknown task"):
        get_task("parity")


# --------------------------------------------------------------------------- trainer
from brainkit.training.trainer import (CheckpointError, Trainer, TrainingDiverged,  # noqa: E402
                                       load_checkpoint, save_checkpoint)

_SMALL = dict(n_hidden=12, batch=4)


@pytest.fixture(scope="module")
def small_ae(tmp_path_factory):
    """A compiled small auto-encoding network (12 neurons, 80 steps of 1 ms, batch 4)."""
    pytest.importorskip("brian2")
    from brian2 import ms

    from brainkit.training.recurrent import RecurrentSNN

    task = Autoencode(channels=1, steps=80, washout=10e-3)
    model = RecurrentSNN(task.n_in, _SMALL["n_hidden"], task.n_out, task.steps,
                         batch=_SMALL["batch"], dt=1 * ms, neuron_params={"gate_width": 1.0},
                         build_dir=str(tmp_path_factory.mktemp("build")))
    yield task, model
    model.close()


def _trainer(task, model, out, steps, lr=0.05, every=2):
    from brainkit.training.tasks import lr_scale

    opt = Adam(Schedule(lr, "cosine", total=10, warmup=2, lr_min=0.01),
               lr_scale=lr_scale(_SMALL["n_hidden"]))
    return Trainer(model, task, out, steps=steps, batch=_SMALL["batch"], seed=7, optimizer=opt,
                   checkpoint_every=every, progress=False, config=dict(test="small"))


@pytest.mark.standalone
def test_resume_reproduces_an_uninterrupted_run_bitwise(small_ae, tmp_path):
    task, model = small_ae
    full = _trainer(task, model, tmp_path / "a", steps=6).run()
    part = _trainer(task, model, tmp_path / "b", steps=4).run()
    assert part.step == 4 and load_checkpoint(tmp_path / "b" / "checkpoint.npz").step == 4
    resumed = _trainer(task, model, tmp_path / "b", steps=6).run(resume=True)
    assert resumed.step == full.step == 6
    for k in full.params:
        assert np.array_equal(full.params[k], resumed.params[k]), k
    assert full.losses == resumed.losses  # the same 6 losses, bit for bit
    assert full.rng_state == resumed.rng_state
    a = load_checkpoint(tmp_path / "a" / "checkpoint.npz")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    for k in a.optimizer:
        if k != "config":
            assert np.array_equal(a.optimizer[k], b.optimizer[k]), k
    assert a.optimizer["config"] == b.optimizer["config"]
    # a different configuration refuses to resume
    other = _trainer(task, model, tmp_path / "b", steps=8)
    other.config["batch"] = 99
    with pytest.raises(CheckpointError, match="differs in: batch"):
        other.run(resume=True)


class _CorruptedAfter(Autoencode):
    """Auto-encoding whose targets become 1e200 (a corrupted data file) from draw ``k`` on."""

    def __init__(self, k, **kw):
        super().__init__(**kw)
        self.k, self.draws = k, 0

    def sample(self, rng, batch):
        b = super().sample(rng, batch)
        self.draws += 1
        if self.draws > self.k:
            b.target = np.full_like(b.target, 1e200)
        return b


@pytest.mark.standalone
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_nan_or_inf_loss_stops_and_keeps_the_last_good_checkpoint(small_ae, tmp_path):
    task, model = small_ae
    bad = _CorruptedAfter(5, channels=1, steps=80, washout=10e-3)
    tr = _trainer(bad, model, tmp_path, steps=10, every=2)
    with pytest.raises(TrainingDiverged, match=r"step 6: the loss is inf.*last good checkpoint "
                                                r"\(step 4\)"):
        tr.run()
    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ck.step == 4 and len(ck.losses) == 4
    assert all(np.all(np.isfinite(v)) for v in ck.params.values())
    # the kept checkpoint is the state of a healthy run at step 4
    good = _trainer(task, model, tmp_path / "good", steps=4).run()
    for k in good.params:
        assert np.array_equal(good.params[k], ck.params[k])


@pytest.mark.standalone
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_loss_stops_with_a_clear_message(small_ae, tmp_path):
    task, model = small_ae
    tr = _trainer(task, model, tmp_path, steps=6, lr=1e4, every=1)
    tr.diverge_factor = 3.0
    with pytest.raises(TrainingDiverged, match="diverged|NaN/inf"):
        tr.run()
    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    assert all(np.all(np.isfinite(v)) for v in ck.params.values())


def test_checkpoint_file_is_atomic_and_validated(tmp_path):
    from brainkit.training.trainer import TrainState

    st = TrainState(step=3, params={"a": np.arange(3.0)}, optimizer=Adam(0.1).state_dict(),
                    rng_state=np.random.default_rng(1).bit_generator.state, losses=[1.0, 0.5],
                    grad_norms=[2.0, 1.0])
    p = save_checkpoint(tmp_path / "c.npz", st)
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]  # no temporary file left behind
    back = load_checkpoint(p)
    assert back.step == 3 and back.losses == [1.0, 0.5] and back.rng_state == st.rng_state
    p.write_bytes(p.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(p)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


@pytest.mark.standalone
def test_short_autoencode_training_beats_chance(small_ae, tmp_path):
    """60 steps on a 12-neuron network bring the held-out NMSE well below 1 (chance)."""
    task, model = small_ae
    from brainkit.training.cli import evaluate

    p0 = model.init_params(7)
    before = evaluate(model, task, p0, seed=7, trials=8)[0]
    st = _trainer(task, model, tmp_path, steps=60, lr=0.1, every=60)
    st.optimizer.schedule = Schedule(0.1, "cosine", total=60, warmup=2, lr_min=0.01)
    state = st.run()
    after = evaluate(model, task, state.params, seed=7, trials=8)[0]
    assert after < 0.5 and after < 0.6 * before, (before, after)


def test_efficient_coding_init_drives_every_neuron_with_the_coding_error():
    """I = W s + U x + I0 = gain d_i.(x - O s) + i0: the Boerlin-Machens-Deneve structure."""
    from brainkit.training.cli import settings
    from brainkit.training.tasks import efficient_coding_init, init_function, lr_scale

    N, K, gain, i0, c = 50, 2, 7.0, -0.2, 0.08
    p = efficient_coding_init(N, K, K, 3, gain=gain, i0=i0, decoder=c)
    assert p["U"].shape == (N, K) and p["W"].shape == (N, N) and p["O"].shape == (K, N)
    D = p["O"] * N / c  # decoding directions: unit vectors, mirrored by U
    np.testing.assert_allclose(np.linalg.norm(D, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p["U"], gain * D.T, rtol=1e-12)
    rng = np.random.default_rng(0)
    s, x = rng.uniform(0, 50, N), rng.standard_normal(K)
    I = p["W"] @ s + p["U"] @ x + p["I0"]
    np.testing.assert_allclose(I, gain * D.T @ (x - p["O"] @ s) + i0, rtol=1e-10, atol=1e-12)
    # lateral inhibition: symmetric, negative semi-definite, self-inhibition -gain c / N
    np.testing.assert_allclose(p["W"], p["W"].T, atol=1e-15)
    assert np.max(np.linalg.eigvalsh(p["W"])) < 1e-12
    np.testing.assert_allclose(np.diag(p["W"]), -gain * c / N, rtol=1e-12)
    # seeded, and the settings route the autoencode task through it
    q = efficient_coding_init(N, K, K, 3, gain=gain, i0=i0, decoder=c)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["O"], efficient_coding_init(N, K, K, 4)["O"])
    h = settings("autoencode")
    assert h["init"]["kind"] == "efficient"
    assert h["lr_scale"]["O"] == pytest.approx(h["init"]["decoder"] / h["n_hidden"])
    assert lr_scale(N)["O"] == pytest.approx(0.05 / np.sqrt(N))  # random start: unchanged
    assert init_function(None, N, K, K) is None and "init" not in settings("xor")
    f = init_function(dict(kind="efficient", gain=gain, i0=i0, decoder=c), N, K, K)
    assert np.array_equal(f(3)["W"], p["W"])
    with pytest.raises(TaskError, match="n_in == n_out"):
        efficient_coding_init(N, 1, 2, 0)
    with pytest.raises(TaskError, match="unknown init"):
        init_function(dict(kind="magic"), N, K, K)


@pytest.mark.standalone
def test_trainer_starts_from_the_task_init(small_ae, tmp_path):
    """cli.start hands the efficient-coding start to the Trainer (one step at a vanishing
    learning rate leaves the parameters at that start)."""
    from brainkit.training.cli import start
    from brainkit.training.tasks import efficient_coding_init

    task, model = small_ae
    init = dict(kind="efficient", gain=3.0)
    fn = start(model, dict(init=init))
    p0 = fn(7)
    ref = efficient_coding_init(model.n_hidden, 1, 1, 7, gain=3.0)
    assert all(np.array_equal(p0[k], ref[k]) for k in p0) and set(p0) == set(ref)
    assert start(model, {}) is None  # no init entry: the model's own random start
    st = _trainer(task, model, tmp_path, steps=1, lr=1e-9, every=1)
    st.init_params = fn
    st = st.run()
    for k in p0:  # a (nearly) zero learning rate: still the initial parameters
        np.testing.assert_allclose(st.params[k], p0[k], rtol=0, atol=1e-8)
    assert np.isfinite(st.losses[0])


# --------------------------------------------------------------------------- brainkit train
def _check_outputs(out, task_name, metric):
    from brainkit.netfile import load_network

    m = json.loads((out / "metrics.json").read_text())
    for key in ("task", "train_loss", metric, "steps", "seconds"):
        assert key in m, key
    assert m["task"] == task_name
    for f in ("loss.png", "raster.png", "readout.png", "checkpoint.npz"):
        assert (out / f).stat().st_size > 1000, f
    spec = load_network(out / "network.h5")
    n = m["settings"]["n_hidden"]
    ck = load_checkpoint(out / "checkpoint.npz")
    assert spec.populations["hidden"].model == "theta" and spec.populations["hidden"].n == n
    np.testing.assert_array_equal(spec.connections["hidden->hidden"].weights, ck.params["W"].T)
    np.testing.assert_array_equal(spec.connections["in->hidden"].weights, ck.params["U"].T)
    np.testing.assert_array_equal(spec.readouts["out"].weights, ck.params["O"])
    np.testing.assert_array_equal(np.asarray(spec.populations["hidden"].parameters["I0"]),
                                  ck.params["I0"])
    assert spec.metadata["task"] == task_name and len(spec.metadata["losses"]) == m["steps"]
    return m


@pytest.mark.long
@pytest.mark.standalone
def test_cli_quick_xor_beats_chance(tmp_path):
    from brainkit.cli import main

    assert main(["train", "xor", "--quick", "--out", str(tmp_path)]) == 0
    m = _check_outputs(tmp_path, "xor", "test_accuracy")
    assert m["test_accuracy"] >= 0.95, m["test_accuracy"]  # 0.977-1.000 for seeds 0-9


@pytest.mark.long
@pytest.mark.standalone
def test_cli_quick_autoencode_beats_chance_and_resumes(tmp_path):
    from brainkit.cli import main

    assert main(["train", "autoencode", "--quick", "--out", str(tmp_path), "--steps", "60"]) == 0
    assert main(["train", "autoencode", "--quick", "--out", str(tmp_path), "--resume"]) == 0
    m = _check_outputs(tmp_path, "autoencode", "test_nmse")
    assert m["steps"] == 120
    assert m["test_nmse"] <= 0.3, m["test_nmse"]  # 0.117 measured (efficient-coding start)


@pytest.mark.standalone
def test_cli_trains_time_constants_and_saves_them(tmp_path):
    """``--time-constants``: tau and tau_s move with the weights and the network file holds
    the trained values (so simulation and export use them)."""
    from brian2 import second

    from brainkit.cli import main
    from brainkit.netfile import load_network

    assert main(["train", "autoencode", "--quick", "--steps", "6", "--time-constants",
                 "--out", str(tmp_path)]) == 0
    m = _check_outputs(tmp_path, "autoencode", "test_nmse")
    ck = load_checkpoint(tmp_path / "checkpoint.npz")
    tau, tau_s = float(ck.params["tau"]), float(ck.params["tau_s"])
    assert m["trained_tau"] == tau and m["trained_tau_s"] == tau_s  # seconds
    assert tau != 0.01 and tau_s != 0.01 and 0.005 < tau < 0.02 and 0.005 < tau_s < 0.02
    spec = load_network(tmp_path / "network.h5")
    assert float(spec.populations["hidden"].parameters["tau"] / second) == tau
    assert float(spec.connections["hidden->hidden"].parameters["tau_s"] / second) == tau_s
