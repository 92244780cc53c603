"""Where and in what number format the trainer computes: device ``auto`` picks CUDA, then MPS, then the CPU;
precision ``auto`` picks bf16 autocast where the hardware computes bf16 natively (recent GPUs, CPUs with
AVX-512 bf16 or AMX), fp16 with a gradient scaler on older GPUs, and fp32 otherwise."""

from __future__ import annotations

import contextlib
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


def resolve_precision(name: str, device: torch.device) -> Precision:
    if name == "auto":
        if device.type == "cuda":
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif device.type == "cpu" and cpu_supports_bf16():
            name = "bf16"
        else:
            name = "fp32"
    if name == "fp16" and device.type == "cpu":
        raise ConfigError("precision", "fp16 is not supported on the cpu; choose precision bf16 or fp32")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
    return Precision(name=name, dtype=dtype, scaled=name == "fp16" and device.type == "cuda")


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        # Fixed input shapes: let cuDNN time its convolution algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True
