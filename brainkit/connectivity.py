"""Connection rules as pure numpy functions: every rule returns index arrays ``(i, j)`` (and,
for the convolution, the weight ``w`` of every synapse), drawn once with a seed when a network
is described.  :meth:`brainkit.Network.connect` uses them and builds the Brian2 ``Synapses``
with ``connect(i=..., j=...)``, so a compiled binary never re-draws its connectivity.

=============================  ==============================================================
:func:`all_to_all`             every pre to every post
:func:`one_to_one`             pre k to post k
:func:`fixed_probability`      each pair independently with probability p
:func:`fixed_in_degree`        each post neuron gets exactly k distinct random pre neurons
:func:`distance_gaussian`      2-D sheet, p(d) = p0 exp(-d^2 / (2 sigma^2)), optional torus
:func:`conv2d`                 a shared kernel over an image-shaped population (PyTorch's
                               ``Conv2d`` / TF's ``conv2d``: stride, zero padding)
:func:`grid_positions`         positions of neurons on a rectangular grid
:func:`brian2_connect`         pairs (and values) as Brian2's ``Synapses.connect`` makes them
                               from a condition, ``p`` and ``n`` (expressions of ``i``, ``j``)
:func:`rule_indices`           one connection's pairs from the arguments of
                               :meth:`brainkit.Network.connect` (which rule, its parameters)
=============================  ==============================================================

Indices of image-shaped populations follow numpy's C order of the shape ``(H, W, C)``:
neuron ``(y, x, c)`` has the index ``(y * W + x) * C + c``.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["all_to_all", "one_to_one", "fixed_probability", "fixed_in_degree",
           "grid_positions", "pairwise_distances", "distance_gaussian", "conv2d",
           "conv2d_output_shape", "brian2_connect", "is_condition", "rule_indices",
           "NAMED_RULES"]

#: the rules :func:`rule_indices` knows by name (any other ``rule`` is a Brian2 condition)
NAMED_RULES = ("all_to_all", "one_to_one", "distance", "conv2d")


def _n(n, what) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return int(n)


def all_to_all(n_pre: int, n_post: int, allow_autapses: bool = True):
    """Every pair ``(i, j)``; ``allow_autapses=False`` leaves out ``i == j``."""
    n_pre, n_post = _n(n_pre, "n_pre"), _n(n_post, "n_post")
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij"))
    if not allow_autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def one_to_one(n: int):
    """Pre neuron k to post neuron k."""
    n = _n(n, "n")
    return np.arange(n), np.arange(n)


def fixed_probability(n_pre: int, n_post: int, p: float, seed=None,
                      allow_autapses: bool = True):
    """Each pair independently with probability ``p`` (Bernoulli; the number of synapses is
    Binomial(n_pre n_post, p))."""
    n_pre, n_post = _n(n_pre, "n_pre"), _n(n_post, "n_post")
    if not 0 <= p <= 1:
        raise ValueError(f"connection probability p must lie in [0, 1], got {p}")
    rng = np.random.default_rng(seed)
    mask = rng.random((n_pre, n_post)) < p
    if not allow_autapses:
        np.fill_diagonal(mask, False)
    return np.nonzero(mask)


def fixed_in_degree(n_pre: int, n_post: int, k: int, seed=None, allow_autapses: bool = True):
    """Each post neuron ``j`` gets exactly ``k`` distinct pre neurons, drawn uniformly without
    replacement (so ``k <= n_pre``, or ``n_pre - 1`` without autapses).

    Returns ``(i, j)`` sorted by ``j``; ``np.bincount(j) == k`` for every post neuron.
    """
    n_pre, n_post, k = _n(n_pre, "n_pre"), _n(n_post, "n_post"), _n(k, "in-degree k")
    available = n_pre if allow_autapses else n_pre - 1
    if k > available:
        raise ValueError(f"in-degree k = {k} exceeds the {available} distinct pre neurons "
                         "available" + ("" if allow_autapses else " (autapses excluded)"))
    rng = np.random.default_rng(seed)
    if k == 0 or n_post == 0:
        return np.zeros(0, int), np.zeros(0, int)
    # the k smallest of n_pre random keys per post neuron: a uniform k-subset, vectorised over
    # blocks of post neurons (at most ~4e6 keys in memory at a time)
    block = max(1, 4_000_000 // max(n_pre, 1))
    pre = np.empty((n_post, k), dtype=np.int64)
    for start in range(0, n_post, block):
        stop = min(n_post, start + block)
        keys = rng.random((stop - start, n_pre))
        if not allow_autapses:
            post = np.arange(start, stop)
            inside = post < n_pre
            keys[np.flatnonzero(inside), post[inside]] = np.inf
        chunk = np.argpartition(keys, k - 1, axis=1)[:, :k]
        chunk.sort(axis=1)
        pre[start:stop] = chunk
    return pre.ravel(), np.repeat(np.arange(n_post), k)


def grid_positions(shape: Sequence[int], spacing: float = 1.0) -> np.ndarray:
    """Positions ``(n, 2)`` of ``rows x cols`` neurons on a grid with ``spacing``; neuron
    ``r * cols + c`` sits at ``(c * spacing, r * spacing)``."""
    if len(shape) != 2:
        raise ValueError(f"a 2-D grid shape is (rows, cols), got {tuple(shape)}")
    rows, cols = (_n(s, "grid size") for s in shape)
    y, x = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.column_stack([x.ravel(), y.ravel()]).astype(float) * spacing


def pairwise_distances(pos_pre: np.ndarray, pos_post: np.ndarray,
                       periodic: Optional[Sequence[float]] = None) -> np.ndarray:
    """Euclidean distances ``(n_pre, n_post)`` between 2-D positions; with
    ``periodic = (Lx, Ly)`` on a torus: each coordinate difference is wrapped,
    dx <- min(|dx|, Lx - |dx|)."""
    a, b = np.asarray(pos_pre, float), np.asarray(pos_post, float)
    for name, p in (("pre", a), ("post", b)):
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"{name} positions must have shape (n, 2), got {p.shape}")
    d = np.abs(a[:, None, :] - b[None, :, :])
    if periodic is not None:
        L = np.asarray(periodic, float)
        if L.shape != (2,) or np.any(L <= 0):
            raise ValueError(f"periodic must be the sheet's size (Lx, Ly) > 0, got {periodic}")
        d = np.mod(d, L)
        d = np.minimum(d, L - d)
    return np.sqrt((d ** 2).sum(axis=2))


def distance_gaussian(pos_pre, pos_post, p0: float, sigma: float, seed=None,
                      periodic: Optional[Sequence[float]] = None, allow_autapses: bool = True):
    """Distance-dependent random connectivity on a 2-D sheet:

    .. math::  p(d_{ij}) = p_0 \\exp\\left(-\\frac{d_{ij}^2}{2\\sigma^2}\\right)

    each pair drawn independently.  ``pos_pre``/``pos_post`` are ``(n, 2)`` arrays (e.g. from
    :func:`grid_positions`); ``periodic = (Lx, Ly)`` wraps distances on a torus.
    ``allow_autapses=False`` leaves out ``i == j`` (for a population connected to itself).
    """
    if not 0 <= p0 <= 1:
        raise ValueError(f"p0 must lie in [0, 1], got {p0}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    d = pairwise_distances(pos_pre, pos_post, periodic)
    prob = p0 * np.exp(-d ** 2 / (2 * sigma ** 2))
    rng = np.random.default_rng(seed)
    mask = rng.random(prob.shape) < prob
    if not allow_autapses:
        np.fill_diagonal(mask, False)
    return np.nonzero(mask)


def _pair(x, what) -> Tuple[int, int]:
    if np.ndim(x) == 0:
        x = (x, x)
    if len(x) != 2:
        raise ValueError(f"{what} must be an int or a pair (y, x), got {x!r}")
    return tuple(_n(int(v), what) for v in x)


def conv2d_output_shape(in_shape, kernel_shape, stride=1, padding=0) -> Tuple[int, int, int]:
    """``(H', W', C_out)`` of :func:`conv2d`:  H' = floor((H + 2 p_y - K_y) / s_y) + 1."""
    H, W, C_in = (int(v) for v in in_shape)
    Ky, Kx, C_in_k, C_out = (int(v) for v in kernel_shape)
    if C_in_k != C_in:
        raise ValueError(f"kernel has {C_in_k} input channels, the pre population {C_in} "
                         f"(shape {tuple(in_shape)})")
    sy, sx = _pair(stride, "stride")
    py, px = _pair(padding, "padding")
    if sy == 0 or sx == 0:
        raise ValueError("stride must be >= 1")
    Ho, Wo = (H + 2 * py - Ky) // sy + 1, (W + 2 * px - Kx) // sx + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"kernel {Ky}x{Kx} does not fit the padded {H + 2 * py}x{W + 2 * px} "
                         "input")
    return Ho, Wo, C_out


