"""Fused training (same-shape networks as one grouped network) against training each network alone, on the CPU.

The comparison runs in float64. SGD on these nets is chaotic: any change in the order of float additions grows
step by step (measured in float32 at batch 16, lr 0.1: plain channels-last against NCHW training, both separate,
differ by 1e-4 after one step and by 0.5 after 64). In float64 the same rounding starts at 1e-16 and stays below
1e-8 over these 300 steps, while a fusion bug - a network reading another's weights, inputs or gradients, a lost
momentum buffer, a shared learning rate where it should not be - moves a weight by about lr x gradient, 1e-3 or
more, in one step. So every number is compared at a relative 1e-6: five orders above the rounding, three below
any bug. The images are the synthetic set's shrunk to 8x8 (the networks are convolutional; the cost is 1/16).
"""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.dataset import Dataset
from explorer.data.synthetic import make_synthetic
from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.runs.folder import RunDir
from explorer.training.checkpoint import load_model_state
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.trainer import Trainer
from explorer.training.units import Group

CPU = torch.device("cpu")
RELATIVE = 1e-6


@pytest.fixture(autouse=True)
def float64_one_thread():
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)


def small_images(train: int, test: int) -> Dataset:
    data = make_synthetic(train, test, 0)
    shrink = lambda images: F.avg_pool2d(images.float(), 4).round().to(torch.uint8)  # noqa: E731
    return Dataset(shrink(data.train_images), data.train_labels, shrink(data.test_images), data.test_labels,
                   classes=data.classes, name="synthetic")


class Float64Batches:
    """The trainer's own data stream with its batches in float64, like the networks (see the module's words)."""

    def __init__(self, batches) -> None:
        self.batches = batches

    def __next__(self):
        x, y = next(self.batches)
        return x.double(), y

    def eval_batches(self, *args):
        return ((x.double(), y) for x, y in self.batches.eval_batches(*args))

    def __getattr__(self, name):
        return getattr(self.batches, name)


def fused_and_separate(tmp_path, device=CPU, **train):
    """The same run twice, every network alone and fused, in float64 (tests/gpu runs it on CUDA too)."""
    options = {"compare": "both", "depths": (8,), "iterations": 300, "batch_size": 8, "lr": 0.1, "log_every": 10,
               "eval_every": 100, "checkpoint_every": 150, "precision": "fp32", "seed": 0, "milestones": (150,),
               "seeds": 2, "device": device.type, **train}
    pair = []
    for fuse in (False, True):
        config = RunConfig(model=ModelConfig(depth=8, input_size=8), data=DataConfig(dataset="synthetic"),
                           train=TrainConfig(fuse=fuse, **options))
        run = RunDir.create(tmp_path / ("fused" if fuse else "separate"), config)
        reporter = Reporter(run, config.train.iterations, io.StringIO())
        trainer = Trainer(config, small_images(400, 50), device=device, precision=resolve_precision("fp32", device),
                          reporter=reporter)
        trainer.streams = {seed: Float64Batches(stream) for seed, stream in trainer.streams.items()}
        reporter.start(models=[m.name for m in trainer.members], device=device.type, precision="fp32",
                       milestones=options["milestones"], batch_size=options["batch_size"], dataset="synthetic",
                       resumed_from=0)
        pair.append((trainer, run))
    return pair


def close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE * max(1.0, abs(a), abs(b)) or (math.isnan(a) and math.isnan(b))


def assert_same_events(separate: RunDir, fused: RunDir) -> list[dict]:
    ours, theirs = separate.read_events()[0], fused.read_events()[0]
    shape = lambda e: (e["type"], e.get("model"), e.get("seed"), e.get("iteration"))  # noqa: E731
    assert [shape(e) for e in ours] == [shape(e) for e in theirs]
    for a, b in zip(ours, theirs):
        for field in ("loss", "error", "lr", "test_loss", "test_error"):
            if field in a:
                assert close(a[field], b[field]), (a, b)
        for x, y in zip(a.get("norms", ()), b.get("norms", ())):
            assert close(x, y), (a, b)
    return ours


