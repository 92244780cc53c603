"""CUDA graphs and torch.compile on a real GPU (skipped without one): a graph replays the eager step in fp32 and
bf16, captures again when the learning rate changes (milestones, a warm-up ending per network), captures on the
device of its network (two GPUs), and works under torch.compile, whose versions all stay compiled."""

from __future__ import annotations

import pytest
import torch

from tests.gpu.cuda_run import assert_losses_close, config, trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def deterministic_kernels():
    """The same convolution algorithms in the eager and the graphed run: their numbers may then be compared."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def eager_and_graphed(tmp_path, relative: float, gpus=None, **train):
    runs = []
    for graphs in (False, True):
        t, run = trainer(tmp_path, config(tmp_path, cuda_graphs=graphs, **train), "graphs" if graphs else "eager",
                         devices=gpus)
        assert t.train(run) == ("finished", "")
        runs.append((t, run))
    (eager, a), (graphed, b) = runs
    assert all(u.step_fn is not None and u.step_fn.graph is not None for u in graphed.units)
    assert_losses_close(a, b, relative)
    return eager, graphed


@pytest.mark.parametrize("precision, relative", [("fp32", 1e-3), ("bf16", 3e-2)])
def test_cuda_graphs_replay_the_eager_steps(tmp_path, precision, relative):
    """Through an lr drop at 10 (a new capture); bf16 rounds 8 bits of mantissa, hence its wider margin."""
    for t in eager_and_graphed(tmp_path, relative, precision=precision, milestones=(10,)):
        t.close()


def test_a_warm_up_ending_per_network_captures_the_step_again(tmp_path):
    """The ResNet-110 rule on depth 8: both warm up at lr 0.01 until their error falls below 99% (the first
    interval), then train at 0.1; the fused group splits and forms again, and its step is captured anew."""
    eager, graphed = eager_and_graphed(tmp_path, 1e-3, precision="fp32", milestones=(), warmup_min_depth=8,
                                       warmup_lr=0.01, warmup_until_error=0.99)
    assert {u.step_fn.lr for u in graphed.units} == {0.1}
    for t in (eager, graphed):
        t.close()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_cuda_graphs_on_two_gpus_capture_each_network_on_its_own(tmp_path):
    """A graph captured on another GPU's stream records nothing of its network, whose replays then do nothing:
    the network on cuda:1 would stop learning, its loss unlike the eager run's."""
    gpus = [torch.device("cuda:0"), torch.device("cuda:1")]
    eager, graphed = eager_and_graphed(tmp_path, 1e-3, gpus=gpus, precision="fp32", depths=(8, 14), fuse=False,
                                       devices=("cuda:0", "cuda:1"))
    assert {u.device.index for u in graphed.units} == {0, 1}
    for t in (eager, graphed):
        t.close()


@pytest.fixture
def compile_workers():
    """torch.compile starts a pool of compiler processes that outlives the compile; in a training process it ends
    with the process, here the test shuts it down (before the check that no child process is left behind)."""
    yield
    from torch._inductor.async_compile import shutdown_compile_workers

    shutdown_compile_workers()


@pytest.mark.usefixtures("compile_workers")
def test_torch_compile_with_cuda_graphs_in_bf16(tmp_path):
    """Warm-up and capture under one autocast setting: the cast cache is a Dynamo guard, and a change between
    them recompiled inside the capture, which fails ("operation not permitted when stream is capturing")."""
    t, run = trainer(tmp_path, config(tmp_path, compile=True, cuda_graphs=True, precision="bf16", iterations=12,
                                      eval_every=12))
    assert t.train(run) == ("finished", "")
    assert all(u.step_fn.graph is not None for u in t.units)
    t.close()


@pytest.mark.slow
@pytest.mark.usefixtures("compile_workers")
def test_torch_compile_keeps_every_network_of_figure_6_compiled(tmp_path, monkeypatch):
    """Nine networks (ten here: depths 8 to 32, plain and residual, each alone), training and evaluating: 20
    versions of one forward code. Past Dynamo's limit a version would run eager; here that fails the run."""
    if hasattr(torch._dynamo.config, "fail_on_recompile_limit_hit"):
        monkeypatch.setattr(torch._dynamo.config, "fail_on_recompile_limit_hit", True)
    torch._dynamo.reset()
    t, run = trainer(tmp_path, config(tmp_path, compile=True, fuse=False, depths=(8, 14, 20, 26, 32),
                                      iterations=4, eval_every=4, log_every=2, batch_size=32))
    assert t.train(run) == ("finished", "")
    t.close()