def conv2d(in_shape: Sequence[int], kernel, stride: Union[int, Sequence[int]] = 1,
           padding: Union[int, str, Sequence[int]] = 0):
    """A convolutional layer as synapses: the shared ``kernel`` of shape
    ``(K_y, K_x, C_in, C_out)`` over a pre population of shape ``in_shape = (H, W, C_in)``.

    The summed input of post neuron ``(y', x', o)`` is the cross-correlation of deep learning
    (PyTorch ``Conv2d``, TF ``conv2d``; no kernel flip) with zero padding:

    .. math::  u_{y'x'o} = \\sum_{c, a, b} K_{a b c o}\\, x_{(s_y y' + a - p_y),
               (s_x x' + b - p_x), c}

    terms with the pre position outside the image (in the padding) are left out.  ``padding``
    is an int, a pair, ``'valid'`` (0) or ``'same'`` (stride 1, odd kernel: (K - 1)/2).
    Zero kernel entries make no synapse.

    Returns
    -------
    i, j, w, out_shape
        pre and post indices (C order of ``(H, W, C)``), the weight of every synapse (with the
        kernel's units if it has any) and the post shape ``(H', W', C_out)``.
    """
    from brian2.units.fundamentalunits import Quantity

    unit = None
    if isinstance(kernel, Quantity):
        from brian2 import get_unit

        unit = get_unit(kernel.dim)
        K = np.asarray(kernel / unit, dtype=float)
    else:
        K = np.asarray(kernel, dtype=float)
    if K.ndim != 4:
        raise ValueError(f"kernel must have shape (K_y, K_x, C_in, C_out), got {K.shape}")
    if len(in_shape) != 3:
        raise ValueError(f"in_shape must be (H, W, C_in), got {tuple(in_shape)}")
    H, W, C_in = (_n(int(v), "in_shape") for v in in_shape)
    Ky, Kx = K.shape[:2]
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if _pair(stride, "stride") != (1, 1) or Ky % 2 == 0 or Kx % 2 == 0:
                raise ValueError("padding='same' needs stride 1 and an odd kernel size")
            padding = ((Ky - 1) // 2, (Kx - 1) // 2)
        else:
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    Ho, Wo, C_out = conv2d_output_shape((H, W, C_in), K.shape, stride, padding)
    sy, sx = _pair(stride, "stride")
    py, px = _pair(padding, "padding")
    yo, xo, a, b, c, o = np.meshgrid(np.arange(Ho), np.arange(Wo), np.arange(Ky), np.arange(Kx),
                                     np.arange(C_in), np.arange(C_out), indexing="ij")
    yi, xi = sy * yo + a - py, sx * xo + b - px
    w = K[a, b, c, o]
    keep = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W) & (w != 0)
    i = ((yi * W + xi) * C_in + c)[keep]
    j = ((yo * Wo + xo) * C_out + o)[keep]
    w = w[keep]
    order = np.lexsort((i, j))
    i, j, w = i[order].astype(int), j[order].astype(int), w[order]
    return i, j, (w * unit if unit is not None else w), (Ho, Wo, C_out)


