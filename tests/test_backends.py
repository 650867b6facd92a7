"""Backends by name: unknown names and brian2genn are clear errors; the CUDA machinery finds
GPUs from nvidia-smi's own output, names what is missing (nvcc, a GPU) and sets brian2cuda's
preferences only for the build it belongs to."""

import os

import pytest

from brainkit import backends
from brainkit.backends import BackendNotAvailable, GPUNotFound, check_backend


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(ValueError, match="cpp_standalone, cuda_standalone"):
        check_backend("gpu")


def test_genn_is_a_clear_error_naming_brian2_and_genn():
    """brian2genn needs brian2 < 2.6 and GeNN, which is on no package registry."""
    pytest.importorskip("brian2")
    try:
        import brian2genn  # noqa: F401
        pytest.skip("brian2genn is installed here")
    except ImportError:
        pass
    with pytest.raises(BackendNotAvailable) as err:
        check_backend("genn")
    msg = str(err.value)
    assert "brian2 < 2.6" in msg and "GeNN" in msg and "registry" in msg


def test_cuda_gpus_parses_nvidia_smi_and_cuda_visible_devices(monkeypatch):
    out = ("GPU 0: NVIDIA H200 (UUID: GPU-1111)\n"
           "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-2222)\n")
    monkeypatch.setattr(backends.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(backends, "_run", lambda cmd, timeout=60.0: out)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert backends.cuda_gpus() == ["NVIDIA H200", "NVIDIA A100-SXM4-40GB"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert backends.cuda_gpus() == ["NVIDIA A100-SXM4-40GB"]
    # nvidia-smi present but failing ("No devices were found", exit status 6): no GPU
    monkeypatch.setattr(backends, "_run", lambda cmd, timeout=60.0: None)
    assert backends.cuda_gpus() == []


def test_running_cuda_without_a_gpu_names_the_missing_gpu(monkeypatch):
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    with pytest.raises(GPUNotFound) as err:
        backends.require_gpu("the CUDA project in /x")
    msg = str(err.value)
    assert "the CUDA project in /x" in msg and "NVIDIA GPU" in msg and "nvidia-smi" in msg
    assert isinstance(err.value, BackendNotAvailable)


def test_cuda_without_nvcc_names_nvcc(monkeypatch):
    monkeypatch.setattr(backends, "_nvcc_path", lambda: None)
    with pytest.raises(BackendNotAvailable, match="nvcc"):
        backends.find_cuda()


def test_cuda_prefs_target_the_oldest_arch_without_a_gpu_and_are_restored(tmp_path,
                                                                          monkeypatch):
    """Without a GPU: no detection, GPU 0 and the nvcc's oldest architecture; C++17, no
    fast math; the preferences hold during the build only."""
    pytest.importorskip("brian2cuda")
    try:
        cuda = backends.find_cuda()
    except BackendNotAvailable as exc:
        pytest.skip(str(exc))
    import brian2

    from brainkit import engine

    monkeypatch.setattr(backends, "cuda_gpus", lambda: [])
    monkeypatch.delenv(engine.CUDA_CC_ENV, raising=False)
    p = engine.cuda_prefs(str(tmp_path))
    cb = "devices.cuda_standalone.cuda_backend."
    assert p[cb + "detect_gpus"] is False and p[cb + "gpu_id"] == 0
    assert p[cb + "compute_capability"] == cuda.default_compute_capability == min(
        a for a in cuda.archs if a >= backends.MIN_COMPUTE_CAPABILITY)
    assert "-std=c++17" in p[cb + "extra_compile_args_nvcc"]
    assert "-use_fast_math" not in p[cb + "extra_compile_args_nvcc"]
    if cuda.curand_include:  # cuRAND from the wheel: found, linked and on the rpath
        assert os.path.exists(tmp_path / "brainkit_lib" / "libcurand.so")
        assert f"-rpath,{cuda.curand_lib}" in p["codegen.cpp.extra_link_args"]
    monkeypatch.setenv(engine.CUDA_CC_ENV, "8.0")
    assert engine.cuda_prefs(str(tmp_path))[cb + "compute_capability"] == 8.0

    before = brian2.prefs["codegen.cpp.extra_link_args"]
    with engine._prefs_set(p):
        assert brian2.prefs[cb + "detect_gpus"] is False
    assert brian2.prefs["codegen.cpp.extra_link_args"] == before
    assert brian2.prefs[cb + "detect_gpus"] is True


def test_cuda_without_brian2cuda_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "brian2cuda", None)  # import fails
    with pytest.raises(BackendNotAvailable, match=r"install brian2cuda.*brainkit\[cuda\]"):
        check_backend("cuda_standalone")
