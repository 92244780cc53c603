"""The trainer on CPU with tiny data: every model sees the same batches, a diverging model stops alone, and
checkpoints restore every piece of state."""

from __future__ import annotations

import io

import pytest
import numpy as np
import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.config.model import ModelConfig
from explorer.data.synthetic import make_synthetic
from explorer.analysis.gradients import gradient_flow
from explorer.runs.metrics_csv import metric_rows
from explorer.runs.listing import run_info
from explorer.runs.folder import RunDir
from explorer.runs.seed_stats import band
from explorer.runs.series import RunSeries
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.member import build_member
from explorer.training.trainer import Trainer

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """The machine's two cores are shared; one thread keeps these tests fast whatever else runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_trainer(tmp_path, *, iterations=12, lr=0.1, compare="residual", depths=(8,), log_every=1,
                 precision="fp32", seed=0, milestones=(), seeds=1, **recipe):
    config = RunConfig(
        model=ModelConfig(depth=8), data=DataConfig(dataset="synthetic"),
        train=TrainConfig(compare=compare, depths=depths, iterations=iterations, batch_size=16, lr=lr,
                          log_every=log_every, eval_every=iterations, checkpoint_every=iterations,
                          precision=precision, seed=seed, milestones=milestones, seeds=seeds, **recipe),
    )
    run = RunDir.create(tmp_path, config)
    reporter = Reporter(run, iterations, io.StringIO())
    dataset = make_synthetic(160, 40, seed)
    trainer = Trainer(config, dataset, device=CPU, precision=resolve_precision(precision, CPU), reporter=reporter)
    reporter.start(models=[m.name for m in trainer.members], device="cpu", precision=precision,
                   milestones=(), batch_size=16, dataset="synthetic", resumed_from=0)
    return trainer, run


def train_events(run, model=None):
    events, _ = run.read_events()
    return [e for e in events if e["type"] == "train" and (model is None or e["model"] == model)]


def test_two_identical_models_see_identical_batches(tmp_path):
    trainer, run = make_trainer(tmp_path, iterations=12)
    original = trainer.members[0]
    twin = build_member(original.config, original.seed, "twin", device=CPU, channels_last=True, lr=0.1, momentum=0.9,
                        weight_decay=1e-4, scaler=None, warming_up=False, compile=False)
    twin.name = "twin"
    trainer.members.append(twin)
    assert trainer.train(run) == ("finished", "")
    mine, theirs = train_events(run, original.name), train_events(run, "twin")
    assert len(mine) == 12
    assert [(e["loss"], e["error"]) for e in mine] == [(e["loss"], e["error"]) for e in theirs]
    assert len({e["loss"] for e in mine}) > 1  # they really trained
    for a, b in zip(original.model.parameters(), twin.model.parameters()):
        assert torch.equal(a, b)


def test_a_model_initialises_the_same_whatever_shares_its_run(tmp_path):
    alone, _ = make_trainer(tmp_path / "a", compare="residual")
    both, _ = make_trainer(tmp_path / "b", compare="both")
    resnet = [m for m in both.members if m.name == "resnet-8"][0]
    for a, b in zip(alone.members[0].model.parameters(), resnet.model.parameters()):
        assert torch.equal(a, b)


def test_a_diverging_model_stops_and_the_others_go_on(tmp_path):
    trainer, run = make_trainer(tmp_path, compare="both", iterations=6, log_every=3)
    plain = trainer.members[0]
    with torch.no_grad():
        next(plain.model.parameters()).fill_(float("nan"))
    assert trainer.train(run) == ("finished", "")
    events, _ = run.read_events()
    diverged = [e for e in events if e["type"] == "diverged"]
    assert [(e["model"], e["iteration"]) for e in diverged] == [("plain-8", 1)]
    assert "try a lower learning rate" in diverged[0]["message"]
    assert {e["model"] for e in train_events(run)} == {"resnet-8"}
    assert {e["model"] for e in events if e["type"] == "eval"} == {"resnet-8"}


def test_checkpoint_restores_models_optimisers_stream_and_interval(tmp_path):
    trainer, run = make_trainer(tmp_path, iterations=20, log_every=4)
    for _ in range(6):  # mid-interval: the steps since the last log are only in the accumulators
        trainer.step()
    trainer.save_checkpoint(run)
    restored, _ = make_trainer(tmp_path / "other", iterations=20, log_every=4)
    assert restored.load_checkpoint(run) == 6
    a, b = trainer.members[0], restored.members[0]
    assert b.steps == 6 and torch.equal(a.loss_sum, b.loss_sum)
    for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(p, q)
    trainer.step()
    restored.step()
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_deep_nets_warm_up_until_their_training_error_falls(tmp_path):
    trainer, run = make_trainer(tmp_path, compare="residual", depths=(8, 14), iterations=9, log_every=3,
                                warmup_min_depth=14, warmup_lr=0.01, warmup_until_error=0.99)
    assert trainer.train(run) == ("finished", "")
    lrs = {(e["model"], e["iteration"]): e["lr"] for e in train_events(run)}
    assert [lrs["resnet-14", i] for i in (3, 6, 9)] == [0.01, 0.1, 0.1]  # first interval's error < 99%: done
    assert [lrs["resnet-8", i] for i in (3, 6, 9)] == [0.1, 0.1, 0.1]


def test_seeds_train_every_network_once_per_seed_from_its_own_start_and_stream(tmp_path):
    trainer, run = make_trainer(tmp_path, compare="both", iterations=6, log_every=3, seeds=3)
    assert [(m.name, m.seed, m.key) for m in trainer.members][:3] == [
        ("plain-8", 0, "plain-8-seed0"), ("resnet-8", 0, "resnet-8-seed0"), ("plain-8", 1, "plain-8-seed1")]
    starts = {m.key: next(m.model.parameters()).detach().clone() for m in trainer.members}
    assert not torch.equal(starts["resnet-8-seed0"], starts["resnet-8-seed1"])  # a start per seed
    assert torch.equal(starts["resnet-8-seed1"], make_trainer(tmp_path / "alone", seed=1)[0].members[0].model.conv1.weight)
    assert trainer.train(run) == ("finished", "")
    events = train_events(run)
    assert sorted({(e["model"], e["seed"]) for e in events}) == [(m, s) for m in ("plain-8", "resnet-8") for s in (0, 1, 2)]
    by_seed = {s: [e["loss"] for e in events if e["model"] == "resnet-8" and e["seed"] == s] for s in (0, 1, 2)}
    assert by_seed[0] != by_seed[1] != by_seed[2]
    # Within a seed the plain and the residual net saw the same batches: their first steps' errors count the same
    # images; across seeds, other orders.
    assert trainer.streams[0].state_dict()["order"].tolist() != trainer.streams[1].state_dict()["order"].tolist()


def test_gradient_norms_per_weighted_layer_are_logged_at_each_interval(tmp_path):
    trainer, run = make_trainer(tmp_path, compare="both", iterations=6, log_every=3)
    trainer.train(run)
    events, _ = run.read_events()
    grads = [e for e in events if e["type"] == "grad"]
    assert [(e["model"], e["iteration"]) for e in grads] == [("plain-8", 3), ("resnet-8", 3), ("plain-8", 6),
                                                            ("resnet-8", 6)]
    assert grads[0]["layers"] == ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2",
                                  "layer3.0.conv1", "layer3.0.conv2", "fc"]
    assert "layers" not in grads[2]  # named once per network and start: the lines stay short
    assert all(len(e["norms"]) == 8 and all(n > 0 for n in e["norms"]) for e in grads)


def test_the_seeds_mean_and_std_are_those_of_the_per_seed_curves_everywhere_they_are_shown(tmp_path):
    trainer, run = make_trainer(tmp_path, compare="both", iterations=6, log_every=2, seeds=3)
    assert trainer.train(run) == ("finished", "")
    events, _ = run.read_events()
    per_seed = np.asarray([[100 * e["error"] for e in train_events(run, "resnet-8") if e["seed"] == s]
                           for s in (0, 1, 2)])  # seeds × logging intervals
    series = RunSeries()
    series.add(events)
    assert [n.name for n in series.seeds_of("resnet-8")] == ["resnet-8-seed0", "resnet-8-seed1", "resnet-8-seed2"]
    numbers = band([(n.train.x, n.train.y) for n in series.seeds_of("resnet-8")])
    assert list(numbers.x) == [2, 4, 6] and list(numbers.count) == [3, 3, 3]
    assert np.allclose(numbers.mean, per_seed.mean(axis=0)) and np.allclose(numbers.std, per_seed.std(axis=0, ddof=1))

    means = [r for r in metric_rows(run) if r[1] == "resnet-8" and r[2] == "mean" and r[5] == "train"]
    assert [r[3] for r in means] == [2, 4, 6]
    assert np.allclose([r[6] for r in means], numbers.mean) and np.allclose([r[10] for r in means], numbers.std)

    info = run_info(run)
    tests = {s: min(e["test_error"] for e in events if e["type"] == "eval" and e["model"] == "resnet-8"
                    and e["seed"] == s) for s in (0, 1, 2)}
    assert info.seed_best_test_error["resnet-8"] == [tests[0], tests[1], tests[2]]
    values = 100 * np.asarray(list(tests.values()))
    assert info.best_text("resnet-8") == (f"{values.mean():.2f} ± {values.std(ddof=1):.2f}% over 3 seeds (best seed "
                                          f"{values.min():.2f}%)")
    assert sorted(gradient_flow(events)) == sorted(key for key, _, _ in run.config().networks())


def test_a_run_says_how_it_steps_before_it_builds_and_records_it_at_its_start(tmp_path):
    """The words the command line shows (and the Training tab, from the start event) for a fused run on the CPU;
    an unfused CPU run says neither (tests/test_cli_train.py), a CUDA run "fused, CUDA graphs" (tests/gpu)."""
    config = RunConfig(model=ModelConfig(depth=8), data=DataConfig(dataset="synthetic", synthetic_size=200),
                       train=TrainConfig(compare="both", depths=(8,), iterations=2, batch_size=8, fuse=True,
                                         precision="fp32", device="cpu", log_every=1, eval_every=2))
    run = RunDir.create(tmp_path / "run", config)
    said, start = said_and_started(run)
    assert "building plain-8, resnet-8 on cpu (fp32, fused)…" in said
    assert (start["fused"], start["graphs"]) == (True, False)
    assert run_info(run).how == "cpu / fp32, fused"  # and the runs list (the Runs tab, `runs`) says it


def said_and_started(run: RunDir) -> tuple[str, dict]:
    """Train ``run`` as its trainer process does: what it said, and its start event."""
    from explorer.training.session import run_training
    from explorer.training.stop import StopFlag

    said = io.StringIO()
    with StopFlag() as stop:
        assert run_training(run, stop, said) == 0, said.getvalue()
    return said.getvalue(), next(e for e in run.read_events()[0] if e["type"] == "start")