def is_condition(rule) -> bool:
    """Whether ``rule`` is a Brian2 condition expression (``'i != j'``) rather than a rule's
    name: a string that is not one bare word."""
    return isinstance(rule, str) and re.fullmatch(r"\s*[A-Za-z_]\w*\s*", rule) is None


def brian2_connect(n_pre: int, n_post: int, *, condition: Optional[str] = None,
                   p: Union[float, str] = 1.0, n: Union[int, str] = 1, i=None, j=None,
                   values: Optional[Dict[str, Tuple[str, str]]] = None,
                   namespace: Optional[Dict[str, Any]] = None, seed: Optional[int] = None):
    """Synapses between ``n_pre`` and ``n_post`` neurons as Brian2 itself makes them:
    ``S.connect(condition=condition, p=p, n=n)`` (or ``S.connect(i=i, j=j)``), then
    ``S.<var> = expression`` for every ``values`` entry ``{name: (unit, expression)}`` (a
    variable of that unit, named ``name`` in errors and results),
    evaluated on Brian2's runtime device with numpy code generation after
    ``brian2.seed(seed)``.  The same seed gives the same synapses and values as a plain
    Brian2 script doing the same (with ``prefs.codegen.target = 'numpy'``).

    Expressions know ``i``, ``j``, ``N_pre``, ``N_post``, Brian2's functions (``rand()``,
    ``exp``, ...), constants and units, and the names in ``namespace``; not neuron
    variables (``v_pre``).  With a ``seed`` numpy's global random state is left as it was.

    Returns ``(i, j, {name: values})``: copies; values with their units.
    Raises ValueError naming the expression that is wrong.
    """
    import brian2

    from .engine import runtime_device

    values = dict(values or {})
    given = [("rule", condition), ("p", p), ("n", n)] + [(v, e) for v, (_, e) in values.items()]
    exprs = [(what, e) for what, e in given if isinstance(e, str)]
    for what, e in exprs:
        try:
            ast.parse(e.strip(), mode="eval")
        except SyntaxError:
            raise ValueError(f"{what} {e!r} is not an expression") from None
    if not isinstance(p, str) and not 0 <= p <= 1:
        raise ValueError(f"connection probability p must lie in [0, 1], got {p}")
    if not isinstance(n, str):
        n = _n(n, "n (synapses per pair)")
    state = np.random.get_state() if seed is not None else None
    step = "connect"
    try:
        with runtime_device("numpy"):
            if seed is not None:
                brian2.seed(seed)
            pre, post = brian2.NeuronGroup(n_pre, ""), brian2.NeuronGroup(n_post, "")
            var = {name: f"value{k}" for k, name in enumerate(values)}  # not Brian2's names
            S = brian2.Synapses(pre, post, "\n".join(f"{var[name]} : {unit}"
                                                     for name, (unit, _) in values.items()),
                                namespace=dict(namespace or {}))
            for obj in (pre, post, S):  # never run: no "unused object" warning when deleted
                obj._network = "brainkit.connectivity.brian2_connect"
            if i is not None:
                S.connect(i=np.asarray(i, dtype=int), j=np.asarray(j, dtype=int))
            else:
                S.connect(condition=condition, p=p, n=n)
            for name, (_, e) in values.items():
                step = name
                setattr(S, var[name], e)
            return (np.array(S.i[:], dtype=int), np.array(S.j[:], dtype=int),
                    {name: _copy(getattr(S, var[name])[:]) for name in values})
    except Exception as exc:  # noqa: BLE001 - Brian2's error, said as one line
        raise ValueError(_expression_error(exc, step, exprs)) from None
    finally:
        if state is not None:
            np.random.set_state(state)


