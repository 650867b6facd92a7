"""Connection rules (brainkit.connectivity and Network.connect): exact in-degree, the
distance-dependent probability p(d) within binomial bounds, and convolution weights against
scipy.signal.correlate2d (numpy, and through a simulated network)."""

import numpy as np
import pytest
from brian2 import ms, pA
from scipy import signal, stats

from brainkit import Network, NetworkError
from brainkit import connectivity as cx


# ------------------------------------------------------------------------ in-degree
def test_fixed_in_degree_is_exact_distinct_and_uniform():
    n_pre, n_post, k = 200, 500, 20
    i, j = cx.fixed_in_degree(n_pre, n_post, k, seed=3)
    assert np.all(np.bincount(j, minlength=n_post) == k)
    pairs = set(zip(i.tolist(), j.tolist()))
    assert len(pairs) == len(i)  # distinct pre per post
    # each pre neuron is chosen by each post with probability k/n_pre: out-degrees are
    # Binomial(n_post, k/n_pre); chi-square of their sum of squares (one test, alpha = 1e-3)
    out = np.bincount(i, minlength=n_pre)
    mean, var = n_post * k / n_pre, n_post * (k / n_pre) * (1 - k / n_pre)
    chi2 = np.sum((out - mean) ** 2 / var)
    assert stats.chi2.sf(chi2, n_pre - 1) > 1e-3
    # without autapses no i == j, still exact
    i, j = cx.fixed_in_degree(50, 50, 49, seed=1, allow_autapses=False)
    assert np.all(i != j) and np.all(np.bincount(j) == 49)
    with pytest.raises(ValueError, match="exceeds"):
        cx.fixed_in_degree(10, 5, 11)


def test_network_connect_in_degree_and_its_errors():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("a", "lif", 30)
    net.population("b", "lif", 40)
    c = net.connect("a", "b", "exp_current", weights=10 * pA, in_degree=7, seed=2)
    assert np.all(np.bincount(c.j, minlength=40) == 7)
    c2 = net.connect("a", "b", "exp_current", weights=10 * pA, in_degree=7, seed=2, name="again")
    np.testing.assert_array_equal(c.i, c2.i)  # the seed fixes the draw
    with pytest.raises(NetworkError, match="in-degree k = 31 exceeds"):
        net.connect("a", "b", "exp_current", weights=10 * pA, in_degree=31, name="x")


