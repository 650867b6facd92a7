"""The discrete adjoint's backward pass as one compiled loop, generated from the model's sympy
Jacobians and compiled by numba (LLVM).

:mod:`brainkit.training.adjoint` derives the partial derivatives of the Euler map with sympy;
this module writes them, with common subexpressions shared (``sympy.cse``) and every gated
expression computed only inside its active zone, into the source of one Python function per
model, and the whole reverse recursion around it::

    for n = T-1 .. 0, every trial b and neuron i (one pass, nothing stored per step):
        the Jacobian entries at (y_n, I_n)[b, i]
        in the zone:  r = W[:, i] . P_J[b]             (a contiguous row of W^T)
                      dL/dW^T[i, :] += D_n[b, i] P_J[b]   (event-driven outer product)
        q      = dt (sum_m dh_m/dI P_m + dD/dI r)
        P_k   <- P_k + dt (sum_m dh_m/dy_k P_m + dD/dy_k r) + [O^T dl_n/do_n]_k
        P_J'   = (1 + dt a) P_J + q;   dL/dI0 += q;   dL/dU += q x_n^T
        dL/dp += dt (sum_m dh_m/dp P_m + da/dp P_J J_n + dD/dp r)   (trainable constants)

The coupling through ``W`` costs work only for in-zone neurons (a few % of neuron-steps), as
contiguous dot products and row updates the compiler vectorises; everything else is per
neuron.  The batch's trials are split into ``CHUNKS`` chunks, each with its own gradient sums,
which the threads there are share out (:func:`thread_count`; the same numbers for any count).
numba compiles the generated source at the first call of a process (a few seconds) and
keeps the machine code in a cache folder beside its source file
(``$BRAINKIT_BUILD_CACHE/adjoint_kernels``, see :mod:`brainkit.build_cache`) for later processes.
Arithmetic is IEEE (numba's default, no fast-math), float64.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import sympy
from sympy.printing.pycode import PythonCodePrinter

from ..fileio import atomic_write

__all__ = ["backward_kernel", "kernel_source", "thread_count"]

_KERNELS: Dict[str, Callable] = {}
#: (step, trial) pairs whose weight-gradient terms are added together, row by row of dL/dW^T:
#: each row is read and written once per DW_HISTORY / trials steps of a chunk instead of once
#: per in-zone event (the history kept, 2 x DW_HISTORY x N floats, stays in cache)
DW_HISTORY = 128
#: the batch's trials split into this many chunks (of consecutive trials), each with its own
#: gradient sums, run in parallel by the threads there are; fixed, not the thread count, so
#: that the gradients (their rounding) do not depend on the machine's cores
CHUNKS = 8


class _Printer(PythonCodePrinter):
    """Python source numba compiles: ``math`` functions, Brian2's piecewise-constant
    functions as their values (their derivatives are already 0)."""

    def _print__int0(self, e):  # int(x): truncation towards zero; int(condition): 1 or 0
        a = e.args[0]
        if isinstance(a, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational)):
            return f"(1.0 if {self._print(a)} else 0.0)"
        return f"float(math.trunc({self._print(a)}))"

    def _print__floor0(self, e):
        return f"float(math.floor({self._print(e.args[0])}))"

    def _print__ceil0(self, e):
        return f"float(math.ceil({self._print(e.args[0])}))"

    def _print__sign0(self, e):
        a = self._print(e.args[0])
        return f"(1.0 if ({a}) > 0 else (-1.0 if ({a}) < 0 else 0.0))"


def _code(expr) -> str:
    return _Printer({"fully_qualified_modules": True}).doprint(expr)


def _name(key) -> str:
    return "e_" + "_".join(str(k) for k in key)


def _expression_block(system, keys: List[tuple], exprs: Dict[tuple, Any], rename,
                      indent: str) -> List[str]:
    """Assignments of ``e_<key>`` for ``keys``: ungated ones always, each group of gated ones
    (those that vanish where their ``int(...)`` gates are 0) inside ``if <gate> != 0``.
    ``rename`` maps the model's symbols to the kernel's variable names."""
    groups: Dict[tuple, List[tuple]] = {}
    for k in keys:
        groups.setdefault(system.gates(str(k), exprs[k]), []).append(k)
    lines: List[str] = []
    for g, (gates, members) in enumerate(sorted(groups.items(), key=lambda kv: len(kv[0]))):
        pad = indent
        if gates:
            cond = " or ".join(f"({_code(gt.xreplace(rename))}) != 0.0" for gt in gates)
            lines += [f"{indent}{_name(k)} = 0.0" for k in members]
            lines.append(f"{indent}if {cond}:")
            pad = indent + "    "
        subs, reduced = sympy.cse([sympy.sympify(exprs[k]).xreplace(rename) for k in members],
                                  symbols=sympy.numbered_symbols(f"c{g}_"))
        lines += [f"{pad}{s} = {_code(v)}" for s, v in subs]
        lines += [f"{pad}{_name(k)} = {_code(v)}" for k, v in zip(members, reduced)]
    return lines


# the backward loop over C chunks of consecutive trials (CHUNKS; the threads share them out),
# each chunk with its own gradient sums, added up in chunk order (the same numbers whatever
# the threads); one chunk: the serial loop itself, with nothing copied
_PARALLEL_DRIVER = """
@njit(cache=True, fastmath=False, nogil=True, parallel=True)
def backward(C, Ys, I, xt, G, O, WT, U, I0, consts, ap, decay, dt, trace_index,
             P, PJ, dU, dI0, dWT, dconst):
    T, B, N = I.shape
    if C == 1:
        return chunk(0, B, Ys, I, xt, G, O, WT, U, I0, consts, ap, decay, dt, trace_index,
                     P, PJ, dU, dI0, dWT, dconst)
    zone = np.zeros(C, np.int64)
    dU_c = np.zeros((C, dU.shape[0], dU.shape[1]))
    dI0_c = np.zeros((C, N))
    dWT_c = np.zeros((C, N, N))
    dconst_c = np.zeros((C, dconst.shape[0]))
    for c in prange(C):
        zone[c] = chunk(c * B // C, (c + 1) * B // C, Ys, I, xt, G, O, WT, U, I0, consts, ap,
                        decay, dt, trace_index, P, PJ, dU_c[c], dI0_c[c], dWT_c[c],
                        dconst_c[c])
    for c in range(C):
        dU += dU_c[c]
        dI0 += dI0_c[c]
        dWT += dWT_c[c]
        dconst += dconst_c[c]
    return zone.sum()