def _copy(values):
    from brian2.units.fundamentalunits import Quantity

    if isinstance(values, Quantity):
        return Quantity(np.array(values, copy=True), dim=values.dim)
    return np.array(values, copy=True)


def _expression_error(exc, step, exprs) -> str:
    """One line for Brian2's error ``exc`` while it did ``step`` ('connect' or a variable)."""
    from brian2.utils.stringtools import get_identifiers

    msg = str(exc).strip().strip("'\"").splitlines()[0] if str(exc) else type(exc).__name__
    unknown = re.search(r'identifier "(\w+)" could not be resolved', msg)
    if unknown:
        name = unknown.group(1)
        what, e = next(((w, e) for w, e in exprs if name in get_identifiers(e)), exprs[0])
        hint = ("neuron variables are not available" if name.endswith(("_pre", "_post"))
                else "give its value in namespace={...}")
        return (f"{what} {e!r}: unknown identifier '{name}' ({hint}; expressions know i, j, "
                "N_pre, N_post, Brian2's functions, constants and units)")
    units = re.search(r"expected unit (.+) \(unit is (.+)\)", msg)
    if units:
        e = dict(exprs)[step]
        return f"{step} {e!r} has units {units.group(2)}, expected {units.group(1)}"
    if step == "connect":
        said = ", ".join(f"{w}={e!r}" for w, e in exprs if w in ("rule", "p", "n"))
        return f"{said}: {msg}"
    return f"{step} {dict(exprs)[step]!r}: {msg}"


