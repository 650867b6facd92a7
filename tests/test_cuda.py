"""The cuda_standalone backend (brian2cuda): on any machine with nvcc, brainkit generates the
CUDA project of a network and compiles it; where a GPU exists the binary runs and simulates
what cpp_standalone simulates; without one, running raises GPUNotFound.

Networks: the CUBA benchmark network of Brette et al. (2007) (LIF + exponential currents,
``benchmarks/gpu_check.py``'s, which is ``bench_networks.py``'s with a backend) and the
training network's forward pass (:class:`RecurrentSNN`, theta neurons, gated synapses).

Fast (default): the project is generated from the model (the kernels of the neuron group and
of each synapse pathway exist and update the model's variables) and ``make`` compiles its
neuron and synapse kernels with nvcc and brainkit's flags (one object file each, ~20 s).
Long (``-m long``): the whole project compiles and links (a ``main`` binary: minutes on two
cores); then it runs where a GPU exists and its spikes are compared with cpp_standalone's,
or ``run`` raises :class:`~brainkit.backends.GPUNotFound` where none does.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("brian2cuda", reason="cuda_standalone needs brainkit[cuda] (brian2cuda)")

from brian2 import ms  # noqa: E402

from brainkit.backends import (BackendNotAvailable, GPUNotFound, check_backend,  # noqa: E402
                               cuda_gpus)

try:
    check_backend("cuda_standalone")
except BackendNotAvailable as exc:  # no nvcc or no cuRAND: nothing of this file can run
    pytest.skip(str(exc), allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import gpu_check  # noqa: E402
finally:
    sys.path.pop(0)

GPU = bool(cuda_gpus())
N_CUBA = 1000  # 800 excitatory, 200 inhibitory, p = 0.02 (in-degree 20)


def _make(project_dir, *targets):
    """Run the generated makefile for ``targets`` (object files), failing with its output."""
    proc = subprocess.run(["make", "-C", project_dir, *targets], capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for t in targets:
        assert os.path.getsize(os.path.join(project_dir, t)) > 1000, t


def _kernel_source(project_dir, name):
    with open(os.path.join(project_dir, "code_objects", name)) as f:
        return f.read()


@pytest.mark.long  # 30-50 s of nvcc; the training project below compiles in the default run
def test_cuda_cuba_project_is_the_models_and_its_kernels_compile_with_nvcc(tmp_path):
    net = gpu_check.benchmark_network("cuba", N_CUBA, "cuda_standalone",
                                      build_dir=str(tmp_path / "cuba"))
    engine = net.build(20 * ms, compile=False)
    d = engine.project_dir
    assert engine.generated and not engine.compiled
    files = set(os.listdir(os.path.join(d, "code_objects")))
    group = net.populations["P"]
    # the neuron group: state update, threshold, reset; each connection: its pathway kernel
    # and the creation of its synapses from the index arrays; the spike monitor
    names = {f[:-3] for f in files if f.endswith(".cu")}
    for kind in ("stateupdater", "spike_thresholder", "spike_resetter"):
        assert any(n.startswith("P_") and n.endswith(f"{kind}_codeobject") for n in names), kind
    pathways = sorted(n for n in names if n.endswith("_pre_codeobject"))
    assert len(pathways) == len(net.connections) == 2
    assert sum(n.endswith("synapses_create_array_codeobject") for n in names) == 2
    upd_file = next(f for f in files if f.startswith("P_") and
                    f.endswith("stateupdater_codeobject.cu"))
    upd = _kernel_source(d, upd_file)
    assert "__global__" in upd
    # it integrates the LIF's voltage and both exponential currents of the model (the group's
    # Brian2 name, 'P_<k>', counts the groups named 'P' made before in this process)
    gname = upd_file[: -len("_stateupdater_codeobject.cu")]
    assert f"_ptr_array_{gname}_v" in upd and f"_ptr_array_{gname}_lastspike" in upd
    for c in net.connections.values():
        assert f"I_syn{c.suffix}" in upd
    with open(os.path.join(d, "makefile")) as f:
        makefile = f.read()
    assert "-std=c++17" in makefile and "-use_fast_math" not in makefile
    assert "-arch=sm_" in makefile
    _make(d, f"code_objects/{pathways[0]}.o",
          next(f"code_objects/{n}.o" for n in names if n.startswith("P_")
               and n.endswith("stateupdater_codeobject")))
    with pytest.raises(RuntimeError, match="generated but not compiled"):
        engine.run()
    assert group.n == N_CUBA


def test_cuda_training_forward_project_is_the_models_and_compiles_with_nvcc(tmp_path):
    from brainkit.training.recurrent import RecurrentSNN

    net = RecurrentSNN(2, 8, 2, 50, batch=2, backend="cuda_standalone",
                       build_dir=str(tmp_path / "rsnn"))
    engine = net.build(compile=False)
    d = engine.project_dir
    names = {f[:-3] for f in os.listdir(os.path.join(d, "code_objects")) if f.endswith(".cu")}
    upd = next(n for n in names if n.startswith("rsnn_") and n.endswith("stateupdater_codeobject"))
    # the gated pathway (zone event -> J_in), the batch-replicated synapses, the monitor
    assert any(n.endswith("zone_thresholder_codeobject") for n in names)
    assert any(n.startswith("rsnn_rec_") and n.endswith("_pre_codeobject") for n in names)
    assert any(n.startswith("rsnn_mon_") for n in names)
    src = _kernel_source(d, upd + ".cu")
    for var in net.system.states:  # the differentiated states of the theta neuron + synapse
        assert f"_{var}" in src, var
    _make(d, f"code_objects/{upd}.o")


@pytest.mark.long
def test_cuda_cuba_network_compiles_and_runs_like_cpp_standalone(tmp_path):
    """The whole CUBA project compiles and links; on a GPU its spikes are cpp_standalone's
    (identical for the first 20 ms; total counts within 10 % over 200 ms: the network is
    chaotic and GPU rounding differs), without one run() says there is no GPU."""
    T = 200 * ms
    net = gpu_check.benchmark_network("cuba", N_CUBA, "cuda_standalone",
                                      build_dir=str(tmp_path / "cuda"))
    engine = net.build(T)
    assert engine.compiled and os.path.getsize(os.path.join(engine.project_dir, "main")) > 1e5
    print(f"cuda_standalone CUBA compile: {engine.compile_s:.1f} s")
    if not GPU:
        with pytest.raises(GPUNotFound, match="NVIDIA GPU"):
            net.run(T)
        return
    res = net.run(T)
    ref = gpu_check.benchmark_network("cuba", N_CUBA, "cpp_standalone",
                                      build_dir=str(tmp_path / "cpp")).run(T)
    a = (np.asarray(ref.spikes["P"][0]), np.asarray(ref.spikes["P"][1] / ms))
    b = (np.asarray(res.spikes["P"][0]), np.asarray(res.spikes["P"][1] / ms))
    cmp = gpu_check.compare_networks(a, b)
    assert cmp["ok"], cmp
    assert cmp["identical"] or cmp["identical_until_ms"] > 20, cmp


@pytest.mark.long
def test_cuda_training_forward_pass_compiles_and_matches_cpp_standalone(tmp_path):
    """The whole RecurrentSNN project compiles and links; on a GPU one forward pass (new
    weights and inputs passed as run arguments) gives cpp_standalone's readouts and spikes,
    without one forward() says there is no GPU."""
    steps, batch = 200, 2
    cuda, params, x = gpu_check.training_network(8, batch, steps, "cuda_standalone",
                                                 build_dir=str(tmp_path / "cuda"))
    engine = cuda.build()
    assert engine.compiled and os.path.getsize(os.path.join(engine.project_dir, "main")) > 1e5
    print(f"cuda_standalone RecurrentSNN compile: {engine.compile_s:.1f} s")
    if not GPU:
        with pytest.raises(GPUNotFound, match="NVIDIA GPU"):
            cuda.forward(params, x)
        return
    cpp, _, _ = gpu_check.training_network(8, batch, steps, "cpp_standalone",
                                           build_dir=str(tmp_path / "cpp"))
    cmp = gpu_check.compare_training(cpp.forward(params, x), cuda.forward(params, x))
    assert cmp["ok"] and cmp["identical_spikes"], cmp
