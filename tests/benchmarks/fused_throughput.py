"""Fused against separate training on the CPU: the same networks, side by side in one process.

    .venv/bin/python tests/benchmarks/fused_throughput.py [--depth 20] [--steps 5] [--rounds 3] [--threads N]

Two pairs of same-shape networks, as a run trains them (identical batches, batch 128, SGD with momentum and
weight decay), each once with every network stepping alone and once grouped into one network
(explorer.training.fused): plain-d with ResNet-d (one seed, option A) and ResNet-d over two seeds. In the
app's default precision on this CPU and in fp32. The variants take turns for several rounds and the median is
reported, so a machine that others share slows both alike. Prints the CPU model, the threads and the
precision, and the ratio fused / separate: the figure behind groups.FUSE_BY_DEFAULT["cpu"]. A benchmark, not a
test: run by hand, report the figures.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from explorer.config.run import DataConfig, RunConfig, TrainConfig  # noqa: E402
from explorer.data.synthetic import make_synthetic  # noqa: E402
from explorer.config.model import ModelConfig  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.training.device import resolve_precision  # noqa: E402
from explorer.training.events import Reporter  # noqa: E402
from explorer.training.trainer import Trainer  # noqa: E402

BATCH = 128
CPU = torch.device("cpu")
PAIRS = {"plain + ResNet, one seed": {"compare": "both", "seeds": 1},
         "ResNet, two seeds": {"compare": "residual", "seeds": 2}}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def trainer(depth: int, precision: str, fuse: bool, dataset, workdir: Path, **pair) -> Trainer:
    config = RunConfig(model=ModelConfig(depth=depth), data=DataConfig(dataset="synthetic"),
                       train=TrainConfig(depths=(depth,), batch_size=BATCH, precision=precision, fuse=fuse, **pair))
    run = RunDir.create(workdir, config)
    t = Trainer(config, dataset, device=CPU, precision=resolve_precision(precision, CPU),
                reporter=Reporter(run, 1, io.StringIO()))
    assert len(t.units) == (1 if fuse else 2)
    return t


def steps_per_second(t: Trainer, steps: int) -> float:
    t.step()  # untimed: first-call allocations and oneDNN primitive creation
    start = time.perf_counter()
    for _ in range(steps):
        t.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (default: torch's, one a core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    auto = resolve_precision("auto", CPU).name
    print(f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads; precision auto = {auto}")
    dataset = make_synthetic(BATCH * (args.steps + 2) * 2, BATCH, 0)
    workdir = Path(tempfile.mkdtemp(prefix="fused-throughput-"))
    for precision in dict.fromkeys((auto, "fp32")):
        for label, pair in PAIRS.items():
            variants = {fuse: trainer(args.depth, precision, fuse, dataset, workdir, **pair) for fuse in (False, True)}
            rates: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):
                for fuse, t in variants.items():
                    rates[fuse].append(steps_per_second(t, args.steps))
            median = {fuse: statistics.median(values) for fuse, values in rates.items()}
            print(f"depth {args.depth}, {label}, {precision}: separate {median[False] * BATCH:6.0f} img/s, fused "
                  f"{median[True] * BATCH:6.0f} img/s (images through each network per second): fused / separate "
                  f"= x{median[True] / median[False]:.2f}  (rounds, steps/s: separate "
                  f"{', '.join(f'{r:.2f}' for r in rates[False])}; fused {', '.join(f'{r:.2f}' for r in rates[True])})")
            for t in variants.values():
                t.close()


if __name__ == "__main__":
    main()
