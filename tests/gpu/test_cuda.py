"""The GPU path, on a real CUDA device (skipped without one): each precision, channels_last, exact resume with
the CUDA RNG, CUDA OOM in one sentence, memory given back, the device list, torch.compile, CUDA graphs, streams
and several GPUs. Run on a GPU machine: ``python -m pytest tests/gpu``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.synthetic import make_synthetic
from explorer.config.model import ModelConfig
from explorer.runs.folder import RunDir
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.session import run_training
from explorer.training.stop import StopFlag
from explorer.training.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


def config(tmp_path, **train) -> RunConfig:
    options = {"compare": "both", "depths": (8,), "iterations": 20, "batch_size": 64, "log_every": 5,
               "eval_every": 10, "checkpoint_every": 10, "device": "cuda", "seed": 1, **train}
    return RunConfig(model=ModelConfig(), data=DataConfig(dataset="synthetic", synthetic_size=1000),
                     train=TrainConfig(**options))


def trainer(tmp_path, cfg: RunConfig, name: str = "run") -> tuple[Trainer, RunDir]:
    run = RunDir.create(tmp_path / name, cfg)
    reporter = Reporter(run, cfg.train.iterations, io.StringIO())
    dataset = make_synthetic(1000, 200, cfg.train.seed)
    t = Trainer(cfg, dataset, device=CUDA, precision=resolve_precision(cfg.train.precision, CUDA), reporter=reporter)
    reporter.start(models=[m.name for m in t.members], device="cuda", precision=t.precision.name, milestones=(),
                   batch_size=cfg.train.batch_size, dataset="synthetic", resumed_from=0)
    return t, run


def losses(run: RunDir) -> list[float]:
    events, _ = run.read_events()
    return [e["loss"] for e in events if e["type"] == "train"]


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_a_short_run_in_each_precision(tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    t, run = trainer(tmp_path, config(tmp_path, precision=precision))
    assert (t.members[0].scaler is not None) == (precision == "fp16")  # fp16 needs a gradient scaler
    assert t.train(run) == ("finished", "")
    assert all(torch.isfinite(torch.tensor(loss)) for loss in losses(run)) and len(losses(run)) == 8
    t.close()


def test_channels_last_on_the_gpu(tmp_path):
    t, run = trainer(tmp_path, config(tmp_path, channels_last=True))
    weight = t.members[0].model.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    x, _ = next(t.batches)
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    assert t.train(run) == ("finished", "")
    t.close()


def test_resume_on_cuda_continues_the_data_stream_and_the_rng_exactly(tmp_path):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    cfg = config(tmp_path, precision="fp32", iterations=20)
    whole, run = trainer(tmp_path, cfg, "whole")
    whole.train(run)
    half, first = trainer(tmp_path, cfg.replace(train=cfg.train.replace(iterations=20)), "half")
    for _ in range(10):
        half.step()
    half.save_checkpoint(first)
    resumed, _ = trainer(tmp_path, cfg, "resumed")
    assert resumed.load_checkpoint(first) == 10
    assert torch.equal(resumed.batches.state_dict()["generator"], half.batches.state_dict()["generator"])
    for _ in range(10):
        resumed.step()
    for a, b in zip(whole.members[0].model.parameters(), resumed.members[0].model.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    for t in (whole, half, resumed):
        t.close()


def test_cuda_out_of_memory_is_one_sentence(tmp_path):
    cfg = config(tmp_path, depths=(56,), batch_size=1000, iterations=5)
    run = RunDir.create(tmp_path / "oom", cfg)
    torch.cuda.set_per_process_memory_fraction(0.002)  # what another job might leave us, after the estimate
    try:
        stream = io.StringIO()
        with StopFlag() as stop:
            code = run_training(run, stop, stream)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    assert code == 1
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "failed"
    assert "ran out of memory at batch size 1000; choose a smaller batch size" in status["message"]
    assert "Traceback" not in stream.getvalue()


def test_memory_is_given_back_after_a_run(tmp_path):
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    t, run = trainer(tmp_path, config(tmp_path))
    t.train(run)
    assert torch.cuda.memory_allocated() > before
    t.close()
    del t
    assert torch.cuda.memory_allocated() - before < 1 << 20
    assert torch.cuda.memory_reserved() < 64 << 20


def test_the_device_list_names_the_gpus():
    from explorer.gui.training.devices import no_gpu_possible, probe_script

    assert not no_gpu_possible()  # this machine's GPU has its device files: the list is asked of torch
    done = subprocess.run([sys.executable, "-c", probe_script()], capture_output=True, text=True, timeout=120)
    found = json.loads(done.stdout)
    gpus = [d for d in found if d["device"] == "cuda"]
    assert len(gpus) == torch.cuda.device_count() and gpus[0]["free"] > 0
    assert torch.cuda.get_device_name(0) in gpus[0]["label"]


def test_cuda_graphs_replay_the_eager_steps(tmp_path):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    eager, a = trainer(tmp_path, config(tmp_path, precision="fp32", milestones=(10,)), "eager")
    graphed, b = trainer(tmp_path, config(tmp_path, precision="fp32", milestones=(10,), cuda_graphs=True), "graphs")
    assert eager.train(a) == graphed.train(b) == ("finished", "")
    assert all(m.step_fn is not None and m.step_fn.graph is not None for m in graphed.members)
    for x, y in zip(losses(a), losses(b)):  # the lr drop at 10 captured the step again
        assert abs(x - y) <= 1e-3 * max(1.0, abs(x))
    for t in (eager, graphed):
        t.close()


def test_cuda_graphs_refuse_fp16():
    with pytest.raises(ValueError, match="cuda-graphs works with precision bf16 or fp32"):
        TrainConfig(cuda_graphs=True, precision="fp16")


def test_torch_compile_trains(tmp_path):
    t, run = trainer(tmp_path, config(tmp_path, compile=True, iterations=10, eval_every=10))
    assert t.train(run) == ("finished", "")
    t.close()


def test_networks_of_one_gpu_overlap_on_streams_of_their_own(tmp_path):
    t, run = trainer(tmp_path, config(tmp_path, depths=(8, 14)))
    assert all(m.stream is not None for m in t.members) and len({id(m.stream) for m in t.members}) == 4
    assert t.train(run) == ("finished", "")
    t.close()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_networks_spread_over_two_gpus(tmp_path):
    cfg = config(tmp_path, devices=("cuda:0", "cuda:1"))
    run = RunDir.create(tmp_path / "two", cfg)
    t = Trainer(cfg, make_synthetic(1000, 200, 1), device=torch.device("cuda:0"),
                precision=resolve_precision("auto", CUDA), reporter=Reporter(run, 20, io.StringIO()),
                devices=[torch.device("cuda:0"), torch.device("cuda:1")])
    assert [m.device.index for m in t.members] == [0, 1]
    assert t.train(run) == ("finished", "")
    t.close()