def rule_indices(n_pre: int, n_post: int, *, weights=None, i=None, j=None,
                 rule: Optional[str] = None, p: Union[float, str, None] = None,
                 in_degree: Optional[int] = None, rule_params=None, seed=None,
                 n: Union[int, str] = 1, namespace: Optional[Dict[str, Any]] = None,
                 weight_unit: Optional[str] = None):
    """The pairs of one connection, described as :meth:`brainkit.Network.connect` takes it,
    in this order of precedence: a weight matrix ``weights`` (n_pre, n_post) (its non-zero
    entries); index arrays ``i``, ``j``; a Brian2 condition ``rule`` (``'i != j'``), a ``p``
    given as an expression or ``n`` other than 1, drawn by Brian2 itself
    (:func:`brian2_connect`: among the pairs meeting the condition, each with probability
    ``p``, ``n`` synapses per pair; ``rule='one_to_one'`` with ``p`` is the condition
    ``'i == j'``); ``rule='one_to_one'``; ``in_degree=k`` (:func:`fixed_in_degree`);
    ``rule='distance'`` (:func:`distance_gaussian`, ``rule_params`` ``p0``, ``sigma``,
    ``pos_pre``, ``pos_post`` (positions (n, 2) or a grid shape), optional ``periodic``,
    ``autapses``); ``rule='conv2d'`` (:func:`conv2d`, ``rule_params`` ``in_shape``,
    ``kernel``, optional ``stride``, ``padding``); a probability ``p``
    (:func:`fixed_probability`); otherwise ``rule='all_to_all'``.  Random rules draw with
    ``seed``.

    ``weights`` given as a Brian2 expression (``'rand()*10*pA'``) is evaluated by Brian2 for
    every synapse (after the pairs, with ``seed``), as a variable of ``weight_unit`` (a unit
    string, ``'amp'``); ``namespace`` holds other names the expressions use.

    Returns ``(i, j, weights)``: ``weights`` as given, evaluated (an expression) or the
    kernel's (``conv2d``).  Raises ValueError naming what is wrong.
    """
    condition = is_condition(rule)
    if rule is not None and not condition and rule not in NAMED_RULES:
        raise ValueError(f"unknown rule '{rule}' (named rules: {', '.join(NAMED_RULES)}; or "
                         "a Brian2 condition such as 'i != j')")
    if rule in ("distance", "conv2d") and (p is not None or not _is_one(n)):
        raise ValueError(f"rule '{rule}' takes no p or n (its rule_params say which pairs)")
    by_brian2 = condition or isinstance(p, str) or not _is_one(n) or (
        rule == "one_to_one" and p is not None)
    values = {}
    if isinstance(weights, str):
        if weight_unit is None:
            raise ValueError("weights given as an expression need their weight_unit")
        values = {"weights": (weight_unit, weights)}
    if (weights is not None and np.ndim(weights) == 2) or i is not None or j is not None:
        if by_brian2:
            raise ValueError("give the pairs one way: a weight matrix or i, j, or a rule "
                             "(a condition, p, n)")
    if weights is not None and np.ndim(weights) == 2:
        if np.shape(weights) != (n_pre, n_post):
            raise ValueError(f"weight matrix has shape {np.shape(weights)}, expected "
                             f"({n_pre}, {n_post})")
        ii, jj = np.nonzero(np.asarray(weights))
    elif i is not None or j is not None:
        ii, jj = np.asarray(i, dtype=int), np.asarray(j, dtype=int)
        if ii.shape != jj.shape:
            raise ValueError("i and j differ in length")
    elif by_brian2:
        if in_degree is not None:
            raise ValueError("give one rule: in_degree, p or rule")
        if rule_params:
            raise ValueError("rule_params are for the named rules; give the names a condition "
                             "uses in namespace=")
        ii, jj, got = brian2_connect(
            n_pre, n_post, condition="i == j" if rule == "one_to_one" else (
                rule if condition else None), p=1.0 if p is None else p, n=n,
            values=values, namespace=namespace, seed=seed)
        return ii, jj, got.get("weights", weights)
    elif rule == "one_to_one":
        if n_pre != n_post:
            raise ValueError(f"one_to_one needs equal sizes, got {n_pre} and {n_post}")
        ii, jj = one_to_one(n_pre)
    elif in_degree is not None:
        if p is not None or rule is not None:
            raise ValueError("give one rule: in_degree, p or rule")
        ii, jj = fixed_in_degree(n_pre, n_post, in_degree, seed=seed)
    elif rule == "distance":
        ii, jj = _distance_rule(n_pre, n_post, dict(rule_params or {}), seed)
    elif rule == "conv2d":
        ii, jj, weights = _conv2d_rule(n_pre, n_post, dict(rule_params or {}), weights)
    elif p is not None:
        ii, jj = fixed_probability(n_pre, n_post, p, seed=seed)
    else:
        ii, jj = all_to_all(n_pre, n_post)
    if len(ii) and (ii.min() < 0 or ii.max() >= n_pre or jj.min() < 0 or jj.max() >= n_post):
        raise ValueError("indices outside the populations")
    if values:
        weights = brian2_connect(n_pre, n_post, i=ii, j=jj, values=values,
                                 namespace=namespace, seed=seed)[2]["weights"]
    return ii, jj, weights


