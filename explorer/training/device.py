"""Where and in what number format the trainer computes: device ``auto`` picks CUDA, then MPS, then the CPU;
precision ``auto`` picks bf16 autocast where the hardware computes bf16 natively (recent GPUs, CPUs with
AVX-512 bf16 or AMX), fp16 with a gradient scaler on older GPUs, and fp32 otherwise."""

from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass

import torch
from explorer.config.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the fastest device present; an explicit device that is missing is a ValueError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available[name]:
        raise ConfigError("device", f"{name} is not available on this machine; choose device auto or cpu")
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 dot products (AVX-512 bf16 or AMX); elsewhere bf16 is emulated
    and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        flags = ""
    # oneDNN also "supports" bf16 on plain AVX-512 by emulation, which is slower than fp32: ask for the flags.
    return torch.backends.mkldnn.is_available() and any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


@dataclass(frozen=True)
class Precision:
    """``dtype`` is the autocast type (None: plain fp32); ``scaled`` says whether fp16 gradients need a scaler."""

    name: str
    dtype: torch.dtype | None
    scaled: bool

    def autocast(self, device: torch.device, cache_enabled: bool = True) -> contextlib.AbstractContextManager:
        """``cache_enabled=False`` while capturing a CUDA graph (PyTorch: the cast cache must not outlive it)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype, cache_enabled=cache_enabled)

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(device.type) if self.scaled else None


def cuda_computes_bf16(device: torch.device) -> bool:
    """True where the GPU has bf16 tensor cores (compute capability 8.0 on). torch's own check counts emulation
    as support by default, which sends a V100 or a T4 to emulated bf16, far slower than fp16 with a scaler."""
    if "including_emulation" in inspect.signature(torch.cuda.is_bf16_supported).parameters:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.cuda.get_device_capability(device) >= (8, 0)  # torch before 2.3 counted no emulation


def resolve_precision(name: str, device: torch.device) -> Precision:
    if name == "auto":
        if device.type == "cuda":
            name = "bf16" if cuda_computes_bf16(device) else "fp16"
        elif device.type == "cpu" and cpu_supports_bf16():
            name = "bf16"
        else:
            name = "fp32"
    if name == "fp16" and device.type == "cpu":
        raise ConfigError("precision", "fp16 is not supported on the cpu; choose precision bf16 or fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
    return Precision(name=name, dtype=dtype, scaled=name == "fp16" and device.type == "cuda")


def configure_backends(device: torch.device, deterministic: bool = False) -> None:
    """The trainer process's kernel choices. By default the fastest: cuDNN times its convolution algorithms
    once (the shapes never change) and keeps the fastest, which may be one that adds in a different order from
    run to run, and fp32 matrix products may use TF32. ``deterministic``: the same kernels, the same order, full
    fp32, every time (slower), so a resumed run takes bit for bit the steps of an uninterrupted one."""
    if deterministic:
        # cuBLAS is deterministic only with a fixed workspace; it reads this when it makes its first handle.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: the one op of these nets torch flags, the 1x1 average pool's backward, adds one value to
        # each input element (no two threads meet), which is deterministic whatever torch's blanket flag says.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif device.type == "cuda":
        # Fixed input shapes: let cuDNN time its convolution algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True


def release_cached_memory(devices: list[torch.device]) -> None:
    """Give a finished trainer's GPU memory back: the caching allocator's blocks and cuBLAS's workspace per
    (handle, stream), which ``empty_cache`` alone keeps (PyTorch's own leak checks clear them first)."""
    gpus = [d for d in devices if d.type == "cuda"]
    if not gpus:
        return
    for gpu in gpus:
        torch.cuda.synchronize(gpu)
    if hasattr(torch._C, "_cuda_clearCublasWorkspaces"):
        torch._C._cuda_clearCublasWorkspaces()
    torch.cuda.empty_cache()
