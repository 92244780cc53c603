"""Which devices could train here, as the script a child process runs to ask torch, and the cheap check that spares
it where no GPU can be there at all (Linux without the NVIDIA or AMD (ROCm) kernel driver's device files, nor
WSL's GPU device). Qt-free: the GUI's probe (gui/training/devices.py) runs the script, and tests/gpu checks its
answer on a real GPU.
"""

from __future__ import annotations

import os
import sys

from explorer.system import host

GPU_DEVICE_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/kfd")

PROBE = r"""
import json, torch
found = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        found.append({"label": f"CUDA {i}: {torch.cuda.get_device_name(i)} ({total / 2**30:.0f} GiB)",
                      "device": "cuda", "index": i, "free": free, "name": f"CUDA {i}"})
if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    found.append({"label": "MPS (Apple GPU)", "device": "mps", "index": None})
found.append(CPU)
print(json.dumps(found))
"""


def cpu_entry() -> dict:
    cores = len(host.usable_cores())
    return {"label": f"CPU ({cores} core{'s' if cores > 1 else ''})", "device": "cpu", "index": None}


def probe_script() -> str:
    """What the child runs: the PROBE, with the CPU entry this process would give."""
    return f"CPU = {cpu_entry()!r}\n{PROBE}"


def no_gpu_possible() -> bool:
    return sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DEVICE_FILES)
