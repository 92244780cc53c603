"""What is checked before a run takes its first step, in the CLI before any folder exists and in the trainer
again on the machine it runs on: the device exists, the precision works there, and the run fits in memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer.config.errors import ConfigError
from explorer.config.run import RunConfig, check_scaler_free
from explorer.training.memory import Estimate, cpu_available_bytes, estimate_run, refusal
from explorer.training.device import Precision, resolve_device, resolve_precision


def available_bytes(device: torch.device) -> tuple[int | None, str]:
    """Free memory of ``device`` and how to name it in a sentence."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, _total = torch.cuda.mem_get_info(index)
        return free, f"CUDA {index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()), "the Apple GPU"
        except (AttributeError, RuntimeError):
            return None, "the Apple GPU"
    return cpu_available_bytes(), "the CPU"


def estimate(config: RunConfig, device: torch.device, devices: int = 1, precision: str | None = None) -> Estimate:
    """The peak memory of one training step of ``config`` on ``device`` (the busiest of ``devices``), from the
    networks' layer tables."""
    from explorer.models.summary import summarize

    return estimate_run(config, summarize, *available_bytes(device), device_type=device.type, devices=devices,
                        precision=precision)


@dataclass(frozen=True)
class Preflight:
    device: torch.device
    precision: Precision
    memory: Estimate
    devices: list[torch.device]


def resolve_devices(names: tuple[str, ...]) -> list[torch.device]:
    """The devices the networks are spread over; ValueError names one this machine lacks."""
    devices = []
    for name in names:
        kind, _, index = name.partition(":")
        try:
            base = resolve_device(kind)
        except ConfigError:
            raise ConfigError("devices", f"{', '.join(names)} names {kind}, which this machine does not have; leave "
                              "it out or name devices it has") from None
        if index and kind == "cuda" and int(index) >= torch.cuda.device_count():
            raise ConfigError("devices", f"{name} is not on this machine, which has {torch.cuda.device_count()} CUDA "
                             "device(s)")
        devices.append(torch.device(name) if index else base)
    return devices


def preflight(config: RunConfig) -> Preflight:
    """Raise ValueError (one sentence) when ``config`` cannot run here; else the devices, precision and the
    memory estimate (of the first device)."""
    devices = resolve_devices(config.train.devices) if config.train.devices else [
        resolve_device(config.train.device)]
    device = devices[0]
    if len({d.type for d in devices}) > 1:
        raise ConfigError("devices", f"{', '.join(config.train.devices)} mix kinds; spread a run over one kind only")
    precision = resolve_precision(config.train.precision, device)
    check_scaler_free(config.train, precision.name, auto=config.train.precision == "auto")
    if config.train.cuda_graphs and device.type != "cuda":
        raise ConfigError("cuda-graphs", "needs a CUDA device; leave it off here")
    memory = estimate(config, device, len(devices), precision.name)
    if not memory.fits:
        raise ValueError(refusal(memory, config.train.batch_size, len(config.model_configs())))
    return Preflight(device, precision, memory, devices)
