"""The GPU path, on a real CUDA device (skipped without one): each precision and what auto picks, channels_last,
resume, CUDA OOM in one sentence, memory given back (cuBLAS's workspaces too), the memory estimate against the
measured peak, the device list, streams and several GPUs. Run on a GPU machine: ``tests/gpu/device_check.sh``
(or ``python -m pytest tests/gpu``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch

from explorer.config.run import TrainConfig
from explorer.runs.folder import RunDir
from explorer.training.checkpoint import load_set, save_set
from explorer.training.device import resolve_precision
from explorer.training.preflight import estimate
from explorer.training.session import run_training
from explorer.training.stop import StopFlag
from tests.gpu.cuda_run import CUDA, config, losses, trainer
from tests.test_training import said_and_started

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_a_short_run_in_each_precision(tmp_path, precision):
    if precision == "bf16" and torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("this GPU has no bf16 tensor cores")
    t, run = trainer(tmp_path, config(tmp_path, precision=precision))
    assert (t.members[0].scaler is not None) == (precision == "fp16")  # fp16 needs a gradient scaler
    assert t.train(run) == ("finished", "")
    assert all(torch.isfinite(torch.tensor(loss)) for loss in losses(run)) and len(losses(run)) == 8
    t.close()


def test_auto_precision_is_bf16_only_where_the_gpu_computes_it():
    """torch's own check counts emulated bf16 (a V100, a T4) as support; those take fp16 with a scaler."""
    native = torch.cuda.get_device_capability() >= (8, 0)
    assert resolve_precision("auto", CUDA).name == ("bf16" if native else "fp16")


def test_channels_last_on_the_gpu(tmp_path):
    t, run = trainer(tmp_path, config(tmp_path, channels_last=True))
    weight = t.members[0].model.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    x, _ = next(t.batches)
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    assert t.train(run) == ("finished", "")
    assert t.members[0].model.conv1.weight.is_contiguous(memory_format=torch.channels_last)  # a view, still
    t.close()


def test_resume_on_cuda_continues_the_data_stream_exactly(tmp_path):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    cfg = config(tmp_path, precision="fp32", iterations=20)
    whole, run = trainer(tmp_path, cfg, "whole")
    whole.train(run)
    half, first = trainer(tmp_path, cfg, "half")
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


def test_a_checkpoint_saved_with_more_gpus_than_this_machine_has_resumes(tmp_path):
    """Checkpoints of earlier versions hold one CUDA generator state per GPU of the saving machine; restoring
    them on fewer GPUs was an internal error. No step draws from those generators: they are not restored."""
    cfg = config(tmp_path, precision="fp32")
    saved, run = trainer(tmp_path, cfg, "saved")
    for _ in range(3):
        saved.step()
    saved.save_checkpoint(run)
    state, per_model = load_set(run.checkpoint_dir, [m.key for m in saved.members], torch.device("cpu"))
    state["cuda_rng"] = [torch.cuda.get_rng_state()] * (torch.cuda.device_count() + 1)
    save_set(run.checkpoint_dir, 3, per_model, state, keep=())
    resumed, _ = trainer(tmp_path, cfg, "resumed")
    assert resumed.load_checkpoint(run) == 3
    resumed.step()
    for t in (saved, resumed):
        t.close()


@pytest.mark.parametrize("graphs", [False, True])
def test_cuda_out_of_memory_is_one_sentence(tmp_path, graphs):
    """Also inside a CUDA graph's capture, where the shortage surfaces as a capture error."""
    cfg = config(tmp_path, depths=(56,), batch_size=1000, iterations=5, cuda_graphs=graphs,
                 precision="bf16" if graphs else "auto")
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
    assert "the GPU ran out of memory at batch size 1000; choose a smaller batch size" in status["message"]
    assert "Traceback" not in stream.getvalue()


@pytest.mark.parametrize("graphs", [False, True])
def test_memory_is_given_back_after_a_run(tmp_path, graphs):
    """cuBLAS keeps a workspace per (handle, stream) that empty_cache() alone does not free, and every captured
    graph a pool of its own: closing the trainer gives all of it back."""
    torch.cuda.synchronize()
    torch._C._cuda_clearCublasWorkspaces()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    t, run = trainer(tmp_path, config(tmp_path, depths=(8, 14), cuda_graphs=graphs, precision="bf16"))
    t.train(run)
    assert torch.cuda.memory_allocated() > before
    t.close()
    del t
    assert torch.cuda.memory_allocated() - before < 1 << 20
    assert torch.cuda.memory_reserved() < 64 << 20


