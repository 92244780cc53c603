"""What "exact resume" means, tested as it is claimed (``--deterministic`` in explorer/cli.py).

A resume always restores exactly the data stream (order, augmentation, position), the weights, the batch-norm
statistics, the optimizer state and the logging interval's sums. Whether the float arithmetic after it is the
same bit for bit depends on the kernels: cuDNN's timed choice may differ from start to start, TF32 rounds fp32
products, and on the CPU a sum split over another number of threads adds in another order - and the thread count
follows the machine's load. ``--deterministic`` fixes all of that, so a run stopped and resumed ends with the
very weights of a run never stopped. Here on the CPU, through the real CLI: the stopped run starts at one thread
(as the machine's load might choose), and resumes with the count left to the app, which must keep the run's
first count whatever the load is now; tests/gpu checks the same on CUDA.
"""

from __future__ import annotations

import signal

import torch

from explorer.runs.checkpoints import complete_sets, latest_iteration
from explorer.runs.folder import RunDir
from tests.faults.harness import TINY, cli, env, only_run, start, wait_until

ITERATIONS = 40
ARGS = [*TINY, "--depths", "8", "--iterations", str(ITERATIONS), "--log-every", "5", "--eval-every", "20",
        "--checkpoint-every", "20", "--deterministic"]


def _chosen_by_the_app(tmp_path):
    variables = env(tmp_path)
    variables.pop("OMP_NUM_THREADS")
    return variables


def _final(run) -> dict:
    final = complete_sets(run / "checkpoints")[ITERATIONS]
    return {path.name: torch.load(path, weights_only=True) for path in final.glob("*-8.pt")}


def _train_losses(run, after: int) -> list[tuple]:
    events, _ = RunDir(run).read_events()
    latest = {}
    for e in events:  # a resumed run's later events supersede what the stopped one wrote past its checkpoint
        if e["type"] == "train" and e["iteration"] > after:
            latest[(e["model"], e["iteration"])] = (e["loss"], e["error"])
    return sorted(latest.items())


def _starts(run) -> list[dict]:
    events, _ = RunDir(run).read_events()
    return [e for e in events if e["type"] == "start"]


def test_a_deterministic_run_stopped_and_resumed_ends_with_the_weights_of_one_never_stopped(tmp_path):
    check_deterministic_resume(tmp_path)


def check_deterministic_resume(tmp_path, *options: str) -> None:
    """The claim, for a run with ``options`` (tests/gpu adds ``--device cuda``)."""
    whole = cli(tmp_path, "train", *ARGS, *options, "--runs-dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    runs = tmp_path / "stopped"
    proc = start(tmp_path, "train", *ARGS, *options, "--runs-dir", str(runs))
    run = wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc)
    wait_until(lambda: RunDir(run).status().iteration >= 10, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    stopped_at = latest_iteration(run / "checkpoints")
    assert RunDir(run).status().state == "cancelled" and 10 <= stopped_at < ITERATIONS
    resumed = cli(tmp_path, "train", "--resume", str(run), env=_chosen_by_the_app(tmp_path))
    assert resumed.returncode == 0, resumed.stderr

    first, again = _starts(run)
    assert first["threads"] == again["threads"] == 1 and "first start" in again["threads_reason"]
    reference = only_run(tmp_path / "whole")
    ours, theirs = _final(reference), _final(run)
    assert sorted(ours) == sorted(theirs) == ["plain-8.pt", "resnet-8.pt"]
    for name in ours:
        for key, tensor in ours[name]["model"].items():
            assert torch.equal(tensor, theirs[name]["model"][key]), (name, key)
        for index, state in ours[name]["optimizer"]["state"].items():
            assert torch.equal(state["momentum_buffer"], theirs[name]["optimizer"]["state"][index]["momentum_buffer"])
    assert _train_losses(reference, stopped_at) == _train_losses(run, stopped_at)


def test_a_training_step_draws_from_no_global_generator(tmp_path):
    """Why a checkpoint need not restore torch's global generators (and no longer restores the CUDA ones, one per
    GPU, which failed on a machine with fewer GPUs): the data streams draw from generators of their own, saved
    with them, and nothing else in a step - fused or not, in training or evaluation - draws at all."""
    import io

    from explorer.config.run import DataConfig, RunConfig, TrainConfig
    from explorer.data.synthetic import make_synthetic
    from explorer.config.model import ModelConfig
    from explorer.training.device import resolve_precision
    from explorer.training.events import Reporter
    from explorer.training.trainer import Trainer

    cpu = torch.device("cpu")
    for fuse in (False, True):
        config = RunConfig(model=ModelConfig(depth=8), data=DataConfig(dataset="synthetic"), train=TrainConfig(
            compare="both", depths=(8,), seeds=2, iterations=4, batch_size=4, precision="fp32", fuse=fuse))
        t = Trainer(config, make_synthetic(40, 10, 0), device=cpu, precision=resolve_precision("fp32", cpu),
                    reporter=Reporter(RunDir.create(tmp_path / str(fuse), config), 4, io.StringIO()))
        before = torch.get_rng_state()
        for _ in range(2):
            t.step()
        t.evaluate()
        assert torch.equal(torch.get_rng_state(), before)
        t.close()
