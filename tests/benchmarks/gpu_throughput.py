"""Training throughput on a GPU, and what the paper's whole Figure 6 recipe would take.

    .venv/bin/python tests/benchmarks/gpu_throughput.py [--steps 50] [--precision auto]

Side by side in one process, on the synthetic set at batch 128 (the images do not change the cost):
  1. each network alone, eager: the baseline;
  2. each network alone with its step captured as a CUDA graph (``--cuda-graphs``);
  3. each network alone under torch.compile (``--compile``; its compile time is printed);
  4. all nine networks of Figure 6 (plain-20/32/44/56, ResNet-20/32/44/56/110) in one run, as the app trains
     them: identical batches, each network on its own CUDA stream, eager and with graphs.
Reported: images/s per network (training images through that network per second), the GPU's utilisation
while it ran (nvidia-smi, where present), and the projected time of the recipe: 64,000 iterations of 128 for
the nine networks. The goal is at most 30 minutes on one H100.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from explorer.config.run import DataConfig, RunConfig, TrainConfig  # noqa: E402
from explorer.data.synthetic import make_synthetic  # noqa: E402
from explorer.system.formatting import duration  # noqa: E402
from explorer.config.model import ModelConfig  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.training.device import configure_backends, resolve_precision  # noqa: E402
from explorer.training.events import Reporter  # noqa: E402
from explorer.training.trainer import Trainer  # noqa: E402

BATCH = 128
ITERATIONS = 64_000
FIGURE6 = {"plain": (20, 32, 44, 56), "residual": (20, 32, 44, 56, 110)}


def utilisation() -> str:
    if shutil.which("nvidia-smi") is None:
        return "?"
    done = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                          capture_output=True, text=True)
    return done.stdout.strip().splitlines()[0] + "%" if done.returncode == 0 and done.stdout.strip() else "?"


def make(runs: Path, dataset, precision: str, depths_by_kind: dict, **options) -> Trainer:
    """One run of the given networks (plain and residual kinds may differ in depths: two configs, one trainer)."""
    members = []
    trainer = None
    for compare, depths in depths_by_kind.items():
        if not depths:
            continue
        config = RunConfig(model=ModelConfig(), data=DataConfig(dataset="synthetic"), train=TrainConfig(
            compare=compare, depths=depths, batch_size=BATCH, precision=precision, device="cuda", **options))
        run = RunDir.create(runs, config)
        t = Trainer(config, dataset, device=torch.device("cuda"), precision=resolve_precision(precision,
                    torch.device("cuda")), reporter=Reporter(run, ITERATIONS, io.StringIO()))
        if trainer is None:
            trainer = t
        members += t.members
    if len(members) > 1:  # one run of all of them: identical batches, a stream each
        for m in members:
            m.stream = torch.cuda.Stream(m.device)
    trainer.members = members
    return trainer


def steps_per_second(trainer: Trainer, steps: int) -> float:
    for _ in range(5):  # graph capture, cudnn.benchmark's search, the allocator
        trainer.step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    trainer._join()
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (a minute per network)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures the GPU path")
    device = torch.device("cuda")
    configure_backends(device)
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, precision {resolve_precision(args.precision, device).name}")
    dataset = make_synthetic(BATCH * 40, BATCH, 0)
    runs = Path(tempfile.mkdtemp(prefix="gpu-throughput-"))
    print(f"\n{'network':<12} {'eager':>10} {'graphs':>10} {'compile':>10}   images/s (utilisation)")
    alone = {}
    for kind, depths in FIGURE6.items():
        for depth in depths:
            label = f"{'plain' if kind == 'plain' else 'resnet'}-{depth}"
            row = []
            for options in ({}, {"cuda_graphs": True}, {"compile": True}):
                if options.get("compile") and args.no_compile:
                    row.append("-")
                    continue
                start = time.perf_counter()
                trainer = make(runs, dataset, args.precision, {kind: (depth,)}, **options)
                rate = steps_per_second(trainer, args.steps) * BATCH
                note = f" (compiled in {time.perf_counter() - start:.0f} s)" if options.get("compile") else ""
                row.append(f"{rate:8.0f}{note} ({utilisation()})")
                alone.setdefault(label, []).append(rate)
                trainer.close()
            print(f"{label:<12} " + "  ".join(row))
    for options, name in (({}, "eager"), ({"cuda_graphs": True}, "CUDA graphs")):
        trainer = make(runs, dataset, args.precision, FIGURE6, **options)
        rate = steps_per_second(trainer, args.steps)
        projected = ITERATIONS / rate
        print(f"\nall nine networks in one run, {name}: {rate:.1f} iterations/s ({rate * BATCH:.0f} images/s per "
              f"network, GPU {utilisation()}); the whole Figure 6 recipe ({ITERATIONS:,} iterations): "
              f"{duration(projected)} (goal: at most 30 min on one H100)")
        trainer.close()
    serial = sum(ITERATIONS * BATCH / max(rates) for rates in alone.values())
    print(f"the nine networks one after another, each at its best: {duration(serial)}")


if __name__ == "__main__":
    main()