def assert_same_networks(a: Trainer, b: Trainer) -> None:
    for ma, mb in zip(a.members, b.members):
        assert ma.key == mb.key and ma.diverged == mb.diverged
        if ma.diverged:
            continue
        for (name, p), q in zip(ma.model.state_dict().items(), mb.model.state_dict().values()):
            assert torch.allclose(p.double(), q.double(), rtol=RELATIVE, atol=RELATIVE), (ma.key, name)
        for p, q in zip(ma.model.parameters(), mb.model.parameters()):
            ra, rb = ma.optimizer.state[p]["momentum_buffer"], mb.optimizer.state[q]["momentum_buffer"]
            assert torch.allclose(ra, rb, rtol=RELATIVE, atol=RELATIVE), ma.key


def train_both(pair, diverge_at: int) -> list[dict]:
    """Train both runs to the end, one network (resnet-8 of seed 1) blowing up after ``diverge_at`` steps: in the
    group it writes the group's memory. Returns the events, once checked equal."""
    (separate, a), (fused, b) = pair
    assert [len(u.members) for u in fused.units] == [4] and [len(u.members) for u in separate.units] == [1] * 4
    for trainer, run in pair:
        for _ in range(diverge_at):
            trainer.step()
            if trainer.iteration % trainer.train_cfg.log_every == 0:
                trainer.log(0.0)
        with torch.no_grad():
            trainer.members[3].model.conv1.weight[0, 0, 0, 0] = float("inf")
        assert trainer.train(run) == ("finished", "")
    events = assert_same_events(a, b)
    assert_same_networks(separate, fused)
    return events


def test_fused_training_gives_each_network_the_numbers_of_training_it_alone(tmp_path):
    """300 steps of plain-8 and ResNet-8 over two seeds (one group of four: shortcuts masked per network, an
    input per seed), through an lr drop, warm-ups that end per network, and one network diverging mid-run."""
    pair = fused_and_separate(tmp_path, warmup_min_depth=8, warmup_lr=0.02, warmup_until_error=0.84)
    events = train_both(pair, diverge_at=100)
    (separate, _), (fused, _) = pair

    diverged = [(e["model"], e["seed"], e["iteration"]) for e in events if e["type"] == "diverged"]
    assert diverged == [("resnet-8", 1, 101)]
    lrs = {}
    for e in events:
        if e["type"] == "train":
            lrs.setdefault((e["model"], e["seed"]), []).append(e["lr"])
    ends = {network: values.index(0.1) for network, values in lrs.items() if 0.1 in values}
    assert len(set(ends.values())) > 1, ends  # the warm-ups ended at different intervals: the group split
    assert all(values[-1] == pytest.approx(0.01) for network, values in lrs.items() if network != ("resnet-8", 1))
    for trainer in (separate, fused):
        trainer.close()


def test_a_fused_run_checkpoints_each_network_as_training_it_alone_does(tmp_path):
    """The same files and keys, each file about its own network's size (a view of the group's memory would save
    the whole group), readable by the analyses; and a fused run resumes fused or separate alike."""
    (separate, a), (fused, b) = fused_and_separate(tmp_path, iterations=40, checkpoint_every=20, milestones=(20,))
    for trainer in (separate, fused):
        for _ in range(20):
            trainer.step()
        trainer.save_checkpoint(a if trainer is separate else b)
    current_a, current_b = (run.checkpoint_dir / "iter-00000020" for run in (a, b))
    assert sorted(p.name for p in current_a.iterdir()) == sorted(p.name for p in current_b.iterdir())
    for path in current_a.glob("*-seed*.pt"):
        theirs = current_b / path.name
        assert abs(theirs.stat().st_size - path.stat().st_size) < 0.05 * path.stat().st_size
        saved_a, saved_b = torch.load(path, weights_only=True), torch.load(theirs, weights_only=True)
        assert sorted(saved_a) == sorted(saved_b) and sorted(saved_a["model"]) == sorted(saved_b["model"])
        assert sorted(saved_a["optimizer"]["state"]) == sorted(saved_b["optimizer"]["state"])
    state = load_model_state(b.checkpoint_dir, "plain-8-seed1")
    net = build_model(ModelConfig(depth=8, input_size=8, plain=True))
    net.load_state_dict(state["model"])  # what the Analysis tab does with a checkpoint
    assert torch.equal(net.conv1.weight, fused.members[2].model.conv1.weight)

    for trainer in (separate, fused):
        for _ in range(20):
            trainer.step()
    for fuse in (True, False):
        pair = fused_and_separate(tmp_path / f"resume-{fuse}", iterations=40, checkpoint_every=20, milestones=(20,))
        trainer = pair[1][0] if fuse else pair[0][0]
        assert trainer.load_checkpoint(b) == 20  # the fused run's checkpoint, resumed fused and separate
        for _ in range(20):
            trainer.step()
        assert isinstance(trainer.units[0], Group) == fuse
        assert_same_networks(fused, trainer)


