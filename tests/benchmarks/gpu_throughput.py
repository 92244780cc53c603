"""Training throughput on a GPU, and what the paper's whole Figure 6 recipe would take, eager / graphs / fused.

    python tests/benchmarks/gpu_throughput.py [--seconds 5] [--precision auto] [--compile] [--per-network]

Figure 6's nine networks (plain-20/32/44/56, ResNet-20/32/44/56/110) in one run, as the app trains them
(identical batches, batch 128, synthetic images: the images do not change the cost), side by side in one
process, in four ways:
  eager           every network alone, each on its own CUDA stream;
  graphs          the same, each step replayed from a captured CUDA graph (--cuda-graphs);
  fused           same-shape networks as one grouped network (--fuse: plain-d with ResNet-d, 5 units);
  fused + graphs  both (with --compile, the two fused ways again under torch.compile).
Each is timed over at least --seconds of steady-state steps (after the captures and cuDNN's search), synchronising
only at both ends; the GPU's utilisation is sampled by nvidia-smi every 100 ms *while* those steps run. The
projection of the whole recipe adds what the steps leave out: its evaluations of the 10,000 test images (every
600 iterations, as explorer.config.run.cadence sets) and its checkpoints, each timed once. The goal: at most 10
minutes on one H100, by default. The last line starts "FIGURE6" and holds the projections for
tests/gpu/device_check.sh's summary.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from explorer.config.run import DataConfig, RunConfig, TrainConfig, cadence  # noqa: E402
from explorer.data.synthetic import make_synthetic  # noqa: E402
from explorer.system.formatting import duration  # noqa: E402
from explorer.config.model import ModelConfig  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.training.device import configure_backends, resolve_precision  # noqa: E402
from explorer.training.events import Reporter  # noqa: E402
from explorer.training.trainer import Trainer  # noqa: E402

BATCH = 128
ITERATIONS = 64_000
TEST_IMAGES = 10_000
DEPTHS = (20, 32, 44, 56, 110)
GOAL_S = 600
WAYS = {"eager": {"fuse": False, "cuda_graphs": False}, "graphs": {"fuse": False, "cuda_graphs": True},
        "fused": {"fuse": True, "cuda_graphs": False},
        "fused + graphs": {"fuse": True, "cuda_graphs": True}}


class Utilisation:
    """nvidia-smi sampling the GPU's utilisation every 100 ms while the timed steps run."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.proc = None

    def __enter__(self) -> "Utilisation":
        if shutil.which("nvidia-smi"):
            index = torch.cuda.current_device()
            self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                          "-i", str(index), "-lms", "100"], stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            out, _ = self.proc.communicate()
            self.samples = [float(line) for line in out.split() if line.strip().replace(".", "", 1).isdigit()]

    def text(self) -> str:
        return f"{statistics.mean(self.samples):.0f}%" if self.samples else "?"


def figure6(runs: Path, dataset, precision: str, names: tuple[str, ...] | None = None, **options) -> tuple:
    config = RunConfig(model=ModelConfig(), data=DataConfig(dataset="synthetic"), train=TrainConfig(
        compare="both", depths=DEPTHS, batch_size=BATCH, precision=precision, device="cuda", iterations=ITERATIONS,
        **options))
    run = RunDir.create(runs, config)
    t = Trainer(config, dataset, device=torch.device("cuda"),
                precision=resolve_precision(precision, torch.device("cuda")), reporter=Reporter(run, ITERATIONS,
                                                                                               io.StringIO()))
    keep = names or tuple(m.name for m in t.members if m.name != "plain-110")  # the paper's nine
    t.members = [m for m in t.members if m.name in keep]
    return t, run


def timed(t: Trainer, seconds: float) -> tuple[float, str]:
    """Steady-state iterations per second, and the GPU's utilisation meanwhile."""
    for _ in range(8):  # graph warm-up and capture, cuDNN's search, the allocator
        t.step()
    torch.cuda.synchronize()
    steps, start = 0, time.perf_counter()
    with Utilisation() as busy:
        while steps < 20 or time.perf_counter() - start < seconds:
            for _ in range(10):
                t.step()
            steps += 10
        torch.cuda.synchronize()  # the clock sees the GPU's work, not only the launches
        elapsed = time.perf_counter() - start
    return steps / elapsed, busy.text()


def once(action) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    action()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def projection(t: Trainer, run: RunDir, rate: float) -> tuple[float, float, float]:
    """The recipe's total: its steps at ``rate``, plus its evaluations and checkpoints as timed here."""
    every = cadence(ITERATIONS)
    t.evaluate()  # the first one compiles what it compiles; time the second
    evaluation = once(t.evaluate)
    checkpoint = once(lambda: t.save_checkpoint(run))
    total = ITERATIONS / rate + ITERATIONS // every["eval_every"] * evaluation + \
        ITERATIONS // every["checkpoint_every"] * checkpoint
    return total, evaluation, checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="steady-state seconds timed per way")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--compile", action="store_true", help="also under torch.compile (minutes of compiling)")
    parser.add_argument("--per-network", action="store_true", help="also each network alone, eager and graphs")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures the GPU path")
    device = torch.device("cuda")
    configure_backends(device)
    precision = resolve_precision(args.precision, device).name
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, precision {precision}, batch {BATCH}")
    dataset = make_synthetic(BATCH * 60, TEST_IMAGES, 0)
    runs = Path(tempfile.mkdtemp(prefix="gpu-throughput-"))
    ways = dict(WAYS)
    if args.compile:
        ways.update({f"{name} + compile": {**options, "compile": True} for name, options in WAYS.items()
                     if options["fuse"]})
    if args.per_network:
        print(f"\n{'network':<12} {'eager':>22} {'graphs':>22}   images/s through the network (GPU utilisation)")
        for name in ("plain-20", "plain-56", "resnet-20", "resnet-56", "resnet-110"):
            row = []
            for options in ({"fuse": False, "cuda_graphs": False}, {"fuse": False, "cuda_graphs": True}):
                t, _ = figure6(runs, dataset, precision, names=(name,), **options)
                rate, busy = timed(t, args.seconds / 2)
                row.append(f"{rate * BATCH:14.0f} ({busy:>4})")
                t.close()
            print(f"{name:<12} {row[0]:>22} {row[1]:>22}")
    print(f"\nFigure 6, nine networks in one run, {ITERATIONS:,} iterations of {BATCH}:")
    print(f"{'way':<26} {'units':>5} {'it/s':>7} {'GPU':>5} {'eval':>7} {'ckpt':>6}   whole recipe")
    summary = []
    for name, options in ways.items():
        t, run = figure6(runs, dataset, precision, **options)
        rate, busy = timed(t, args.seconds)
        total, evaluation, checkpoint = projection(t, run, rate)
        print(f"{name:<26} {len(t.units):>5} {rate:7.1f} {busy:>5} {evaluation:6.2f}s {checkpoint:5.2f}s   "
              f"{duration(total)}{'  (goal met)' if total <= GOAL_S else ''}")
        summary.append(f"{name.replace(' ', '')}={total / 60:.1f}min@{busy}")
        t.close()
    print("FIGURE6 " + " ".join(summary))


if __name__ == "__main__":
    main()