"""


def kernel_source(system) -> str:
    """The Python source of the backward loop for ``system`` (a
    :class:`~brainkit.training.adjoint.DiscreteSystem`); see the module docstring."""
    S = list(system.states)
    K = len(S)
    consts = list(system.constants)
    exprs = system.jacobian_exprs()
    keys = list(exprs)
    # the model's names get a prefix: they cannot clash with the loop's own (n, b, i, r, q, ...)
    names = S + [system.input_name] + consts
    rename = {system.symbols[k]: sympy.Symbol(f"v_{k}") for k in names}
    sym_names = [f"v_{k}" for k in S + [system.input_name]]
    coupling = [k for k in keys if k[0] in ("Dy", "DI", "Dp")]
    L = ["import math", "import numpy as np", "from numba import njit, prange", "",
         "@njit(cache=True, fastmath=False, nogil=True)",
         "def chunk(b0, b1, Ys, I, xt, G, O, WT, U, I0, consts, ap, decay, dt, trace_index,",
         "          P, PJ, dU, dI0, dWT, dconst):",
         "    T, B, N = I.shape",
         "    n_in = xt.shape[2]",
         "    n_out = G.shape[2]",
         f"    K = {K}",
         "    PJn = np.zeros_like(PJ)",
         "    nb = b1 - b0",
         f"    CH = max(1, {DW_HISTORY} // nb)",
         "    Dh = np.zeros((CH, nb, N))    # D_n of the last CH steps",
         "    PJh = np.empty((CH, nb, N))   # lambda_{J,n+1} of the last CH steps",
         "    n_zone = 0"]
    L += [f"    v_{p} = consts[{j}]" for j, p in enumerate(consts)]
    L += [f"    Y{k} = Ys[{k}]" for k in range(K)]
    L += ["    for n in range(T - 1, -1, -1):",
          "        c = (T - 1 - n) % CH",
          "        PJh[c] = PJ[b0:b1]"]
    L += [f"        acc_{j} = 0.0" for j in range(len(consts))]
    L += ["        for b in range(b0, b1):",
          "            pj = PJ[b]",
          "            for i in range(N):"]
    ind = " " * 16
    L += [f"{ind}{sym_names[k]} = Y{k}[n, b, i]" for k in range(K)]
    L += [f"{ind}{sym_names[K]} = I[n, b, i]"]
    L += _expression_block(system, keys, exprs, rename, ind)
    zone = " or ".join(f"{_name(k)} != 0.0" for k in coupling) or "False"
    L += [f"{ind}r = 0.0",
          f"{ind}if {zone}:",
          f"{ind}    n_zone += 1",
          f"{ind}    r = np.dot(WT[i], pj)",
          f"{ind}Dh[c, b - b0, i] = {_name(('D',))}"]
    # the trainable constants: lambda_{n+1} . d(map)/dp
    if consts:
        L += [f"{ind}J = I[n, b, i] - I0[i]",
              f"{ind}for k in range(n_in):",
              f"{ind}    J -= U[i, k] * xt[n, b, k]"]
    for j, p in enumerate(consts):
        terms = [f"{_name(('hp', m, p))} * P[{S.index(m)}, b, i]"
                 for m in S if ("hp", m, p) in exprs]
        terms.append(f"ap[{j}] * pj[i] * J")
        if ("Dp", p) in exprs:
            terms.append(f"{_name(('Dp', p))} * r")
        L.append(f"{ind}acc_{j} += " + " + ".join(terms))
    # q = dL/dI_n
    q = [f"{_name(('hI', m))} * P[{S.index(m)}, b, i]" for m in S if ("hI", m) in exprs]
    if ("DI",) in exprs:
        q.append(f"{_name(('DI',))} * r")
    L.append(f"{ind}q = dt * ({' + '.join(q) or '0.0'})")
    # lambda_{y,n}
    for k in S:
        terms = [f"{_name(('A', m, k))} * P[{S.index(m)}, b, i]"
                 for m in S if ("A", m, k) in exprs]
        if ("Dy", k) in exprs:
            terms.append(f"{_name(('Dy', k))} * r")
        rhs = f"P[{S.index(k)}, b, i] + dt * ({' + '.join(terms)})" if terms \
            else f"P[{S.index(k)}, b, i]"
        L.append(f"{ind}new{S.index(k)} = {rhs}")
    L += [f"{ind}ro = 0.0",
          f"{ind}for o in range(n_out):",
          f"{ind}    ro += G[n, b, o] * O[o, i]"]
    for k in range(K):
        L.append(f"{ind}P[{k}, b, i] = new{k} + (ro if trace_index == {k} else 0.0)")
    L += [f"{ind}PJn[b, i] = decay * pj[i] + q",
          f"{ind}dI0[i] += q",
          f"{ind}for k in range(n_in):",
          f"{ind}    dU[i, k] += q * xt[n, b, k]"]
    L += ["        PJ, PJn = PJn, PJ",
          "        if c == CH - 1 or n == 0:  # dL/dW^T[i] += D_n[b, i] lambda_{J,n+1}[b]",
          "            for i in range(N):",
          "                drow = dWT[i]",
          "                for cc in range(c + 1):",
          "                    for bb in range(nb):",
          "                        d = Dh[cc, bb, i]",
          "                        if d != 0.0:",
          "                            pr = PJh[cc, bb]",
          "                            for j in range(N):",
          "                                drow[j] += d * pr[j]"]
    L += [f"        dconst[{j}] += dt * acc_{j}" for j in range(len(consts))]
    L += ["    return n_zone", ""]
    L += _PARALLEL_DRIVER.splitlines()
    return "\n".join(L)


def _kernel_folder() -> str:
    from ..build_cache import cache_dir

    base = cache_dir()
    folder = os.path.join(str(base), "adjoint_kernels") if base is not None else \
        os.path.join(tempfile.gettempdir(), f"brainkit-adjoint-kernels-{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    return folder


def backward_kernel(system) -> Callable:
    """The compiled backward loop of ``system`` (one per source text and process; numba's
    machine code is cached on disk beside the source)."""
    import numba

    src = kernel_source(system)
    key = hashlib.sha256((src + numba.__version__ + np.__version__).encode()).hexdigest()[:24]
    if key not in _KERNELS:
        path = os.path.join(_kernel_folder(), f"adjoint_{key}.py")
        if not os.path.exists(path):  # atomic: a parallel process sees all of it or nothing
            with atomic_write(path, suffix=".py.tmp") as tmp:
                with open(tmp, "w") as f:
                    f.write(src)
        name = f"brainkit_adjoint_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        # registered: numba's on-disk cache finds the function's module again by its name
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _KERNELS[key] = module.backward
    return _KERNELS[key]


def thread_count(threads: Optional[int] = None) -> int:
    """Threads of a training run: ``threads`` if given, else ``$OMP_NUM_THREADS`` (the usual
    way to ask for threads; Dask's workers set it to 1), else 1; never more than numba's
    ``NUMBA_NUM_THREADS`` (the cores).  One by default: a small network's steps get slower
    on two (measured: batch 16 x 100 neurons 0.43 -> 0.47 s per step; 300 neurons
    1.19 -> 0.78 s, 1000 neurons 5.2 -> 3.4 s; ``benchmarks/bench_training.py --threads``)."""
    import numba

    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else 1
    if int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return min(int(threads), numba.config.NUMBA_NUM_THREADS)


def run_backward(system, states: Dict[str, np.ndarray], I: np.ndarray, x: np.ndarray,
                 params: Dict[str, np.ndarray], dl_do: np.ndarray, dt: float,
                 threads: Optional[int] = None
                 ) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """Gradients of ``U, W, O, I0`` and the trainable constants (see
    :func:`brainkit.training.adjoint.adjoint_gradients`, which documents the arguments); the
    trials of the batch run on :func:`thread_count` threads."""
    import numba

    U, W, O, I0 = (np.ascontiguousarray(params[k], dtype=np.float64)
                   for k in ("U", "W", "O", "I0"))
    T, B, N = I.shape
    S = list(system.states)
    consts = list(system.constants)
    system.set_constants({k: params[k] for k in consts if k in params})
    jac_ap = [float(system.derivative(system.a_expr, system.symbols[p]).xreplace(
        {system.symbols[k]: system.values[k] for k in consts})) for p in consts]
    Ys = tuple(np.ascontiguousarray(states[k], dtype=np.float64) for k in S)
    G = np.ascontiguousarray(np.transpose(dl_do, (1, 0, 2)))  # (T, B, n_out)
    xt = np.ascontiguousarray(np.transpose(x, (1, 0, 2)))      # (T, B, n_in)
    WT = np.ascontiguousarray(W.T)
    dU, dI0, dWT = np.zeros_like(U), np.zeros_like(I0), np.zeros_like(W)
    dconst = np.zeros(len(consts))
    P = np.zeros((len(S), B, N))
    PJ = np.zeros((B, N))
    kernel = backward_kernel(system)
    n_threads = thread_count(threads)
    before = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        n_zone = kernel(min(CHUNKS, B), Ys, np.ascontiguousarray(I, dtype=np.float64), xt,
                        G, O, WT, U, I0,
                        np.array([system.values[k] for k in consts], dtype=np.float64),
                        np.array(jac_ap, dtype=np.float64), 1.0 + dt * system.a, dt,
                        S.index(system.trace), P, PJ, dU, dI0, dWT, dconst)
    finally:
        numba.set_num_threads(before)
    dW = np.ascontiguousarray(dWT.T)
    dW *= dt
    dO = np.einsum("tbo,tbn->on", G, states[system.trace], optimize=True)
    grads = {"U": dU, "W": dW, "O": dO, "I0": dI0}
    grads.update({k: np.float64(v) for k, v in zip(consts, dconst)})
    return grads, {"zone_fraction": n_zone / float(T * B * N)}