@pytest.mark.parametrize("graphs", [False, True])
def test_the_memory_estimate_covers_the_measured_peak(tmp_path, graphs):
    """Depths 20 and 32, plain and residual, over two seeds: fused (CUDA's default), two groups of four on
    streams of their own, with graphs each with a memory pool of its own. The estimate counts them at once."""
    cfg = config(tmp_path, depths=(20, 32), seeds=2, batch_size=128, iterations=12, eval_every=12,
                 cuda_graphs=graphs, precision="bf16")
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_reserved()
    expected = estimate(cfg, CUDA, precision="bf16").needed
    t, run = trainer(tmp_path, cfg)
    assert t.train(run) == ("finished", "")
    peak = torch.cuda.max_memory_reserved() - before
    t.close()
    assert peak <= expected, f"measured {peak / 2**20:.0f} MiB, estimated {expected / 2**20:.0f} MiB"


def test_the_device_list_names_the_gpus():
    from explorer.system.gpus import no_gpu_possible, probe_script

    assert not no_gpu_possible()  # this machine's GPU has its device files: the list is asked of torch
    done = subprocess.run([sys.executable, "-c", probe_script()], capture_output=True, text=True, timeout=120)
    found = json.loads(done.stdout)
    gpus = [d for d in found if d["device"] == "cuda"]
    assert len(gpus) == torch.cuda.device_count() and gpus[0]["free"] > 0
    assert torch.cuda.get_device_name(0) in gpus[0]["label"]


def test_units_of_one_gpu_overlap_on_streams_of_their_own(tmp_path):
    t, run = trainer(tmp_path, config(tmp_path, depths=(8, 14), fuse=False))
    t.step()
    assert len(t.units) == 4 and all(u.stream is not None for u in t.units)
    assert len({id(u.stream) for u in t.units}) == 4
    assert t.train(run) == ("finished", "")
    t.close()


def test_the_iteration_a_network_diverged_at_is_its_own_even_when_its_stream_runs_late(tmp_path):
    """Each unit's iteration counter is written on its own stream: on the default stream, the next steps'
    writes overtook a late stream still to read the first, and the recorded iteration came out late."""
    t, run = trainer(tmp_path, config(tmp_path, fuse=False, precision="fp32", log_every=4))
    with torch.no_grad():
        t.members[0].model.conv1.weight.fill_(float("nan"))
    late = t.units[0]
    with torch.cuda.stream(late.stream):
        torch.cuda._sleep(2_000_000_000)  # a second or so of one busy stream, queued before its first step
    for _ in range(4):
        t.step()
    t.log(0.0)
    events, _ = run.read_events()
    assert [(e["model"], e["iteration"]) for e in events if e["type"] == "diverged"] == [("plain-8", 1)]
    t.close()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.parametrize("fuse", [False, True])
def test_networks_spread_over_two_gpus(tmp_path, fuse):
    cfg = config(tmp_path, depths=(8, 14), devices=("cuda:0", "cuda:1"), fuse=fuse)
    t, run = trainer(tmp_path, cfg, devices=[torch.device("cuda:0"), torch.device("cuda:1")])
    # plain-8, plain-14, resnet-8, resnet-14: alone, in turn; fused, the plain-8/resnet-8 group on 0, -14 on 1.
    assert [m.device.index for m in t.members] == [0, 1, 0, 1]
    assert t.train(run) == ("finished", "")
    t.close()


def test_cuda_graphs_and_fuse_refuse_fp16():
    with pytest.raises(ValueError, match="cuda-graphs works with precision bf16 or fp32"):
        TrainConfig(cuda_graphs=True, precision="fp16")
    with pytest.raises(ValueError, match="fuse works with precision bf16 or fp32"):
        TrainConfig(fuse=True, precision="fp16")


def test_a_run_that_does_not_say_steps_fused_and_from_cuda_graphs_and_says_so(tmp_path):
    """The CUDA default measured on an H200 (training/groups.py): said before building, recorded at the start."""
    cfg = config(tmp_path, precision="bf16", iterations=8, log_every=4, eval_every=8, checkpoint_every=8)
    assert cfg.train.fuse is None and cfg.train.cuda_graphs is None
    said, start = said_and_started(RunDir.create(tmp_path / "run", cfg))
    assert "building plain-8, resnet-8 on cuda (bf16, fused, CUDA graphs)…" in said
    assert (start["fused"], start["graphs"]) == (True, True)