def test_fuse_is_refused_where_it_cannot_work_in_one_sentence(tmp_path):
    """fp16's scaler skips a step of one network, which a group cannot; torchrun's processes each train all."""
    from explorer.training.distributed import World, start
    from tests.faults.harness import cli, one_line

    done = cli(tmp_path, "train", "--dataset", "synthetic", "--fuse", "--precision", "fp16", timeout=60)
    assert done.returncode == 2
    assert "fuse works with precision bf16 or fp32" in one_line(done.stderr)
    config = RunConfig(train=TrainConfig(fuse=True, batch_size=16))
    with pytest.raises(ValueError, match="fuse trains one process's networks as one grouped network; under "
                                         "torchrun leave it off"):
        start(World(rank=0, size=2), config)


def test_the_trainer_trains_the_networks_of_run_config_networks(tmp_path):
    """One owner of which networks a run has and when one has a seed: RunConfig.networks(). The members, their
    checkpoint keys and the seed their events carry are its, in its order, fused or not."""
    for seeds in (1, 3):
        pair = fused_and_separate(tmp_path / str(seeds), iterations=2, seeds=seeds, milestones=())
        config = pair[0][1].config()
        for trainer, _ in pair:
            assert [(m.key, m.config, m.seed_label) for m in trainer.members] == config.networks()
            trainer.close()


@pytest.mark.parametrize("device, precision, distributed, fuse, graphs", [
    ("cuda", "bf16", False, True, True),  # launch-bound: both, as measured on an H200 (training/groups.py)
    ("cuda", "fp32", False, True, True),
    ("cuda", "fp16", False, False, False),  # the gradient scaler skips steps: neither a group nor a graph can
    ("cuda", "bf16", True, False, False),  # under torchrun a step waits for the other ranks
    ("cpu", "bf16", False, False, False),  # compute-bound: fused measured slower, graphs are CUDA objects
    ("mps", "fp32", False, False, False),
])
def test_a_run_that_does_not_say_takes_the_devices_way_of_stepping(device, precision, distributed, fuse, graphs):
    from explorer.training.groups import captures, fuses

    unsaid = TrainConfig()
    assert unsaid.fuse is None and unsaid.cuda_graphs is None
    assert fuses(unsaid, device, precision, distributed) is fuse
    assert captures(unsaid, device, precision, distributed) is graphs
    said = TrainConfig(fuse=False, cuda_graphs=False)
    assert not fuses(said, device, precision, distributed) and not captures(said, device, precision, distributed)


def test_the_command_line_says_graphs_on_off_or_leaves_them_to_the_device():
    import argparse

    from explorer.cli.options import add_train_options

    parser = argparse.ArgumentParser()
    add_train_options(parser)
    assert parser.parse_args([]).cuda_graphs is None
    assert parser.parse_args(["--cuda-graphs"]).cuda_graphs is True
    assert parser.parse_args(["--no-cuda-graphs"]).cuda_graphs is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--cuda-graphs", "--no-cuda-graphs"])