def _is_one(n) -> bool:
    return not isinstance(n, str) and n == 1


def _distance_rule(n_pre, n_post, rp, seed):
    missing = {"p0", "sigma", "pos_pre", "pos_post"} - set(rp)
    if missing:
        raise ValueError(f"rule 'distance' needs rule_params {sorted(missing)}")
    pos = []
    for key, n in (("pos_pre", n_pre), ("pos_post", n_post)):
        p = rp.pop(key)
        p = grid_positions(p) if np.ndim(p) == 1 else np.asarray(p, float)
        if len(p) != n:
            raise ValueError(f"{key} has {len(p)} positions for {n} neurons")
        pos.append(p)
    autapses = rp.pop("autapses", True)
    ii, jj = distance_gaussian(pos[0], pos[1], rp.pop("p0"), rp.pop("sigma"), seed=seed,
                               periodic=rp.pop("periodic", None), allow_autapses=autapses)
    _no_more(rp, "distance")
    return ii, jj


def _conv2d_rule(n_pre, n_post, rp, weights):
    missing = {"in_shape", "kernel"} - set(rp)
    if missing:
        raise ValueError(f"rule 'conv2d' needs rule_params {sorted(missing)}")
    if weights is not None:
        raise ValueError("rule 'conv2d' takes its weights from the kernel; give no weights")
    in_shape = tuple(rp.pop("in_shape"))
    if int(np.prod(in_shape)) != n_pre:
        raise ValueError(f"in_shape {in_shape} has {int(np.prod(in_shape))} neurons, the pre "
                         f"population {n_pre}")
    ii, jj, weights, out = conv2d(in_shape, rp.pop("kernel"), rp.pop("stride", 1),
                                  rp.pop("padding", 0))
    if int(np.prod(out)) != n_post:
        raise ValueError(f"the output shape {out} has {int(np.prod(out))} neurons, the post "
                         f"population {n_post}")
    _no_more(rp, "conv2d")
    return ii, jj, weights


def _no_more(rp, rule):
    if rp:
        raise ValueError(f"unknown rule_params {sorted(rp)} for rule '{rule}'")