# ------------------------------------------------------------------- distance rule
@pytest.mark.parametrize("periodic", [False, True])
def test_distance_dependent_probability_matches_p_of_d(periodic):
    rows = cols = 30
    pos = cx.grid_positions((rows, cols))
    p0, sigma = 0.6, 2.5
    L = (cols, rows) if periodic else None
    i, j = cx.distance_gaussian(pos, pos, p0, sigma, seed=11, periodic=L)
    d = cx.pairwise_distances(pos, pos, L)
    prob = p0 * np.exp(-d ** 2 / (2 * sigma ** 2))
    connected = np.zeros_like(d, dtype=bool)
    connected[i, j] = True
    # connection counts in distance bins: mean sum p, variance sum p (1 - p); |z| < 4 in all
    # bins (Bonferroni over ~12 bins: a false failure has probability < 1e-3)
    edges = np.arange(0, 4 * sigma, sigma / 3)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (d >= lo) & (d < hi)
        if sel.sum() < 50:
            continue
        mean, var = prob[sel].sum(), (prob[sel] * (1 - prob[sel])).sum()
        z = (connected[sel].sum() - mean) / np.sqrt(var)
        assert abs(z) < 4, (lo, hi, z)
        empirical = connected[sel].mean()
        model = prob[sel].mean()
        assert abs(empirical - model) < 4 * np.sqrt(var) / sel.sum() + 1e-12
    # beyond 5 sigma p(d) < 0.6 * 4e-6 for ~6e5 pairs: almost surely no connection
    assert connected[d > 5 * sigma].sum() <= 3
    # boundary: on a torus the corner neuron has the centre's expected out-degree; on the
    # open sheet about a quarter of it
    corner, centre = 0, (rows // 2) * cols + cols // 2
    ratio = prob[corner].sum() / prob[centre].sum()
    assert (abs(ratio - 1) < 1e-12) if periodic else (0.2 < ratio < 0.35)
    deg = np.bincount(i, minlength=rows * cols)
    z = (deg[corner] - prob[corner].sum()) / np.sqrt((prob[corner] * (1 - prob[corner])).sum())
    assert abs(z) < 4


def test_network_connect_distance_rule_uses_grid_shapes_and_checks_params():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("sheet", "lif", 400)
    c = net.connect("sheet", "sheet", "exp_current", weights=5 * pA, rule="distance", seed=4,
                    rule_params=dict(p0=0.5, sigma=2.0, pos_pre=(20, 20), pos_post=(20, 20),
                                     periodic=(20, 20), autapses=False))
    i, j = cx.distance_gaussian(cx.grid_positions((20, 20)), cx.grid_positions((20, 20)),
                                0.5, 2.0, seed=4, periodic=(20, 20), allow_autapses=False)
    np.testing.assert_array_equal(c.i, i)
    np.testing.assert_array_equal(c.j, j)
    assert np.all(c.i != c.j)
    with pytest.raises(NetworkError, match="needs rule_params"):
        net.connect("sheet", "sheet", weights=5 * pA, rule="distance", name="bad",
                    rule_params=dict(p0=0.5))
    with pytest.raises(NetworkError, match="pos_pre has 100 positions for 400 neurons"):
        net.connect("sheet", "sheet", weights=5 * pA, rule="distance", name="bad2",
                    rule_params=dict(p0=0.5, sigma=1.0, pos_pre=(10, 10), pos_post=(20, 20)))


# ------------------------------------------------------------------- convolution
def _correlate_reference(x, K, stride, padding):
    """u[y', x', o] = sum_c correlate2d(zero-padded x[..., c], K[..., c, o], 'valid')[::s]."""
    (py, px), (sy, sx) = padding, stride
    xp = np.pad(x, ((py, py), (px, px), (0, 0)))
    out = []
    for o in range(K.shape[3]):
        acc = sum(signal.correlate2d(xp[:, :, c], K[:, :, c, o], mode="valid")
                  for c in range(K.shape[2]))
        out.append(acc[::sy, ::sx])
    return np.stack(out, axis=-1)


@pytest.mark.parametrize("shape,kshape,stride,padding", [
    ((9, 11, 2), (3, 3, 2, 3), (1, 1), (0, 0)),
    ((10, 8, 3), (3, 5, 3, 2), (2, 1), (1, 2)),
    ((12, 12, 1), (4, 4, 1, 2), (3, 3), (2, 2)),
    ((7, 7, 2), (5, 5, 2, 1), (1, 1), "same"),
])
def test_conv2d_weight_matrix_equals_correlate2d(shape, kshape, stride, padding):
    rng = np.random.default_rng(5)
    K = rng.normal(size=kshape)
    x = rng.normal(size=shape)
    i, j, w, out = cx.conv2d(shape, K, stride, padding)
    pad = ((kshape[0] - 1) // 2, (kshape[1] - 1) // 2) if padding == "same" else padding
    ref = _correlate_reference(x, K, stride, pad)
    assert out == ref.shape
    W = np.zeros((np.prod(shape), np.prod(out)))
    np.add.at(W, (i, j), w)
    np.testing.assert_allclose((W.T @ x.ravel()).reshape(out), ref, rtol=1e-12, atol=1e-12)
    # PyTorch's output size formula
    assert out[0] == (shape[0] + 2 * pad[0] - kshape[0]) // stride[0] + 1


def test_conv2d_network_summed_input_equals_correlate2d():
    """A binary 'image' of spikes at t = 0 through exp_current synapses: the post neurons'
    input one step later is exactly sum_k w_k (nothing has decayed yet in Brian2's order)."""
    rng = np.random.default_rng(8)
    shape, kshape, stride, pad = (8, 9, 2), (3, 3, 2, 2), (2, 2), (1, 1)
    K = rng.normal(size=kshape)
    image = rng.random(shape) < 0.4
    out = cx.conv2d_output_shape(shape, kshape, stride, pad)
    net = Network(dt=0.1 * ms, backend="runtime")
    net.spike_source("img", int(np.prod(shape)), np.flatnonzero(image.ravel()),
                     np.zeros(int(image.sum())) * ms)
    net.population("feat", "lif", int(np.prod(out)), params={"V_th": "1*volt"})
    net.connect("img", "feat", "exp_current", rule="conv2d",
                rule_params=dict(in_shape=shape, kernel=K * pA, stride=stride, padding=pad))
    net.record("feat", "I")
    res = net.run(0.3 * ms)
    I1 = np.asarray(res.traces["feat"]["I"][:, 1] / pA)
    ref = _correlate_reference(image.astype(float), K, stride, pad)
    np.testing.assert_allclose(I1.reshape(out), ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(NetworkError, match="output shape"):
        net.connect("img", "feat", "exp_current", rule="conv2d", name="bad",
                    rule_params=dict(in_shape=shape, kernel=K * pA, stride=1, padding=0))
