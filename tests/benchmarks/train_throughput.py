"""Training throughput: the textbook PyTorch loop against our trainer, side by side in one process.

    .venv/bin/python tests/benchmarks/train_throughput.py [--depths 20,56] [--steps 8] [--rounds 3]

The textbook loop runs at torch's default (one thread per core); our trainer chooses its threads as the app
does (explorer.training.threads), measured right after the textbook loop ends: the case of a run started right
after other CPU work, which the load average used to cut to one thread. --threads N forces N for all.

Same synthetic images, same network, batch 128, SGD with momentum and weight decay:
  (a) textbook: a torchvision-CIFAR10-style Dataset over uint8 HWC numpy, PIL transforms (RandomCrop(32, 4),
      RandomHorizontalFlip, ToTensor, Normalize), DataLoader(num_workers=0), model in NCHW, fp32;
  (b) our Trainer.step() at its defaults (device-resident data, channels_last, precision auto);
  (c) our Trainer.step() forced to fp32.
The variants take turns for several rounds and the median is reported, so a machine that others share
slows all three alike. Also printed: the share of a step spent in the data path, and the model FLOP/s
achieved (train ~ 3 x forward, forward FLOPs = 2 x MACs from explorer.models.summary) against the peak of a
large matmul measured in the same run. A benchmark, not a test: run by hand, report the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from explorer.config.run import DataConfig, RunConfig, TrainConfig  # noqa: E402
from explorer.config.model import ModelConfig
from explorer.data.synthetic import make_synthetic  # noqa: E402
from explorer.models import build_model  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.models.summary import summarize  # noqa: E402
from explorer.training.device import resolve_precision  # noqa: E402
from explorer.training.events import Reporter  # noqa: E402
from explorer.training.threads import ThreadGovernor  # noqa: E402
from explorer.training.trainer import Trainer  # noqa: E402

BATCH = 128
CPU = torch.device("cpu")


class TextbookCIFAR(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: HWC uint8 -> PIL image -> transform."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray, transform) -> None:
        self.data, self.targets, self.transform = images_hwc, labels, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.data[index])), int(self.targets[index])


class Textbook:
    def __init__(self, config: ModelConfig, dataset) -> None:
        images = dataset.train_images.permute(0, 2, 3, 1).numpy()
        mean = tuple((images.reshape(-1, 3).mean(0) / 255).tolist())
        std = tuple((images.reshape(-1, 3).std(0) / 255).tolist())
        transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ])
        self.loader = DataLoader(TextbookCIFAR(images, dataset.train_labels.numpy(), transform), batch_size=BATCH,
                                 shuffle=True, num_workers=0, drop_last=True)
        self.batches = iter(self.loader)
        torch.manual_seed(0)
        self.model = build_model(config)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def step(self) -> None:
        x, y = self.next_batch()
        loss = F.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def ours(config: ModelConfig, dataset, precision: str, workdir: Path) -> Trainer:
    run_config = RunConfig(model=config, data=DataConfig(dataset="synthetic"),
                           train=TrainConfig(compare="plain" if config.plain else "residual", batch_size=BATCH,
                                             precision=precision))
    run = RunDir.create(workdir, run_config)
    resolved = resolve_precision(precision, CPU)
    return Trainer(run_config, dataset, device=CPU, precision=resolved, reporter=Reporter(run, 1, io.StringIO()))


def images_per_sec(step, steps: int) -> float:
    step()  # one untimed step: first-call allocations and oneDNN primitive creation
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - start)


def data_seconds(next_batch, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        next_batch()
    return (time.perf_counter() - start) / steps


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """The fastest of ``repeats`` large matmuls: on a shared machine the best one is nearest the hardware."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="20,56")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="force this many threads (default: as the app)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cores)
    print(f"torch {torch.__version__}, threads {'as the app chooses' if not args.threads else args.threads}, "
          f"{os.cpu_count()} cpus, "
          f"load average at start {os.getloadavg()[0]:.2f}; precision auto = {resolve_precision('auto', CPU).name}")
    peaks = {name: matmul_peak(dtype) for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32))}
    print(f"matmul peak: bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s, fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s")
    dataset = make_synthetic(5 * BATCH * (args.steps + 1), BATCH, 0)
    workdir = Path(tempfile.mkdtemp(prefix="throughput-"))
    for depth in (int(d) for d in args.depths.split(",")):
        config = ModelConfig(depth=depth)
        flops_per_image = 3 * 2 * summarize(config).total_macs
        variants = {"textbook": Textbook(config, dataset), "ours-default": ours(config, dataset, "auto", workdir),
                    "ours-fp32": ours(config, dataset, "fp32", workdir)}
        speeds: dict[str, list[float]] = {name: [] for name in variants}
        chosen = []
        for _ in range(args.rounds):
            for name, variant in variants.items():
                if not args.threads:
                    if name == "textbook":
                        torch.set_num_threads(cores)
                    else:  # as a trainer started right now would
                        chosen.append(ThreadGovernor(torch.set_num_threads).choice.threads)
                speeds[name].append(images_per_sec(variant.step, args.steps))
        median = {name: statistics.median(values) for name, values in speeds.items()}
        data_path = {
            "textbook": data_seconds(variants["textbook"].next_batch, args.steps),
            "ours-default": data_seconds(lambda: next(variants["ours-default"].batches), args.steps),
            "ours-fp32": data_seconds(lambda: next(variants["ours-fp32"].batches), args.steps),
        }
        print(f"\nResNet-{depth}, batch {BATCH}, {flops_per_image / 1e9:.2f} GFLOP per training image"
              + (f"; our threads chosen right after the textbook loop: {chosen}" if chosen else ""))
        for name in variants:
            step_s = BATCH / median[name]
            peak = peaks["fp32"] if name != "ours-default" or variants[name].precision.name == "fp32" else peaks["bf16"]
            achieved = median[name] * flops_per_image
            print(f"  {name:<13} {median[name]:7.1f} img/s  x{median[name] / median['textbook']:.2f} vs textbook  "
                  f"data path {100 * data_path[name] / step_s:4.1f}% of a step  "
                  f"{achieved / 1e9:6.1f} GFLOP/s = {100 * achieved / peak:4.1f}% of the matmul peak  "
                  f"(rounds: {', '.join(f'{v:.0f}' for v in speeds[name])})")
        for variant in variants.values():
            if isinstance(variant, Trainer):
                variant.close()
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
